"""Which game sound effects get a tempo: the sound-effect folders of the Debian packages bench/music_real.py
unpacks (lincity-ng's 4 s city ambiences, colobot's, frozen-bubble's, pingus' and extremetuxracer's effects), no
annotations. A 4 s clip of traffic or water has no beat to give; a blacksmith's hammer or a heart monitor may.

Each effect is analysed by the full pipeline with the key-less tempo rule switched off, so one run gives both
readings: per package the effects with no key, how many get a tempo without the rule, with the rule as it stands
(pipeline.nontonal_min_confidence) and with the flat 0.2 it replaced. Needs bench/out/real_debs (see music_real.py).

Usage: python bench/effects_tempo.py [-v]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEBS = ROOT / "bench" / "out" / "real_debs"
EFFECT_FOLDERS = ("usr/share/games/lincity-ng/sounds", "usr/share/games/colobot/sounds",
                  "usr/share/games/frozen-bubble/snd", "usr/share/games/pingus/data/sounds",
                  "usr/share/games/etr/sounds")
MIN_SECONDS = 0.2
FLAT_RULE = 0.2  # the key-less rule before 2026-12-05


def effects() -> list[Path]:
    out = []
    for package in sorted(DEBS.glob("x_*")):
        for folder in EFFECT_FOLDERS:
            out += [p for p in sorted((package / folder).glob("*")) if p.suffix in (".wav", ".ogg")
                    and "zik" not in p.name]  # frozen-bubble's music lies beside its effects
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    from worker.audio_io import load_audio
    from worker.music import pipeline
    from worker.music.options import PitchOptions

    rule = pipeline.nontonal_min_confidence
    pipeline.nontonal_min_confidence = lambda seconds: 0.0  # every tempo the decoder gives, judged below
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path in effects():
        y, sr = load_audio(path, mono=True)
        seconds = len(y) / sr
        if seconds < MIN_SECONDS:
            continue
        res = pipeline.analyze_music(y, sr, options=PitchOptions(include=("key", "tempo", "beats")))
        package = path.relative_to(DEBS).parts[0][2:]
        row = counts[package]
        row["effects"] += 1
        if res["key"]["tonic"] is not None:
            continue
        row["key-less"] += 1
        conf = res["tempo_confidence"]
        given = res["tempo_bpm"] is not None
        row["no rule"] += given
        row["rule"] += given and conf >= rule(seconds)
        row["flat 0.2"] += given and conf >= FLAT_RULE
        if args.verbose and given:
            print(f"{package:24s} {path.name:28s} {seconds:5.1f} s  {res['tempo_bpm']:6.1f} BPM  confidence {conf:.3f}"
                  f"  threshold {rule(seconds):.3f}", flush=True)
    cols = ("effects", "key-less", "no rule", "rule", "flat 0.2")
    print(f"\n{'package':24s} " + " ".join(f"{c:>9s}" for c in cols))
    for package, row in list(counts.items()) + [("all", {c: sum(r[c] for r in counts.values()) for c in cols})]:
        print(f"{package:24s} " + " ".join(f"{row[c]:9d}" for c in cols))
    print("(no rule / rule / flat 0.2: key-less effects given a tempo)")


if __name__ == "__main__":
    main()
