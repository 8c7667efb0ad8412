"""Choose SUBDIVIDE_SHARE (worker/music/beats.py): when a tempo read under SLOW_TEMPO_BPM is taken 2, 3 or 4 times
faster. Only items read that slow are touched, so only they are listed: their label, the slow reading, and the
share of the slow grid's beat activation each faster grid keeps; then tempo Acc1/Acc2 over them for each share.
And a rule tried and not shipped (the README): each grid's thirds evidence (the note onsets on a beat's thirds
over its half; x1 the slow grid's), and Acc1/Acc2 at the module's share when a slow reading whose beats divide in
three (evidence above a threshold) may only go to a grid whose beats divide in three more clearly.

Fit on fit items only (bench/beat_fit.py `fit_items`: the test set's train split and the corpus's validation
tenth; `--corpus` the whole training corpus, `--folk` the fit corpus's drum-less folk tunes); `--test` lists the
test split instead, to report on (never to choose on).

Usage: python bench/slow_fit.py [--test | --corpus | --folk] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.beat_fit import TESTSET, fit_items  # noqa: E402
from bench.music_scores import tempo_scores  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import beatnet  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.onsets import onset_features  # noqa: E402
from worker.music.rhythm import MAX_BPM, estimate_tempo  # noqa: E402

SR = 22050
THIRDS = (-0.2, 0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0, 1.5)  # thresholds of the rule tried
SHARES = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.01)  # 1.01: never subdivide (the rule off)


def slow_rows(items) -> list[dict]:
    rows = []
    for path, item in items:
        if item.get("tempo_bpm") is None:
            continue
        y, _ = load_audio(path, sr=SR, mono=True)
        feats = onset_features(y / (np.abs(y).max() + 1e-9))
        act = beatnet.activations(feats.logmel)
        beat = act[0].astype(np.float64)
        envelopes = [feats.full, feats.low, feats.pitch]
        tempo, _, _ = estimate_tempo(beat, prior_bpm=beats_mod.NET_PRIOR_BPM, prior_octaves=beats_mod.NET_PRIOR_OCTAVES,
                                     half_weight=beats_mod.NET_HALF_WEIGHT)
        if tempo is None:
            continue
        tempo = beats_mod.tempo_of_a_changing_piece(beat, tempo)
        if tempo >= beats_mod.SLOW_TEMPO_BPM:
            continue
        slow = beats_mod.grid_strength(beat, tempo)
        kept = {k: beats_mod.grid_strength(beat, tempo * k) / max(slow, 1e-9) for k in (2, 3, 4)
                if tempo * k <= MAX_BPM}

        evidence = {k: thirds_evidence(envelopes, beats_mod.track_beats(beat, tempo * k)) for k in (1, *kept)}
        compound = beats_mod.compound_activation(act)
        rows.append({"name": item.get("name") or path.stem, "label": float(item["tempo_bpm"]), "tempo": tempo,
                     "kept": kept, "metre": item.get("time_signature", ""),
                     "evidence": evidence, "compound": compound})
    return rows


def thirds_evidence(envelopes: list[np.ndarray], beat_times: np.ndarray) -> float:
    """beats.subdivision_evidence of the beats at `beat_times`: their note onsets on their thirds over their half
    (0, saying neither, for fewer than three beats)."""
    if len(beat_times) < 3:
        return 0.0
    return beats_mod.subdivision_evidence(beats_mod.beat_patterns(envelopes, beat_times))


def subdivided(row: dict, share: float, thirds: float | None = None) -> float:
    """The tempo subdivided_tempo gives `row` at this share; with `thirds`, under the rule tried and not shipped
    (the README): a slow reading whose thirds evidence is above `thirds` goes only to a faster grid whose beats
    divide in three more clearly than its own."""
    best, chosen = share, 1
    levels = set(row["kept"])
    slow = row["evidence"][1]
    if thirds is not None and slow > thirds:
        levels = {k for k in levels if row["evidence"][k] > slow}
    for k, kept in row["kept"].items():
        if k in levels and kept >= best:
            best, chosen = kept, k
    return row["tempo"] * chosen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", action="store_true", help="the test split (to report on, never to choose on)")
    ap.add_argument("--corpus", action="store_true",
                    help="every item of the training corpus (the network trained on nine in ten of them)")
    ap.add_argument("--folk", action="store_true",
                    help="every drum-less folk tune of the fit corpus (bench/folk_family.py; rendered if missing)")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    if args.test:
        items = [(TESTSET / m["audio"], m) for m in json.loads((TESTSET / "manifest.json").read_text())
                 if m["split"] == "test"][: args.limit]
    elif args.corpus:
        corpus = TESTSET.parent / "music_train"
        items = [(corpus / m["audio"], m) for m in json.loads((corpus / "manifest.json").read_text())][: args.limit]
    elif args.folk:
        from bench.folk_family import build_folk_corpus
        from bench.testset_families import FOLK_FOLDER

        folder = TESTSET.parent / FOLK_FOLDER
        items = [(folder / m["audio"], m) for m in build_folk_corpus(folder)][: args.limit]
    else:
        items = fit_items(args.limit)
    rows = slow_rows(items)
    print(f"{len(items)} items, {len(rows)} read under {beats_mod.SLOW_TEMPO_BPM:g} BPM")
    for r in rows:
        kept = ", ".join(f"x{k} {v:.2f}" for k, v in r["kept"].items())
        print(f"  {r['name']:28s} {r['metre']:5s} label {r['label']:6.1f}  read {r['tempo']:5.1f}  kept {kept}")
        thirds = ", ".join(f"x{k} {v:+.2f}" for k, v in r["evidence"].items())
        print(f"  {'':28s} compound activation {r['compound'] or 0:.2f}  thirds {thirds}  (x1 {r['evidence'][1]:+.4f})")
    for share in SHARES:
        acc = np.array([tempo_scores(r["label"], subdivided(r, share)) for r in rows]).reshape(-1, 2)
        print(f"share {share:4.2f}: Acc1 {acc[:, 0].sum():.0f}/{len(rows)}  Acc2 {acc[:, 1].sum():.0f}/{len(rows)}")
    print(f"the compound rule tried, at SUBDIVIDE_SHARE {beats_mod.SUBDIVIDE_SHARE:g} (off: as shipped)")
    for thirds in (None, *THIRDS):
        acc = np.array([tempo_scores(r["label"], subdivided(r, beats_mod.SUBDIVIDE_SHARE, thirds))
                        for r in rows]).reshape(-1, 2)
        print(f"thirds {'off' if thirds is None else f'{thirds:+.3f}':>6s}: Acc1 {acc[:, 0].sum():.0f}/{len(rows)}  "
              f"Acc2 {acc[:, 1].sum():.0f}/{len(rows)}")


if __name__ == "__main__":
    main()
