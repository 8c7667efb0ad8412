"""Single short files as they are, for the speech finder (bench/speech_check.py --single): is a lone spoken prompt
of a few seconds told "speech, not music", and is a short piece of music left alone?

Speech: every Asterisk prompt of 0.5-8 s (asterisk-core-sounds-{en,es,fr,ru}-wav, one speaker each, 8 kHz; 1.5-8 s
before the rule for clips under one window) and the unit voice lines of MegaGlest (megaglest-data,
factions/*/units/*/sounds/*select*.wav and *ack*.wav: 0.3-4.6 s; counted as three rows, select, ack and attack, as
"*ack*" takes the 241 *attack* sounds too: war cries, grunts, animals, machines). Music, each clip one file as a user
would upload it: game tracks cut into pieces of 0.5, 1, 1.5, 2, 3, 4, 5, 6 and 8 s (0.5-1.5 s added with that rule)
at four offsets (0, 1/4, 1/2, 3/4 of the track), plus the short jingles whole: frozen-bubble
(snd/*zik*.ogg cut, lose.ogg and newroot_solo.ogg whole), supertuxkart-data (music/*.ogg, split into two halves by
track name, a track's _fast version on its track's side), extremetuxracer-data (music/*.ogg cut; the 6.3 s
lostrace-ks and raceintro-ks whole too), the tests' synthetic music (bench/speech_check.py) and solo melodic lines
rendered here with FluidR3 (16 GM instruments: strings, winds, voices; legato and detached), cut the same way.

Split made before any figure was looked at: fit = asterisk en + es, synthetic music, frozen-bubble, supertuxkart
half A; held out = asterisk fr + ru, megaglest, supertuxkart half B, extremetuxracer. The solo lines were added
after the first fit figures (a rule without the gap test risks vibrato lines) and split before their figures were
seen: fit = violin, flute, clarinet, trumpet, choir aahs, alto sax, french horn, harmonica; held out = viola, cello,
oboe, bassoon, voice oohs, soprano sax, trombone, pan flute.

Per source: clips, the share of clips told speech as the pipeline tells it (speech over SPEECH_WHOLE_SHARE of the
clip: "speech, not music", no chords, key or tuning), and the share with any speech found (music: chords removed
from that stretch), for all clips and per length: under 0.5 s, 0.5-2 s and 2 s or more (speech: shares; music:
counts). bench/speech_single_dump.py writes each clip's window tests, to choose thresholds on the fit part.

Figures (told speech; main, then with the short-clip rule of speech.py, SHORT_CLIP_SECONDS): fit: asterisk en
0.102 -> 0.543, es 0.056 -> 0.288; synthetic music 0 -> 0 (any speech 1 of 288, both: 8 s of speech over drums),
frozen-bubble, supertuxkart A, solo lines A 0 -> 0; held out, run once: asterisk fr 0.114 -> 0.543, ru 0.050 ->
0.184, megaglest 0 -> 0.002 (1 of 650; 625 are under 2 s), supertuxkart B, extremetuxracer, solo lines B 0 -> 0.
With the rule for a clip of 0.75 s up to one window (SUB_WINDOW_MIN_SECONDS, chosen on en/es prompts of 0.5-2 s
against 0.5-2 s pieces of the fit music), told speech among clips of 0.5-2 s, before -> after: fit: asterisk en 0 ->
0.330 (of 349), es 0 -> 0.161 (279); held out, run once: fr 0 -> 0.282 (312), ru 0 -> 0.055 (327), megaglest select
0 -> 0.138 (174), ack 0 -> 0.184 (174), attack 0 -> 0.053 (187); music 0 -> 0 pieces of every source (synthetic 144,
frozen-bubble 61, solo lines A 192 and B 192, supertuxkart A 240 and B 216, extremetuxracer 120); clips of 2 s and
more as before (a 2.0 s clip is a frame short of one window: judged by the new rule, 0 pieces of music).
A short clip judged on its sounding part too (speech._sounding_part, 2026-12-06), told speech, before -> after: fit:
asterisk en 0.463 -> 0.597, es 0.235 -> 0.284; held out: fr 0.431 -> 0.483, ru 0.123 -> 0.133, megaglest select
0.121 -> 0.131, ack 0.157 -> 0.171, attack 0.041 both; every music source 0 -> 0 (3,444 clips).

Get the packages as bench/speech_check.py says, with megaglest-data and supertuxkart-data added to the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.speech_check import ASTERISK, SR, _load, speech_share, synthetic_clips
from worker.music.pipeline import SPEECH_WHOLE_SHARE
from worker.music.speech import WINDOW_SECONDS

PIECE_SECONDS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
PIECE_AT = (0.0, 0.25, 0.5, 0.75)  # piece starts, as shares of (track length - piece length)
PROMPT_SECONDS = (0.5, 8.0)
MEGAGLEST = "megaglest-data/usr/share/games/megaglest/techs/megapack/factions/*/units/*/sounds/"
STK = "supertuxkart-data/usr/share/games/supertuxkart/data/music/*.ogg"
# solo melodic lines rendered with FluidR3 (GM programs): the sampled vibrato of strings, winds and voices keeps no
# note held within HELD_CENTS, the risk for a short clip that has no gaps between "words"
SOLO_FIT = {"violin": 40, "flute": 73, "clarinet": 71, "trumpet": 56, "choir aahs": 52, "alto sax": 65,
            "french horn": 60, "harmonica": 22}
SOLO_HELD_OUT = {"viola": 41, "cello": 42, "oboe": 68, "bassoon": 70, "voice oohs": 53, "soprano sax": 64,
                 "trombone": 57, "pan flute": 75}
Clip = tuple[str, np.ndarray]


def pieces(name: str, y: np.ndarray) -> Iterator[Clip]:
    for seconds in PIECE_SECONDS:
        n = int(seconds * SR)
        if len(y) < n:
            continue
        for at in PIECE_AT:
            a = int(at * (len(y) - n))
            yield f"{name}@{a / SR:.0f}s/{seconds:.0f}s", y[a : a + n]


def track_pieces(files: list[Path], whole: tuple[str, ...] = ()) -> Iterator[Clip]:
    for f in files:
        y = _load(f)
        if f.name in whole:
            yield f.name, y
        yield from pieces(f.stem, y)


def solo_lines(programs: dict[str, int]) -> Iterator[Clip]:
    """A seeded diatonic line per instrument, 20 s, legato and detached, cut into pieces."""
    import pretty_midi
    import soxr

    from bench.fluid_lib import RENDER_SR, font_synth
    from bench.music_render import SOUNDFONTS

    synth = font_synth(SOUNDFONTS["fluidr3"])
    scale = [0, 2, 4, 5, 7, 9, 11]
    for name, program in programs.items():
        for legato in (True, False):
            rng = np.random.default_rng(100 * program + legato)
            low = 48 if program in (42, 70, 57) else 60
            pm = pretty_midi.PrettyMIDI()
            inst = pretty_midi.Instrument(program=program)
            t, step = 0.0, int(rng.integers(7, 14))
            while t < 20.0:
                d = float(rng.choice([0.25, 0.375, 0.5, 0.75, 1.0, 1.5]))
                step = int(np.clip(step + rng.integers(-2, 3), 0, 20))
                pitch = low + 12 * (step // 7) + scale[step % 7]
                inst.notes.append(pretty_midi.Note(velocity=int(rng.integers(70, 110)), pitch=pitch, start=t,
                                                   end=t + (d if legato else 0.6 * d)))
                t += d
            pm.instruments.append(inst)
            y = soxr.resample(synth.render(pm), RENDER_SR, SR).astype(np.float32)
            yield from pieces(f"{name}{' legato' if legato else ''}", y)


def single_files(files: list[Path]) -> Iterator[Clip]:
    for f in files:
        yield f"{f.parent.name}/{f.name}", _load(f)


def prompts(root: Path, lang: str) -> list[Path]:
    folder = root / f"asterisk-core-sounds-{lang}-wav/usr/share/asterisk/sounds/{ASTERISK[lang]}"
    out = []
    for f in sorted(folder.rglob("*.wav")):
        seconds = sf.info(str(f)).duration
        if PROMPT_SECONDS[0] <= seconds <= PROMPT_SECONDS[1]:
            out.append(f)
    return out


def stk_halves(root: Path) -> tuple[list[Path], list[Path]]:
    """supertuxkart's tracks in two halves: base names (a _fast/_f version with its track) alternately."""
    files = sorted(root.glob(STK))
    bases = sorted({re.sub(r"_(fast|f)$", "", f.stem) for f in files})
    a = {b for i, b in enumerate(bases) if i % 2 == 0}
    half_a = [f for f in files if re.sub(r"_(fast|f)$", "", f.stem) in a]
    return half_a, [f for f in files if f not in half_a]


def single_sources(root: Path) -> list[tuple[str, str, bool, Iterator[Clip]]]:
    """(name, "speech" or "music", fit (else held out), clips); sources whose files are missing are left out."""
    out: list[tuple[str, str, bool, Iterator[Clip]]] = []
    for lang in ASTERISK:
        files = prompts(root, lang)
        if files:
            out.append((f"asterisk {lang} prompts", "speech", lang in ("en", "es"), single_files(files)))
    # "*ack*" holds the *attack* sounds too (241 of the 650: war cries, grunts, an animal's or a machine's sound):
    # counted apart, as not every one of them is a voice
    glest = sorted(root.glob(MEGAGLEST + "*select*.wav")) + sorted(root.glob(MEGAGLEST + "*ack*.wav"))
    for part, keep in [("select", lambda f: "select" in f.name), ("ack", lambda f: "select" not in f.name and
                                                                   "attack" not in f.name),
                       ("attack", lambda f: "select" not in f.name and "attack" in f.name)]:
        files = [f for f in glest if keep(f)]
        if files:
            out.append((f"megaglest {part}", "speech", False, single_files(files)))
    out.append(("synthetic music", "music", True, (c for name, y in synthetic_clips() for c in pieces(name, y))))
    fb = root / "frozen-bubble-data/usr/share/games/frozen-bubble/snd"
    if fb.is_dir():
        files = sorted(fb.glob("*zik*.ogg")) + [fb / "lose.ogg", fb / "newroot_solo.ogg"]
        out.append(("frozen-bubble", "music", True, track_pieces(files, ("lose.ogg", "newroot_solo.ogg"))))
    out.append(("solo lines A", "music", True, solo_lines(SOLO_FIT)))
    out.append(("solo lines B", "music", False, solo_lines(SOLO_HELD_OUT)))
    half_a, half_b = stk_halves(root)
    if half_a:
        out.append(("supertuxkart A", "music", True, track_pieces(half_a)))
        out.append(("supertuxkart B", "music", False, track_pieces(half_b)))
    etr = sorted(root.glob("extremetuxracer-data/**/music/*.ogg"))
    if etr:
        out.append(("extremetuxracer", "music", False, track_pieces(etr, ("lostrace-ks.ogg", "raceintro-ks.ogg"))))
    return out


BANDS = ((0.0, 0.5, "<0.5s"), (0.5, WINDOW_SECONDS, "0.5-2s"),
         (WINDOW_SECONDS, np.inf, ">=2s"))  # clip lengths, s: each band's counts apart


def main_single(root: Path, *, only: str | None = None, show: bool = False) -> None:
    print(f"{'source':24s} {'kind':6s} {'role':8s} {'clips':>5s} {'told':>6s} {'any':>6s}"
          + "".join(f" {label + ' n':>9s} {'told':>5s} {'any':>5s}" for _, _, label in BANDS))
    for name, kind, fit, clips in single_sources(root):
        if only is not None and not any(part in name for part in only.split(",")):
            continue
        told, anyf, seconds = [], [], []
        for clip, y in clips:
            share, _ = speech_share(y)
            told.append(share >= SPEECH_WHOLE_SHARE)
            anyf.append(share > 0)
            seconds.append(len(y) / SR)
            if show and ((kind == "music" and share > 0) or (kind == "speech" and share < SPEECH_WHOLE_SHARE)):
                print(f"    {clip} {len(y) / SR:.1f} s share {share:.2f}")
        t, a, d = np.array(told), np.array(anyf), np.array(seconds)
        line = f"{name:24s} {kind:6s} {'fit' if fit else 'held out':8s} {len(t):5d} {t.mean():6.3f} {a.mean():6.3f}"
        for lo, hi, _ in BANDS:
            band = (d >= lo) & (d < hi)
            # music: counts (false speech is rare), speech: shares
            told_b, any_b = (f"{int(t[band].sum()):5d}", f"{int(a[band].sum()):5d}") if kind == "music" else (
                f"{t[band].mean() if band.any() else 0:5.3f}", f"{a[band].mean() if band.any() else 0:5.3f}")
            line += f" {int(band.sum()):9d} {told_b} {any_b}"
        print(line, flush=True)
