"""Text-to-music with MusicGen (transformers' MusicgenForConditionalGeneration / MusicgenMelody...).

Public API (no Flask, no Celery):
    MusicGenOptions.from_request(body, settings=)   (options.py; light)
    load_musicgen(name, models_dir=, device=) -> (MusicGenBundle, approx_bytes)   (weights.py)
    generate_music(bundle, options, progress=None, melody=None) -> (audio (channels, samples) float32, info)
    run_musicgen(results_dir=, options=, bundle=, progress=, melody_path=, output_stem=) -> result dict

MusicGen was trained on 30 s excerpts, so one pass makes at most 30 s. Longer pieces are made like
audiocraft's `generate_continuation`: each further pass is prompted with the last CONTEXT_SECONDS of audio
(encoded to EnCodec codes and given as the decoder's prefix) and its new part is appended.
"""

from __future__ import annotations

import math
import secrets
import time
from pathlib import Path

import librosa
import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.audio_utils import chroma_filter_bank

from worker.audio_io import load_audio, resample, to_mono
from worker.audio_writers import write_audio
from worker.errors import InvalidRequestError
from worker.files import safe_name, write_json_atomic
from worker.progress import Progress

from .options import MusicGenOptions
from .weights import MusicGenBundle

MAX_PASS_SECONDS = 30.0  # the training excerpt length; also what the positional embeddings comfortably cover
CONTEXT_SECONDS = 10.0  # audio prompt of each continuation pass (audiocraft extends with 12 s of 30)
PROGRESS_STEP = 0.02  # report at most every 2 % of a pass


def melody_chroma(audio: np.ndarray, sr: int, bundle: MusicGenBundle) -> np.ndarray:
    """The melody conditioning `(1, frames, 12)`: a one-hot dominant chroma per STFT frame, as
    MusicgenMelodyFeatureExtractor computes it (power spectrogram, librosa chroma filters, argmax)."""
    c = bundle.chroma
    if c is None:
        raise InvalidRequestError(f"{bundle.name} takes no melody", code="invalid_option")
    y = resample(to_mono(np.asarray(audio, np.float32)), orig_sr=sr, target_sr=bundle.sample_rate)
    y = y[: int(c["chunk_length"] * bundle.sample_rate)]
    if y.size < c["n_fft"]:
        y = np.pad(y, ((c["n_fft"] - y.size) // 2, (c["n_fft"] - y.size + 1) // 2))
    spec = np.abs(librosa.stft(y, n_fft=c["n_fft"], hop_length=c["hop_length"], center=True,
                               pad_mode="reflect")) ** 2
    filters = chroma_filter_bank(sampling_rate=bundle.sample_rate, num_frequency_bins=c["n_fft"], tuning=0,
                                 num_chroma=c["num_chroma"])
    raw = filters @ spec  # (chroma, frames)
    onehot = np.zeros((raw.shape[1], c["num_chroma"]), np.float32)
    onehot[np.arange(raw.shape[1]), raw.argmax(axis=0)] = 1.0
    return onehot[None]


def _pass_progress(progress: Progress | None, start: float, span: float, tokens: int):
    """A stopping criterion that never stops: transformers calls it once per generated step, which makes it
    the progress report and the cancellation point (MusicGen's generate does not feed a streamer per step)."""
    class PassProgress(StoppingCriteria):
        def __init__(self):
            self.steps, self.last = 0, -1.0

        def __call__(self, input_ids, scores, **kwargs):
            self.steps += 1
            frac = min(self.steps / max(tokens, 1), 1.0)
            if progress is not None and frac - self.last >= PROGRESS_STEP:
                self.last = frac
                progress(start + span * frac, "generating")
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return PassProgress()


def _plan(duration: float, max_pass: float, context: float) -> list[float]:
    """New seconds made by each pass: up to `max_pass`, then up to `max_pass - context` per continuation."""
    passes, left = [min(duration, max_pass)], duration - min(duration, max_pass)
    while left > 1e-9:
        passes.append(min(left, max_pass - context))
        left -= passes[-1]
    return passes


def generate_music(bundle: MusicGenBundle, options: MusicGenOptions, progress: Progress | None = None, *,
                   melody: tuple[np.ndarray, int] | None = None, max_pass_seconds: float = MAX_PASS_SECONDS,
                   context_seconds: float = CONTEXT_SECONDS) -> tuple[np.ndarray, dict]:
    """Exactly `duration_seconds` of audio `(channels, samples)` at `bundle.sample_rate`, and timing info.

    `max_pass_seconds` / `context_seconds` shape the continuation passes (tests shorten them)."""
    if not 0 < context_seconds < max_pass_seconds:
        raise ValueError("context_seconds must be shorter than max_pass_seconds")
    model, k = bundle.model, bundle.num_codebooks
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    device = next(model.parameters()).device
    inputs = bundle.tokenizer([options.prompt], padding=True, return_tensors="pt").to(device)
    use_melody = bundle.melody and melody is not None
    gen_kwargs = dict(do_sample=True, temperature=float(options.temperature), top_k=int(options.top_k) or None,
                      guidance_scale=float(options.guidance_scale) if options.guidance_scale > 1 else None)
    plan = _plan(float(options.duration_seconds), max_pass_seconds, context_seconds)
    total = sum(plan)
    audio = np.zeros((bundle.audio_channels, 0), np.float32)
    done, generate_seconds = 0.0, 0.0
    for i, seconds in enumerate(plan):
        new_frames = math.ceil(seconds * bundle.frame_rate)
        kwargs = dict(inputs, **gen_kwargs, max_new_tokens=new_frames + k - 1)  # + the codebook delay
        context = 0
        if i > 0:
            context = min(int(context_seconds * bundle.frame_rate), audio.shape[1] // bundle.hop) * bundle.hop
            kwargs["decoder_input_ids"] = _encode_prefix(model, audio[:, -context:], device)
        if use_melody and melody is not None:  # the part of the melody under this pass' window, looped if short
            y, msr = melody
            y = np.asarray(y, np.float32).reshape(-1, np.shape(y)[-1])
            start = (audio.shape[1] - context) / bundle.sample_rate
            idx = np.arange(int(start * msr), int((start + seconds + context / bundle.sample_rate) * msr))
            part = np.take(y, idx, axis=-1, mode="wrap")
            kwargs["input_features"] = torch.from_numpy(melody_chroma(part, msr, bundle)).to(device, model.dtype)
        steps = _pass_progress(progress, done / total, seconds / total, new_frames + k - 1)
        torch.manual_seed(seed + i)  # each pass reproducible on its own: same seed, same piece
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**kwargs, stopping_criteria=StoppingCriteriaList([steps]))
        generate_seconds += time.perf_counter() - t0
        new = out[0].float().cpu().numpy()[:, context:]
        audio = np.concatenate([audio, new[:, : int(round(seconds * bundle.sample_rate))]], axis=1)
        done += seconds
    n = int(round(options.duration_seconds * bundle.sample_rate))
    audio = np.pad(audio[:, :n], ((0, 0), (0, max(0, n - audio.shape[1]))))
    return audio, {"seed": seed, "passes": len(plan), "generate_seconds": round(generate_seconds, 3)}


def _encode_prefix(model, audio: np.ndarray, device):
    """EnCodec codes of the context audio as decoder input ids `(codebooks * channels, frames)`."""
    x = torch.from_numpy(np.ascontiguousarray(audio)).to(device, model.dtype)[None]  # (1, channels, n)
    with torch.inference_mode():
        if x.shape[1] == 1:
            codes = model.audio_encoder.encode(x).audio_codes  # (1, 1, K, frames)
            return codes[0, 0]
        # stereo models interleave the codebooks of the left and right channel
        left = model.audio_encoder.encode(x[:, :1]).audio_codes[0, 0]
        right = model.audio_encoder.encode(x[:, 1:]).audio_codes[0, 0]
        return torch.stack([left, right], dim=1).reshape(-1, left.shape[-1])


def run_musicgen(*, results_dir: Path, options: MusicGenOptions, bundle: MusicGenBundle,
                 progress: Progress | None = None, melody_path: Path | None = None,
                 output_stem: str | None = None, **pass_lengths) -> dict:
    """Generate and write `<stem>.wav` (+ `<stem>.mp3`) and `<stem>.json` (prompt and settings) atomically."""
    options.validate()
    melody = None
    if options.melody_file is not None:
        if melody_path is None:
            raise InvalidRequestError("melody_file was given but no path to it", code="missing_file")
        # Only the first duration_seconds of the melody condition the piece (a shorter one is looped).
        y, sr = load_audio(melody_path, duration=float(options.duration_seconds))
        melody = (y, sr)
    t0 = time.perf_counter()
    audio, info = generate_music(bundle, options, progress, melody=melody, **pass_lengths)
    stem = safe_name(output_stem or f"musicgen_{info['seed']}")
    results_dir = Path(results_dir)
    files = [write_audio(results_dir / f"{stem}.wav", audio, sample_rate=bundle.sample_rate).name]
    if options.mp3:
        files.append(write_audio(results_dir / f"{stem}.mp3", audio, sample_rate=bundle.sample_rate,
                                 format="mp3").name)
    meta = {"prompt": options.prompt, "model": bundle.name, "settings": options.to_dict(),
            "seed": info["seed"], "sample_rate": bundle.sample_rate, "channels": int(audio.shape[0]),
            "duration_seconds": round(audio.shape[1] / bundle.sample_rate, 6), "passes": info["passes"],
            "generate_seconds": info["generate_seconds"], "total_seconds": round(time.perf_counter() - t0, 3),
            "files": list(files)}
    write_json_atomic(results_dir / f"{stem}.json", meta)
    if progress is not None:
        progress(1.0, "done")
    return {**meta, "files": files + [f"{stem}.json"]}
