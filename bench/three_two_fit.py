"""Choose THREE_TWO_MARGIN (worker/music/three_two.py): when a tempo is taken 1.5 times faster because the
network's downbeat output repeats at the faster reading's bar lags more than at the comb's.

For each item with one labelled tempo: the tempo decode() reads before the rule, the evidence
(three_two.faster_bar_evidence), and whether that reading is right, two thirds of the label or else; then, per
margin, how many readings the rule would change, fix (two thirds -> right) and break (right -> wrong). Choose on
the train split (the fit items) only; `--split test` reports on the test split, never to choose on. `--items DIR`
prints the reading and evidence of every audio file under DIR (no labels: real recordings, beside the anchors).

Usage: python bench/three_two_fit.py [--split train|test] [--testset DIR] [--items DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.audio_io import load_audio  # noqa: E402
from worker.music import beatnet  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.onsets import FPS, onset_features  # noqa: E402
from worker.music.rhythm import estimate_tempo  # noqa: E402
from worker.music.three_two import FASTER, faster_bar_evidence  # noqa: E402

SR = 22050
TOLERANCE = 0.04  # Acc1's: a reading within 4 % of the label is right
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, np.inf)  # inf: the rule off
AUDIO = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}


def reading(path: Path) -> tuple[float | None, float | None]:
    """(the tempo decode() reads before the rule, the rule's evidence) for one file."""
    y, _ = load_audio(path, sr=SR, mono=True)
    act = beatnet.activations(onset_features(y / (np.abs(y).max() + 1e-9)).logmel)
    beat = act[0].astype(np.float64)
    tempo, _, _ = estimate_tempo(beat, prior_bpm=beats_mod.NET_PRIOR_BPM, prior_octaves=beats_mod.NET_PRIOR_OCTAVES,
                                 half_weight=beats_mod.NET_HALF_WEIGHT)
    if tempo is None:
        return None, None
    tempo = beats_mod.subdivided_tempo(beat, beats_mod.tempo_of_a_changing_piece(beat, tempo))
    return tempo, faster_bar_evidence(act[1].astype(np.float64), tempo, FPS)


def verdict(tempo: float, label: float) -> str:
    if abs(tempo / label - 1.0) <= TOLERANCE:
        return "right"
    if abs(tempo / label * FASTER - 1.0) <= TOLERANCE:
        return "two thirds"
    return "other"


def labelled(testset: Path, split: str, limit: int | None) -> None:
    rows = []
    items = [m for m in json.loads((testset / "manifest.json").read_text()) if m["split"] == split]
    for m in items[:limit] if limit else items:
        if not m.get("tempo_bpm"):
            continue
        tempo, evidence = reading(testset / m["audio"])
        if tempo is None:
            continue
        rows.append({"name": m["audio"], "family": m.get("family"), "label": m["tempo_bpm"], "tempo": tempo,
                     "evidence": evidence, "verdict": verdict(tempo, m["tempo_bpm"])})
        print(f"{m['audio']:28s} label {m['tempo_bpm']:6.1f} read {tempo:6.1f} ({rows[-1]['verdict']:10s}) "
              f"evidence {'-' if evidence is None else f'{evidence:+.3f}'}", flush=True)
    for v in ("right", "two thirds", "other"):
        ev = np.array([r["evidence"] for r in rows if r["verdict"] == v and r["evidence"] is not None])
        if len(ev):
            print(f"{v:10s} {len(ev):4d} items with evidence: max {ev.max():+.3f}, 95th pct "
                  f"{np.percentile(ev, 95):+.3f}, median {np.median(ev):+.3f}")
    print(f"{'margin':>7s} {'changed':>8s} {'fixed':>6s} {'broken':>7s} {'Acc1':>6s}")
    for margin in MARGINS:
        changed = [r for r in rows if r["evidence"] is not None and r["evidence"] > margin]
        fixed = sum(verdict(r["tempo"] * FASTER, r["label"]) == "right" for r in changed)
        broken = sum(r["verdict"] == "right" for r in changed)
        right = sum(r["verdict"] == "right" for r in rows) + fixed - broken
        print(f"{margin:7.2f} {len(changed):8d} {fixed:6d} {broken:7d} {right / max(len(rows), 1):6.3f}")


def unlabelled(folder: Path, limit: int | None) -> None:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO)
    for path in files[:limit] if limit else files:
        tempo, evidence = reading(path)
        print(f"{str(path.relative_to(folder)):60s} read {'-' if tempo is None else f'{tempo:6.1f}'} evidence "
              f"{'-' if evidence is None else f'{evidence:+.3f}'}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--testset", type=Path, default=ROOT / "bench" / "out" / "pitch_testset")
    ap.add_argument("--items", type=Path, default=None, help="audio files without labels (real recordings)")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    if args.items:
        unlabelled(args.items, args.limit)
    else:
        labelled(args.testset, args.split, args.limit)


if __name__ == "__main__":
    main()
