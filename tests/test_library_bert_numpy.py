"""The numpy BERT encoder (library/bert_numpy.py) against the real all-MiniLM-L6-v2 run through transformers: the
same vectors (to 1e-5 in cosine), the same search ranking, and a query embedded with no torch in the process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from library import bert_numpy
from library.embedding import INDEXING, MAX_TOKENS, QUERIES, Embedder, embedder, model_dir

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "",
    "a",
    "walking down the river road tonight",
    "Dance all night under neon lights!",
    "Ünïcödé: ça va? Grüße aus Köln — naïve café",
    "日本語のテキストと中文字符 mixed with English",
    "emoji 🎸🥁🎹 and symbols ♯ ♭ ♮ §",
    "tab\tand\nnewline\r\nand  double  spaces",
    "ALL CAPS SHOUTING ABOUT THE BLUES",
    "key: D major, tempo: 100 bpm, 4/4, brightness 1834 Hz",
    "river " * 400,  # > 256 tokens: truncated at MAX_TOKENS as AutoTokenizer does
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "123 456 7890 3.14159 1e-9",
    "<html><body>tags & entities &amp; &lt;b&gt;</body></html>",
    "The quick brown fox jumps over the lazy dog. " * 30,
    "Привет, мир! Γειά σου Κόσμε! مرحبا بالعالم",
    "\u200b\u00ad invisible soft-hyphen and zero-width",
    "[CLS] [SEP] [PAD] [MASK] written out",
    "a slow sad ballad about leaving home",
    "an upbeat party song with a driving bass line",
]
CORPUS = [
    "walking by the water at night, the river shining under the moon",
    "we dance until the morning in the club, neon lights and a heavy beat",
    "my heart is broken, you left me alone in the rain",
    "driving fast on the highway with the radio loud",
    "a lullaby for a sleeping child, soft and slow",
    "the guitar solo screams over pounding drums",
    "tempo 128 bpm, key A minor, bright and loud electronic track",
    "a choir sings a hymn in a cold stone church",
    "summer days at the beach with friends and sunshine",
    "an angry protest song against war",
]
QUERIES_TEXT = ["a walk by the river at night", "party music for dancing", "sad love song", "church music",
                "fast electronic dance track", "songs about cars"]


@pytest.fixture(scope="module")
def minilm() -> Path:
    return model_dir({})


@pytest.fixture(scope="module")
def both(minilm):
    return bert_numpy.BertEncoder(folder=minilm, max_tokens=MAX_TOKENS), Embedder(minilm, threads=1)


def test_the_numpy_encoder_gives_transformers_vectors_for_varied_texts(both):
    numpy_path, torch_path = both
    a = numpy_path(TEXTS)  # one batch: texts of different lengths padded together
    b = torch_path(TEXTS)
    assert a.dtype == np.float32 and a.shape == (len(TEXTS), 384) == b.shape and numpy_path.dim == 384
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() >= 0.99999, dict(zip(TEXTS, cosines.round(7), strict=True))
    alone = np.stack([numpy_path([t])[0] for t in TEXTS[:6]])  # padding changes nothing for a text
    assert np.abs(alone - a[:6]).max() < 1e-5
    assert numpy_path([]).shape == (0, 384)


def test_the_tokenizer_truncates_and_marks_as_autotokenizer_does(minilm):
    from transformers import AutoTokenizer

    ours = bert_numpy.load_tokenizer(folder=minilm, max_tokens=MAX_TOKENS).encode_batch(TEXTS)
    theirs = AutoTokenizer.from_pretrained(minilm)(TEXTS, truncation=True, max_length=MAX_TOKENS)
    assert [e.ids for e in ours] == theirs["input_ids"]
    assert max(len(e.ids) for e in ours) == MAX_TOKENS


def test_numpy_queries_rank_a_transformers_indexed_corpus_as_transformers_queries_do(both):
    numpy_path, torch_path = both
    passages = torch_path(CORPUS)  # the worker indexes through transformers
    for query in QUERIES_TEXT:
        by_numpy = np.argsort(-(passages @ numpy_path([query])[0]), kind="stable")
        by_torch = np.argsort(-(passages @ torch_path([query])[0]), kind="stable")
        assert by_numpy.tolist() == by_torch.tolist(), query


def test_only_bert_folders_it_reproduces_take_the_numpy_path(minilm, tmp_path):
    assert bert_numpy.supported(folder=minilm)
    for name, change in (("gpt", {"model_type": "gpt2"}), ("tanh", {"hidden_act": "gelu_new"}),
                         ("relative", {"position_embedding_type": "relative_key"})):
        folder = tmp_path / name
        folder.mkdir()
        config = json.loads((minilm / "config.json").read_text()) | change
        (folder / "config.json").write_text(json.dumps(config))
        for file in ("tokenizer.json", "tokenizer_config.json", "model.safetensors"):
            (folder / file).symlink_to(minilm / file)
        assert not bert_numpy.supported(folder=folder), name
    cased = tmp_path / "cased"  # transformers would rebuild the normaliser without lower-casing
    cased.mkdir()
    for file in ("config.json", "tokenizer.json", "model.safetensors"):
        (cased / file).symlink_to(minilm / file)
    (cased / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    assert not bert_numpy.supported(folder=cased)
    settings = {"LIBRARY_EMBEDDING_MODEL": str(cased)}
    assert isinstance(embedder(settings, purpose=QUERIES), Embedder)
    assert isinstance(embedder({}, purpose=QUERIES), bert_numpy.BertEncoder)
    assert isinstance(embedder({}, purpose=INDEXING), Embedder)


def test_a_fresh_process_embeds_a_search_query_without_importing_torch(tmp_path):
    """The API process' first semantic search: the library opened and its query embedded, torch never imported."""
    script = f"""
import json, sys
from config import load_settings
from library.service import Library
settings = load_settings({{"DATA_DIR": {str(tmp_path)!r}, "DATABASE_URL": ""}}, dotenv=False)
vector = Library(settings).embed_query("a walk by the river at night")
print(json.dumps({{"dim": len(vector), "torch": "torch" in sys.modules,
                  "transformers": "transformers" in sys.modules}}))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"dim": 384, "torch": False, "transformers": False}


def test_a_task_models_bert_prefixed_weights_are_read_as_the_encoders(minilm, both, tmp_path):
    from safetensors.numpy import load_file, save_file

    save_file({f"bert.{name}": tensor for name, tensor in load_file(str(minilm / "model.safetensors")).items()},
              str(tmp_path / "model.safetensors"))
    for file in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / file).symlink_to(minilm / file)
    prefixed = bert_numpy.BertEncoder(folder=tmp_path, max_tokens=MAX_TOKENS)
    assert np.array_equal(prefixed(TEXTS[:4]), both[0](TEXTS[:4]))
