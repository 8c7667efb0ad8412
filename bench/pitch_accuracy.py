"""Accuracy of worker.music against the rendered test set, beside the textbook baseline.

Scores (mir_eval): key weighted score; tempo Acc1/Acc2 (4 %); beat F-measure (70 ms);
downbeat F-measure; chord overlap on root and maj/min; melody raw pitch accuracy and note
onset F1 (50 ms) on the solo lead (monophonic) and on the full mix (predominant melody).
Baseline, run on the same files in the same run: Krumhansl profiles on librosa's CQT
chroma, librosa.beat.beat_track, pYIN (on a subset: it is slow), and frame-wise
maj/min template chords on the CQT chroma.

Usage:
  python bench/pitch_testset.py                 # once, renders bench/out/pitch_testset
  python bench/pitch_accuracy.py [--split test] [--subset all|original|added] [--limit N] [--pyin-items 12]
                                 [--fit-profiles]
--fit-profiles prints key profiles (chroma, bass, opening chroma, opening bass) averaged over the *train*
split (for worker/music/key.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.music_scores import beat_f, chord_scores, key_score, melody_scores, tempo_scores  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import PitchOptions, analyze_music  # noqa: E402
from worker.music.key import KRUMHANSL, key_label, key_scores  # noqa: E402

TESTSET = Path(__file__).resolve().parent / "out" / "pitch_testset"
TARGETS = {"key": 0.93, "acc1": 0.9, "acc2": 0.98, "beat_f": 0.9, "rpa": 0.93, "onset_f1": 0.75, "root": 0.8}


def is_original(item: dict) -> bool:
    """True for the first 72 pattern songs and 60 chorales (N_MIXED_* in pitch_testset.py): the set before
    the slow, drum-less additions, whose figures earlier commits quote."""
    index = int(item["name"].split("_")[1])
    return index < (72 if item["family"] == "pattern" else 60)


def load_items(split: str, limit: int | None, subset: str = "all") -> list[dict]:
    manifest = json.loads((TESTSET / "manifest.json").read_text())
    items = [m for m in manifest if split == "all" or m["split"] == split]
    if subset != "all":
        items = [m for m in items if is_original(m) == (subset == "original")]
    return items[:limit] if limit else items


# --------------------------------------------------------------------------- baseline
def baseline(y: np.ndarray, sr: int, truth: dict) -> dict:
    import librosa

    out = {}
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
    scores = key_scores(chroma.mean(axis=1), KRUMHANSL)
    out["key"] = key_label(int(np.argmax(scores)))
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    out["tempo"] = float(np.atleast_1d(tempo)[0])
    out["beats"] = [float(b) for b in beats]
    if "chords" in truth:
        from worker.music.chords import chord_label
        templ = []
        labs = []
        for q, ivs in (("maj", (0, 4, 7)), ("min", (0, 3, 7))):
            for r in range(12):
                t = np.zeros(12)
                t[[(r + i) % 12 for i in ivs]] = 1
                templ.append(t / np.linalg.norm(t))
                labs.append(chord_label(r, q))
        frames = np.argmax(np.array(templ) @ chroma, axis=0)
        times = librosa.frames_to_time(np.arange(chroma.shape[1] + 1), sr=sr)
        out["chords"] = [{"start": float(times[i]), "end": float(times[i + 1]), "label": labs[f]}
                         for i, f in enumerate(frames)]
    return out


def baseline_pyin(y: np.ndarray, sr: int) -> dict:
    import librosa

    t = time.perf_counter()
    f0, voiced, _ = librosa.pyin(y, fmin=65.0, fmax=2100.0, sr=sr, frame_length=2048, hop_length=256)
    el = time.perf_counter() - t
    times = librosa.times_like(f0, sr=sr, hop_length=256)
    f0 = np.nan_to_num(f0)
    return {"times": times.tolist(), "hz": f0.tolist(), "voiced": voiced.tolist(), "seconds": el}


def cached(name: str, fn):
    cache = TESTSET / "baseline_cache"
    cache.mkdir(exist_ok=True)
    p = cache / f"{name}.json"
    if p.exists():
        return json.loads(p.read_text())
    v = fn()
    p.write_text(json.dumps(v))
    return v


# --------------------------------------------------------------------------- main
def fit_profiles() -> None:
    """Mean rotated key evidence per mode over the *train* split, for each profile set in worker/music/key.py:
    whole-piece chroma (FITTED), bass (BASS_PROFILES) and their openings (OPENING_*_PROFILES)."""
    from worker.music import chroma as chroma_mod
    from worker.music.key import PITCH_NAMES, key_evidence

    names = ("FITTED (chroma)", "BASS_PROFILES", "OPENING_PROFILES", "OPENING_BASS_PROFILES")
    acc = {(name, mode): [] for name in names for mode in ("major", "minor")}
    for item in load_items("train", None):
        y, sr = load_audio(TESTSET / item["audio"], sr=chroma_mod.SR, mono=True)
        feats = chroma_mod.harmonic_features(y / max(1e-9, float(np.abs(y).max())))
        tonic_name, mode = item["key"].split()
        for name, v in zip(names, key_evidence(feats.chroma, feats.bass, feats.energy, feats.times),
                           strict=True):
            if v is not None and v.sum() > 0:
                v = np.roll(v, -PITCH_NAMES.index(tonic_name))
                acc[(name, mode)].append(v / v.sum())
    for (name, mode), vs in acc.items():
        print(f"{name:22s} {mode} n={len(vs)}", np.array2string(np.mean(vs, axis=0), precision=3, separator=", "))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=["train", "test", "all"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--subset", default="all", choices=["all", "original", "added"],
                    help="original: the first 72 pattern songs + 60 chorales; added: the drum-less ones after them")
    ap.add_argument("--pyin-items", type=int, default=8, help="pattern items also tracked by pYIN (slow)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--fit-profiles", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    if not (TESTSET / "manifest.json").exists():
        sys.exit("no test set: run python bench/pitch_testset.py first")
    if args.fit_profiles:
        fit_profiles()
        return
    items = load_items(args.split, args.limit, args.subset)
    rows = {k: [] for k in ("key", "acc1", "acc2", "beat_f", "down_f", "meter", "root", "majmin",
                            "rpa_solo", "onset_solo", "note_solo", "rpa_mix", "onset_mix", "note_mix")}
    base = {k: [] for k in ("key", "acc1", "acc2", "beat_f", "root", "majmin")}
    pyin_rows = {"rpa": [], "onset": [], "ours_rpa": [], "ours_onset": [], "pyin_s": [], "ours_s": []}
    audio_s = 0.0
    ours_s = 0.0
    n_pyin = 0
    for item in items:
        path = TESTSET / item["audio"]
        y, sr = load_audio(path, mono=True)
        dur = len(y) / sr
        audio_s += dur
        t = time.perf_counter()
        res = analyze_music(y, sr, options=PitchOptions())
        ours_s += time.perf_counter() - t
        rows["key"].append(key_score(item["key"], res["key"]["label"]))
        a1, a2 = tempo_scores(item["tempo_bpm"], res["tempo_bpm"])
        rows["acc1"].append(a1)
        rows["acc2"].append(a2)
        rows["beat_f"].append(beat_f(item["beats"], res["beat_times"]))
        rows["down_f"].append(beat_f(item["downbeats"], res["downbeat_times"]))
        rows["meter"].append(float(res["beats_per_bar"] == item["time_signature"]))
        line = (f"{item['name']:12s} key {item['key']:9s}->{res['key']['label']:9s} "
                f"tempo {item['tempo_bpm']:6.1f}->{res['tempo_bpm'] or 0:6.1f} beatF {rows['beat_f'][-1]:.2f} "
                f"meter {item['time_signature']}->{res['beats_per_bar']}")
        if item["family"] == "pattern":
            r, mm = chord_scores(item["chords"], res["chords"], dur)
            rows["root"].append(r)
            rows["majmin"].append(mm)
            mel = res["melody"]
            times = np.arange(len(mel["f0"]["hz"])) * mel["f0"]["hop_seconds"]
            rpa, of, nf = melody_scores(item, times, np.array(mel["f0"]["hz"]), np.array(mel["f0"]["voiced"]),
                                        mel["notes"], dur)
            rows["rpa_mix"].append(rpa)
            rows["onset_mix"].append(of)
            rows["note_mix"].append(nf)
            ys, srs = load_audio(TESTSET / item["solo_audio"], mono=True)
            t = time.perf_counter()
            solo = analyze_music(ys, srs, options=PitchOptions(include=("melody",)))["melody"]
            solo_s = time.perf_counter() - t
            times = np.arange(len(solo["f0"]["hz"])) * solo["f0"]["hop_seconds"]
            rpa_s, of_s, nf_s = melody_scores(item, times, np.array(solo["f0"]["hz"]),
                                              np.array(solo["f0"]["voiced"]), solo["notes"], len(ys) / srs)
            rows["rpa_solo"].append(rpa_s)
            rows["onset_solo"].append(of_s)
            rows["note_solo"].append(nf_s)
            line += f" chord {r:.2f}/{mm:.2f} mel mix {rpa:.2f}/{of:.2f} solo {rpa_s:.2f}/{of_s:.2f}"
            if not args.no_baseline and n_pyin < args.pyin_items:
                n_pyin += 1
                py = cached(item["name"] + "_pyin", lambda ys=ys, srs=srs: baseline_pyin(ys, srs))
                prpa, pof, _ = melody_scores(item, np.array(py["times"]), np.array(py["hz"]),
                                             np.array(py["voiced"]), _notes_from_f0(py), len(ys) / srs)
                pyin_rows["rpa"].append(prpa)
                pyin_rows["onset"].append(pof)
                pyin_rows["ours_rpa"].append(rpa_s)
                pyin_rows["ours_onset"].append(of_s)
                pyin_rows["pyin_s"].append(py["seconds"] / (len(ys) / srs) * 60)
                pyin_rows["ours_s"].append(solo_s / (len(ys) / srs) * 60)
        if not args.no_baseline:
            b = cached(item["name"] + "_base", lambda y=y, sr=sr, item=item: baseline(y, sr, item))
            base["key"].append(key_score(item["key"], b["key"]))
            b1, b2 = tempo_scores(item["tempo_bpm"], b["tempo"])
            base["acc1"].append(b1)
            base["acc2"].append(b2)
            base["beat_f"].append(beat_f(item["beats"], b["beats"]))
            if "chords" in b:
                r, mm = chord_scores(item["chords"], b["chords"], dur)
                base["root"].append(r)
                base["majmin"].append(mm)
        if args.verbose:
            print(line, flush=True)
    print(f"\n{len(items)} items ({args.split} split), {audio_s / 60:.1f} min of audio; "
          f"analysis {ours_s / audio_s * 60:.2f} s per minute of audio")
    print(f"{'metric':24s} {'ours':>7s} {'baseline':>9s} {'target':>7s}  n")
    names = {"key": "key weighted", "acc1": "tempo Acc1", "acc2": "tempo Acc2", "beat_f": "beat F",
             "down_f": "downbeat F", "meter": "metre (3 vs 4)", "root": "chord root", "majmin": "chord maj/min",
             "rpa_solo": "melody RPA (solo)", "onset_solo": "onset F1 (solo)", "note_solo": "note F1 (solo)",
             "rpa_mix": "melody RPA (mix)", "onset_mix": "onset F1 (mix)", "note_mix": "note F1 (mix)"}
    target_of = {"rpa_solo": "rpa", "onset_solo": "onset_f1"}
    for k, label in names.items():
        if not rows[k]:
            continue
        b = f"{np.mean(base[k]):9.3f}" if base.get(k) else f"{'':9s}"
        tgt = TARGETS.get(target_of.get(k, k))
        print(f"{label:24s} {np.mean(rows[k]):7.3f} {b} {'' if tgt is None else f'{tgt:7.2f}'}  {len(rows[k])}")
    if pyin_rows["rpa"]:
        print(f"\nmelody on {len(pyin_rows['rpa'])} solo items: ours RPA {np.mean(pyin_rows['ours_rpa']):.3f} "
              f"onset F1 {np.mean(pyin_rows['ours_onset']):.3f} ({np.median(pyin_rows['ours_s']):.2f} s/min, "
              f"whole analysis incl. load overheads) | pYIN RPA {np.mean(pyin_rows['rpa']):.3f} "
              f"onset F1 {np.mean(pyin_rows['onset']):.3f} ({np.median(pyin_rows['pyin_s']):.1f} s/min)")


def _notes_from_f0(py: dict) -> list[dict]:
    """Notes from a pYIN contour by the same segmentation as ours, for a fair onset score."""
    from worker.music.melody import segment_notes

    hz = np.array(py["hz"])
    voiced = np.array(py["voiced"], dtype=bool) & (hz > 0)
    midi = np.where(hz > 0, 69 + 12 * np.log2(np.maximum(hz, 1e-3) / 440.0), 0)
    times = np.array(py["times"])
    # no attack evidence from pYIN: notes split on pitch changes and unvoiced gaps only
    return segment_notes(times, midi, voiced, np.zeros_like(hz), float(times[1] - times[0]))


if __name__ == "__main__":
    main()
