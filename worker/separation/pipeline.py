"""Source separation: Demucs models (demucs package) and weight-free DSP methods, at constant memory.

Public API (no Flask, no Celery):
    SeparationOptions.from_request(body, settings=)      the request's options (options.py); 400 when bad
    load_demucs(name, models_dir=, device=)              -> (model, approx_bytes)   (weights.py)
    Separator(model_or_method, device=, ...)              owns a loaded model; separate_array/tensor/file/to_files
    run_separation(audio_path=, results_dir=, options=, separator_or_model=, progress=) -> result dict

Stems keep the input's sample rate and channel count: audio is resampled to the model's rate on the way in
and back on the way out (soxr streams), mono is fed to a stereo model duplicated and averaged back, and more
than two channels are fed as a batch of stereo pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from worker.audio_writers import mp3_sample_rate
from worker.errors import InvalidRequestError, OutOfMemoryError
from worker.files import safe_name
from worker.progress import Progress

from .dsp import dsp_method
from .options import DEFAULT_OVERLAP, DEFAULT_SHIFTS, SeparationOptions
from .runner import demucs_tracks, dsp_tracks
from .streams import StemOutput, file_blocks, stream_separation

OOM_SEGMENT_FACTOR = 0.5  # the retry after an out-of-memory error uses segments this much shorter


class Separator:
    """A loaded separation model (or DSP method) and how to run it, like `demucs.api.Separator`.

    `model`: a demucs model / BagOfModels (from `load_demucs`), a DSP method name ("hpss", "repet") or instance.
    Every method is thread-compatible but not thread-safe: the model manager runs one job per model at a time.
    """

    def __init__(self, model, *, name: str | None = None, device: str | None = None, segment: float | None = None,
                 overlap: float = DEFAULT_OVERLAP, shifts: int = DEFAULT_SHIFTS, seed: int = 0):
        self.model = dsp_method(model) if isinstance(model, str) else model
        self.is_dsp = not hasattr(self.model, "parameters")
        self.name = name or (self.model.name if self.is_dsp else "demucs")
        self.sources: list[str] = list(self.model.sources)
        self.samplerate: int | None = None if self.is_dsp else int(self.model.samplerate)
        self.audio_channels: int | None = None if self.is_dsp else int(self.model.audio_channels)
        if device is None and not self.is_dsp:
            device = str(next(self.model.parameters()).device)
        self.device, self.segment, self.overlap, self.shifts, self.seed = device, segment, overlap, shifts, seed

    def with_options(self, options: SeparationOptions) -> Separator:
        """A view sharing the loaded model, with the request's segment/overlap/shifts."""
        return self._copy(segment=options.segment, overlap=options.overlap, shifts=options.shifts)

    def _copy(self, **changes) -> Separator:
        new = object.__new__(Separator)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    # -- the runner ---------------------------------------------------------------------------------------
    def _tracks(self, sample_rate: int, segment: float | None, max_batch: int | None):
        if self.is_dsp:
            return dsp_tracks(self.model, sample_rate=sample_rate, segment=segment, overlap=self.overlap)
        return demucs_tracks(self.model, segment=segment, overlap=self.overlap, shifts=self.shifts,
                             device=self.device, seed=self.seed, max_batch=max_batch)

    def _run(self, blocks: Callable[[], Iterator[np.ndarray]], *, sample_rate: int, channels: int,
             frames_hint: int, make_output: Callable[[list[str]], StemOutput], two_stems: str | None,
             progress: Progress | None) -> dict:
        """Run once; on an out-of-memory error retry once with shorter segments and one item per batch."""
        if two_stems is not None and two_stems not in self.sources:
            raise InvalidRequestError(f"two_stems={two_stems!r} is not a source of {self.name} "
                                      f"({', '.join(self.sources)})")
        segment, max_batch = self.segment, None
        for attempt in range(2):
            output = make_output(self.stem_names(two_stems))
            try:
                tracks = self._tracks(self.samplerate or sample_rate, segment, max_batch)
                written = stream_separation(tracks, blocks, sample_rate=sample_rate, channels=channels,
                                  frames_hint=frames_hint, model_rate=self.samplerate,
                                  model_channels=self.audio_channels, sources=self.sources,
                                  normalize=not self.is_dsp, two_stems=two_stems, output=output,
                                  progress=progress)
            except BaseException as e:
                output.abort()
                if not _is_oom(e):
                    raise
                _free_device_cache()
                if attempt == 1:
                    raise OutOfMemoryError(f"out of memory while separating with {self.name}, even with "
                                           f"{segment:.1f} s segments", details={"segment": segment}) from e
                segment = OOM_SEGMENT_FACTOR * float(segment if segment is not None else self.model_segment)
                max_batch = 1
                continue
            output.commit()
            return {"segment_seconds": float(segment if segment is not None else self.model_segment),
                    "retried_after_oom": attempt == 1, "frames": written}
        raise AssertionError("unreachable")

    @property
    def model_segment(self) -> float:
        if self.is_dsp:
            return float(self.model.segment)
        subs = getattr(self.model, "models", [self.model])
        return float(min(m.segment for m in subs))

    def stem_names(self, two_stems: str | None = None) -> list[str]:
        return [two_stems, f"no_{two_stems}"] if two_stems else list(self.sources)

    # -- front ends -----------------------------------------------------------------------------------------
    def separate_array(self, wav: np.ndarray, sr: int, *, two_stems: str | None = None,
                       progress: Progress | None = None) -> dict[str, np.ndarray]:
        """wav: float32 `(channels, samples)` (or `(samples,)`) at `sr` Hz -> {stem: array of the same shape}."""
        wav = np.asarray(wav, np.float32)
        mono_1d = wav.ndim == 1
        wav2 = wav[None] if mono_1d else wav
        from worker.audio_blocks import channel_array_blocks
        from worker.audio_io import BLOCK_FRAMES
        from worker.separation.streams import ArrayOutput

        holder: dict[str, ArrayOutput] = {}

        def make(names):
            holder["out"] = ArrayOutput(names)
            return holder["out"]

        self._run(lambda: channel_array_blocks(wav2, block_frames=BLOCK_FRAMES), sample_rate=sr,
                  channels=wav2.shape[0], frames_hint=wav2.shape[1], make_output=make, two_stems=two_stems,
                  progress=progress)
        stems = holder["out"].result()
        return {k: v[0] for k, v in stems.items()} if mono_1d else stems

    def separate_tensor(self, wav, sr: int, **kw) -> dict:
        """torch.Tensor `(channels, samples)` -> {stem: torch.Tensor}."""
        import torch

        stems = self.separate_array(wav.detach().cpu().float().numpy(), sr, **kw)
        return {k: torch.from_numpy(v) for k, v in stems.items()}

    def separate_to_files(self, audio_path: Path, paths: dict[str, Path], *, format: str,
                          two_stems: str | None = None, progress: Progress | None = None) -> dict:
        """Stream `audio_path` through the model into one file per stem (`paths[stem]`), atomically."""
        from worker.separation.streams import FileOutput

        sr, channels, frames, blocks = file_blocks(audio_path)
        info = self._run(blocks, sample_rate=sr, channels=channels, frames_hint=frames,
                         make_output=lambda names: FileOutput({n: paths[n] for n in names}, sample_rate=sr,
                                                              channels=channels, format=format),
                         two_stems=two_stems, progress=progress)
        return {**info, "sample_rate": sr, "channels": channels}  # frames: as decoded, not as declared


def _is_oom(e: BaseException) -> bool:
    import torch

    oom: Any = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(e, oom) or (isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def _free_device_cache() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def stem_file_name(stem: str, audio_path: Path, format: str) -> str:
    return safe_name(f"{stem}_{Path(audio_path).stem}.{format}")


def run_separation(*, audio_path: Path, results_dir: Path, options: SeparationOptions,
                   separator_or_model=None, progress: Progress | None = None, seed: int = 0) -> dict:
    """Separate `audio_path` into `results_dir/<stem>_<file-stem>.<format>` files.

    `separator_or_model`: a Separator or a loaded demucs model for demucs names; ignored (may be None) for the
    DSP methods. Progress: "separating" per window. JobCanceled raised by `progress` propagates and no
    stem file is left behind.
    """
    options.validate() if options.is_dsp else options.validate_settings()
    if options.is_dsp:
        sep = Separator(options.model, segment=options.segment, overlap=options.overlap, shifts=options.shifts)
    elif isinstance(separator_or_model, Separator):
        sep = separator_or_model.with_options(options)
    elif separator_or_model is not None:
        sep = Separator(separator_or_model, segment=options.segment, overlap=options.overlap,
                        shifts=options.shifts, seed=seed)
    else:
        raise ValueError("a demucs model (from load_demucs) is needed for model " + repr(options.model))
    results_dir = Path(results_dir)
    names = sep.stem_names(options.two_stems)
    paths = {n: results_dir / stem_file_name(n, audio_path, options.format) for n in names}
    info = sep.separate_to_files(Path(audio_path), paths, format=options.format, two_stems=options.two_stems,
                                 progress=progress)
    if progress is not None:
        progress(1.0, "done")
    return {
        "model": options.model,
        "method": "dsp" if sep.is_dsp else "demucs",
        "stems": names,
        "files": [p.name for p in paths.values()],
        "format": options.format,
        # the stems' rate: an MP3's is one MP3 can hold (worker/audio_writers.py; a 96 kHz file's MP3 stems are
        # 44.1 kHz, and had been said to be 96 kHz)
        "sample_rate": mp3_sample_rate(info["sample_rate"]) if options.format == "mp3" else info["sample_rate"],
        "channels": info["channels"],
        "duration_seconds": round(info["frames"] / info["sample_rate"], 3),
        "segment_seconds": round(info["segment_seconds"], 3),
        "overlap": options.overlap,
        "shifts": None if sep.is_dsp else options.shifts,  # Demucs' random shifts: a DSP method has none
        "retried_after_oom": info["retried_after_oom"],
    }
