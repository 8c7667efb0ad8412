"""A held-out family of grooves nobody here wrote or fitted on: MMA's style library.

MMA (Musical MIDI Accompaniment, Debian package `mma`, GPL; Bob van der Poel and contributors) plays a chord
chart in one of ~1,900 grooves of its own library (rock, swing, bossa, waltz, polka, 6/8 and 12/8 ballads, the
Casio, Yamaha and Zoom style sets...), drums, bass and comping humanised by its own timing and velocity jitter.
This script writes the charts (a key, a progression that often does not start or end on the tonic, a tempo),
lets MMA write the MIDI and renders it with the test set's soundfonts, MuseScore General (held out of every
fit) among them. Nothing in worker/music was chosen on these grooves: they are a check of the beat network, the
bar decoder, the key model and the chord model on accompaniment from another hand.

Labels, from the chart (not from the audio): the beat is MMA's beat, or the dotted quarter where the style is in
6/8 (MMA's `Time 6` styles count eighths: three of their beats are one; `Time 2` styles count dotted quarters) or
a 12/8 feel written in 4/4 (the styles named *128*, whose documentation says "use a dotted quarter for the beat
count": MMA's beat is the dotted quarter); downbeats the bar starts; the key the chart's; chords the chart's
(root and maj/min, on MMA's beat grid). Styles whose metre the above does not settle (5/4, a 6/8 written in four)
are left out, and so are drum-only styles (the Zoom set: no key or chords to label) and the 12/8 styles' "Plain"
grooves (straight quarters). A chart whose MIDI has no note onset within 30 ms of most labelled beats is dropped
and counted.

Usage (the items land in bench/out/mma_family, each family named by its metre: mma44, mma34, mma68, mma128):
  mkdir -p bench/out/mma_pkg && (cd bench/out/mma_pkg && apt-get download mma && dpkg -x mma_*.deb x)
  python bench/mma_family.py [--n 120] [--mma bench/out/mma_pkg/x/usr/share/mma] [--seed 991000] [--out DIR]
  (the fit family, where rules may be chosen: --seed 993000 --out bench/out/mma_fit; the default seed is held out)
  python bench/music_anchors.py --items bench/out/mma_family --split all
  python bench/pitch_accuracy.py --items bench/out/mma_family --split all [-v]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_render import available_soundfonts, render_mix, write_audio  # noqa: E402

OUT = ROOT / "bench" / "out" / "mma_family"
DEFAULT_MMA = ROOT / "bench" / "out" / "mma_pkg" / "x" / "usr" / "share" / "mma"
SEED = 991000  # the held-out family's; no other script's seed
FIT_SEED = 993000  # a fit family (--seed 993000 --out bench/out/mma_fit): rules are chosen on it, never on SEED
TARGET_SECONDS = 32.0  # each chart is as many bars as fill about this long
MIN_BARS, MAX_BARS = 8, 40
ONSET_WINDOW = 0.03  # s: a labelled beat "has an onset" within this of a MIDI note start
MIN_BEATS_WITH_ONSET = 0.5  # share of labelled beats; fewer drops the chart (a label/MIDI mismatch)
# groove names that are not a steady groove (introductions, endings, fills, breaks, metre switches)
NOT_A_GROOVE = re.compile(r"intro|end|fill|break|-44|metronome|none", re.I)
# a style file with a pitched track (the Zoom set is drum machine patterns only: no key, no chords to label)
PITCHED = re.compile(r"^\s*(Begin\s+)?(Chord|Bass|Walk|Arpeggio|Plectrum|Scale|Aria|Solo|Melody)[-A-Za-z0-9]*\b",
                     re.M | re.I)
# metre label -> tempo range of its beat (BPM), wide on purpose: many charts far from a style's usual tempo
TEMPO_RANGE = {"4/4": (60.0, 180.0), "3/4": (70.0, 200.0), "6/8": (40.0, 110.0), "12/8": (40.0, 100.0)}
FAMILY = {"4/4": "mma44", "3/4": "mma34", "6/8": "mma68", "12/8": "mma128"}
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # MMA chord roots
LABEL_ROOTS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # the test set's key spelling
# progressions as (semitones above the tonic, MMA suffix); several start and end away from the tonic
MAJOR = [
    [(0, ""), (7, ""), (9, "m"), (5, "")], [(9, "m"), (5, ""), (0, ""), (7, "")],
    [(0, ""), (9, "m"), (5, ""), (7, "")], [(5, ""), (0, ""), (7, ""), (9, "m")],
    [(2, "m7"), (7, "7"), (0, "maj7"), (9, "m7")], [(0, ""), (5, ""), (7, ""), (0, "")],
    [(0, ""), (5, ""), (0, ""), (7, "7")], [(4, "m"), (9, "m"), (2, "m"), (7, "7"), (0, ""), (0, "")],
    [(5, ""), (7, ""), (0, ""), (0, "")],
]
MINOR = [
    [(0, "m"), (8, ""), (3, ""), (10, "")], [(0, "m"), (5, "m"), (7, "7"), (0, "m")],
    [(0, "m"), (10, ""), (8, ""), (7, "")], [(8, ""), (10, ""), (0, "m"), (0, "m")],
    [(5, "m"), (7, "7"), (0, "m"), (8, "")], [(0, "m"), (5, "m"), (10, ""), (3, "")],
]
BLUES = [(0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"), (0, "7"), (0, "7"), (7, "7"), (5, "7"), (0, "7"),
         (7, "7")]
LABEL_QUALITY = {"": "maj", "m": "min", "7": "7", "m7": "min7", "maj7": "maj7"}


@dataclass(frozen=True)
class Style:
    file: Path
    groove: str
    metre: str  # the label: 4/4, 3/4, 6/8, 12/8
    mma_beats_per_bar: int
    mma_beats_per_beat: int  # MMA beats in one labelled beat


def _metre(text: str, name: str) -> tuple[str, int, int] | None:
    """(label, MMA beats per bar, MMA beats per labelled beat) of a style file, None where not settled."""
    times = {m.split("/")[0] for m in re.findall(r"^\s*Time\s+(\S+)", text, re.M | re.I)}
    sig_texts = re.findall(r"^\s*TimeSig\s+([0-9]+\s*/?\s*[0-9]+)", text, re.M | re.I)
    sigs = {re.sub(r"\s+", "/", s.strip()) for s in sig_texts}
    if len(times) != 1 or len(sigs) > 1:
        return None  # no Time, or a file that changes it
    time = int(times.pop()) if times and next(iter(times)).isdigit() else None
    sig = sigs.pop() if sigs else f"{time}/4"
    if time == 4 and sig == "4/4":
        return ("12/8", 4, 1) if "128" in name else ("4/4", 4, 1)
    if time == 3 and sig == "3/4":
        return "3/4", 3, 1
    if sig == "6/8" and time in (6, 2):
        return "6/8", time, time // 2
    return None


def styles(mma_home: Path) -> list[Style]:
    out = []
    for path in sorted((mma_home / "lib").glob("*/*.mma")):
        text = path.read_text(errors="replace")
        metre = _metre(text, path.stem)
        if metre is None or not PITCHED.search(text):
            continue
        for groove in re.findall(r"^\s*DefGroove\s+(\S+)", text, re.M | re.I):
            # the 12/8 styles' "Plain" grooves play straight quarters: not heard as 12/8
            if not NOT_A_GROOVE.search(groove) and not (metre[0] == "12/8" and "plain" in groove.lower()):
                out.append(Style(path, groove, *metre))
    return out


def mma_command(mma_home: Path) -> list[str]:
    env_home = str(mma_home)
    if not (mma_home / "lib" / "stdlib" / ".mmaDB").exists():  # MMA's groove index, built once
        subprocess.run([sys.executable, str(mma_home.parents[1] / "bin" / "mma"), "-G"], check=True,
                       env={**os.environ, "MMA_HOME": env_home}, capture_output=True)
    return [sys.executable, str(mma_home.parents[1] / "bin" / "mma")]


def chart(rng: np.random.Generator, style: Style) -> dict:
    """The chart's truth before MMA plays it: key, tempo, bars of chords."""
    minor = rng.random() < 0.4
    tonic = int(rng.integers(12))
    if not minor and style.metre == "4/4" and rng.random() < 0.15:
        prog = BLUES
    else:
        pool = MINOR if minor else MAJOR
        prog = pool[int(rng.integers(len(pool)))]
        shift = int(rng.integers(len(prog)))
        prog = prog[shift:] + prog[:shift]  # a loop entered anywhere
    lo, hi = TEMPO_RANGE[style.metre]
    # MMA keeps whole beats per minute (it wrote 104 for 104.4): the label is what it plays
    mma_tempo = int(round(np.exp(rng.uniform(np.log(lo), np.log(hi))) * style.mma_beats_per_beat))
    bpm = mma_tempo / style.mma_beats_per_beat
    bar_s = style.mma_beats_per_bar * 60.0 / mma_tempo
    n_bars = int(np.clip(round(TARGET_SECONDS / bar_s), MIN_BARS, MAX_BARS))
    split = style.mma_beats_per_bar == 4 and prog is not BLUES and rng.random() < 0.3  # two chords a bar
    seq = [prog[i % len(prog)] for i in range(n_bars * (2 if split else 1))]
    bars = [seq[2 * b: 2 * b + 2] if split else [seq[b]] for b in range(n_bars)]
    return {"key": f"{LABEL_ROOTS[tonic]} {'minor' if minor else 'major'}", "tonic": tonic, "tempo_bpm": bpm,
            "mma_tempo": mma_tempo, "bars": bars, "bar_seconds": bar_s}


def mma_text(style: Style, truth: dict) -> str:
    lines = [f"Tempo {truth['mma_tempo']}", f"Groove {style.groove}"]
    for b, chords in enumerate(truth["bars"], start=1):
        names = [NAMES[(truth["tonic"] + st) % 12] + suffix for st, suffix in chords]
        lines.append(f"{b} {names[0]}" if len(names) == 1 else f"{b} {names[0]} / {names[1]} /")
    return "\n".join(lines) + "\n"


def labels(style: Style, truth: dict) -> dict:
    beat_s = 60.0 / truth["tempo_bpm"]
    n_bars = len(truth["bars"])
    beats_per_bar = style.mma_beats_per_bar // style.mma_beats_per_beat
    beats = [round(i * beat_s, 4) for i in range(n_bars * beats_per_bar)]
    downbeats = beats[::beats_per_bar]
    chords = []
    for b, bar in enumerate(truth["bars"]):
        step = truth["bar_seconds"] / len(bar)
        for j, (st, suffix) in enumerate(bar):
            start = b * truth["bar_seconds"] + j * step
            chords.append([round(start, 4), round(start + step, 4),
                           f"{LABEL_ROOTS[(truth['tonic'] + st) % 12]}:{LABEL_QUALITY[suffix]}"])
    return {"beats": beats, "downbeats": downbeats, "chords": chords}


def onset_share(pm, beats: list[float]) -> float:
    starts = np.sort(np.array([n.start for inst in pm.instruments for n in inst.notes]))
    if not len(starts) or not beats:
        return 0.0
    idx = np.clip(np.searchsorted(starts, beats), 1, len(starts) - 1)
    near = np.minimum(np.abs(starts[idx] - beats), np.abs(starts[idx - 1] - beats))
    return float(np.mean(near <= ONSET_WINDOW))


def build(n: int, mma_home: Path, out: Path = OUT, seed: int = SEED) -> tuple[list[dict], Counter]:
    import pretty_midi

    out.mkdir(parents=True, exist_ok=True)
    cmd = mma_command(mma_home)
    by_metre: dict[str, list[Style]] = {}
    for s in styles(mma_home):
        by_metre.setdefault(s.metre, []).append(s)
    fonts = sorted(available_soundfonts())
    rng = np.random.default_rng(seed)
    metres = sorted(by_metre)
    dropped: Counter = Counter()
    items = []
    for i in range(n):
        metre = metres[i % len(metres)]  # the metres in turn: 4/4 does not dominate
        style = by_metre[metre][int(rng.integers(len(by_metre[metre])))]
        name = f"mma_{i:03d}"
        truth = chart(rng, style)
        font = fonts[i % len(fonts)]
        meta = out / f"{name}.json"
        if meta.exists():
            items.append(json.loads(meta.read_text()))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            src, mid = Path(tmp) / "chart.mma", Path(tmp) / "chart.mid"
            src.write_text(mma_text(style, truth))
            run = subprocess.run([*cmd, str(src), "-f", str(mid)], capture_output=True, text=True,
                                 env={**os.environ, "MMA_HOME": str(mma_home)})
            if run.returncode or not mid.exists():
                dropped["mma failed"] += 1
                continue
            pm = pretty_midi.PrettyMIDI(str(mid))
        lab = labels(style, truth)
        if not any(n.pitch for inst in pm.instruments if not inst.is_drum for n in inst.notes):
            dropped[f"no pitched notes ({style.file.parent.name}/{style.groove})"] += 1
            continue
        if onset_share(pm, lab["beats"]) < MIN_BEATS_WITH_ONSET:
            dropped[f"beats without onsets ({style.file.parent.name}/{style.file.stem})"] += 1
            continue
        audio = write_audio(render_mix(pm, soundfont=font, engine="lib"), out / name, "flac")
        item = {"name": name, "family": FAMILY[metre], "split": "test", "audio": audio.name,
                "style": f"{style.file.parent.name}/{style.groove}", "soundfont": font, "key": truth["key"],
                "tempo_bpm": truth["tempo_bpm"], "time_signature": metre, **lab}
        meta.write_text(json.dumps(item, indent=1))
        items.append(item)
    (out / "manifest.json").write_text(json.dumps(items, indent=1))
    return items, dropped


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--mma", type=Path, default=DEFAULT_MMA, help="MMA's share folder (holds MMA/ and lib/)")
    ap.add_argument("--seed", type=int, default=SEED,
                    help=f"charts' generator seed: {SEED} is the held-out family, {FIT_SEED} the fit family")
    ap.add_argument("--out", type=Path, default=OUT, help="where the items land (a folder per seed)")
    args = ap.parse_args(argv)
    if not (args.mma / "MMA" / "main.py").exists():
        sys.exit(f"no MMA at {args.mma} (see this script's docstring)")
    items, dropped = build(args.n, args.mma, args.out, args.seed)
    per = Counter(m["family"] for m in items)
    print(f"{len(items)} charts in {args.out}: " + ", ".join(f"{f} {c}" for f, c in sorted(per.items()))
          + (f"; dropped {dict(dropped)}" if dropped else ""))


if __name__ == "__main__":
    main()
