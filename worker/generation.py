"""Text-to-music with MusicGen (transformers' MusicgenForConditionalGeneration / MusicgenMelody...).

Public API (no Flask, no Celery):
    MusicGenOptions(...).validate(models_dir=...)
    load_musicgen(name, models_dir=, device=) -> (MusicGenBundle, approx_bytes)
    generate_music(bundle, options, progress=None, melody=None) -> (audio (channels, samples) float32, info)
    run_musicgen(results_dir=, options=, bundle=, progress=, melody_path=, output_stem=) -> result dict

MusicGen was trained on 30 s excerpts, so one pass makes at most 30 s. Longer pieces are made like
audiocraft's `generate_continuation`: each further pass is prompted with the last CONTEXT_SECONDS of audio
(encoded to EnCodec codes and given as the decoder's prefix) and its new part is appended.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.errors import InvalidRequestError, ModelNotAvailableError
from worker.files import safe_name, write_json_atomic
from worker.options import options_from_dict
from worker.separation_writers import write_audio

MODELS = {  # request name -> hub repo id (also the folder name under MODELS_DIR)
    "musicgen-small": "facebook/musicgen-small",
    "musicgen-medium": "facebook/musicgen-medium",
    "musicgen-large": "facebook/musicgen-large",
    "musicgen-melody": "facebook/musicgen-melody",
}
DEFAULT_MODEL = "musicgen-small"
MAX_PASS_SECONDS = 30.0  # the training excerpt length; also what the positional embeddings comfortably cover
CONTEXT_SECONDS = 10.0  # audio prompt of each continuation pass (audiocraft extends with 12 s of 30)
MAX_DURATION_SECONDS = 300.0
MAX_PROMPT_CHARS = 2000
DEFAULT_GUIDANCE = 3.0  # classifier-free guidance, audiocraft's default
DEFAULT_TOP_K = 250  # audiocraft's default
PROGRESS_STEP = 0.02  # report at most every 2 % of a pass
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class MusicGenOptions:
    prompt: str = ""
    duration_seconds: float = 10.0
    model: str = DEFAULT_MODEL
    temperature: float = 1.0
    top_k: int = DEFAULT_TOP_K  # 0 = no top-k filtering
    guidance_scale: float = DEFAULT_GUIDANCE  # 1 = no guidance (half the compute)
    seed: int | None = None  # None = a random seed, reported in the result for reproduction
    melody_file: str | None = None  # a session file; musicgen-melody only
    mp3: bool = False  # also write an MP3 beside the WAV

    @classmethod
    def from_dict(cls, d: dict) -> MusicGenOptions:
        return options_from_dict(cls, d, what="musicgen")

    def validate(self, *, models_dir: Path | None = None) -> None:
        def number(name, lo, hi, *, integer=False):
            v = getattr(self, name)
            ok = isinstance(v, int) if integer else isinstance(v, int | float)
            if isinstance(v, bool) or not ok or not lo <= v <= hi:
                kind = "an integer" if integer else "a number"
                raise InvalidRequestError(f"{name} must be {kind} in [{lo:g}, {hi:g}]")

        if self.model not in MODELS:
            raise InvalidRequestError(f"unknown musicgen model {self.model!r}; available: {', '.join(MODELS)}",
                                      code="unknown_model", details={"available": list(MODELS)})
        if not isinstance(self.prompt, str) or not self.prompt.strip() or len(self.prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequestError(f"prompt must be a non-empty text of at most {MAX_PROMPT_CHARS} characters")
        number("duration_seconds", 0.1, MAX_DURATION_SECONDS)
        number("temperature", 0.01, 5.0)
        number("top_k", 0, 4096, integer=True)
        number("guidance_scale", 1.0, 20.0)
        if self.seed is not None:
            number("seed", 0, 2**63 - 1, integer=True)
        if self.melody_file is not None and self.model != "musicgen-melody":
            raise InvalidRequestError("melody_file needs model musicgen-melody")
        if not isinstance(self.mp3, bool):
            raise InvalidRequestError("mp3 must be true or false")


@dataclass
class MusicGenBundle:
    """What load_musicgen returns: the model and its text/melody front end."""

    name: str
    model: object  # MusicgenForConditionalGeneration | MusicgenMelodyForConditionalGeneration
    tokenizer: object
    melody: bool
    sample_rate: int  # Hz of the generated audio
    frame_rate: int  # EnCodec frames per second
    num_codebooks: int
    audio_channels: int
    chroma: dict | None = None  # melody feature settings (n_fft, hop_length, num_chroma, chunk_length)

    @property
    def hop(self) -> int:
        return self.sample_rate // self.frame_rate


def find_musicgen(name: str, models_dir: Path | None) -> Path | None:
    """A local folder holding `name`'s config and weights, or None. Never downloads."""
    repo_id = MODELS[name]
    candidates = []
    if models_dir:
        root = Path(models_dir)
        candidates = [root / repo_id, root / name, root / "musicgen" / name]
    for c in candidates:
        if (c / "config.json").is_file() and (any(c.glob("*.safetensors")) or (c / "pytorch_model.bin").is_file()):
            return c
    from huggingface_hub import snapshot_download

    for cache_dir in ([str(models_dir)] if models_dir else []) + [None]:
        try:
            path = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
        except Exception:  # noqa: BLE001 - "not in the cache" comes in several exception types
            continue
        if (path / "config.json").is_file():
            return path
    return None


def load_musicgen(name: str, *, models_dir: Path | None, device: str = "cpu"):
    """Load MusicGen `name` from local files. Returns `(MusicGenBundle, approx_bytes)`."""
    import torch
    from transformers import AutoTokenizer

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
    if melody:
        from transformers import MusicgenMelodyForConditionalGeneration as cls
    else:
        from transformers import MusicgenForConditionalGeneration as cls
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


def melody_chroma(audio: np.ndarray, sr: int, bundle: MusicGenBundle) -> np.ndarray:
    """The melody conditioning `(1, frames, 12)`: a one-hot dominant chroma per STFT frame, as
    MusicgenMelodyFeatureExtractor computes it (power spectrogram, librosa chroma filters, argmax)."""
    import librosa
    from transformers.audio_utils import chroma_filter_bank

    from worker.audio_io import resample, to_mono

    c = bundle.chroma
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


def _pass_progress(progress: ProgressFn | None, start: float, span: float, tokens: int):
    """A stopping criterion that never stops: transformers calls it once per generated step, which makes it
    the progress report and the cancellation point (MusicGen's generate does not feed a streamer per step)."""
    import torch
    from transformers import StoppingCriteria

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


def generate_music(bundle: MusicGenBundle, options: MusicGenOptions, progress: ProgressFn | None = None, *,
                   melody: tuple[np.ndarray, int] | None = None, max_pass_seconds: float = MAX_PASS_SECONDS,
                   context_seconds: float = CONTEXT_SECONDS) -> tuple[np.ndarray, dict]:
    """Exactly `duration_seconds` of audio `(channels, samples)` at `bundle.sample_rate`, and timing info.

    `max_pass_seconds` / `context_seconds` shape the continuation passes (tests shorten them)."""
    if not 0 < context_seconds < max_pass_seconds:
        raise ValueError("context_seconds must be shorter than max_pass_seconds")
    import torch

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
        if use_melody:  # the part of the melody under this pass' window (context included), looped if short
            y, msr = melody
            y = np.asarray(y, np.float32).reshape(-1, np.shape(y)[-1])
            start = (audio.shape[1] - context) / bundle.sample_rate
            idx = np.arange(int(start * msr), int((start + seconds + context / bundle.sample_rate) * msr))
            part = np.take(y, idx, axis=-1, mode="wrap")
            kwargs["input_features"] = torch.from_numpy(melody_chroma(part, msr, bundle)).to(device, model.dtype)
        from transformers import StoppingCriteriaList

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
    import torch

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
                 progress: ProgressFn | None = None, melody_path: Path | None = None,
                 output_stem: str | None = None, **pass_lengths) -> dict:
    """Generate and write `<stem>.wav` (+ `<stem>.mp3`) and `<stem>.json` (prompt and settings) atomically."""
    from worker.audio_io import load_audio

    options.validate()
    melody = None
    if options.melody_file is not None:
        if melody_path is None:
            raise InvalidRequestError("melody_file was given but no path to it", code="missing_file")
        y, sr = load_audio(melody_path)
        melody = (y, sr)
    t0 = time.perf_counter()
    audio, info = generate_music(bundle, options, progress, melody=melody, **pass_lengths)
    stem = safe_name(output_stem or f"musicgen_{info['seed']}")
    results_dir = Path(results_dir)
    files = [write_audio(results_dir / f"{stem}.wav", audio, sample_rate=bundle.sample_rate).name]
    if options.mp3:
        files.append(write_audio(results_dir / f"{stem}.mp3", audio, sample_rate=bundle.sample_rate,
                                 format="mp3").name)
    meta = {"prompt": options.prompt, "model": bundle.name, "settings": dataclasses.asdict(options),
            "seed": info["seed"], "sample_rate": bundle.sample_rate, "channels": int(audio.shape[0]),
            "duration_seconds": round(audio.shape[1] / bundle.sample_rate, 6), "passes": info["passes"],
            "generate_seconds": info["generate_seconds"], "total_seconds": round(time.perf_counter() - t0, 3),
            "files": list(files)}
    write_json_atomic(results_dir / f"{stem}.json", meta)
    if progress is not None:
        progress(1.0, "done")
    return {**meta, "files": files + [f"{stem}.json"]}
