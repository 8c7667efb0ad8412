"""Speech without music: where the audio is someone talking, so chords and beats are not read into it.

Voiced syllables are as harmonic as chords and their durations overlap chord durations, so neither the
harmonic share nor a duration rule tells speech from music. What does, combined over 2 s windows:
- pitch that is not held: a sung or played note keeps its pitch within a few tens of cents for 200 ms and
  more, a speaking voice glides (a short-lag autocorrelation gives the pitch of each 46 ms frame);
- gaps: between words and phrases the level drops well below the voice's, where a music bed would fill them;
- little loud unpitched sound: drums and noise between the syllables mean a beat or a bed, not speech.
A window is speech when all hold; the decisions are smoothed and only stretches of MIN_SPEECH_SECONDS or
more are kept, as a false "speech" on music (chords removed) costs more than speech left unnamed; a file shorter
than SHORT_CLIP_SECONDS (a lone prompt) is also judged as a whole, with a stricter voicing test, and a clip of
0.75 s up to one window (a one-word prompt, a game's voice line) is one window spanning it, judged so with a
stricter gap test: on bench/speech_check.py --single, of the prompts of 0.5-2 s 33 % (English) and 16 % (Spanish)
are now speech, where that test was chosen, and 28 % (French), 6 % (Russian) and 14-18 % of MegaGlest's unit
voice lines, held out, where none could be before; no 0.5-2 s piece of music (0 of 1,165) is called speech. Last, a
stretch with a steady beat is music (`without_steady_beats`): synth drums are pitched and glide (an 808-style
kick is a falling sine), and staccato arpeggios leave gaps, so a stranger's game track (frozen-bubble's
introzik.ogg) passed every test above for 14 s; speech has no beat period, which the beat network's activation
over the stretch shows (bench/speech_check.py prints the figures). Nor is a stretch whose pitches sit on a scale or
under a voice's range (`sounds_like_notes`): fast staccato runs at uneven times and a gliding bass drum passed every
test above in a stranger's freedroidrpg tracks. Speech with long pauses between its words (a spoken alphabet: every
window over MAX_DIPS in gaps) is judged again with its pauses cut short (speech_pauses.py, find_speech).

The thresholds were chosen on espeak-ng prose, recorded prompts (asterisk-core-sounds-en, Allison) and
spoken words (ktuberling-data), against game soundtracks (wesnoth, colobot), the rendered music test set
(bench/pitch_testset.py: songs, their solo lead lines, chorales) and the synthetic music of the tests (sung
vibrato over chords, a cappella lines, drums, riffs, speech over drums or chords), so that none of that music
was called speech for as long as MIN_SPEECH_SECONDS; bench/speech_check.py prints the figures.

Memory: three float32 values per 23 ms frame (~30 kB per minute of audio); CPU ~0.04 s per minute of audio (0.01 of it
the pause rule's, speech_pauses.py; bench/speech_check.py on the rendered test set, 0.034 -> 0.044).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi

from .chroma import SR
from .speech_pauses import gliding_words, in_original_time, joined_frames, merged

WIN = 1024  # samples (46 ms at 22.05 kHz): a few pitch periods, short enough that a glide stays one pitch
HOP = 512  # samples (23 ms) between frames
FPS = SR / HOP
DECIMATE = 2  # everything is read at 11.025 kHz (push() averages pairs of samples): a quarter of the FFT work
PITCH_SR = SR / DECIMATE
FMIN, FMAX = 60.0, 1000.0  # Hz, the pitch range searched (voices and most melodic instruments)
LAG_LO, LAG_HI = int(PITCH_SR / FMAX), int(PITCH_SR / FMIN)  # samples at PITCH_SR
ACTIVE_DB = 40.0  # frames within this of the track's loud level (its 95th percentile) count as sounding
PEAK_SHARE = 0.9  # of the highest autocorrelation peak: a shorter lag's peak this high is the period
VOICED_CORRELATION = 0.5  # normalised autocorrelation at the pitch lag above which a frame is pitched
HELD_FRAMES = 9  # frames (209 ms) a note must keep its pitch to count as held
HELD_CENTS = 60.0  # cents: the pitch range allowed over HELD_FRAMES (octave jumps of the estimate do not count)
WINDOW_SECONDS = 2.0  # s, the stretch each decision looks at
STEP_SECONDS = 0.5  # s between decisions
DIP_DB = 15.0  # dB below the window's loud level (90th percentile) that counts as a gap between words
# A window is speech when: pitched for at least MIN_VOICED of its time, at most MAX_HELD of that pitched time in
# held notes, gaps between MIN_DIPS and MAX_DIPS of its time (music with gaps that long is sparse, staccato
# electronics), and at most MAX_UNPITCHED of its energy in loud unpitched sound (drums, noise)
MIN_VOICED = 0.3
MAX_HELD = 0.1
MIN_DIPS, MAX_DIPS = 0.2, 0.65
MAX_UNPITCHED = 0.1
SMOOTH_WINDOWS = 5  # decisions (2.5 s) in the median that smooths them
MIN_SPEECH_SECONDS = 4.0  # s, shorter speech-like stretches are left as music
# A clip shorter than SHORT_CLIP_SECONDS (a lone telephone prompt, a voicemail greeting, a game's voice line) is
# also judged as a whole: speech from end to end when every window passes the tests above with at least
# SHORT_MIN_VOICED pitched and SHORT_MIN_DIPS in gaps, and its beat activation stays under STEADY_BEAT_FLOOR
# (without_steady_beats). A single prompt is read without pauses, so its windows have fewer gaps than MIN_DIPS, and
# under 4 s no stretch could reach MIN_SPEECH_SECONDS: a stranger's 4.6 s French prompt had been given chords.
# Chosen on the fit part of bench/speech_check.py --single (Asterisk en/es prompts of 1.5-8 s against 2-8 s pieces of
# game music, synthetic music and rendered solo lines): music that passes the window tests with fewer voiced
# frames (0.69-0.72: a sung line with 50-cent vibrato, speech over a drum loop, a stretch of supertuxkart) or with
# gaps under 0.1 was not kept apart by its beat alone
SHORT_CLIP_SECONDS = 8.0
SHORT_MIN_VOICED = 0.75
SHORT_MIN_DIPS = 0.1
# A clip of SUB_WINDOW_MIN_SECONDS up to one window (a game's voice line, a one-word prompt: none could be speech
# before, as every test looks at whole windows; a 2.0 s clip is a frame short of one) is one window spanning it,
# judged as a whole as above but with at least SUB_WINDOW_MIN_DIPS of it in gaps. Chosen on the fit part of
# bench/speech_single.py (Asterisk en/es prompts of 0.5-2 s against 0.5-2 s pieces of its fit music;
# bench/speech_single_dump.py writes each clip's tests): the most prompts found (158 of 630) with no piece of that
# music called speech; a gap share of 0.15 found 191 but let 2 s of frozen-bubble's lose.ogg through (0.18), 0.10
# found 235 and five pieces (1-2 s of that jingle, speech over a drum loop, 1.5 s of a supertuxkart track). Pieces of
# 0.5 s are one or two notes that pass these tests as a word does: from 0.5 s on, no thresholds that kept all of that
# music out found more than 95 prompts, so a shorter clip is left as it was, not speech
SUB_WINDOW_MIN_SECONDS = 0.75
SUB_WINDOW_MIN_DIPS = 0.2


# A stretch whose beat activation repeats at a beat period this strongly is music: the normalised autocorrelation's
# highest peak at lags of BEAT_LAGS_SECONDS must reach max(STEADY_BEAT_FLOOR, STEADY_BEAT_AT_ONE_SECOND / sqrt(its
# length in s)): a short stretch's chance peaks are higher. Chosen on speech (Asterisk prompts en/es/ru, KTuberling
# words, espeak-ng prose cut into 4, 6 and 10 s pieces: highest 0.44, 0.36 and 0.29) and the one music stretch
# called speech (introzik.ogg 25.6-39.8 s: 0.48 over it, 0.40-0.57 over each 4 s of it); a floor of 0.35 took a
# 6.8 s stretch of Asterisk's Spanish prompts for music
BEAT_LAGS_SECONDS = (0.25, 1.5)  # beat periods of 240 to 40 BPM
STEADY_BEAT_FLOOR = 0.40
STEADY_BEAT_AT_ONE_SECOND = 0.9

# A stretch whose pitch sits on a scale or below a voice is music, however it glides and pauses. Notes of a tune,
# however short, sit at whole semitones from one tuning, a speaking voice anywhere between: the Rayleigh statistic
# n * R^2 of the voiced frames' pitch taken modulo a semitone (R the length of their mean phase vector) reads 0.8-4.0
# on every speech stretch of bench/speech_check.py's sources and 30-41 on the music stretches that passed every
# test above (frozen-bubble's introzik.ogg, freedroidrpg's Bleostrada.ogg: fast staccato runs with no steady
# beat); the threshold sits between, in log terms. And a voice speaks above LOW_VOICE_HZ nearly always (at most 12 %
# of the voiced frames of those speech stretches, a child's and a deep voice's included), where an orchestral bass
# drum that booms at 60-70 Hz and glides as it dies (freedroidrpg's ImperialArmy.ogg, 60 % of the frames) passes the
# glide and gap tests. Stretches only: a single word's pitch (a whole clip) may hold within one semitone
SCALE_RAYLEIGH_MIN = 11.0
LOW_VOICE_HZ = 75.0
LOW_VOICE_SHARE = 0.35


@dataclass(frozen=True)
class Speech:
    segments: list[tuple[float, float]]  # [(start, end)] s
    seconds: float  # total length of the segments
    whole_clip: bool = False  # a short clip found speech as a whole (SHORT_CLIP_SECONDS)

    def share(self, duration: float) -> float:
        return self.seconds / duration if duration > 0 else 0.0


class SpeechScan:
    """Push mono 22.05 kHz blocks (in any sizes), then `finish()` for the speech stretches."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, dtype=np.float32)  # at PITCH_SR
        self._odd = np.zeros(0, dtype=np.float32)  # a sample left over from halving the rate
        self._frames: list[np.ndarray] = []  # (3, k) float32: power, pitch correlation, pitch in cents
        n = WIN // DECIMATE
        window = np.hanning(n).astype(np.float32)
        self._window = window
        # the window's own autocorrelation: dividing by it keeps long lags from being favoured less
        self._window_acf = np.correlate(window, window, "full")[n - 1 : n + LAG_HI + 1].astype(np.float32)

    def push(self, block: np.ndarray) -> None:
        raw = np.concatenate([self._odd, np.asarray(block, dtype=np.float32)])
        even = len(raw) - len(raw) % DECIMATE
        self._odd = raw[even:]
        # pairs of samples averaged: a crude low-pass, enough for the pitch, at a quarter of the FFT work
        low = 0.5 * (raw[0:even:2] + raw[1:even:2])
        self._buf = np.concatenate([self._buf, low])
        win, hop = WIN // DECIMATE, HOP // DECIMATE
        k = (len(self._buf) - win) // hop + 1 if len(self._buf) >= win else 0
        if k <= 0:
            return
        frames = np.lib.stride_tricks.sliding_window_view(self._buf, win)[::hop][:k]
        self._frames.append(_frame_stats(frames, self._window, self._window_acf))
        self._buf = self._buf[k * hop :]

    def finish(self) -> Speech:
        stats = np.concatenate(self._frames, axis=1) if self._frames else np.zeros((3, 0), np.float32)
        self._frames = []
        return find_speech(stats[0], stats[1], stats[2])


def _frame_stats(frames: np.ndarray, window: np.ndarray, window_acf: np.ndarray) -> np.ndarray:
    import scipy.fft

    power = np.einsum("ij,ij->i", frames, frames) / frames.shape[1]
    # zero padded past the longest lag: a linear, not circular, autocorrelation
    spec = scipy.fft.rfft(frames * window, n=scipy.fft.next_fast_len(frames.shape[1] + LAG_HI + 2, real=True),
                          axis=1)
    acf = scipy.fft.irfft(spec.real ** 2 + spec.imag ** 2, axis=1)[:, : LAG_HI + 2] / window_acf
    r = acf / (acf[:, :1] + 1e-12)
    rows = np.arange(len(r))
    # the shortest lag that is a peak nearly as high as the highest: a steady tone correlates as well at two or
    # three periods as at one, and taking the highest of those made a violin's held note jump by fifths and octaves
    seg = r[:, LAG_LO - 1 : LAG_HI + 1]
    mid = seg[:, 1:-1]
    peaks = (mid >= seg[:, :-2]) & (mid >= seg[:, 2:]) & (mid >= PEAK_SHARE * mid.max(axis=1, keepdims=True))
    lag = np.where(peaks.any(axis=1), np.argmax(peaks, axis=1), np.argmax(mid, axis=1)) + LAG_LO
    a, b, c = r[rows, lag - 1], r[rows, lag], r[rows, lag + 1]
    d = a - 2 * b + c  # parabolic interpolation of the peak: the lag in fractions of a sample
    offset = np.where(d < 0, 0.5 * (a - c) / np.where(d < 0, d, -1.0), 0.0)
    cents = 1200.0 * np.log2(PITCH_SR / (lag + np.clip(offset, -1.0, 1.0)) / 440.0)
    return np.stack([power, b, cents]).astype(np.float32)


def _held(cents: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Voiced frames inside a run of HELD_FRAMES voiced frames whose pitch stays within HELD_CENTS (the pitch
    compared modulo an octave: the estimate's octave slips on a held note are not movement)."""
    out = np.zeros(len(cents), dtype=bool)
    if len(cents) < HELD_FRAMES:
        return out
    runs = np.lib.stride_tricks.sliding_window_view(cents, HELD_FRAMES)
    rel = (runs - runs[:, :1] + 600.0) % 1200.0 - 600.0
    ok = np.lib.stride_tricks.sliding_window_view(voiced, HELD_FRAMES).all(axis=1)
    ok &= rel.max(axis=1) - rel.min(axis=1) <= HELD_CENTS
    for j in range(HELD_FRAMES):
        out[j : j + len(ok)] |= ok
    return out & voiced


def _levels(power: np.ndarray) -> np.ndarray:
    """Frame levels in dB."""
    return 10.0 * np.log10(power.astype(np.float64) + 1e-12)


def _sounding(db: np.ndarray) -> np.ndarray:
    """Frames that sound: within ACTIVE_DB of the loud level (the 95th percentile)."""
    return db > np.percentile(db, 95) - ACTIVE_DB


def _voiced(db: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """Frames that sound and are pitched."""
    return _sounding(db) & (correlation > VOICED_CORRELATION)


def sounds_like_notes(cents: np.ndarray) -> bool:
    """Whether pitches (cents from A440, one per voiced frame) sit on a scale (SCALE_RAYLEIGH_MIN) or mostly under
    a voice's range (LOW_VOICE_SHARE): music, not speech."""
    if len(cents) == 0:
        return False
    phase = np.exp(2j * np.pi * np.asarray(cents, dtype=np.float64) / 100.0)
    rayleigh = len(cents) * abs(phase.mean()) ** 2
    low = np.mean(cents < 1200.0 * np.log2(LOW_VOICE_HZ / 440.0))
    return bool(rayleigh >= SCALE_RAYLEIGH_MIN or low >= LOW_VOICE_SHARE)


@dataclass(frozen=True)
class Windows:
    """The window tests of find_speech, one value per window (a clip shorter than a window: one window, the clip)."""
    starts: np.ndarray  # first frame of each window
    width: int  # frames per window
    voiced: np.ndarray  # share of the window's frames pitched
    held: np.ndarray  # share of its pitched frames in held notes
    dips: np.ndarray  # share of its frames in gaps (DIP_DB under its loud level)
    unpitched: np.ndarray  # share of its sounding energy in unpitched frames

    def talking(self) -> np.ndarray:
        return (self.held <= MAX_HELD) & (self.dips <= MAX_DIPS) & (self.unpitched <= MAX_UNPITCHED)


def window_tests(power: np.ndarray, correlation: np.ndarray, cents: np.ndarray, *,
                 spoken: np.ndarray | None = None) -> Windows | None:
    """The tests of each WINDOW_SECONDS window every STEP_SECONDS; a clip of SUB_WINDOW_MIN_SECONDS up to a window
    is one window spanning it; None for shorter or silent audio. `spoken`: frames whose held pitch is no note (the
    held vowel of a word that glides, speech_pauses.gliding_words)."""
    n = len(power)
    width, step = int(WINDOW_SECONDS * FPS), int(STEP_SECONDS * FPS)
    if n < width:
        width = n
    if (n + WIN / HOP) / FPS < SUB_WINDOW_MIN_SECONDS or not np.any(power > 0):
        return None
    db = _levels(power)
    active = _sounding(db)
    voiced = active & (correlation > VOICED_CORRELATION)
    unspoken = np.ones(n, dtype=bool) if spoken is None else ~spoken  # frames outside a word that glides
    held = _held(cents, voiced) & unspoken
    starts = np.arange(0, n - width + 1, step)

    # per-window sums through cumulative sums: no Python loop over the windows' frames
    def window_sum(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
        return c[starts + width] - c[starts]

    n_voiced = window_sum(voiced)
    windows = np.lib.stride_tricks.sliding_window_view(db, width)[starts]
    loud = np.percentile(windows, 90, axis=1)
    return Windows(starts=starts, width=width, voiced=n_voiced / width,
                   held=window_sum(held) / np.maximum(n_voiced, 1),
                   dips=np.mean(windows < (loud - DIP_DB)[:, None], axis=1),
                   unpitched=window_sum(power * (active & ~voiced & unspoken)) / (
                       window_sum(power * active) + 1e-12))


def find_speech(power: np.ndarray, correlation: np.ndarray, cents: np.ndarray) -> Speech:
    """Speech stretches from per-frame power, pitch correlation and pitch (frames every HOP samples): as the frames
    are, and with the pauses between words cut short (speech_pauses.py: speech with long pauses, such as a spoken
    alphabet, has too much gap in each window)."""
    found = _find_speech(power, correlation, cents)
    joined = None if found.whole_clip else joined_frames(_levels(power), fps=FPS, dip_db=DIP_DB, quiet_db=ACTIVE_DB)
    if joined is None:
        return found
    # a pitch heard in a pause is not the voice's (mains hum: a French alphabet's 100 and 200 Hz read as 9 s of one
    # held pitch, a scale to sounds_like_notes): pause frames count as unpitched, their sound (drums, a bed) stays
    frames, pause = joined
    end = (len(power) + WIN / HOP) / FPS
    power, correlation, cents = power[frames], np.where(pause, 0.0, correlation[frames]), cents[frames]
    # a letter's name may hold its vowel as a note is held, but the word around it glides (a note wavers within a
    # semitone, vibrato included): its held frames are not counted as notes
    spoken = gliding_words(pause, cents, _voiced(_levels(power), correlation), fps=FPS)
    sparse = _find_speech(power, correlation, cents, whole=False, spoken=spoken)
    if not sparse.segments:
        return found
    segments = merged(found.segments, in_original_time(sparse.segments, frames, fps=FPS, end=end))
    return Speech(segments, round(sum(b - a for a, b in segments), 2))


def _find_speech(power: np.ndarray, correlation: np.ndarray, cents: np.ndarray, *, whole: bool = True,
                 spoken: np.ndarray | None = None) -> Speech:
    """find_speech on the frames as they are; `whole`: a short clip may be judged as a whole (SHORT_CLIP_SECONDS);
    `spoken` as for window_tests."""
    n = len(power)
    w = window_tests(power, correlation, cents, spoken=spoken)
    if w is None:
        return Speech([], 0.0)
    talking = w.talking()
    end = (n + WIN / HOP) / FPS  # s, the audio's end as _segments reckons it
    sub_window = n < int(WINDOW_SECONDS * FPS)
    if whole and end < SHORT_CLIP_SECONDS and (_spoken_whole(w, sub_window=sub_window)
                                     or _spoken_whole(_sounding_part(power, correlation, cents))):
        return Speech([(0.0, round(end, 2))], round(end, 2), whole_clip=True)
    if sub_window:  # shorter than MIN_SPEECH_SECONDS: no stretch of it can be kept
        return Speech([], 0.0)
    speech = talking & (w.voiced >= MIN_VOICED) & (w.dips >= MIN_DIPS)
    if len(speech) >= SMOOTH_WINDOWS:
        speech = ndi.median_filter(speech.astype(np.uint8), SMOOTH_WINDOWS, mode="nearest").astype(bool)
    segments, _ = _segments(speech, w.starts, w.width, n)
    voiced = _voiced(_levels(power), correlation)
    kept = []
    for a, b in segments:
        lo, hi = int(a * FPS), int(b * FPS)
        if not sounds_like_notes(cents[lo:hi][voiced[lo:hi]]):
            kept.append((a, b))
    return Speech(kept, round(sum(b - a for a, b in kept), 2))


def _spoken_whole(w: Windows | None, *, sub_window: bool | None = None) -> bool:
    """Whether every window of a short clip passes the whole-clip tests (SHORT_MIN_VOICED, the gap shares)."""
    if w is None:
        return False
    if sub_window is None:
        sub_window = len(w.starts) == 1 and w.width < int(WINDOW_SECONDS * FPS)
    min_dips = SUB_WINDOW_MIN_DIPS if sub_window else SHORT_MIN_DIPS
    return bool(np.all(w.talking() & (w.voiced >= SHORT_MIN_VOICED) & (w.dips >= min_dips)))


def _sounding_part(power: np.ndarray, correlation: np.ndarray, cents: np.ndarray) -> Windows | None:
    """The window tests of a clip without its quiet ends (frames under ACTIVE_DB below its loud level before the
    first sound and after the last): a recorded line starts and ends in room tone, whose frames count as unvoiced, so
    a game's spoken lines failed SHORT_MIN_VOICED in their first or last window (fillets-ng's Dutch dialogue: 11 %
    of the lines under 8 s told speech as they are, 41 % judged on their sounding part; the threshold is the window
    tests' own measure of a sounding frame, not chosen on them)."""
    sounding = np.nonzero(_sounding(_levels(power)))[0]
    if len(sounding) == 0 or (sounding[0] == 0 and sounding[-1] == len(power) - 1):
        return None  # nothing to trim: judged as it is already
    lo, hi = int(sounding[0]), int(sounding[-1]) + 1
    return window_tests(power[lo:hi], correlation[lo:hi], cents[lo:hi])


def _segments(speech: np.ndarray, starts: np.ndarray, width: int, n: int) -> tuple[list[tuple[float, float]], float]:
    """Runs of speech windows as (start, end) s, each window standing for its middle STEP_SECONDS (the first
    and last reach the ends of the audio); runs shorter than MIN_SPEECH_SECONDS are dropped."""
    half = (width - int(STEP_SECONDS * FPS)) // 2
    out: list[tuple[float, float]] = []
    edges = np.diff(np.concatenate([[0], speech.astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True):
        lo = 0 if a == 0 else starts[a] + half
        hi = n + WIN / HOP if b == len(speech) else starts[b - 1] + width - half
        t0, t1 = lo / FPS, hi / FPS
        if t1 - t0 >= MIN_SPEECH_SECONDS:
            out.append((round(float(t0), 2), round(float(t1), 2)))
    return out, round(sum(b - a for a, b in out), 2)


def beat_periodicity(beat_activation: np.ndarray, *, fps: float) -> float:
    """How strongly `beat_activation` (frames at `fps`) repeats at a beat period: the highest peak of its normalised
    autocorrelation over BEAT_LAGS_SECONDS (0 for a flat or too short stretch)."""
    a = np.asarray(beat_activation, dtype=np.float64)
    a = a - a.mean()
    lo, hi = int(BEAT_LAGS_SECONDS[0] * fps), min(int(BEAT_LAGS_SECONDS[1] * fps), len(a) // 2)
    energy = float(a @ a)
    if hi <= lo or energy <= 0.0:
        return 0.0
    return max(float(a[:-lag] @ a[lag:]) / energy for lag in range(lo, hi + 1))


def without_steady_beats(speech: Speech, beat_activation: np.ndarray, *, fps: float) -> Speech:
    """`speech` without its stretches that have a steady beat (music whose drums and notes passed for speech)."""
    kept = []
    for a, b in speech.segments:
        part = beat_activation[int(a * fps):int(b * fps)]
        # a short clip judged as a whole has the floor: its chance peaks are no higher than a long stretch's
        # (Asterisk's en/es prompts that pass its tests: 94 % under 0.40; the music that passes them: 0.54 and more)
        bar = STEADY_BEAT_FLOOR if speech.whole_clip else max(STEADY_BEAT_FLOOR,
                                                               STEADY_BEAT_AT_ONE_SECOND / np.sqrt(max(b - a, 1e-9)))
        if beat_periodicity(part, fps=fps) < bar:
            kept.append((a, b))
    if len(kept) == len(speech.segments):
        return speech
    return Speech(kept, round(sum(b - a for a, b in kept), 2), whole_clip=speech.whole_clip and bool(kept))
