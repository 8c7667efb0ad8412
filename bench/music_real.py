"""Sanity check on real recordings from Debian packages (no annotations): agreement and onsets.

Material: game soundtracks shipped in Debian (orchestral/folk: wesnoth-1.16-music; electronic and
rock: colobot-common-sounds, asc-music; tracker tunes, Impulse Tracker .it / .s3m modules: pingus-data),
fetched with `apt-get download` and unpacked with `dpkg -x` into bench/out/real_debs (never installed):
    cd bench/out/real_debs && apt-get download wesnoth-1.16-music colobot-common-sounds asc-music pingus-data \\
        frozen-bubble-data extremetuxracer-data warzone2100-music lincity-ng-data
    for f in *.deb; do dpkg -x $f x_${f%%_*}; done
`--prepare` links the tracks into bench/out/real (the modules, which our decoders do not read, rendered by
FFmpeg's libopenmpt demuxer to stereo 44.1 kHz WAV, at most MODULE_SECONDS) with a manifest that
bench/music_anchors.py reads (`python bench/music_anchors.py --items bench/out/real --split all`).
Two pingus tunes (rough_journey, success_2) carry a surround voice, right channel = -left: a plain
mono average cancels it.

Reported per track, and per family (package) and overall: our tempo, key and warnings; agreement with
madmom (tempo within 4 %, or within 4 % of 2x / 0.5x / 1.5x / 0.67x) and with Essentia's edma key (MIREX
weighted score, Essentia as the reference); and a listening-free beat check: the share of beats within
70 ms of an onset that librosa's onset detector (a different method) finds, for our beats, madmom's,
Essentia's, and for our beat grid shifted by half a period (what an off-beat grid scores on the same music).

Usage: python bench/music_real.py [--prepare] [--limit N] [--source PACKAGE ...] [-v]
       [--set beats.PATTERN_WEIGHT=0.0 ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import beats_on_onsets, key_score, tempo_scores  # noqa: E402

DEBS = ROOT / "bench" / "out" / "real_debs"
REAL = ROOT / "bench" / "out" / "real"
SOURCES = {  # package folder -> (subfolder, tracks taken: every n-th file, sorted, of those matching a pattern)
    "x_wesnoth-1.16-music": ("usr/share/games/wesnoth/1.16/data/core/music", 3, "*"),
    "x_colobot-common-sounds": ("usr/share/games/colobot/music", 2, "*"),
    "x_asc-music": ("usr/share/games/asc/music", 1, "*"),
    # added 2026-12-05, after every rule above was chosen: chiptune-like electronic (frozen-bubble) and
    # jingles, orchestral and rock loops of a racing game (extremetuxracer)
    "x_frozen-bubble-data": ("usr/share/games/frozen-bubble/snd", 1, "*zik*"),  # the rest are sound effects
    "x_extremetuxracer-data": ("usr/share/games/etr/music", 1, "*"),
    # added 2026-12-05 (later), after every rule above was chosen: a strategy game's orchestral, ambient and
    # electronic albums in Ogg Opus (warzone2100-music, every third track of its three albums), and a city
    # builder's electronic, blues and piano tunes (lincity-ng-data)
    "x_warzone2100-music": ("usr/share/games/warzone2100/music/albums", 3, "*/*"),
    "x_lincity-ng-data": ("usr/share/games/lincity-ng/music/default", 1, "*"),
}
MODULES = {"x_pingus-data": "usr/share/games/pingus/data/music"}  # tracker modules, all rendered to WAV
MODULE_SECONDS = 180  # cap of each rendering
AUDIO_SUFFIXES = (".ogg", ".opus", ".mp3", ".flac", ".wav")


def prepare() -> None:
    REAL.mkdir(parents=True, exist_ok=True)
    manifest = []
    for pkg, (sub, every, pattern) in SOURCES.items():
        folder = DEBS / pkg / sub
        files = sorted(p for p in folder.glob(pattern) if p.suffix.lower() in AUDIO_SUFFIXES)
        for p in files[::every]:
            link = REAL / f"{pkg[2:].split('-')[0]}_{p.name}"
            if p.suffix.lower() == ".opus":  # Essentia's MonoLoader crashed (SIGSEGV) on Ogg Opus: every tool gets WAV
                link = link.with_suffix(".wav")
                if not link.exists():
                    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(p), "-ar", "44100", "-ac", "2",
                                    str(link)], check=True)
            elif not link.exists():
                link.symlink_to(p)
            manifest.append({"audio": link.name, "source": pkg[2:], "split": "all"})
    for pkg, sub in MODULES.items():
        for p in sorted(p for p in (DEBS / pkg / sub).glob("*") if p.suffix.lower() in (".it", ".s3m")):
            wav = REAL / f"{pkg[2:].split('-')[0]}_{p.stem}.wav"
            if not wav.exists():
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(p), "-t", str(MODULE_SECONDS),
                                "-ar", "44100", "-ac", "2", str(wav)], check=True)
            manifest.append({"audio": wav.name, "source": pkg[2:], "split": "all"})
    (REAL / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} tracks in {REAL}")


def octave_agree(ref: float | None, est: float | None) -> tuple[float | None, float | None]:
    """(same tempo within 4 %, same up to 2x / 0.5x / 1.5x / 0.67x); None without the reference."""
    if not ref:
        return None, None
    if not est:
        return 0.0, 0.0
    a1, _ = tempo_scores(ref, est)
    return a1, float(any(tempo_scores(ref, est * f)[0] for f in (1, 2, 0.5, 1.5, 2 / 3)))


def evaluate(limit: int | None, verbose: bool, sources: list[str] | None = None) -> None:
    import librosa

    from worker.audio_io import load_audio
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    manifest = [m for m in json.loads((REAL / "manifest.json").read_text())
                if not sources or m["source"] in sources][:limit]
    rows = []
    for m in manifest:
        y, sr = load_audio(REAL / m["audio"], mono=True)
        res = analyze_music(y, sr, options=PitchOptions(include=("key", "tempo", "beats", "chords")))
        y22 = librosa.resample(y, orig_sr=sr, target_sr=22050)
        onsets = librosa.onset.onset_detect(y=y22, sr=22050, units="time")
        anchors_path = REAL / "anchor_cache" / f"{Path(m['audio']).stem}.json"
        anchors = json.loads(anchors_path.read_text()) if anchors_path.exists() else {}
        mad, ess = anchors.get("madmom", {}), anchors.get("essentia", {})
        beats = np.array(res["beat_times"])
        shifted = beats[:-1] + np.diff(beats) / 2 if len(beats) > 1 else beats
        row = {"ours_on_onsets": beats_on_onsets(beats, onsets), "offbeat_grid": beats_on_onsets(shifted, onsets),
               "madmom_on_onsets": beats_on_onsets(mad.get("beats", []), onsets) if mad else None,
               "essentia_on_onsets": beats_on_onsets(ess.get("beats", []), onsets) if ess else None}
        row["tempo_vs_madmom"], row["tempo_vs_madmom_octave"] = octave_agree(mad.get("tempo"), res["tempo_bpm"])
        row["essentia_vs_madmom"], row["essentia_vs_madmom_octave"] = octave_agree(mad.get("tempo"), ess.get("tempo"))
        row["key_vs_essentia"] = key_score(ess["key"], res["key"]["label"]) if ess.get("key") else None
        n_chords = len({c["label"] for c in res["chords"]} - {"N"})
        rows.append((m["source"], row))
        if verbose:
            print(f"{m['audio'][:34]:34s} {len(y) / sr:6.0f} s  tempo {res['tempo_bpm'] or 0:6.1f} "
                  f"(madmom {mad.get('tempo') or 0:6.1f}, essentia {ess.get('tempo') or 0:6.1f})  "
                  f"key {res['key']['label']:9s} {res['key']['confidence']:.2f} (edma {ess.get('key', '-'):9s})  "
                  f"{res.get('time_signature')} chords {n_chords}  beats on onsets {row['ours_on_onsets']:.2f} "
                  f"(off-beat grid {row['offbeat_grid']:.2f})  {'; '.join(res['warnings'])}", flush=True)
    print(f"\n{len(rows)} real tracks")
    summarize([r for _, r in rows])
    for source in dict.fromkeys(s for s, _ in rows):
        family = [r for s, r in rows if s == source]
        print(f"\n{source}: {len(family)} tracks")
        summarize(family)


def summarize(rows: list[dict]) -> None:
    for k in rows[0]:
        vals = [r[k] for r in rows if r[k] is not None]
        if vals:
            print(f"  {k:24s} {np.mean(vals):.3f}  (n={len(vals)})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", action="store_true")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--source", nargs="*", default=None, metavar="PACKAGE",
                    help="only the tracks of these Debian packages (e.g. warzone2100-music)")
    ap.add_argument("--set", nargs="*", default=[], metavar="MODULE.NAME=VALUE",
                    help="a worker.music constant changed for this run (as bench/chorale_check.py)")
    args = ap.parse_args(argv)
    from bench.chorale_check import apply_settings

    apply_settings(args.set)
    if args.prepare:
        prepare()
        return
    evaluate(args.limit, args.verbose, args.source)


if __name__ == "__main__":
    main()
