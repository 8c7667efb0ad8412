"""Find and load MusicGen weights from local files only (MODELS_DIR or the Hugging Face cache)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, MusicgenForConditionalGeneration, MusicgenMelodyForConditionalGeneration

from worker.errors import InvalidRequestError, ModelNotAvailableError

from .options import MODELS, find_musicgen


@dataclass
class MusicGenBundle:
    """What load_musicgen returns: the model and its text/melody front end."""

    name: str
    model: Any  # MusicgenForConditionalGeneration | MusicgenMelodyForConditionalGeneration
    tokenizer: Any
    melody: bool
    sample_rate: int  # Hz of the generated audio
    frame_rate: int  # EnCodec frames per second
    num_codebooks: int
    audio_channels: int
    chroma: dict | None = None  # melody feature settings (n_fft, hop_length, num_chroma, chunk_length)

    @property
    def hop(self) -> int:
        return self.sample_rate // self.frame_rate


def load_musicgen(name: str, *, models_dir: Path | None, device: str = "cpu"):
    """Load MusicGen `name` from local files. Returns `(MusicGenBundle, approx_bytes)`."""
    if name not in MODELS:
        raise InvalidRequestError(f"unknown musicgen model {name!r}; available: {', '.join(MODELS)}",
                                  code="unknown_model")
    folder = find_musicgen(name, models_dir)
    if folder is None:
        raise ModelNotAvailableError(
            f"musicgen model {name!r} is not present locally; get it with `huggingface-cli download "
            f"{MODELS[name]} --local-dir MODELS_DIR/{MODELS[name]}` (or python download_models.py)",
            details={"model": name})
    config = json.loads((folder / "config.json").read_text())
    melody = config.get("model_type") == "musicgen_melody"
    cls: Any = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = cls.from_pretrained(str(folder), local_files_only=True, dtype=dtype).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    chroma = None
    if melody:  # read as data: the melody feature extractor class needs torchaudio, which is not installed
        pre = folder / "preprocessor_config.json"
        fe = json.loads(pre.read_text()) if pre.is_file() else {}
        chroma = {k: fe.get(k, d) for k, d in (("n_fft", 16384), ("hop_length", 4096), ("num_chroma", 12),
                                              ("chunk_length", 30))}
    enc = model.config.audio_encoder
    bundle = MusicGenBundle(name=name, model=model, tokenizer=tokenizer, melody=melody,
                            sample_rate=int(enc.sampling_rate), frame_rate=int(enc.frame_rate),
                            num_codebooks=int(model.decoder.num_codebooks),
                            audio_channels=int(model.decoder.config.audio_channels), chroma=chroma)
    nbytes = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
    return bundle, int(nbytes)
