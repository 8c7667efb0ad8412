"""A BERT sentence encoder in plain numpy, for embedding texts without torch or transformers.

The API process embeds one query per semantic search; importing torch and transformers for it cost ~4 s on the
first search (3-12 s on a loaded machine) and left torch in every API process' memory, while the MiniLM weights
themselves load in 0.1 s. This module does the same computation as transformers' BertModel (eval mode) followed
by the mean pooling of library/embedding.py: the `tokenizers` package (Rust) reads tokenizer.json, safetensors'
numpy loader reads the weights, and the encoder is embeddings + layers of self-attention and a GELU
feed-forward, each followed by a residual LayerNorm. Vectors match the transformers path to ~1e-6 (tests/
test_library_bert_numpy.py), so vectors made either way can be searched together.

Used only for folders it can reproduce exactly (`supported`): config.json `model_type: "bert"`, absolute
position embeddings, exact GELU, a tokenizer.json whose normaliser agrees with tokenizer_config.json (else
transformers rebuilds it) and a model.safetensors; any other model keeps the transformers path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
WEIGHTS_FILE = "model.safetensors"
SUPPORTED_ACTIVATION = "gelu"  # transformers' "gelu" is the exact erf form
WEIGHT_PREFIX = "bert."  # a checkpoint saved from a task model (BertForMaskedLM...) prefixes the encoder's tensors
TOKENS_PER_BATCH = 4096  # padded tokens per forward pass: bounds the attention scores (12 heads: ~50 MB at 256)
MAX_SEQUENCES_PER_BATCH = 64
BLAS_THREADS = 1
GELU_ROWS = 64  # token rows per block of the in-place GELU (64 x 1536 float32: 400 KB, within L2)
# erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7, below float32's resolution near 1): numpy has no
# erf, and scipy.special costs 0.25 s to import
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


class UnsupportedModelError(ValueError):
    """The folder looked like a BERT but its weights are not a BertModel's: transformers is used instead."""


def read_json(*, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def normaliser_agrees(*, tokenizer_json: dict[str, Any], tokenizer_config: dict[str, Any]) -> bool:
    """True when transformers' BertTokenizerFast would keep tokenizer.json's normaliser as it is: it rebuilds the
    normaliser when tokenizer_config.json's lower-casing, accent or Chinese-character options differ."""
    normaliser = tokenizer_json.get("normalizer") or {}
    if normaliser.get("type") != "BertNormalizer":
        return False
    pairs = (("do_lower_case", "lowercase", True), ("strip_accents", "strip_accents", None),
             ("tokenize_chinese_chars", "handle_chinese_chars", True))
    return all(tokenizer_config.get(option, default) == normaliser.get(field) for option, field, default in pairs)


def supported(*, folder: Path) -> bool:
    """Whether this module computes exactly what transformers would for the model in `folder`."""
    config = read_json(path=folder / CONFIG_FILE)
    if (config.get("model_type") != "bert" or config.get("hidden_act", SUPPORTED_ACTIVATION) != SUPPORTED_ACTIVATION
            or config.get("position_embedding_type", "absolute") != "absolute"):
        return False
    if not (folder / TOKENIZER_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        return False
    return normaliser_agrees(tokenizer_json=read_json(path=folder / TOKENIZER_FILE),
                             tokenizer_config=read_json(path=folder / TOKENIZER_CONFIG_FILE))


def load_tokenizer(*, folder: Path, max_tokens: int) -> Any:
    """tokenizer.json with the truncation transformers applies for truncation=True, max_length=max_tokens (the file's
    own truncation and fixed padding, 128 for MiniLM, are what AutoTokenizer overrides); padding is done here."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    tokenizer.enable_truncation(max_length=max_tokens, strategy="longest_first", direction="right")
    tokenizer.no_padding()
    return tokenizer


def load_weights(*, path: Path) -> dict[str, np.ndarray] | None:
    """The encoder's float32 tensors by their BertModel names, or None when some are missing."""
    from safetensors.numpy import load_file

    raw = load_file(str(path))
    weights = {}
    for name, tensor in raw.items():
        weights[name.removeprefix(WEIGHT_PREFIX)] = tensor.astype(np.float32)
    needed = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
              "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight")
    return weights if all(n in weights for n in needed) else None


def layer_norm(*, x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """In place (x is a fresh sum of the caller's): fewer full-size temporaries."""
    x -= x.mean(axis=-1, keepdims=True)
    scale = np.sqrt(np.einsum("...i,...i->...", x, x)[..., None] / np.float32(x.shape[-1]) + np.float32(eps))
    x /= scale
    x *= weight
    x += bias
    return x


def gelu(*, x: np.ndarray) -> np.ndarray:
    """x * Phi(x) with the exact (erf) normal CDF, in place over row blocks that stay in cache: the elementwise work
    on the (tokens, 1536) feed-forward activations was half the encoder's time when done in whole-array passes."""
    flat = x.reshape(-1, x.shape[-1])
    for start in range(0, flat.shape[0], GELU_ROWS):
        v = flat[start:start + GELU_ROWS]
        z = np.abs(v) * np.float32(1.0 / np.sqrt(2.0))
        t = z * np.float32(_ERF_P)
        t += 1.0
        np.reciprocal(t, out=t)
        tail = t * np.float32(_ERF_A[4])  # Horner: 1 - erf(|z|) = t (a1 + t (a2 + ...)) exp(-z^2)
        for a in reversed(_ERF_A[:4]):
            tail += np.float32(a)
            tail *= t
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        tail *= z
        tail *= v
        tail *= 0.5  # 0.5 x (1 - erf(|z|)): gelu for x < 0, and x minus it for x >= 0
        np.subtract(v, tail, out=tail, where=v >= 0)
        v[...] = tail
    return x


def linear(*, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    out = x @ weight
    out += bias
    return out


def softmax(*, x: np.ndarray) -> np.ndarray:
    """In place over the attention scores, the largest array of a pass."""
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


class Layer:
    """One encoder layer's weights, transposed once for x @ W (torch's Linear stores (out, in))."""

    def __init__(self, *, weights: dict[str, np.ndarray], index: int):
        p = f"encoder.layer.{index}."
        q, k, v = (weights[f"{p}attention.self.{n}.weight"].T for n in ("query", "key", "value"))
        self.qkv = np.ascontiguousarray(np.concatenate([q, k, v], axis=1))  # one matmul for all three
        self.qkv_bias = np.concatenate([weights[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")])
        self.attn_out = np.ascontiguousarray(weights[f"{p}attention.output.dense.weight"].T)
        self.attn_out_bias = weights[f"{p}attention.output.dense.bias"]
        self.attn_norm = (weights[f"{p}attention.output.LayerNorm.weight"],
                          weights[f"{p}attention.output.LayerNorm.bias"])
        self.ffn_in = np.ascontiguousarray(weights[f"{p}intermediate.dense.weight"].T)
        self.ffn_in_bias = weights[f"{p}intermediate.dense.bias"]
        self.ffn_out = np.ascontiguousarray(weights[f"{p}output.dense.weight"].T)
        self.ffn_out_bias = weights[f"{p}output.dense.bias"]
        self.out_norm = (weights[f"{p}output.LayerNorm.weight"], weights[f"{p}output.LayerNorm.bias"])

    def __call__(self, *, x: np.ndarray, mask_bias: np.ndarray, heads: int, eps: float) -> np.ndarray:
        batch, length, hidden = x.shape
        head_dim = hidden // heads
        qkv = linear(x=x, weight=self.qkv, bias=self.qkv_bias)
        qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        scores = (qkv[0] * np.float32(1.0 / np.sqrt(head_dim))) @ qkv[1].transpose(0, 1, 3, 2)
        scores += mask_bias
        context = (softmax(x=scores) @ qkv[2]).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        attended = linear(x=context, weight=self.attn_out, bias=self.attn_out_bias)
        attended += x
        x = layer_norm(x=attended, weight=self.attn_norm[0], bias=self.attn_norm[1], eps=eps)
        out = linear(x=gelu(x=linear(x=x, weight=self.ffn_in, bias=self.ffn_in_bias)), weight=self.ffn_out,
                     bias=self.ffn_out_bias)
        out += x
        return layer_norm(x=out, weight=self.out_norm[0], bias=self.out_norm[1], eps=eps)


class BertEncoder:
    """Callable on a list of texts -> (n, dim) float32 mean-pooled, L2-normalised sentence vectors."""

    def __init__(self, *, folder: Path, max_tokens: int):
        from threadpoolctl import ThreadpoolController

        config = read_json(path=folder / CONFIG_FILE)
        weights = load_weights(path=folder / WEIGHTS_FILE)
        if weights is None:
            raise UnsupportedModelError(f"{folder.name}: {WEIGHTS_FILE} lacks BERT embeddings")
        self.tokenizer = load_tokenizer(folder=folder, max_tokens=max_tokens)
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.blas = ThreadpoolController()  # made once: threadpool_limits() scans the loaded libraries each call
        self.word = weights["embeddings.word_embeddings.weight"]
        self.position = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"]
        self.embed_norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self.layers = [Layer(weights=weights, index=i) for i in range(int(config["num_hidden_layers"]))]

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        # shortest first, so each pass pads little; padded positions are masked out, so grouping changes nothing
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            end = start + 1
            while (end < len(order) and end - start < MAX_SEQUENCES_PER_BATCH
                   and (end - start + 1) * len(encodings[order[end]].ids) <= TOKENS_PER_BATCH):
                end += 1
            chosen = order[start:end]
            out[chosen] = self.encode(encodings=[encodings[i] for i in chosen])
            start = end
        return out

    def encode(self, *, encodings: list[Any]) -> np.ndarray:
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), length), dtype=np.int64)  # [PAD] is id 0 in BERT vocabularies
        types = np.zeros_like(ids)
        mask = np.zeros((len(encodings), length), dtype=np.float32)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            types[row, :len(e.ids)] = e.type_ids
            mask[row, :len(e.ids)] = 1.0
        # one BLAS thread: the attention is many small per-head matmuls, and OpenBLAS' threads on them made a
        # batch 3-8x slower on this 2-core machine (1.7-4 texts/s against 14 on one thread, bench/library_query_cost)
        with self.blas.limit(limits=BLAS_THREADS, user_api="blas"):
            hidden = self.forward(ids=ids, types=types, mask=mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        mean = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def forward(self, *, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden states, (batch, length, dim), as BertModel gives them in eval mode."""
        x = self.word[ids] + self.token_type[types] + self.position[:ids.shape[1]]
        x = layer_norm(x=x, weight=self.embed_norm[0], bias=self.embed_norm[1], eps=self.eps)
        # padded keys get float32's lowest value added, as transformers does: their attention weight is exactly 0
        mask_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
        for layer in self.layers:
            x = layer(x=x, mask_bias=mask_bias, heads=self.heads, eps=self.eps)
        return x
