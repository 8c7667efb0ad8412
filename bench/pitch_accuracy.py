"""Accuracy of worker.music on the rendered test set, per family, beside the anchors.

Scores (bench/music_scores.py, mir_eval): key weighted score; tempo Acc1/Acc2 (4 %); beat
F-measure (70 ms); downbeat F; metre class (duple/triple x simple/compound); chord root and
maj/min overlap; melody raw pitch accuracy and note onset F1 on pattern songs (solo lead and mix).
Anchors in the same run on the same files: librosa (beat_track; Krumhansl profiles on CQT chroma;
frame-wise maj/min templates), and Essentia / madmom from bench/music_anchors.py's cache.

Families: pattern, corpus (Bach chorales), groove, poploop, modal, tempo (tempo changes: beats
and downbeats only). "overall" is the mean of the family means (each family counts once).

Usage:
  python bench/pitch_testset.py                 # once: renders bench/out/pitch_testset
  python bench/music_anchors.py                 # optional: Essentia and madmom anchors (own venv)
  python bench/pitch_accuracy.py [--split test] [--family groove ...] [--limit N] [--code DIR] [-v]
  python bench/pitch_accuracy.py --fit-profiles # key profiles from the *train* split
--code DIR imports worker.music from another checkout (e.g. the main branch) to score it on the same items.
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
TESTSET = ROOT / "bench" / "out" / "pitch_testset"
TARGETS = {"key": 0.92, "acc1": 0.9, "acc2": 0.98, "beat_f": 0.9, "down_f": 0.85, "metre": 0.9, "root": 0.94}
METRICS = ("key", "acc1", "acc2", "beat_f", "down_f", "metre", "root", "rpa_solo", "onset_solo", "rpa_mix")
SYSTEMS = ("ours", "librosa", "essentia", "madmom")


def load_items(split: str, families: list[str] | None, limit: int | None) -> list[dict]:
    manifest = json.loads((TESTSET / "manifest.json").read_text())
    items = [m for m in manifest if (split == "all" or m["split"] == split)
             and (not families or m["family"] in families)]
    return items[:limit] if limit else items


def rhythm_rows(item: dict, *, tempo, beats, downbeats=None, metre=None) -> dict:
    from bench.music_scores import beat_f, metre_class, tempo_scores

    out = {}
    if item.get("tempo_bpm") is not None:
        out["acc1"], out["acc2"] = tempo_scores(item["tempo_bpm"], tempo)
    out["beat_f"] = beat_f(item["beats"], beats)
    if downbeats is not None:
        out["down_f"] = beat_f(item["downbeats"], downbeats)
    if metre is not None or downbeats is not None:
        truth = item["time_signature"]
        out["metre"] = float(metre_class(truth) == metre_class(metre))
    return out


def score_ours(item: dict, res: dict) -> dict:
    from bench.music_scores import chord_scores, key_score

    out = {"key": key_score(item["key"], res["key"]["label"])}
    out.update(rhythm_rows(item, tempo=res["tempo_bpm"], beats=res["beat_times"], downbeats=res["downbeat_times"],
                           metre=res.get("time_signature")))
    if item.get("chords"):
        out["root"], out["majmin"] = chord_scores(item["chords"], res["chords"], res["duration_seconds"])
    return out


def score_melody(item: dict, res: dict, analyze) -> dict:
    from bench.music_scores import melody_scores
    from worker.audio_io import load_audio
    from worker.music.options import PitchOptions

    out = {}
    mel = res["melody"]
    times = np.arange(len(mel["f0"]["hz"])) * mel["f0"]["hop_seconds"]
    out["rpa_mix"], _, _ = melody_scores(item, times, np.array(mel["f0"]["hz"]), np.array(mel["f0"]["voiced"]),
                                         mel["notes"], res["duration_seconds"])
    if item.get("solo_audio"):
        ys, srs = load_audio(TESTSET / item["solo_audio"], mono=True)
        solo = analyze(ys, srs, options=PitchOptions(include=("melody",)))["melody"]
        times = np.arange(len(solo["f0"]["hz"])) * solo["f0"]["hop_seconds"]
        out["rpa_solo"], out["onset_solo"], _ = melody_scores(item, times, np.array(solo["f0"]["hz"]),
                                                              np.array(solo["f0"]["voiced"]), solo["notes"],
                                                              len(ys) / srs)
    return out


def librosa_baseline(y: np.ndarray, sr: int, item: dict) -> dict:
    import librosa

    from worker.music.key import KRUMHANSL, key_label, key_scores

    chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    out = {"key": key_label(int(np.argmax(key_scores(chroma.mean(axis=1), KRUMHANSL)))),
           "tempo": float(np.atleast_1d(tempo)[0]), "beats": [float(b) for b in beats]}
    if item.get("chords"):
        names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
        templ, labs = [], []
        for q, ivs in (("maj", (0, 4, 7)), ("min", (0, 3, 7))):
            for r in range(12):
                t = np.zeros(12)
                t[[(r + i) % 12 for i in ivs]] = 1
                templ.append(t / np.linalg.norm(t))
                labs.append(f"{names[r]}:{q}")
        frames = np.argmax(np.array(templ) @ chroma, axis=0)
        times = librosa.frames_to_time(np.arange(chroma.shape[1] + 1), sr=sr)
        out["chords"] = [{"start": float(times[i]), "end": float(times[i + 1]), "label": labs[f]}
                         for i, f in enumerate(frames)]
    return out


def cached(name: str, fn) -> dict:
    cache = TESTSET / "baseline_cache"
    cache.mkdir(exist_ok=True)
    p = cache / f"{name}.json"
    if p.exists():
        return json.loads(p.read_text())
    v = fn()
    p.write_text(json.dumps(v))
    return v


def score_anchors(item: dict, y: np.ndarray, sr: int, dur: float) -> dict[str, dict]:
    from bench.music_scores import chord_scores, key_score

    out: dict[str, dict] = {}
    b = cached(item["name"] + "_base", lambda: librosa_baseline(y, sr, item))
    out["librosa"] = {"key": key_score(item["key"], b["key"]), **rhythm_rows(item, tempo=b["tempo"], beats=b["beats"])}
    if "chords" in b and item.get("chords"):
        out["librosa"]["root"], _ = chord_scores(item["chords"], b["chords"], dur)
    path = TESTSET / "anchor_cache" / f"{Path(item['audio']).stem}.json"
    anchors = json.loads(path.read_text()) if path.exists() else {}
    ess = anchors.get("essentia", {})
    if "tempo" in ess:
        out["essentia"] = {"key": key_score(item["key"], ess["key"]), **rhythm_rows(item, tempo=ess["tempo"],
                                                                                     beats=ess["beats"])}
    mad = anchors.get("madmom", {})
    if "beats" in mad:
        out["madmom"] = rhythm_rows(item, tempo=mad["tempo"], beats=mad["beats"], downbeats=mad["downbeats"],
                                    metre=mad["beats_per_bar"])
    mad_key = anchors.get("madmom_key", {})
    if "key" in mad_key:  # madmom's key CNN: its key column (a separate tool in the cache)
        out.setdefault("madmom", {})["key"] = key_score(item["key"], mad_key["key"])
    return out


def print_table(scores: dict, families: list[str]) -> None:
    """scores[system][family][metric] -> list of floats; one block per family plus 'overall'."""
    header = f"{'family':9s} {'system':9s} {'n':>4s} " + " ".join(f"{m:>10s}" for m in METRICS)
    print(header)
    for fam in [*families, "overall"]:
        for system in SYSTEMS:
            per = scores.get(system, {})
            if fam == "overall":
                vals = {m: [float(np.mean(per[f][m])) for f in families if per.get(f, {}).get(m)] for m in METRICS}
                n = sum(len(per.get(f, {}).get("beat_f", [])) for f in families)
            else:
                vals = {m: per.get(fam, {}).get(m, []) for m in METRICS}
                n = len(per.get(fam, {}).get("beat_f", []))
            if not n:
                continue
            cells = " ".join(f"{np.mean(vals[m]):10.3f}" if vals[m] else f"{'':>10s}" for m in METRICS)
            print(f"{fam:9s} {system:9s} {n:4d} {cells}")
    print(f"{'targets':24s} " + " ".join(f"{TARGETS[m]:10.2f}" if m in TARGETS else f"{'':>10s}" for m in METRICS))


def evaluate(items: list[dict], *, anchors: bool, verbose: bool, ours: bool = True) -> None:
    from worker.audio_io import load_audio
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    scores: dict = {s: defaultdict(lambda: defaultdict(list)) for s in SYSTEMS}
    agreed: dict[str, list[float]] = defaultdict(list)  # key scores of chorales whose label = score analysis
    audio_s = ours_s = 0.0
    for item in items:
        y, sr = load_audio(TESTSET / item["audio"], mono=True)
        dur = len(y) / sr
        audio_s += dur
        row = {}
        if ours:
            t = time.perf_counter()
            res = analyze_music(y, sr, options=PitchOptions())
            ours_s += time.perf_counter() - t
            row = score_ours(item, res)
            if item["family"] == "pattern":
                row.update(score_melody(item, res, analyze_music))
        for m, v in row.items():
            scores["ours"][item["family"]][m].append(v)
        anchor_rows = score_anchors(item, y, sr, dur) if anchors else None
        if anchor_rows:
            for system, srow in anchor_rows.items():
                for m, v in srow.items():
                    scores[system][item["family"]][m].append(v)
        if item.get("key_agrees"):
            agreed["ours"] += [row["key"]] if "key" in row else []
            for system, srow in (anchor_rows or {}).items():
                agreed[system] += [srow["key"]] if "key" in srow else []
        if verbose and ours:
            print(f"{item['name']:12s} {item.get('style', ''):9s} key {item['key']:9s}->{res['key']['label']:9s} "
                  f"tempo {item.get('tempo_bpm') or 0:6.1f}->{res['tempo_bpm'] or 0:6.1f} "
                  f"metre {item['time_signature']}->{res.get('time_signature')} "
                  + " ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    known = ("pattern", "corpus", "groove", "poploop", "modal", "tempo")
    present = {f for s in SYSTEMS for f in scores[s]}
    families = [f for f in known if f in present] + sorted(present - set(known))  # e.g. bench/mma_family.py's
    print(f"\n{len(items)} items, {audio_s / 60:.1f} min of audio; ours {ours_s / audio_s * 60:.2f} s per minute")
    print_table(scores, families)
    if agreed:
        # the chorale label (key signature + final bass note) and music21's analysis of the whole score
        # differ on 8 test chorales (Phrygian endings, relative-key readings); the key where they agree:
        print("corpus, label = score analysis: " + " ".join(f"{s} {np.mean(v):.3f} (n {len(v)})"
                                                          for s, v in agreed.items() if v))


def main(argv: list[str] | None = None) -> None:
    global TESTSET
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=["train", "test", "all"])
    ap.add_argument("--family", nargs="+", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-anchors", action="store_true")
    ap.add_argument("--anchors-only", action="store_true", help="only the anchors' table (ours not run)")
    ap.add_argument("--only-anchored", action="store_true",
                    help="only items that bench/music_anchors.py has results for (a like-for-like table)")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose worker.music is scored")
    ap.add_argument("--items", type=Path, default=TESTSET,
                    help="another rendered family's folder with a manifest.json (e.g. bench/out/mma_family)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    TESTSET = args.items
    sys.path.insert(0, str(args.code.resolve()))
    if str(args.code.resolve()) != str(ROOT):
        sys.path.insert(1, str(ROOT))  # bench.music_scores from this checkout
    if not (TESTSET / "manifest.json").exists():
        sys.exit("no test set: run python bench/pitch_testset.py first")
    items = load_items(args.split, args.family, args.limit)
    if args.only_anchored:
        def anchored(m: dict) -> bool:
            path = TESTSET / "anchor_cache" / f"{Path(m['audio']).stem}.json"
            return path.exists() and {"essentia", "madmom"} <= set(json.loads(path.read_text()))

        items = [m for m in items if anchored(m)]
    evaluate(items, anchors=not args.no_anchors, verbose=args.verbose, ours=not args.anchors_only)


if __name__ == "__main__":
    main()
