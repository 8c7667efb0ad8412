"""Which upload a session's result was made from, told by the name its writer gave it (worker/*/pipeline.py):
`<kind>_<upload stem>.<ext>`, the kind one of a fixed set. The page had guessed it from the name's end (a result
ending in `_x` whose start was any `analysis_…` was x.wav's), so `analysis_<model>_<task>_my_x.json` of a deleted
my_x.wav was taken for a listed x.wav's and hidden from "Other results". Here the kind must be one the writers use,
whole; no kind is another's start followed by `_` (tests/test_result_sources.py), so a name reads one way only."""

from __future__ import annotations

import re
from functools import cache

from config import MODEL_REGISTRY
from worker.audio_llm.files import PARTIAL
from worker.audio_llm.options import TASKS
from worker.separation.options import KNOWN_STEMS

# pitch_x.json (music), features_x.png, transcript_x.srt (Whisper; whisper_x.json of older versions), lyrics_x.txt
FILE_KINDS = ("pitch", "features", "transcript", "whisper", "lyrics")
# a separation's stems and a two-stem run's rest (`two_stems` is one of KNOWN_STEMS): vocals_x.wav, no_vocals_x.wav.
# A Demucs model of MODELS_DIR's own may name other stems: those count as made from no upload (listed under "Other
# results": the page's mixer shows only these, so they are reachable there rather than nowhere).
STEM_KINDS = tuple(dict.fromkeys((*KNOWN_STEMS, *(f"no_{s}" for s in KNOWN_STEMS))))


def analysis_kinds() -> tuple[str, ...]:
    """The audio LLM's: analysis_<model>_<task>_x.json (worker/audio_llm/files.py result_names), every registered
    model (one no longer offered may have written it) and task, and a canceled one's partial_analysis_<model>_..."""
    own = tuple(f"analysis_{model}_{task}" for model in MODEL_REGISTRY for task in TASKS)
    return (*own, *(PARTIAL + kind for kind in own))


def kinds() -> tuple[str, ...]:
    return (*FILE_KINDS, *STEM_KINDS, *analysis_kinds(), PARTIAL + "lyrics")


@cache
def _pattern() -> re.Pattern[str]:
    alternatives = "|".join(re.escape(k) for k in sorted(kinds(), key=len, reverse=True))
    return re.compile(rf"(?:{alternatives})_(.+)")


def upload_stem(result: str) -> str | None:
    """The stem (name without its extension) of the upload `result` was made from, listed or deleted since; None
    for a result of a job that read no one file (compare_<id>.json, musicgen_<id>.wav) or of a kind not known."""
    base = result.rpartition(".")[0] or result
    found = _pattern().fullmatch(base)
    return found.group(1) if found else None


def is_partial(result: str) -> bool:
    """Whether `result` is what a canceled job had written, not a finished result: a canceled LLM analysis's
    partial_analysis_<model>_<task>_x.json|.txt (worker/audio_llm/result.py), lyrics analysis's partial_lyrics_x.*
    or comparison's partial_compare_<id>.*. Told by the name: no file is read."""
    return result.startswith(PARTIAL) and (upload_stem(result) is not None
                                          or result.startswith(PARTIAL + "compare_"))


def with_sources(results: list[dict]) -> list[dict]:
    """GET /sessions/<id>'s `results`, each with its `upload_stem` (added: the page's "Other results" are those whose
    stem no listed upload has, web/js/other_results.js) and `partial` (a canceled job's partial result)."""
    return [{**r, "upload_stem": upload_stem(r["name"]), "partial": is_partial(r["name"])} for r in results]
