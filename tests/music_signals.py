"""Synthetic music with known answers for the music-analysis tests (additive synthesis, clicks)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SR = 22050  # Hz


def tone(freq: float, seconds: float, *, sr: int = SR, harmonics: int = 6, decay: float = 0.6) -> np.ndarray:
    """A harmonic tone with an attack/release envelope, (n,) float32."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(decay ** (h - 1) * np.sin(2 * np.pi * freq * h * t) for h in range(1, harmonics + 1)
            if freq * h < sr / 2)
    env = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (seconds - t) / 0.05).clip(0, 1)
    return (y * env).astype(np.float32)


def midi_hz(m: float, *, cents: float = 0.0) -> float:
    return 440.0 * 2 ** ((m - 69 + cents / 100.0) / 12)


def cadence(tonic: int = 0, *, bars: int = 8, bar_seconds: float = 2.0, cents: float = 0.0,
            sr: int = SR) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """I-IV-V7-I in the major key of pitch class `tonic`: (audio (n,), [(start, end, label)])."""
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    chords = [(0, (0, 4, 7), "maj"), (5, (0, 4, 7), "maj"), (7, (0, 4, 7, 10), "7"), (0, (0, 4, 7), "maj")]
    out, labels = [], []
    for bar in range(bars):
        root, ivs, q = chords[bar % 4]
        r = (tonic + root) % 12
        seg = tone(midi_hz(36 + r, cents=cents), bar_seconds, sr=sr) * 0.5
        for iv in ivs:
            seg = seg + tone(midi_hz(60 + (r + iv) % 12, cents=cents), bar_seconds, sr=sr) * 0.3
        out.append(seg)
        labels.append((bar * bar_seconds, (bar + 1) * bar_seconds, f"{names[r]}:{q}"))
    y = np.concatenate(out)
    return (0.5 * y / np.abs(y).max()).astype(np.float32), labels


def click_track(bpm: float = 120.0, seconds: float = 20.0, *, sr: int = SR) -> np.ndarray:
    """Decaying 1 kHz clicks on every beat, the first of each 4 louder: (n,)."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    click = (np.sin(2 * np.pi * 1000 * np.arange(400) / sr) * np.exp(-np.arange(400) / 60)).astype(np.float32)
    for i, t in enumerate(np.arange(0.0, seconds - 0.05, 60.0 / bpm)):
        a = int(t * sr)
        y[a : a + 400] += click[: len(y[a : a + 400])] * (0.9 if i % 4 == 0 else 0.5)
    return y


def sine_melody(midis: list[int], *, note_seconds: float = 0.3, gap: float = 0.05,
                sr: int = SR) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """Pure sines, one per note with a short gap: (audio (n,), [(onset, offset, midi)])."""
    out, notes, t = [], [], 0.2
    out.append(np.zeros(int(0.2 * sr), dtype=np.float32))
    for m in midis:
        n = int(note_seconds * sr)
        tt = np.arange(n) / sr
        env = np.minimum(1.0, tt / 0.005) * np.minimum(1.0, (note_seconds - tt) / 0.01)
        out.append((0.5 * np.sin(2 * np.pi * midi_hz(m) * tt) * env).astype(np.float32))
        out.append(np.zeros(int(gap * sr), dtype=np.float32))
        notes.append((t, t + note_seconds, m))
        t += note_seconds + gap
    return np.concatenate(out), notes


def drum_loop(bpm: float = 100.0, seconds: float = 12.0, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Kick (pitch-swept sine), snare (noise + body) and hi-hat (high-passed noise): (n,)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    beat = 60.0 / bpm
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)
    snare = (rng.standard_normal(n) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.06)
    hat_noise = rng.standard_normal(n)
    hat = np.diff(hat_noise, prepend=0.0) * np.exp(-t / 0.015) * 0.3
    for i, tb in enumerate(np.arange(0.0, seconds - 0.3, beat / 2)):
        a = int(tb * sr)
        if i % 2 == 0:
            y[a : a + n] += (kick if (i // 2) % 2 == 0 else snare).astype(np.float32)
        y[a : a + n] += hat.astype(np.float32)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def distorted_riff(tonic: int = 8, *, bars: int = 16, bpm: float = 160.0, sr: int = SR) -> np.ndarray:
    """Heavily clipped sawtooth power chords (root, fifth, octave) in eighths over i-VI-VII-V of the minor
    key on `tonic`, with a drum loop and noise: the sound of a distorted-guitar track, (n,)."""
    beat = 60.0 / bpm
    eighth = int(beat / 2 * sr)
    t = np.arange(int(0.9 * eighth)) / sr
    out = []
    for b in range(bars):
        root = 40 + (tonic + (0, 8, 10, 7)[b % 4] - 4) % 12  # E2..D#3
        chord = sum(2 * ((midi_hz(root + iv) * t) % 1.0) - 1 for iv in (0, 7, 12))
        out += [np.pad(chord, (0, eighth - len(chord)))] * 8
    y = np.tanh(12 * np.concatenate(out) / 3.0)
    drums = drum_loop(2 * bpm, len(y) / sr, sr=sr)
    y = 0.6 * y + 0.8 * drums[: len(y)] + 0.05 * np.random.default_rng(0).standard_normal(len(y))
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def sung_line(midis: list[int], *, note_seconds: float = 0.5, vibrato_cents: float = 40.0, vibrato_hz: float = 5.5,
              gap: float = 0.05, breath_every: int = 8, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A sung-like voice: vowel-shaped harmonics (formants near 700 and 1200 Hz) with vibrato, a consonant
    noise burst before each note, a short gap after it and a breath every `breath_every` notes: (n,)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, m in enumerate(midis):
        t = np.arange(int(note_seconds * sr)) / sr
        cents = vibrato_cents * np.sin(2 * np.pi * vibrato_hz * t + rng.uniform(0, 6)) * np.minimum(1.0, t / 0.15)
        phase = 2 * np.pi * np.cumsum(midi_hz(m) * 2 ** (cents / 1200)) / sr
        y = np.zeros(len(t))
        for h in range(1, 16):
            f = h * midi_hz(m)
            if f > 5000:
                break
            formants = np.exp(-((f - 700) / 300) ** 2) + 0.6 * np.exp(-((f - 1200) / 400) ** 2)
            y += (formants + 0.3 / h) * np.sin(h * phase)
        env = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (note_seconds - t) / 0.06).clip(0, 1)
        out += [rng.standard_normal(int(0.03 * sr)) * 0.05, y * env, np.zeros(int(gap * sr))]
        if (i + 1) % breath_every == 0:
            out.append(np.zeros(int(0.4 * sr)))
    y = np.concatenate(out)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def synth_drum_line(bpm: float = 120.0, seconds: float = 20.0, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Eighth notes of electronic music with nothing unpitched: 808-style kicks (a sine falling 160 -> 55 Hz) on the
    beats and short synth notes sliding +-3 % between them, each 140 ms and decaying (gaps between them). Its
    pitch glides and is never held, with dips between the sounds: what the speech finder's window tests call
    speech; only its steady beat tells it is music."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    tt = np.arange(int(0.14 * sr)) / sr
    for k, start in enumerate(np.arange(0.0, seconds - 0.3, 30.0 / bpm)):
        if k % 2 == 0:
            f = 55 + 105 * np.exp(-tt / 0.04)
        else:
            f = 220 * 2 ** (int(rng.integers(0, 12)) / 12) * (1 + 0.03 * np.sin(2 * np.pi * 6 * tt))
        a = int(start * sr)
        y[a:a + len(tt)] += (0.8 * np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tt / 0.05)).astype(np.float32)
    return y / np.abs(y).max()


def staccato_run(seconds: float = 14.0, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Short notes of a C major scale (80-170 ms, decaying) at random times with gaps of 30-250 ms between them: no
    note held for 200 ms, gaps as between words, no steady beat, as fast runs of a game's solo line (freedroidrpg's
    Bleostrada.ogg). Only the pitches' sitting on a scale tells it is not speech."""
    rng = np.random.default_rng(seed)
    steps = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16]
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    t = 0.0
    while t < seconds - 0.3:
        dur = float(rng.uniform(0.08, 0.17))
        note = tone(midi_hz(60 + steps[int(rng.integers(len(steps)))]), dur, sr=sr, harmonics=4)
        note *= np.exp(-np.arange(len(note)) / sr / (0.8 * dur)).astype(np.float32)
        a = int(t * sr)
        y[a:a + len(note)] += note[: len(y) - a]
        t += dur + float(rng.uniform(0.03, 0.25))
    return 0.3 * y / np.abs(y).max()


def dying_booms(seconds: float = 14.0, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A bass drum booming at 66-74 Hz and falling 4 semitones as it dies over 0.45 s, struck at uneven times
    0.45-0.9 s apart: pitched, gliding, with gaps and no steady beat (an orchestral bass drum under
    freedroidrpg's ImperialArmy.ogg). Only its pitch, under a speaking voice's, tells it is not speech."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    tt = np.arange(int(0.45 * sr)) / sr
    t = 0.0
    while t < seconds - 0.6:
        f = float(rng.uniform(66.0, 74.0)) * 2 ** (-4.0 * tt / 0.45 / 12)
        phase = 2 * np.pi * np.cumsum(f) / sr
        boom = (np.sin(phase) + 0.15 * np.sin(2 * phase)) * np.minimum(1.0, tt / 0.01) * np.exp(-tt / 0.36)
        a = int(t * sr)
        y[a:a + len(boom)] += boom[: len(y) - a].astype(np.float32)
        t += float(rng.uniform(0.45, 0.9))
    return 0.3 * y / np.abs(y).max()


def halftime_groove(bpm: float = 96.0, seconds: float = 30.0, *, sr: int = 44100, hat_hz: float = 2000.0,
                    seed: int = 0) -> np.ndarray:
    """A half-time drum groove: kick on beat 1, snare on beat 3, closed hi-hats (noise high-passed at `hat_hz`, the
    off-beat ones softer) on every eighth, (n,) float32. The hi-hats alone mark beats 2 and 4: without them the
    kick and snare alternate at half the tempo. From 2 kHz up the hi-hats are still heard at an 8 kHz rate."""
    import scipy.signal as ss

    rng = np.random.default_rng(seed)
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-t / 0.03)) / sr) * np.exp(-t / 0.12)
    noise = ss.sosfilt(ss.butter(2, [1500, min(9000, 0.45 * sr)], "bandpass", fs=sr, output="sos"),
                       rng.standard_normal(n))
    snare = 2.5 * noise * np.exp(-t / 0.07) + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    hat = 0.5 * ss.sosfilt(ss.butter(4, hat_hz, "highpass", fs=sr, output="sos"),
                           rng.standard_normal(n)) * np.exp(-t / 0.03)
    y = np.zeros(int(seconds * sr) + n)
    eighth = 60.0 / bpm / 2
    for i in range(int(seconds / eighth)):
        a = int(i * eighth * sr)
        if i % 8 == 0:
            y[a : a + n] += kick
        if i % 8 == 4:
            y[a : a + n] += snare
        y[a : a + n] += hat * (1.0 if i % 2 == 0 else 0.6)
    y = y[: int(seconds * sr)]
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def tresillo_groove(bpm: float = 120.0, *, bars: int = 24, snare: bool = True, sr: int = SR,
                    seed: int = 0) -> np.ndarray:
    """A 4/4 groove whose kick and bass fall 3 + 3 + 2 eighths apart (the tresillo), hi-hat eighths, a snare on
    the fourth and seventh eighth, and a chord a bar over I-IV-V-bIII of C: (n,)."""
    rng = np.random.default_rng(seed)
    eighth = 60.0 / bpm / 2
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)
    hit = (rng.standard_normal(n) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.06)
    hat = np.diff(rng.standard_normal(n), prepend=0.0) * np.exp(-t / 0.015) * 0.3
    y = np.zeros(int((bars * 8 * eighth + 1) * sr), dtype=np.float32)
    for b in range(bars):
        root = (0, 5, 7, 3)[b % 4]
        for k in range(8):
            a = int((b * 8 + k) * eighth * sr)
            y[a : a + n] += hat
            if k in (0, 3, 6):
                y[a : a + n] += kick
                bass = tone(midi_hz(36 + root), eighth * (3 if k < 6 else 2) * 0.9, sr=sr) * 0.5
                y[a : a + len(bass)] += bass
            if snare and k in (2, 6):
                y[a : a + n] += hit * 0.7
        chord = sum(tone(midi_hz(60 + (root + iv) % 12), 8 * eighth * 0.95, sr=sr) for iv in (0, 4, 7)) * 0.15
        a = int(b * 8 * eighth * sr)
        y[a : a + len(chord)] += chord
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


SCALE_STEPS = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16]  # a C major scale from middle C, as staccato_run's


def with_rests(sound: Callable[[np.random.Generator], np.ndarray], seed: int = 0, *,
               rest: tuple[float, float] = (0.6, 1.2), seconds: float = 20.0, sr: int = SR) -> np.ndarray:
    """`sound(rng)` (a short (n,) signal) over and over with rests of `rest` s (uniform) between: music as sparse as
    a spoken alphabet (one letter every second or so), for the speech finder's pause rule (speech_pauses.py)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    t = 0.2
    while t < seconds - 1.0:
        s = sound(rng)
        a = int(t * sr)
        y[a:a + len(s)] += s[: len(y) - a]
        t += len(s) / sr + rng.uniform(*rest)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def scale_note(rng: np.random.Generator, seconds: tuple[float, float] = (0.2, 0.5), *, sr: int = SR) -> np.ndarray:
    """One decaying note of SCALE_STEPS, `seconds` (uniform) long."""
    d = rng.uniform(*seconds)
    y = tone(midi_hz(60 + SCALE_STEPS[int(rng.integers(len(SCALE_STEPS)))]), d, sr=sr, harmonics=5)
    return y * np.exp(-np.arange(len(y)) / sr / (0.8 * d)).astype(np.float32)


def motif(rng: np.random.Generator, *, sr: int = SR) -> np.ndarray:
    """2-4 held notes of SCALE_STEPS in a row: a sounding run whose pitch spans several semitones, in steps."""
    return np.concatenate([tone(midi_hz(60 + SCALE_STEPS[int(rng.integers(len(SCALE_STEPS)))]), rng.uniform(0.2, 0.35),
                                sr=sr, harmonics=5) for _ in range(int(rng.integers(2, 5)))])


def gliding_kick(rng: np.random.Generator, *, sr: int = SR) -> np.ndarray:
    """A 0.3 s kick drum, a sine falling 160 -> 58 Hz: pitched, and gliding as a spoken word does."""
    t = np.arange(int(0.3 * sr)) / sr
    return (np.sin(2 * np.pi * np.cumsum(58 + 105 * np.exp(-t / 0.04)) / sr) * np.exp(-t / 0.08)).astype(np.float32)


def music_with_rests(seed: int = 0) -> dict[str, np.ndarray]:
    """Notes, staccato notes, sung notes and motifs of a scale and a gliding kick, each with rests between."""
    def sung(r: np.random.Generator) -> np.ndarray:
        return sung_line([60 + SCALE_STEPS[int(r.integers(len(SCALE_STEPS)))]], note_seconds=r.uniform(0.3, 0.6),
                         seed=int(r.integers(1000)), breath_every=99)
    return {"notes": with_rests(scale_note, seed),
            "staccato notes": with_rests(lambda r: scale_note(r, (0.08, 0.17)), seed, rest=(0.5, 1.2)),
            "sung notes": with_rests(sung, seed),
            "motifs": with_rests(motif, seed),
            "a kick every second": with_rests(gliding_kick, seed, rest=(0.7, 0.7)),
            "kicks at uneven times": with_rests(gliding_kick, seed, rest=(0.4, 1.4))}


def cadences_in(tonic: int, *, bars: int = 12, seconds: float = 2.0) -> list[np.ndarray]:
    """I-IV-V-I in major from pitch class `tonic`, a bass note and a triad a bar."""
    out = []
    for b in range(bars):
        root = (tonic + (0, 5, 7, 0)[b % 4]) % 12
        bar = 0.5 * tone(midi_hz(36 + root), seconds)
        for interval in (0, 4, 7):
            bar = bar + 0.3 * tone(midi_hz(60 + (root + interval) % 12), seconds)
        out.append(bar)
    return out
