"""Render the generated families (bench/music_families.py) with several soundfonts and kits.

Each item picks a soundfont (FluidR3, TimGM6mb, FluidR3Mono, MuseScore General) and a drum kit
(the soundfont's own, or a sampled AVL kit). Splits are honest by construction: an item whose
soundfont, kit or groove style is held out (music_render.HELD_OUT_*, music_styles.HELD_OUT_STYLES)
is always "test"; of the others one in three is "train" (what profiles and thresholds may be fit
on). The network's training corpus (`build_train_corpus`) uses other seeds and never a held-out
soundfont, kit or style; grooves with pushed sections (bench/pushed_family.py) are rendered beside it on
request (`build_pushed_corpus`, `pitch_testset.py --train-pushed N`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .folk_family import build_folk_corpus
from .music_families import FAMILIES
from .music_render import (
    HELD_OUT_KITS,
    HELD_OUT_SOUNDFONTS,
    available_kits,
    available_soundfonts,
    render_mix,
    write_audio,
)
from .music_styles import HELD_OUT_STYLES, STYLES
from .pushed_family import pushed_song
from .sonata_family import build_sonata_corpus

FAMILY_COUNTS = {"groove": 96, "poploop": 72, "modal": 40, "tempo": 36}
FAMILY_SEEDS = {"groove": 20000, "poploop": 30000, "modal": 40000, "tempo": 50000}
FOLK_FOLDER = "music_train_folk"  # beside the training corpus: drum-less folk tunes (bench/folk_family.py)
SONATA_FOLDER = "music_train_sonata"  # beside it: classical-style openings for the key fit (bench/sonata_family.py)
TRAIN_SEED = 900000  # seeds of the training corpus, far from every test-set seed
PUSHED_FOLDER = "music_train_pushed"  # beside it: grooves with pushed sections (bench/pushed_family.py), opt-in
PUSHED_SEED = TRAIN_SEED + 10000 * len(FAMILIES)  # the seeds the next family of the corpus would have
TRAIN_FAMILIES = {**FAMILIES, "pushed": pushed_song}  # every family render_item can make
FORMATS = ("wav", "mp3", "flac", "ogg", "wav", "wav")


def _pick_sound(rng: np.random.Generator, *, allow_held_out: bool) -> tuple[str, str | None]:
    fonts = [f for f in available_soundfonts() if allow_held_out or f not in HELD_OUT_SOUNDFONTS]
    kits: list[str | None] = [None, *[k for k in available_kits() if allow_held_out or k not in HELD_OUT_KITS]]
    font = fonts[int(rng.integers(len(fonts)))]
    kit = None if rng.random() < 0.5 else kits[int(rng.integers(1, len(kits)))] if len(kits) > 1 else None
    return font, kit


def _split(index: int, truth: dict, font: str, kit: str | None) -> str:
    held = font in HELD_OUT_SOUNDFONTS or kit in HELD_OUT_KITS or truth["style"] in HELD_OUT_STYLES
    return "test" if held or index % 3 else "train"


def render_item(family: str, index: int, seed: int, out: Path, *, allow_held_out: bool, fmt: str | None = None,
                styles: list[str] | None = None) -> dict:
    """Generate, render and write one item; returns its truth (also written as <name>.json)."""
    rng = np.random.default_rng(seed)
    styles = styles or sorted(STYLES)
    pm, truth = TRAIN_FAMILIES[family](index, rng, styles)
    font, kit = _pick_sound(rng, allow_held_out=allow_held_out)
    drum_gain = float(rng.uniform(0.5, 1.2))
    y = render_mix(pm, soundfont=font, kit=kit if truth["drums"] else None, drum_gain=drum_gain, engine="lib")
    name = f"{family}_{index:03d}"
    fmt = fmt or FORMATS[index % len(FORMATS)]
    audio = write_audio(y, out / name, fmt)
    truth.update(name=name, audio=audio.name, soundfont=font, kit=kit if truth["drums"] else None, format=fmt,
                 engine="lib",
                 split=_split(index, truth, font, kit), tuning_cents=0.0, seed=seed)
    (out / f"{name}.json").write_text(json.dumps(truth, indent=1))
    return truth


def build_families(out: Path, counts: dict[str, int] | None = None) -> list[dict]:
    """Render (or reuse) every family item into `out`; returns their truths."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for family, n in (counts or FAMILY_COUNTS).items():
        for i in range(n):
            meta = out / f"{family}_{i:03d}.json"
            if meta.exists():
                manifest.append(json.loads(meta.read_text()))
                continue
            truth = render_item(family, i, FAMILY_SEEDS[family] + i, out, allow_held_out=True)
            manifest.append(truth)
            print(f"{truth['name']}: {truth['style']:9s} {truth['key']:9s} {truth['start_bpm']:6.1f} BPM "
                  f"{truth['time_signature']:5s} {truth['soundfont']}/{truth['kit']} {truth['split']}", flush=True)
    return manifest


def build_train_corpus(out: Path, n_per_family: int, testset: Path) -> list[dict]:
    """The network's training material: new seeds, seen soundfonts, kits and styles only, plus
    re-rendered train-split chorales (`build_chorale_corpus`) and, in folders of their own beside it, drum-less
    folk tunes (bench/folk_family.py) and classical-style openings for the key fit (bench/sonata_family.py)."""
    out.mkdir(parents=True, exist_ok=True)
    seen = sorted(s for s in STYLES if s not in HELD_OUT_STYLES)
    manifest = []
    for f, family in enumerate(FAMILIES):
        for i in range(n_per_family):
            meta = out / f"{family}_{i:03d}.json"
            if meta.exists():
                manifest.append(json.loads(meta.read_text()))
                continue
            seed = TRAIN_SEED + 10000 * f + i
            truth = render_item(family, i, seed, out, allow_held_out=False, fmt="flac", styles=seen)
            truth["split"] = "train"
            meta.write_text(json.dumps(truth, indent=1))
            manifest.append(truth)
            print(f"train {truth['name']}: {truth['style']} {truth['start_bpm']:.0f} BPM", flush=True)
    manifest += build_chorale_corpus(out, testset)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    build_folk_corpus(out.parent / FOLK_FOLDER)
    build_sonata_corpus(out.parent / SONATA_FOLDER)
    return manifest


def build_pushed_corpus(out: Path, n: int) -> list[dict]:
    """Grooves with pushed sections for the beat network (`beat_train.py --pushed`), in a folder of their own: with
    them the 2026-12-05 fine-tunes lost tempo on real rock (docs/music_accuracy.md), so they are not in the corpus
    by default."""
    out.mkdir(parents=True, exist_ok=True)
    seen = sorted(s for s in STYLES if s not in HELD_OUT_STYLES)
    manifest = []
    for i in range(n):
        meta = out / f"pushed_{i:03d}.json"
        if meta.exists():
            manifest.append(json.loads(meta.read_text()))
            continue
        truth = render_item("pushed", i, PUSHED_SEED + i, out, allow_held_out=False, fmt="flac", styles=seen)
        truth["split"] = "train"
        meta.write_text(json.dumps(truth, indent=1))
        manifest.append(truth)
        print(f"train {truth['name']}: {truth['style']} {truth['start_bpm']:.0f} BPM", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def build_chorale_corpus(out: Path, testset: Path, variants: int = 2) -> list[dict]:
    """Chorales for network training: only the pieces of the test set's *train* split, re-rendered
    at new tempi and keys with other instruments and soundfonts (held-out ones excluded), so the
    network hears legato, drum-less music without touching a test piece."""
    from music21 import corpus

    from .chorale_family import backfill_labels, make_chorale

    manifest = json.loads((testset / "manifest.json").read_text())
    sources = sorted({m["source"] for m in manifest if m["family"] == "corpus" and m["split"] == "train"})
    paths = {Path(p).stem: Path(p) for p in corpus.getComposer("bach")}
    made = []
    for k, source in enumerate(sources):
        for v in range(variants):
            name = f"chorale_{k:03d}_{v}"
            meta = out / f"{name}.json"
            if meta.exists():
                made.append(backfill_labels(meta))
                continue
            rng = np.random.default_rng(TRAIN_SEED + 70000 + 10 * k + v)
            result = make_chorale(paths[source], int(rng.integers(24)), rng, slow=bool(v % 2))
            if result is None:
                continue
            pm, truth = result
            font, _ = _pick_sound(rng, allow_held_out=False)
            audio = write_audio(render_mix(pm, soundfont=font, engine="lib"), out / name, "flac")
            truth.update(name=name, audio=audio.name, soundfont=font, kit=None, split="train", family="corpus",
                         tuning_cents=0.0, time_signature=truth["time_signature"])
            meta.write_text(json.dumps(truth, indent=1))
            made.append(truth)
            print(f"train {name}: {source} {truth['tempo_bpm']:.0f} BPM", flush=True)
    return made
