"""The library's embedding model as a setting (LIBRARY_EMBEDDING_MODEL, on SQLite): a registered LLM's own hidden
states as the vectors, and an unusable model named in the error. Split from test_library_index.py, whose tests run
on each of its three databases."""

from __future__ import annotations

import numpy as np
import pytest

from library.service import Library
from tests.library_results import index_river_and_party


def test_a_registered_llms_own_embeddings_serve_semantic_search(tmp_path, smollm2_folder):
    """LIBRARY_EMBEDDING_MODEL=model:<model_type>: SmolLM2's own hidden states, pooled, as the vectors."""
    from config import load_settings
    from library.embedding import embedder, model_name

    settings = load_settings({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "TORCH_NUM_THREADS": "1",
                              "SMOLLM2_MODEL_PATH": str(smollm2_folder),
                              "LIBRARY_EMBEDDING_MODEL": "model:smollm2-135m"}, dotenv=False)
    embed = embedder(settings)
    vectors = embed(["Walking down the river road tonight", "Dance all night under neon lights"])
    assert vectors.shape == (2, 576) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert model_name(settings) == "model:smollm2-135m"  # stored with each vector: never mixed with MiniLM's
    library = Library(settings)
    owner, ids = index_river_and_party(library, tmp_path / "results")
    for query, stem in (("Walking down the river road tonight", "river"), ("Dance all night under neon lights",
                                                                            "party")):
        assert library.search(owner=owner, query=query, mode="semantic", limit=2)[0]["track_id"] == ids[stem]


def test_an_unusable_embedding_model_is_named_in_the_error(tmp_path):
    from library.embedding import EmbeddingUnavailableError, model_dir

    with pytest.raises(EmbeddingUnavailableError, match="unknown model_type 'gpt-17'"):
        model_dir({"LIBRARY_EMBEDDING_MODEL": "model:gpt-17", "MODELS_DIR": str(tmp_path)})
    with pytest.raises(EmbeddingUnavailableError, match="gemma-3n-E2B"):
        model_dir({"LIBRARY_EMBEDDING_MODEL": "model:gemma-3n-E2B", "MODELS_DIR": str(tmp_path), "MODEL_PATHS": {}})
