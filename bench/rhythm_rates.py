"""Tempo and beats of the same music stored at several sample rates, the band fill on and off.

Each file is read, resampled (soxr HQ, the worker's own resampler) to 44.1 kHz and from there to each RATE, and
analysed by the worker's own function (worker.music.pipeline.analyze_music, tempo and beats) with
worker/music/beatnet.py's BAND_FILL off (what main did) and on. Reported per file and rate: the tempo and the beat
F-measure (mir_eval, 70 ms) against the same file's 44.1 kHz beats; then per rate the mean F and the share of
files whose tempo is within 4 % of their 44.1 kHz tempo. At 16 kHz and above the fill does nothing (no band is
missing), so those columns are computed once.

Material: real recordings, e.g. Debian's game soundtracks (`apt-get download wesnoth-1.16-music
colobot-common-sounds` and `dpkg -x`, as bench/music_real.py describes); `--halftime` adds the synthetic
half-time groove of tests/test_music_rates.py (kick on 1, snare on 3, hi-hats on the eighths, 96 BPM).

Usage: python bench/rhythm_rates.py FILE... [--seconds 60] [--halftime] [--rates 8000,11025,16000,22050,44100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATES = (8000, 11025, 16000, 22050, 44100)
REF_RATE = 44100


def analyse(y: np.ndarray, sr: int, *, fill: bool) -> tuple[float | None, np.ndarray]:
    from worker.music import beatnet
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    beatnet.BAND_FILL = fill
    a = analyze_music(y, sr, options=PitchOptions(include=("tempo", "beats")))
    return a["tempo_bpm"], np.asarray(a["beat_times"])


def main() -> None:
    import mir_eval
    import soundfile as sf

    from worker.audio_io import resample

    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--halftime", action="store_true")
    ap.add_argument("--rates", default=",".join(map(str, RATES)))
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    tracks: list[tuple[str, np.ndarray]] = []
    if args.halftime:
        from tests.music_signals import halftime_groove

        tracks.append(("halftime_groove_96", halftime_groove(96.0, args.seconds, sr=REF_RATE)))
    for f in args.files:
        y, sr = sf.read(f, dtype="float32", always_2d=True)
        tracks.append((Path(f).name, resample(y.mean(axis=1)[: int(args.seconds * sr)], orig_sr=sr,
                                              target_sr=REF_RATE)))
    total: dict[tuple[int, bool], list[tuple[float, float]]] = {}
    for name, y44 in tracks:
        ref_tempo, ref_beats = analyse(y44, REF_RATE, fill=False)
        cells = []
        for r in rates:
            yr = resample(y44, orig_sr=REF_RATE, target_sr=r)
            for fill in ((False, True) if r < 16000 else (False,)):
                tempo, beats = (ref_tempo, ref_beats) if r == REF_RATE else analyse(yr, r, fill=fill)
                # no beats at either rate (no steady beat found) is agreement
                f = (float(mir_eval.beat.f_measure(ref_beats, beats)) if len(ref_beats) and len(beats)
                     else float(len(ref_beats) == len(beats)))
                same = float(tempo == ref_tempo if tempo is None or ref_tempo is None
                             else abs(tempo / ref_tempo - 1) < 0.04)
                for on in ((fill,) if r < 16000 else (False, True)):
                    total.setdefault((r, on), []).append((f, same))
                cells.append(f"{r}{'+fill' if fill else ''} {tempo or 0:.1f} F {f:.3f}")
        print(f"{name}: " + " | ".join(cells), flush=True)
    print(f"\n{len(tracks)} tracks, {args.seconds:.0f} s each; per rate: beat F against the 44.1 kHz beats, "
          "share of tempi within 4 % of the 44.1 kHz tempo")
    for fill in (False, True):
        means = {r: np.mean(total[(r, fill)], axis=0) for r in rates}
        print(f"band fill {'on ' if fill else 'off'}: "
              + "  ".join(f"{r}: F {m[0]:.3f} tempo {m[1]:.2f}" for r, m in means.items()))
    from worker.music import beatnet

    beatnet.BAND_FILL = True


if __name__ == "__main__":
    main()
