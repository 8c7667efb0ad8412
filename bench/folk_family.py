"""A drum-less folk family for the beat network's training corpus: dance tunes and songs from music21's ABC
collections (O'Neill's 1850 and Ryan's Mammoth Collection: jigs, slip jigs, reels, hornpipes, marches,
waltzes; the Essen folk songs: 2/4, 3/4, 4/4 and 6/8 songs), each with an accompaniment written here from its
chord symbols or, where it has none, from a small harmoniser (the diatonic triad covering most of the melody
in each bar or half bar), in one of four textures: oom-pah (bass on the beat, chords between), broken chords in
the metre's subdivision (three eighths to the beat in 6/8), a sustained pad, or the tune alone.

Why: every drum-less item the network trained on was a chorale or a slow pattern song in 3/4 or 4/4, so it
never heard a compound metre without a drum kit, and the classical movements no fit saw (bench/classical_check.py)
showed it: no 6/8 or 9/8 movement read as compound, 6 of 10 in 3/4 read as 4/4. These tunes are that material:
melody-led, no drums, 2/4, 4/4, 2/2 (the half-note beat), 3/4, 6/8, 9/8 and 12/8 (the dotted-quarter beat).
The shipped network is not trained on them: fine-tuning on them helped the tunes' own validation tenth and lost
downbeats and tempo on the test split (bench/beat_train.py's docstring has the figures).

Training only: `build_folk_corpus` writes items with split "train" into bench/out/music_train_folk, which
`python bench/beat_train.py --folk` adds to the network's material; no test split and no scored check reads
them, and no source overlaps classical_check's composers or the chorales. Labels are the notated beats from the
first full bar (`classical_check.rhythm_truth`) and a bar every bar's length from it (`regular_bars`); a tune
whose time signature changes in the rendered span, whose beat the notation does not fix (3/8, 5/4, 4/2 ...) or
whose whole bars leave that grid is skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .chorale_family import START_SECONDS, add_parts, bar_starts, score_end
from .classical_check import beat_quarters, rhythm_truth
from .music_render import HELD_OUT_SOUNDFONTS, available_soundfonts, render_mix, write_audio

COLLECTIONS = ("oneills1850", "ryansMammoth", "essenFolksong")
FOLK_SEED = 980000  # picks the tunes; item i renders with default_rng(FOLK_SEED + 1 + i) (the corpus's: 900000+)
MAX_SECONDS = 30.0  # seconds of each tune rendered
MIN_BEATS = 24  # a tune shorter than this many labelled beats (the collections do not expand repeats) is skipped
FOLK_ITEMS = 200  # items in the corpus: about a quarter of what the network trains on
BEAT_BPM = (50.0, 150.0)  # beats (in the notated beat) per minute, drawn log-uniformly
# how many of each metre (as music21 spells it) a corpus of N items holds, as fractions of N: compound metres and
# 3/4 are what the network lacked, so they are over-represented against the collections' own mix
METRE_SHARE = {"6/8": 0.28, "9/8": 0.07, "12/8": 0.03, "3/4": 0.24, "2/4": 0.14, "4/4": 0.12, "2/2": 0.12}
MELODY_PROGRAMS = (40, 73, 21, 0, 74, 78, 71, 68, 22, 24, 41, 105, 110)  # fiddle, flute, accordion, piano ...
ACCOMP_PROGRAMS = (0, 24, 25, 46, 21, 48, 19, 6, 1, 32)  # piano, guitars, harp, accordion, strings, organ ...
TEXTURES = ("oompah", "broken", "pad", "solo")
TEXTURE_P = (0.35, 0.3, 0.15, 0.2)
MAJOR_TRIADS = ((0, "maj"), (5, "maj"), (7, "maj"), (9, "min"), (2, "min"))  # I IV V vi ii (prior order)
MINOR_TRIADS = ((0, "min"), (5, "min"), (7, "maj"), (8, "maj"), (3, "maj"), (10, "maj"))  # i iv V VI III VII
TRIAD = {"maj": (0, 4, 7), "min": (0, 3, 7)}


def tune_texts() -> list[tuple[str, str]]:
    """(source name, ABC text of one tune) of every tune in COLLECTIONS, in a fixed order."""
    from music21 import corpus

    out = []
    for collection in COLLECTIONS:
        for path in sorted((Path(p) for p in corpus.getPaths() if f"/{collection}/" in str(p)), key=str):
            tunes = [t for t in re.split(r"\n(?=X:)", path.read_text(errors="ignore")) if t.startswith("X:")]
            for k, text in enumerate(tunes):
                out.append((f"{collection}/{path.stem}#{k}", text))
    return out


def metre_of(text: str) -> str | None:
    """The tune's first M: field as music21 spells it (C| is 2/2, C is 4/4), None without one."""
    m = re.search(r"^M:\s*(\S+)", text, re.M)
    if not m:
        return None
    return {"C|": "2/2", "C": "4/4"}.get(m.group(1), m.group(1))


def pick_tunes(n: int, rng: np.random.Generator, exclude: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """About n (source, text) tunes drawn without replacement in METRE_SHARE proportions (twice as many as
    needed are returned so that tunes the renderer skips can be replaced); sources in `exclude` are never drawn."""
    by_metre: dict[str, list[tuple[str, str]]] = {m: [] for m in METRE_SHARE}
    for source, text in tune_texts():
        metre = metre_of(text)
        if metre in by_metre and source not in exclude:
            by_metre[metre].append((source, text))
    picked = []
    for metre, share in METRE_SHARE.items():
        pool = by_metre[metre]
        take = min(len(pool), int(round(2 * share * n)))
        picked += [pool[i] for i in rng.choice(len(pool), size=take, replace=False)]
    order = rng.permutation(len(picked))
    return [picked[i] for i in order]


def tonic_and_mode(score) -> tuple[int, str]:
    """The key the harmoniser works in: the ABC K: field's tonic and mode (a modal K: is read as the major or
    minor scale sharing its third), else music21's analysis."""
    from music21 import key as m21key

    for k in score.recurse().getElementsByClass(m21key.Key):
        third = (k.pitchFromDegree(3).pitchClass - k.tonic.pitchClass) % 12
        return int(k.tonic.pitchClass), "minor" if third == 3 else "major"
    k = score.analyze("key")
    return int(k.tonic.pitchClass), str(k.mode)


def chord_spans(score, *, span_q: float, origin: float, tonic: int, mode: str, end_q: float
                ) -> list[tuple[float, float, int, str]]:
    """[(start, end, root pitch class, "maj"/"min")] in quarter notes: the tune's own chord symbols where it has
    at least four, else per span_q quarters (on a grid through `origin`, the first full bar) the diatonic triad
    whose tones cover most of the melody there (the root counts double, I and V slightly preferred: what a
    player vamping the tune would choose)."""
    from music21 import harmony

    symbols = [c for c in score.recurse().getElementsByClass(harmony.ChordSymbol) if c.root() is not None]
    if len(symbols) >= 4:
        spans = []
        for a, b in zip(symbols, [*symbols[1:], None], strict=True):
            start = float(a.getOffsetInHierarchy(score))
            stop = float(b.getOffsetInHierarchy(score)) if b is not None else end_q
            if stop > start and start < end_q:
                third = {(p.pitchClass - a.root().pitchClass) % 12 for p in a.pitches}
                spans.append((start, min(stop, end_q), int(a.root().pitchClass), "min" if 3 in third else "maj"))
        return spans
    notes = [(float(n.offset), float(n.quarterLength), {p.pitchClass for p in n.pitches})
             for n in score.parts[-1].flatten().stripTies().notes if not isinstance(n, harmony.ChordSymbol)]
    triads = MAJOR_TRIADS if mode == "major" else MINOR_TRIADS
    spans, start = [], origin - np.ceil(origin / span_q - 1e-9) * span_q
    while start < end_q:
        stop = start + span_q
        weight = np.zeros(12)
        for off, length, pcs in notes:
            overlap = min(off + length, stop) - max(off, start)
            for pc in pcs if overlap > 0 else ():
                weight[pc] += overlap
        best = max(range(len(triads)), key=lambda i: sum(
            weight[(tonic + triads[i][0] + d) % 12] * (2.0 if d == 0 else 1.0) for d in TRIAD[triads[i][1]])
            + 0.05 * span_q * (len(triads) - i))
        degree, quality = triads[best]
        spans.append((start, min(stop, end_q), (tonic + degree) % 12, quality))
        start = stop
    return spans


def add_accompaniment(pm, spans, *, texture: str, beat_q: float, compound: bool, bar_q: float, q: float,
                      origin: float, shift: int, program: int, max_seconds: float, rng: np.random.Generator) -> None:
    """Append bass and chord instruments playing `spans` in `texture` (q seconds per quarter note, transposed
    by `shift`, the beat grid through `origin`, the first full bar, where the accompaniment starts); bar starts
    are accented a little, as a player would."""
    import pretty_midi

    if texture == "solo":
        return
    chords = pretty_midi.Instrument(program=program)
    bass = pretty_midi.Instrument(program=int(rng.choice((32, 33, 43))) if texture != "broken" else program)
    sub_q = beat_q / 3 if compound else beat_q / 2  # the metre's subdivision in quarter notes
    stop_t = START_SECONDS + max_seconds

    def note(inst, pitch: int, start_q: float, length_q: float, vel: int) -> None:
        t = START_SECONDS + start_q * q
        if t <= stop_t:
            inst.notes.append(pretty_midi.Note(int(np.clip(vel, 20, 127)), pitch, t, t + 0.92 * length_q * q))

    for start, stop, root, quality in spans:
        root = (root + shift) % 12
        bass_pitch = 36 + (root - 36) % 12
        voicing = sorted(52 + (root + d - 52) % 12 for d in TRIAD[quality])
        start = max(start, origin)  # the pickup is the tune's alone
        if stop <= start:
            continue
        if texture == "pad":
            note(bass, bass_pitch, start, stop - start, 70)
            for p in voicing:
                note(chords, p, start, stop - start, 55)
            continue
        # the first subdivision at or after the span's start on the grid through origin
        t = origin + np.ceil((start - origin) / sub_q - 1e-6) * sub_q
        k = 0
        while t < stop - 1e-6:
            rel = t - origin
            accent = 12 if abs(rel / bar_q - round(rel / bar_q)) < 1e-6 else 0
            on_beat = abs(rel / beat_q - round(rel / beat_q)) < 1e-6
            if texture == "oompah":
                if on_beat:  # bass on the beat, the fifth on every other
                    note(bass, bass_pitch + (7 if k % 2 else 0), t, sub_q, 75 + accent)
                    k += 1
                elif not compound or abs(((rel / beat_q) % 1) - 2 / 3) < 1e-6:
                    for p in voicing:  # chords on the off-beat eighth (simple) or the third eighth (compound)
                        note(chords, p, t, sub_q, 55 + accent // 2)
            else:  # broken chords: root, fifth, third/octave over the subdivision
                seq = (bass_pitch, voicing[-1] - 12 if voicing[-1] - 12 > bass_pitch else voicing[-1], voicing[0] + 12)
                i = int(round((rel % beat_q) / sub_q)) % (3 if compound else 2)
                note(chords, seq[i], t, sub_q * 1.5, (70 if i == 0 else 55) + accent)
            t += sub_q
    for inst in (bass, chords):
        if inst.notes:
            pm.instruments.append(inst)


def regular_bars(score, *, origin: float, bar_q: float) -> list[float] | None:
    """Bar starts (quarter notes) every bar_q from `origin` to the end, or None when a whole bar of the score
    starts off that grid. ABC bars split at a repeat (the A part's last bar and the B part's pickup) come as two
    short measures without music21's `paddingLeft`, so the measures themselves would put a downbeat on the
    pickup; the grid does not, and a full bar off the grid means the split bars do not add up."""
    measures = score.parts[-1].getElementsByClass("Measure")
    for m in measures:
        if abs(float(m.duration.quarterLength) - bar_q) < 1e-6:
            k = (float(m.offset) - origin) / bar_q
            if abs(k - round(k)) > 1e-6:
                return None
    end = max(float(m.offset) + float(m.duration.quarterLength) for m in measures)
    return [origin + k * bar_q for k in range(int(np.ceil((end - origin) / bar_q - 1e-6)))]


def make_folk(text: str, rng: np.random.Generator, max_seconds: float = MAX_SECONDS):
    """(pretty_midi.PrettyMIDI, truth dict) for one ABC tune, or None where the notation does not fix its beat,
    its metre changes in the rendered span or music21 cannot read it."""
    import pretty_midi
    from music21 import converter, harmony, meter

    try:
        score = converter.parse(text, format="abc")
    except Exception:  # a tune music21 cannot read is skipped (the collections hold a few malformed ones)
        return None
    if not len(score.parts) or not len(score.parts[-1].flatten().notes):
        return None
    sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    if not sigs:
        return None
    num, den = sigs[0].numerator, sigs[0].denominator
    beat_q = beat_quarters(num, den)
    if beat_q is None:
        return None
    beat_bpm = float(np.exp(rng.uniform(*np.log(BEAT_BPM))))
    q = 60.0 / (beat_bpm * beat_q)
    truth = rhythm_truth(score, q, max_seconds)
    if not truth or len(truth["beats"]) < MIN_BEATS:
        return None
    bar_q = num * (4.0 / den)
    origin = bar_starts(score)[0]  # the first full bar: the harmoniser's grid and the accents follow it
    downbeats = regular_bars(score, origin=origin, bar_q=bar_q)
    if downbeats is None:
        return None
    truth["downbeats"] = [START_SECONDS + d * q for d in downbeats if START_SECONDS + d * q <= truth["beats"][-1]]
    tonic, mode = tonic_and_mode(score)
    shift = int(rng.integers(-5, 7))
    compound = den == 8
    end_q = min(score_end(score), max_seconds / q)  # the accompaniment stops with the tune
    spans = chord_spans(score, span_q=bar_q / 2 if num in (4, 2, 6, 12) and bar_q >= 2 else bar_q, origin=origin,
                        tonic=tonic, mode=mode, end_q=end_q)
    for cs in list(score.recurse().getElementsByClass(harmony.ChordSymbol)):
        cs.activeSite.remove(cs)  # chord symbols are the accompaniment's, not notes of the tune
    pm = pretty_midi.PrettyMIDI()
    melody_program = int(rng.choice(MELODY_PROGRAMS))
    add_parts(pm, score, [melody_program], q=q, shift=shift, max_seconds=max_seconds, min_quarters=0.125)
    if not pm.instruments:
        return None
    texture = str(rng.choice(TEXTURES, p=TEXTURE_P))
    add_accompaniment(pm, spans, texture=texture, beat_q=beat_q, compound=compound, bar_q=bar_q, q=q, origin=origin,
                      shift=shift, program=int(rng.choice(ACCOMP_PROGRAMS)), max_seconds=max_seconds, rng=rng)
    return pm, {**truth, "family": "folk", "texture": texture, "melody_program": melody_program,
                "beat_bpm": beat_bpm}


def fit_sources() -> frozenset[str]:
    """Every tune build_folk_corpus may draw for the fit corpus (its candidates, a superset of what it renders)."""
    return frozenset(source for source, _ in pick_tunes(FOLK_ITEMS, np.random.default_rng(FOLK_SEED)))


def build_folk_corpus(out: Path, n: int = FOLK_ITEMS, *, seed: int = FOLK_SEED, split: str = "train",
                      exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Render (or reuse) n folk items into `out` with a manifest (FLAC); returns their truths. The fit corpus
    (split "train") uses only soundfonts the test set does not hold out; a check (split "test",
    bench/folk_check.py: another seed, the fit corpus's tunes excluded) uses every soundfont. A folder of its
    own: the key, chord and decoder fits read the training corpus's manifest and stay as they were (these items
    have no key or chord labels)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fonts = sorted(f for f in available_soundfonts() if split != "train" or f not in HELD_OUT_SOUNDFONTS)
    made: list[dict] = []
    for source, text in pick_tunes(n, rng, exclude):
        if len(made) >= n:
            break
        i = len(made)
        name = f"folk_{i:03d}"
        meta = out / f"{name}.json"
        if meta.exists():  # rendered before; a tune skipped then (another source in the file) is skipped again
            cached = json.loads(meta.read_text())
            if cached["source"] == source:
                made.append(cached)
            continue
        item_rng = np.random.default_rng(seed + 1 + i)
        result = make_folk(text, item_rng)
        if result is None:
            continue
        pm, truth = result
        font = fonts[int(item_rng.integers(len(fonts)))]
        audio = write_audio(render_mix(pm, soundfont=font, engine="lib"), out / name, "flac")
        truth.update(name=name, audio=audio.name, source=source, soundfont=font, kit=None, drums=False,
                     split=split, tuning_cents=0.0)
        meta.write_text(json.dumps(truth, indent=1))
        made.append(truth)
        print(f"{split} {name}: {source} {truth['time_signature']} {truth['tempo_bpm']:.0f} BPM {truth['texture']}",
              flush=True)
    (out / "manifest.json").write_text(json.dumps(made, indent=1))
    return made
