"""Asking the server, before anything is uploaded, whether it can run the separations a run needs: the model of
--stems, and for --lyrics the separation that makes a vocal stem first."""

from __future__ import annotations

from typing import Any

from .analyses import Analysis
from .errors import MusicAnalyzerError


def separation_models(client: Any) -> dict[str, Any] | None:
    """GET /separation/models ({default, models[{name, needs_weights, present}], vocals_separation}), or None from
    a server that cannot say: too old for the route (404, 405), or one that refuses the `owner` query an admin's
    --owner adds (400): its job requests decide, as before."""
    response = client.request("GET", "/separation/models", accept=(400, 404, 405), retry=True)
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get("models"), list) else None


def check_models(client: Any, analyses: list[Analysis], now: list[Analysis], *, new_session: bool) -> None:
    """Raise the server's refusal (model_not_downloaded, exit 1) before a session is made or a byte sent, asking
    GET /separation/models once: a stranger's `analyze FILE --stems` on a server without htdemucs' weights
    uploaded the whole file (minutes for 500 MB) and was then refused (409); `--lyrics` (`now`: started at once,
    not after this run's stems) in a new session, whose uploads have no vocal stem yet, was refused the same way
    where the server's vocals separation model has no weights. A model the server does not list at all is left to
    its 400 (unknown_model, naming the available ones); an older server's listing without `vocals_separation`
    leaves --lyrics to its 409."""
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
            f"weights under MODELS_DIR/demucs or the Hugging Face cache (see the server's README, demucs); nothing "
            f"was uploaded", code="model_not_downloaded", details={"model": name, "runnable": runnable})
    vocals = listing.get("vocals_separation")
    if lyrics and isinstance(vocals, dict) and vocals.get("present") is False:
        raise MusicAnalyzerError(
            f"--lyrics transcribes the vocal stem, which a new upload has not got: the server would separate it "
            f"first with {vocals.get('model')!r} (its VOCALS_SEPARATION_MODEL), whose weights are not present there, "
            f"so it refuses the transcript; in this command: {lyrics_hint(analyses)}; nothing was uploaded",
            code="model_not_downloaded", details={"model": vocals.get("model"), "runnable": runnable})


def lyrics_hint(analyses: list[Analysis]) -> str:
    """What --lyrics lacks where nothing can separate the vocals first, in the CLI's terms. Only repet makes a
    vocal stem without weights (hpss makes harmonic and percussive ones: a stranger was told "(or hpss)"); a
    --stems the server can run makes one: the transcript need only wait for it."""
    if any(a.name == "stems" for a in analyses):
        return "add --wait: the transcript then waits for the stems"
    return ("add --stems --model repet --wait (repet needs no weights), and the transcript waits for the stems; "
            "for speech with no music (an audiobook, a podcast), --transcribe instead needs no stems")
