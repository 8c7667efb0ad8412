"""Key on classical music that is not a chorale: quartet, piano and chamber movements from music21's corpus
(Beethoven, Mozart, Haydn, the Schumanns, Corelli, C. P. E. Bach, Handel, Chopin, Schubert, Weber, Joplin and
others), a family the key model never saw: it was fitted on chorales, pattern songs, grooves, pop loops, modal
vamps and tempo changes only (bench/key_fit.py).

Each movement is labelled like a chorale (bench/chorale_family.py: the key signature plus the final bass note,
the tonic of the major or of the relative minor; movements whose last bass note is neither are skipped) with
music21's analysis of the whole score beside it (`key_analysis`, `key_agrees`), transposed so the 24 keys are
covered (item i to key i % 24), and its first 36 s rendered (a classical movement states its home key at the
start) with the parts' own GM programs where the score names them, on a soundfont drawn per item, with seeds no
other script uses. Nothing is fitted or chosen on these items.

Renders and labels are cached in bench/out/classical_check (with a manifest, so the anchors run on them:
`python bench/music_anchors.py --items bench/out/classical_check --split all`); the first run
parses every movement (a string-quartet movement takes music21 ~30 s), later runs only analyse. Reported: the
MIREX weighted key score of ours and, where the anchors' cache holds them, Essentia's edma key and librosa's
profile key, per composer group and overall, and on the movements whose two labels agree; and on the movements
whose beat the notation fixes (`rhythm_truth`), tempo Acc1/Acc2, beat and downbeat F and metre beside librosa,
Essentia and madmom.

`--seconds 900` renders the movements whole (all but the longest, cut at 15 minutes) into a folder of their own,
bench/out/classical_check_900s: there the home key is heard coming back after the modulations, as in a track a
user uploads; the 36 s excerpts ask the harder question of a key from an opening that has already modulated.

Usage: python bench/classical_check.py [--seconds 36] [--set key.NAME=VALUE ...] [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_family import (  # noqa: E402
    START_SECONDS,
    add_parts,
    bar_starts,
    chorale_key,
    key_analysis_fields,
    score_end,
    transposition,
)
from bench.music_render import RENDER_SR, available_soundfonts, render_mix  # noqa: E402
from bench.music_scores import key_score  # noqa: E402
from worker.music.key import PITCH_NAMES  # noqa: E402

OUT = ROOT / "bench" / "out" / "classical_check"
SEED = 9700  # score k of file i renders with default_rng(SEED + 100 i + k); chorale_check uses 9500+, the test
# set 5000+ and 7
COMPOSERS = ("beethoven", "mozart", "haydn", "schumann_robert", "schumann_clara", "chopin", "corelli", "cpebach",
             "handel", "joplin", "schubert", "weber", "beach", "johnson_j_r")
MAX_SECONDS = 36.0  # seconds of each movement rendered, as the test set's chorales
STRING_PROGRAMS = (40, 40, 41, 42)  # GM violin, violin, viola, cello: a part without a program in a 3+-part score
PIANO = 0  # GM acoustic grand: a part without a program in a one- or two-staff score
GRACE_QUARTERS = 0.125  # quarter notes a grace note (no notated length) sounds for
BEAT_QUARTERS = {4: 1.0, 8: 1.5, 2: 2.0}  # beat length in quarter notes by time-signature denominator
COMPOSER_GROUPS = {**dict.fromkeys(("corelli", "handel", "cpebach"), "baroque"),
                   **dict.fromkeys(("schumann_robert", "schumann_clara", "chopin", "schubert", "weber", "beach",
                                    "joplin", "johnson_j_r"), "romantic")}  # the rest: "classical era"
SIMPLE_BEATS = (2, 3, 4)  # x/4 and x/2 numerators scored for rhythm
COMPOUND_NUMERATORS = (6, 9, 12)  # x/8 numerators scored for rhythm (the beat is the dotted quarter)


def movement_files() -> list[tuple[str, Path]]:
    """(composer, path) of every corpus file of COMPOSERS, in a fixed order, each piece once (the corpus holds
    some in two formats, e.g. movement1.krn and movement1.mxl: the first in name order is taken)."""
    from music21 import corpus

    out, seen = [], set()
    for composer in COMPOSERS:
        for path in sorted((Path(p) for p in corpus.getComposer(composer)), key=str):
            if file_name(path) not in seen:
                seen.add(file_name(path))
                out.append((composer, path))
    return out


def file_name(path: Path) -> str:
    """e.g. beethoven/opus59no1/movement1 (the file stems alone repeat)."""
    return "/".join(path.with_suffix("").parts[-3:])


def scores_of(path: Path) -> list:
    """The music21 Scores in one corpus file (an Opus holds several), none if music21 cannot read it."""
    from music21 import corpus, stream

    try:
        parsed = corpus.parse(str(path))
    except Exception as e:  # a file music21 cannot read is reported and skipped
        print(f"skip {path.name}: {type(e).__name__}", flush=True)
        return []
    return list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]


def quarter_bpm(score, rng: np.random.Generator) -> float:
    """The score's first metronome mark in quarter notes per minute, else a beat tempo drawn from 60-140 in the
    notated beat (a half note in 2/2, a dotted quarter in 6/8: an alla breve at 40 half notes a minute would be
    heard in quarters)."""
    from music21 import meter, tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        bpm = mark.getQuarterBPM()
        if bpm and 40 <= bpm <= 240:
            return float(bpm)
    sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    beat = beat_quarters(sigs[0].numerator, sigs[0].denominator) if sigs else None
    return float(rng.uniform(60, 140)) * (beat or 1.0)


def beat_quarters(num: int, den: int) -> float | None:
    """The beat in quarter notes of a metre whose beat the notation fixes (2-4/4, 2-3/2, 6/9/12/8), else None
    (a fast 3/8 is often felt one to the bar, 5/4 and the like are left out)."""
    if (den == 4 and num in SIMPLE_BEATS) or (den == 2 and num in (2, 3)) or (den == 8 and num in COMPOUND_NUMERATORS):
        return BEAT_QUARTERS[den]
    return None


def rhythm_truth(score, q: float, max_seconds: float) -> dict:
    """Tempo (beats per minute), beat and bar-start times and the time signature of the render, or {} where
    the notation does not fix the beat (`beat_quarters`) or the time signature changes within the rendered
    span. The beat grid is anchored on the first full bar (a pickup's beats count back from it); the render
    holds one tempo throughout."""
    from music21 import meter

    end_q = min(score_end(score), max_seconds / q)  # quarter-note offset where the render stops
    sigs = [ts for ts in score.parts[-1].flatten().getElementsByClass(meter.TimeSignature) if ts.offset <= end_q]
    if not sigs or len({ts.ratioString for ts in sigs}) != 1:
        return {}
    num, den = sigs[0].numerator, sigs[0].denominator
    beat = beat_quarters(num, den)
    if beat is None:
        return {}
    bars = [b for b in bar_starts(score) if b <= end_q]
    if not bars:
        return {}
    first = bars[0]
    k0 = -int(np.floor(first / beat + 1e-9))
    beats = [first + k * beat for k in range(k0, int((end_q - first) / beat) + 1)]
    return {"tempo_bpm": 60.0 / (q * beat), "beats": [START_SECONDS + b * q for b in beats],
            "downbeats": [START_SECONDS + b * q for b in bars], "time_signature": f"{num}/{den}"}


def part_program(part, index: int, n_parts: int) -> int:
    """The GM program the score names for a part, else piano (one or two staves) or a string by position."""
    program = getattr(part.getInstrument(returnDefault=False), "midiProgram", None)
    if program is None:
        return PIANO if n_parts <= 2 else STRING_PROGRAMS[min(index, len(STRING_PROGRAMS) - 1)]
    return int(program)


def make_movement(score, target: int, rng: np.random.Generator, max_seconds: float):
    """(pretty_midi.PrettyMIDI, truth dict) for the first max_seconds of `score` transposed to key index
    `target` (0-23), or None without a key from signature + final bass note."""
    import pretty_midi

    found = chorale_key(score)
    if found is None:
        return None
    tonic, mode = found
    shift = transposition(tonic, target)
    q = 60.0 / quarter_bpm(score, rng)
    pm = pretty_midi.PrettyMIDI()
    add_parts(pm, score, [part_program(part, i, len(score.parts)) for i, part in enumerate(score.parts)],
              q=q, shift=shift, max_seconds=max_seconds, min_quarters=GRACE_QUARTERS)
    if not pm.instruments:
        return None
    return pm, {"family": "classical", "key": f"{PITCH_NAMES[(tonic + shift) % 12]} {mode}",
                **key_analysis_fields(score, shift), "quarter_bpm": 60.0 / q, **rhythm_truth(score, q, max_seconds)}


def out_dir(max_seconds: float) -> Path:
    """Where the renders of the first max_seconds live: OUT for the default 36 s, a folder of its own for any
    other length (e.g. `--seconds 900`, the movements whole but for a few long ones), so both stay cached."""
    return OUT if max_seconds == MAX_SECONDS else OUT.with_name(f"{OUT.name}_{max_seconds:g}s")


def render_all(max_seconds: float) -> list[dict]:
    """The cached manifest, rendering what is missing (every movement once; skips are remembered)."""
    import soundfile as sf

    out = out_dir(max_seconds)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path, skipped_path = out / "manifest.json", out / "skipped.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else []
    skipped = set(json.loads(skipped_path.read_text())) if skipped_path.exists() else set()
    done = {m["file"] for m in manifest} | skipped
    soundfonts = sorted(available_soundfonts())
    for i, (composer, path) in enumerate(movement_files()):
        if file_name(path) in done:
            continue
        rendered = False
        for k, score in enumerate(scores_of(path)):
            rng = np.random.default_rng(SEED + 100 * i + k)
            made = make_movement(score, (i + k) % 24, rng, max_seconds)
            if made is None:
                continue
            pm, truth = made
            soundfont = str(rng.choice(soundfonts))
            y = render_mix(pm, soundfont=soundfont, engine="lib")
            audio = f"classical_{i:03d}_{k}.flac"
            sf.write(out / audio, y, RENDER_SR)
            manifest.append({**truth, "name": audio.split(".")[0], "audio": audio, "file": file_name(path),
                             "source": file_name(path) + (f"#{k}" if k else ""), "composer": composer,
                             "soundfont": soundfont, "split": "test"})
            manifest_path.write_text(json.dumps(manifest, indent=1))
            rendered = True
            print(f"rendered {manifest[-1]['source']:32s} {truth['key']:9s} (analysis {truth['key_analysis']}) "
                  f"{soundfont}", flush=True)
        if not rendered:
            skipped.add(file_name(path))  # no key from signature + final bass, or unreadable
            skipped_path.write_text(json.dumps(sorted(skipped)))
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=MAX_SECONDS,
                    help="seconds of each movement (renders of another length are cached in a folder of their own)")
    ap.add_argument("--set", nargs="*", default=[], metavar="MODULE.NAME=VALUE",
                    help="compare a worker.music constant on the same renders, e.g. key.TIMELINE_OVERRULES_RATIO=0")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    from bench.chorale_check import apply_settings
    from bench.pitch_accuracy import librosa_baseline, rhythm_rows
    from worker.audio_io import load_audio
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    apply_settings(args.set)
    manifest = render_all(args.seconds)
    out = out_dir(args.seconds)
    keys: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rhythm: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    t0 = time.perf_counter()
    for m in manifest:
        y, sr = load_audio(out / m["audio"], mono=True)
        res = analyze_music(y, sr, options=PitchOptions(include=("key", "tempo", "beats")))
        base = librosa_baseline(y, sr, {})
        path = out / "anchor_cache" / f"{m['name']}.json"
        anchors = json.loads(path.read_text()) if path.exists() else {}
        ess, mad = anchors.get("essentia", {}), anchors.get("madmom", {})
        row = {"ours": key_score(m["key"], res["key"]["label"]), "librosa": key_score(m["key"], base["key"]),
               **({"essentia": key_score(m["key"], ess["key"])} if "key" in ess else {})}
        warned = "opening warned" if res["key"].get("opening") else "not warned"
        for g in (COMPOSER_GROUPS.get(m["composer"], "classical era"), "all",
                  *(("agreed",) if m["key_agrees"] else ()), warned):
            for system, v in row.items():
                keys[g][system].append(v)
        if "beats" in m:
            per = {"ours": rhythm_rows(m, tempo=res["tempo_bpm"], beats=res["beat_times"],
                                       downbeats=res["downbeat_times"], metre=res.get("time_signature")),
                   "librosa": rhythm_rows(m, tempo=base["tempo"], beats=base["beats"])}
            if "beats" in ess:
                per["essentia"] = rhythm_rows(m, tempo=ess["tempo"], beats=ess["beats"])
            if "beats" in mad:
                per["madmom"] = rhythm_rows(m, tempo=mad["tempo"], beats=mad["beats"], downbeats=mad["downbeats"],
                                            metre=mad["beats_per_bar"])
            for system, values in per.items():
                for metric, v in values.items():
                    rhythm[system][metric].append(v)
        if args.verbose:
            print(f"{m['source']:36s} {m['key']:9s} (analysis {m['key_analysis']:9s}) -> {res['key']['label']:9s} "
                  f"conf {res['key'].get('confidence', 0):.2f} " + " ".join(f"{k} {v:.2f}" for k, v in row.items())
                  + (f" | {m['time_signature']:5s} {m['tempo_bpm']:5.1f} -> {res.get('time_signature')} "
                     f"{res['tempo_bpm'] or 0:5.1f} BPM beat F {per['ours']['beat_f']:.2f}" if "beats" in m else ""),
                  flush=True)
    print(f"{len(manifest)} classical movements nobody fitted on, first {args.seconds:.0f} s "
          f"({time.perf_counter() - t0:.0f} s to analyse)\nkey (MIREX weighted):")
    for g in ("classical era", "romantic", "baroque", "all", "agreed", "opening warned", "not warned"):
        if keys[g]:
            print(f"  {g:14s} n {len(keys[g]['ours']):3d}  " + "  ".join(
                f"{system} {np.mean(v):.3f}" for system, v in keys[g].items()))
    print(f"rhythm ({len(rhythm['ours'].get('beat_f', []))} movements in 2-4/4, 2-3/2 or 6/9/12/8):")
    for system, values in rhythm.items():
        print(f"  {system:9s} " + "  ".join(f"{metric} {np.mean(v):.3f}" for metric, v in values.items()))


if __name__ == "__main__":
    main()
