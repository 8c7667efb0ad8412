"""Real recordings with a labelled tempo and beat grid: the Frets on Fire songs Debian ships, against their charts.

Material: fretsonfire-songs-muldjord (4 metal songs) and fretsonfire-songs-sectoid (4 rock/metal songs), recorded
and mixed by their authors (CC BY-SA), fetched with `apt-get download` and unpacked with `dpkg -x` into
bench/out/charted_debs (never installed). Each song comes with the game's chart, notes.mid: the notes a player
hits, placed by the song's author on a tempo map (one tempo per song here). The chart is a label made for another
purpose, so this script first checks it against the audio: the guitar stem's onsets (librosa, the song's own
guitar.ogg) against the chart's notes, as the median lag and the share of onsets within 50 ms of a note. The chart
fixes the tempo and where the notes fall; the phase of its quarter grid is what the author's sequencer began with,
not a tapped beat: on Metal madness the drums' strongest hits fall on the chart's off-beats. So beat F is reported
twice: against the chart's quarters, and against whichever of them or the grid half a beat later the tool's
beats are closer to ("either phase"). The bar grid's phase is not known at all: no downbeat figure.

Reported per song and per pack: tempo Acc1 / Acc2 (the chart's tempo is the reference; 4 %), beat F (both ways),
for ours (worker.music analyze_music), librosa's beat_track and, when bench/music_anchors.py has run on the folder
(`python bench/music_anchors.py --items bench/out/charted --split all`), Essentia's RhythmExtractor2013 and madmom's
downbeat tracker; and our seconds per minute of audio. Nothing here was fitted to or looked at before the
2026-12-05 figures in docs/music_accuracy.md.

Usage: python bench/charted_songs.py [--prepare] [-v]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import beat_f, tempo_scores  # noqa: E402

DEBS = ROOT / "bench" / "out" / "charted_debs"
CHARTED = ROOT / "bench" / "out" / "charted"
PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
SONGS = "usr/share/games/fretsonfire/data/songs"
NOTE_WINDOW = 0.05  # s: a guitar onset this close to a chart note counts as on it


def chart_grid(chart: Path, duration: float) -> tuple[float, np.ndarray]:
    """(tempo in BPM, quarter-note times in s up to `duration`) of a chart's tempo map; several tempi are followed."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(chart))
    beats = midi.get_beats()
    extra = []  # get_beats stops at the last event: the grid goes on at the last tempo to the audio's end
    if len(beats) > 1:
        step = beats[-1] - beats[-2]
        extra = list(np.arange(beats[-1] + step, duration, step))
    grid = np.concatenate([beats, extra])
    grid = grid[grid < duration]
    tempo = float(np.round(60.0 / np.median(np.diff(grid)), 3))
    return tempo, grid


def chart_notes(chart: Path) -> np.ndarray:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(chart))
    return np.unique(np.round([n.start for inst in midi.instruments for n in inst.notes], 4))


def label_check(notes: np.ndarray, onsets: np.ndarray) -> tuple[float, float]:
    """(median lag in s of the stem's onsets after their nearest chart note, share of onsets within NOTE_WINDOW)."""
    if not len(notes) or not len(onsets):
        return float("nan"), 0.0
    idx = np.clip(np.searchsorted(notes, onsets), 1, max(len(notes) - 1, 1))
    left, right = notes[idx - 1], notes[np.minimum(idx, len(notes) - 1)]
    nearest = np.where(np.abs(onsets - left) <= np.abs(onsets - right), left, right)
    lag = onsets - nearest
    close = np.abs(lag) <= NOTE_WINDOW
    return (float(np.median(lag[close])) if close.any() else float("nan")), float(close.mean())


def either_phase_f(grid: np.ndarray, est) -> float:
    """Beat F against the chart's quarters or the grid half a beat later, whichever the estimate is closer to."""
    half = grid[:-1] + np.diff(grid) / 2
    return max(beat_f(grid, est), beat_f(half, est))


def prepare() -> None:
    DEBS.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        unpacked = DEBS / f"x_{pkg}"
        if not unpacked.exists():
            subprocess.run(["apt-get", "download", pkg], cwd=DEBS, check=True)
            deb = next(DEBS.glob(f"{pkg}_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
    CHARTED.mkdir(parents=True, exist_ok=True)
    manifest = []
    for pkg in PACKAGES:
        for song in sorted((DEBS / f"x_{pkg}" / SONGS).glob("*/*/song.ogg")):
            name = f"{song.parent.parent.name}_{song.parent.name.lower().replace(' ', '_')}"
            for suffix, source in (("ogg", song), ("mid", song.parent / "notes.mid"),
                                   ("guitar.ogg", song.parent / "guitar.ogg")):
                link = CHARTED / f"{name}.{suffix}"
                if link.is_symlink():  # a link of an earlier run, perhaps to a folder unpacked elsewhere
                    link.unlink()
                link.symlink_to(source)
            manifest.append({"audio": f"{name}.ogg", "chart": f"{name}.mid", "guitar": f"{name}.guitar.ogg",
                             "family": song.parent.parent.name, "split": "all"})
    (CHARTED / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} charted songs in {CHARTED}")


def evaluate(verbose: bool) -> None:
    import librosa

    from worker.audio_io import load_audio
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    manifest = json.loads((CHARTED / "manifest.json").read_text())
    rows, seconds, minutes = [], 0.0, 0.0
    for m in manifest:
        y, sr = load_audio(CHARTED / m["audio"], mono=True)
        duration = len(y) / sr
        tempo, grid = chart_grid(CHARTED / m["chart"], duration)
        guitar, gsr = librosa.load(CHARTED / m["guitar"], sr=22050, mono=True)
        lag, on_notes = label_check(chart_notes(CHARTED / m["chart"]),
                                    librosa.onset.onset_detect(y=guitar, sr=gsr, units="time"))
        t = time.perf_counter()
        ours = analyze_music(y, sr, options=PitchOptions(include=("key", "tempo", "beats", "chords")))
        seconds, minutes = seconds + time.perf_counter() - t, minutes + duration / 60
        y22 = librosa.resample(y, orig_sr=sr, target_sr=22050)
        lib_tempo, lib_beats = librosa.beat.beat_track(y=y22, sr=22050, units="time")
        cached = CHARTED / "anchor_cache" / f"{Path(m['audio']).stem}.json"
        anchors = json.loads(cached.read_text()) if cached.exists() else {}
        tools = {"ours": (ours["tempo_bpm"], ours["beat_times"]),
                 "librosa": (float(np.atleast_1d(lib_tempo)[0]), lib_beats)}
        for tool in ("essentia", "madmom"):
            if "beats" in anchors.get(tool, {}):
                tools[tool] = (anchors[tool]["tempo"], anchors[tool]["beats"])
        row = {"family": m["family"], "song": Path(m["audio"]).stem, "chart_tempo": tempo}
        for tool, (est_tempo, est_beats) in tools.items():
            acc1, acc2 = tempo_scores(tempo, est_tempo)
            row[tool] = {"tempo": est_tempo, "acc1": acc1, "acc2": acc2, "beat_f": beat_f(grid, est_beats),
                         "beat_f_either": either_phase_f(grid, est_beats)}
        rows.append(row)
        if verbose:
            print(f"{row['song'][:30]:30s} chart {tempo:6.1f} BPM (guitar onsets on notes {on_notes:.2f}, lag "
                  f"{lag * 1000:+.0f} ms)  " + "  ".join(
                      f"{tool} {r['tempo'] or 0:6.1f} F {r['beat_f']:.2f}/{r['beat_f_either']:.2f}"
                      for tool, r in ((t_, row[t_]) for t_ in tools)), flush=True)
    print(f"\n{len(rows)} charted songs, {minutes:.1f} min of audio; ours {seconds / minutes:.2f} s per minute")
    for family in [None, *dict.fromkeys(r["family"] for r in rows)]:
        chosen = [r for r in rows if family is None or r["family"] == family]
        print(f"\n{family or 'overall'} ({len(chosen)} songs)      Acc1   Acc2   beat F  (either phase)")
        for tool in ("ours", "librosa", "essentia", "madmom"):
            got = [r[tool] for r in chosen if tool in r]
            if got:
                print(f"  {tool:9s} {len(got):2d} songs  " + "  ".join(
                    f"{np.mean([g[k] for g in got]):.3f}" for k in ("acc1", "acc2", "beat_f", "beat_f_either")))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", action="store_true", help="fetch and unpack the packages, link the songs")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.prepare:
        prepare()
    evaluate(args.verbose)


if __name__ == "__main__":
    main()
