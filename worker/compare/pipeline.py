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

from worker.audio_llm.files import PARTIAL
from worker.audio_llm.grounding import describe_music, find_grounding
from worker.audio_llm.passes import ModelHost
from worker.errors import JobCanceled
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
CANCELED_NOTE = "CANCELED: a partial comparison (finish_reason canceled): the text written before the cancel\n\n"


def run_compare(*, audio_paths: Sequence[Path], results_dir: Path, options: CompareOptions, manager: ModelHost,
                output_stem: str, progress: Progress | None = None) -> dict:
    report = progress or quiet
    started = time.perf_counter()
    results_dir = Path(results_dir)
    tracks = [_track(Path(p), results_dir) for p in audio_paths]
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
    except JobCanceled as e:  # the comparison written so far is the canceled job's, as a generation's is
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
    """`result` as <output_stem>.json|.txt (atomically, the JSON last); a canceled one's as partial_compare_..."""
    names = [safe_name(f"{output_stem}.json"), safe_name(f"{output_stem}.txt")]
    result["files"] = names
    text = _text(result)
    write_text_atomic(results_dir / names[1], (CANCELED_NOTE + text) if result.get("partial") else text)
    write_json_atomic(results_dir / names[0], result)
    report(1.0, "done")
    return result


def _resolve(options: CompareOptions, manager: ModelHost) -> tuple[CompareOptions, Choice | None]:
    if options.model_variant != AUTO:
        return options, None
    choice = choose_here("compare", settings=manager.settings, registry=manager.registry, device=manager.device)
    return dataclasses.replace(options, model_variant=choice.model_type), choice


def _track(path: Path, results_dir: Path) -> dict[str, Any]:
    grounding = find_grounding(results_dir, path.stem)
    features = _read(results_dir / safe_name(f"features_{path.stem}.json"))
    lyrics = _read(results_dir / safe_name(f"lyrics_{path.stem}.json"))
    sources = grounding.sources + [n for n, d in ((f"features_{path.stem}.json", features),
                                                  (f"lyrics_{path.stem}.json", lyrics)) if d]
    themes = ((lyrics or {}).get("analysis") or {}).get("themes") or ""
    return {"facts": track_facts(path.name, grounding.pitch, features), "music": describe_music(grounding.pitch)
            if grounding.pitch else "", "themes": themes[:MAX_LYRICS_CHARS], "sources": sources,
            "has_features": features is not None}


def _read(path: Path) -> Mapping[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


def compare_prompt(tracks: Sequence[Mapping[str, Any]], pairs: Sequence[Mapping[str, Any]]) -> str:
    parts = [f"Compare these {len(tracks)} tracks."]
    for i, track in enumerate(tracks, 1):
        f = track["facts"]
        lines = [f"Track {i}: {f['file']} - key {f['key'] or 'unknown'} ({f['camelot'] or '?'}), "
                 f"tempo {_num(f['tempo_bpm'], '{:.0f} BPM')}, metre {f['metre'] or 'unknown'}, "
                 f"loudness {_num(f['loudness_lufs'], '{:.1f} LUFS')}, "
                 f"brightness {_num(f['brightness_hz'], '{:.0f} Hz')}"]
        if track["music"]:
            lines.append(track["music"])
        if track["themes"]:
            lines.append(f"Lyrics themes (from the lyrics analysis): {track['themes']}")
        parts.append("\n".join(lines))
    parts.append("Computed relations between the tracks:\n" + "\n".join(
        f"- {p['a']} / {p['b']}: {p['key']}; {p['tempo']['relation']}"
        + (f" ({p['tempo']['percent_apart']}% apart)" if "percent_apart" in p["tempo"] else "")
        + _MIX_WORDS[p["mixable"]] for p in pairs))
    parts.append("Write the comparison: what they share, how they differ (key, tempo, energy, mood, structure, "
                 "lyrics), and which would follow or mix into which.")
    return "\n\n".join(parts)


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
    if generated["finish_reason"] == "length":
        out.append("the comparison was cut at max_new_tokens (finish_reason: length)")
    answer = str(generated.get("response") or "")
    # SmolLM2's often loops (a stranger's); what it claims before and inside the loop is still checked: a looping
    # comparison's "Track 1 has a tempo of 19.2 BPM" (measured 93.0) had gone without a word
    return (out + loop_warning(answer)
            + unsupported_claims(answer, prompt=prompt, tracks=[t["facts"]["file"] for t in tracks]))


def _text(result: Mapping[str, Any]) -> str:
    lines = [f"Comparison of {', '.join(result['files_compared'])} by {result['model']}", ""]
    for f in result["tracks"]:
        lines.append(f"- {f['file']}: {f['key'] or 'no key'} {f['camelot'] or ''}, "
                     f"{_num(f['tempo_bpm'], '{:.0f} BPM')}, {f['metre'] or ''}")
    lines.append("")
    for p in result["pairs"]:
        mix = {True: "; mixable", False: "", None: "; mixable unknown"}[p["mixable"]]
        lines.append(f"{p['a']} / {p['b']}: {p['key']}; {p['tempo']['relation']}{mix}")
    lines += ["", result["comparison"] or "(the model produced no text)"]
    lines += [f"Warning: {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"
