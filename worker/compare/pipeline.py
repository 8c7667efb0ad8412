"""The comparison job: two to five tracks of a session, each described by what the session measured
(music analysis, features, lyrics), their pairwise relations computed, then one LLM comparison grounded
in both. Writes compare_<id>.json / .txt."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from worker.audio_llm.files import PARTIAL, partial_note
from worker.audio_llm.grounding import describe_music, find_grounding, measure_speech_where_unsaid
from worker.audio_llm.passes import ModelHost
from worker.audio_llm.speech import (
    content,
    job_measured,
    measured_part,
    measured_share,
    music_talk_of_tracks,
    speech_origin,
    speech_share,
)
from worker.errors import JobStopped
from worker.files import safe_name, write_json_atomic, write_text_atomic
from worker.llm.choice import AUTO, Choice, choose_here
from worker.llm.claims import unsupported_claims
from worker.llm.options import GenerateOptions
from worker.llm.repetition import loop_warning
from worker.progress import Progress, quiet, scaled

from ..camelot import MIX_TEMPO_PERCENT
from .options import CompareOptions
from .relations import pair_relations, track_facts

SYSTEM = ("You compare pieces of music for a producer. Ground every statement in the measurements and "
          "relations you are given; say plainly when they do not tell something.")
MAX_LYRICS_CHARS = 600  # of each track's lyrics themes quoted


def run_compare(*, audio_paths: Sequence[Path], results_dir: Path, options: CompareOptions, manager: ModelHost,
                output_stem: str, progress: Progress | None = None) -> dict:
    report = progress or quiet
    started = time.perf_counter()
    results_dir = Path(results_dir)
    tracks = [_track(Path(p), results_dir, manager.settings) for p in audio_paths]
    facts = [t["facts"] for t in tracks]
    percent = float(manager.settings.get("LIBRARY_MIX_TEMPO_PERCENT") or MIX_TEMPO_PERCENT)
    pairs = [pair_relations(a, b, tempo_percent=percent) for a, b in itertools.combinations(facts, 2)]
    options, choice = _resolve(options, manager)
    report(0.05, "comparing")
    prompt = compare_prompt(tracks, pairs)
    try:
        generated = manager.generate(GenerateOptions(
            prompt=prompt, system=SYSTEM, max_length=options.max_new_tokens,
            temperature=options.temperature, seed=options.seed, model_type=options.model_variant),
            progress=scaled(report, 0.05, 0.95))  # within the job's progress: it had gone back to 0, then 100 % early
    except JobStopped as e:  # the comparison written so far is the stopped job's (canceled, time limit), as a
        # generation's is: its `finish_reason` the stop's
        if e.generated:
            e.finished = _written(results_dir, PARTIAL + output_stem, {
                **_result(tracks, facts, pairs, options, choice, e.generated, prompt, started), "partial": True})
        raise
    return _written(results_dir, output_stem, _result(tracks, facts, pairs, options, choice, generated, prompt,
                                                      started), report)


def _result(tracks: list[dict[str, Any]], facts: list[dict[str, Any]], pairs: list[dict[str, Any]],
            options: CompareOptions, choice: Choice | None, generated: Mapping[str, Any], prompt: str,
            started: float) -> dict[str, Any]:
    return {"files_compared": [t["facts"]["file"] for t in tracks], "tracks": facts, "pairs": pairs,
            "model": generated["model"], "model_choice": choice.to_dict() if choice else None,
            "comparison": generated["response"], "finish_reason": generated["finish_reason"],
            "warnings": _warnings(tracks, generated, prompt=prompt),
            "grounded_on": sorted({s for t in tracks for s in t["sources"]}),
            "tokens_generated": generated["tokens_generated"], "generation_seconds": generated["seconds"],
            "processing_seconds": round(time.perf_counter() - started, 3), "options": options.to_dict()}


def _written(results_dir: Path, output_stem: str, result: dict[str, Any], report: Progress = quiet) -> dict[str, Any]:
    """`result` as <output_stem>.json|.txt (atomically, the JSON last); a stopped one's (canceled, time limit) as
    partial_compare_..."""
    names = [safe_name(f"{output_stem}.json"), safe_name(f"{output_stem}.txt")]
    result["files"] = names
    text = _text(result)
    note = partial_note("comparison", str(result.get("finish_reason"))) if result.get("partial") else ""
    write_text_atomic(results_dir / names[1], note + text)
    write_json_atomic(results_dir / names[0], result)
    report(1.0, "done")
    return result


def _resolve(options: CompareOptions, manager: ModelHost) -> tuple[CompareOptions, Choice | None]:
    if options.model_variant != AUTO:
        return options, None
    choice = choose_here("compare", settings=manager.settings, registry=manager.registry, device=manager.device)
    return dataclasses.replace(options, model_variant=choice.model_type), choice


def _track(path: Path, results_dir: Path, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    grounding = measure_speech_where_unsaid(find_grounding(results_dir, path.stem), audio_path=path,
                                            settings=settings)
    features = _read(results_dir / safe_name(f"features_{path.stem}.json"))
    lyrics = _read(results_dir / safe_name(f"lyrics_{path.stem}.json"))
    sources = grounding.sources + [n for n, d in ((f"features_{path.stem}.json", features),
                                                  (f"lyrics_{path.stem}.json", lyrics)) if d]
    themes = ((lyrics or {}).get("analysis") or {}).get("themes") or ""
    # measured as speech (worker/audio_llm/speech.py): said in the facts, the prompt and the warnings, where an
    # audiobook had been compared with a song by key, tempo and "which would mix into which"
    measured = grounding.speech  # (measured here where no pitch result says: worker/music/speech_share.py)
    facts = {**track_facts(path.name, grounding.pitch, features), "content": content(measured),
             "speech_share": measured_share(measured), **speech_origin(measured)}
    return {"facts": facts, "music": describe_music(grounding.pitch)
            if grounding.pitch else "", "themes": themes[:MAX_LYRICS_CHARS], "sources": sources,
            "has_features": features is not None, "speech": speech_share(measured),
            "first_seconds": measured_part(measured)}  # of a longer file, where the job measured its start


def _read(path: Path) -> Mapping[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


def compare_prompt(tracks: Sequence[Mapping[str, Any]], pairs: Sequence[Mapping[str, Any]]) -> str:
    """The comparison's prompt; a track measured as speech (`speech`) is given as a spoken recording, without the
    music analysis' lines, and the task says which are speech (all of them: a comparison of spoken recordings)."""
    spoken = [t["facts"]["file"] for t in tracks if t.get("speech") is not None]
    parts = [f"Compare these {len(tracks)} spoken recordings." if len(spoken) == len(tracks) else
             f"Compare these {len(tracks)} tracks."]
    for i, track in enumerate(tracks, 1):
        f = track["facts"]
        sound = (f"loudness {_num(f['loudness_lufs'], '{:.1f} LUFS')}, "
                 f"brightness {_num(f['brightness_hz'], '{:.0f} Hz')}")
        if track.get("speech") is not None:
            lines = [f"Track {i}: {f['file']} - a spoken recording ({track['speech']:.0%} of it a speaking voice, "
                     f"as measured): key and tempo not compared; {sound}"]
        else:
            lines = [f"Track {i}: {f['file']} - key {f['key'] or 'unknown'} ({f['camelot'] or '?'}), "
                     f"tempo {_num(f['tempo_bpm'], '{:.0f} BPM')}, metre {f['metre'] or 'unknown'}, {sound}"]
            if track["music"]:
                lines.append(track["music"])
        if track["themes"]:
            lines.append(f"{'What is talked about' if track.get('speech') is not None else 'Lyrics themes'} (from "
                         f"the lyrics analysis): {track['themes']}")
        parts.append("\n".join(lines))
    parts.append("Computed relations between the tracks:\n" + "\n".join(
        f"- {p['a']} / {p['b']}: " + (_spoken_pair(p, spoken) or f"{p['key']}; {p['tempo']['relation']}"
                                      + (f" ({p['tempo']['percent_apart']}% apart)" if "percent_apart" in p["tempo"]
                                         else "") + _MIX_WORDS[p["mixable"]]) for p in pairs))
    if len(spoken) == len(tracks):
        parts.append("Write the comparison: the voices and how they speak, what is talked about, loudness and "
                     "recording quality.")
    else:
        parts.append("Write the comparison: what they share, how they differ (key, tempo, energy, mood, structure, "
                     "lyrics), and which would follow or mix into which."
                     + (f" {_listed(spoken)} {'is' if len(spoken) == 1 else 'are'} speech, not music: say so, and "
                        "compare by loudness and what is said, not by key or tempo." if spoken else ""))
    return "\n\n".join(parts)


def _spoken_pair(pair: Mapping[str, Any], spoken: Sequence[str]) -> str:
    """A pair's relation where speech is in it: no key, tempo or mixing to relate (as measured)."""
    names = [name for name in (pair["a"], pair["b"]) if name in spoken]
    return "" if not names else "both are speech" if len(names) == 2 else f"{names[0]} is speech, not music"


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# a pair's `mixable` in the prompt: None (a key or tempo unmeasured) is said, not left for the model to guess
_MIX_WORDS = {True: "; a DJ could mix them", False: "", None: "; whether a DJ could mix them is unknown"}


def _num(value: Any, fmt: str) -> str:
    return fmt.format(float(value)) if isinstance(value, int | float) else "unknown"


def _warnings(tracks: Sequence[Mapping[str, Any]], generated: Mapping[str, Any], *, prompt: str) -> list[str]:
    out = []
    for t in tracks:  # key, tempo and chords come from pitch; loudness and brightness from features
        missing = [what for what, present in (("/process/pitch (key, tempo, chords)", t["music"]),
                                              ("/process/features (loudness, brightness)", t["has_features"]))
                   if not present]
        if missing:
            out.append(f"{t['facts']['file']} lacks analyses the comparison is grounded on: run "
                       f"{' and '.join(missing)}")
    spoken = [t for t in tracks if t.get("speech") is not None]
    for t in spoken:  # who measured it: this job, where no pitch result said (it had read as pitch's word)
        by = (f" by this job {job_measured(t.get('first_seconds'))}"
              if t["facts"].get("speech_source") == "measured" else "")
        out.append(f"{t['facts']['file']} was measured as speech ({t['speech']:.0%} of it a speaking voice){by}, "
                   "not music: it was compared as a spoken recording, not by key, tempo or mixing")
    if generated["finish_reason"] == "length":
        out.append("the comparison was cut at max_new_tokens (finish_reason: length)")
    answer = str(generated.get("response") or "")
    if spoken and len(spoken) == len(tracks):  # music words of a comparison of speech alone (with music: its own)
        # each track with who measured it, where the job measured any (a pitch result's share had been put to the job)
        out += music_talk_of_tracks(answer, [(t["facts"]["file"], t["speech"], t["facts"].get("speech_source"),
                                              t.get("first_seconds")) for t in spoken])
    # SmolLM2's often loops (a stranger's); what it claims before and inside the loop is still checked: a looping
    # comparison's "Track 1 has a tempo of 19.2 BPM" (measured 93.0) had gone without a word
    return (out + loop_warning(answer)
            + unsupported_claims(answer, prompt=prompt, tracks=[t["facts"]["file"] for t in tracks]))


def _text(result: Mapping[str, Any]) -> str:
    lines = [f"Comparison of {', '.join(result['files_compared'])} by {result['model']}", ""]
    for f in result["tracks"]:
        lines.append(f"- {f['file']}: speech ({f['speech_share']:.0%} a speaking voice)" if f.get("content") == "speech"
                     else f"- {f['file']}: {f['key'] or 'no key'} {f['camelot'] or ''}, "
                          f"{_num(f['tempo_bpm'], '{:.0f} BPM')}, {f['metre'] or ''}")
    lines.append("")
    for p in result["pairs"]:
        mix = {True: "; mixable", False: "", None: "; mixable unknown"}[p["mixable"]]
        lines.append(f"{p['a']} / {p['b']}: {p['key']}; {p['tempo']['relation']}{mix}")
    lines += ["", result["comparison"] or "(the model produced no text)"]
    lines += [f"Warning: {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"
