"""Music analysis entry points: `analyze_music` (arrays in, dict out) and `run_pitch` (files)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from worker.audio_blocks import StreamInfo, array_blocks, mono_blocks, stream_info
from worker.audio_io import resample
from worker.audio_llm.speech import SILENCE_WARNING
from worker.errors import AudioError
from worker.files import write_json_atomic, write_text_atomic
from worker.progress import Progress, quiet

from . import beatnet, stream
from . import chroma as chroma_mod
from .chords import decode_chords_learned
from .key import NO_KEY_NOTE, drums_note, estimate_key, key_warnings, too_short_note, tuning_edge, unpitched_tuning_note
from .key_timeline import read_timeline
from .merged import RunSource, earlier_result, merge, merged_with, merging
from .midi import write_analysis_midi
from .onsets import FPS as ONSET_FPS
from .onsets import SILENCE_RMS
from .options import PitchOptions
from .plot import write_chromagram_png
from .rhythm import Rhythm, analyze_rhythm
from .short_clip import SHORT_FOR_A_KEY_SECONDS, SHORT_FOR_TUNING_SECONDS, short_harmony_note, short_tuning_note
from .speech import without_steady_beats
from .speech_results import blank_chords, notes_outside, speech_warning, spoken_key
from .summary import format_summary
from .tempo_changes import kept_tempo, tempo_change_warning, tempo_stretches

MIN_SECONDS = 0.1  # shorter input cannot hold one analysis frame worth reporting
MAX_SECONDS = 2 * 3600.0  # s; longer input is refused (the JSON's f0 contour alone would be ~40 MB)
HOLD_SECONDS = 600.0  # s; files up to this long are decoded once and held at 22.05 kHz (<= 53 MB)
# Without a key, a tempo needs a clearer pulse than the beat decoder asks of music, the more so the shorter the
# audio: a confidence of NONTONAL_MIN_TEMPO_CONFIDENCE + NONTONAL_NOISE_CONFIDENCE / sqrt(seconds), 0.2 at 4 s,
# 0.11 at 1 min, 0.09 at 10 min (the decoder's noise rule, beats.decode, in the same form). A flat 0.2, set for the
# old onset path (drum loops 0.7-1.0, white noise < 0.1), had taken the beat of a 10-minute key-less track that
# madmom and Essentia read at 120 BPM (warzone2100-music track25: 0.18 over 594 s); 4 s ambiences of a city game
# (lincity-ng-data's traffic, water, fire; 180 key-less effects of five games) reach 0.13-0.3 and are held as before.
NONTONAL_MIN_TEMPO_CONFIDENCE = 0.08
NONTONAL_NOISE_CONFIDENCE = 0.24
# Audio with no key still gets chords where HPSS calls at least this share of its energy harmonic: white noise
# and drum loops measure 0.18-0.25, a tracker march that names no key 0.50, sustained chords ~0.9
CHORDS_WITHOUT_KEY_HARMONIC_RATIO = 0.35
# pitched sound that names no key: music whose harmony moves (a cycle of major thirds), or speech, whose voiced
# syllables are as harmonic as chords (a stranger's audiobook clip had been told its "harmony" moves between keys)
HARMONY_WITHOUT_KEY_NOTE = ("the sound is pitched but names no one key (speech, or harmony that moves between keys "
                            "or by equal steps)")
# a voice glides between pitches (a stranger's 8 minutes of voicemail prompts had read "tuning +24 cents from A440")
SPEECH_TUNING_NOTE = "speech: a speaking voice keeps to no scale, so there is no tuning to read"
KEY_CHANGES_MIN_SECONDS = 60.0  # shorter pieces are reported with one key
# Speech over at least this share of the track makes it a speech track: no chords anywhere, no tempo, beats or
# metre (a prose clip had been given chords and a tempo; the finder misses a second or two at a stretch's edges
# and around long flat syllables); with less, only the speech's own stretches lose their chords
SPEECH_WHOLE_SHARE = 0.6
TITLE_WARNINGS = 2  # warnings shown in the PNG title (all are in the JSON and the .txt)
# Progress after the stages' cost (20 minutes: scan 24 %, pass 2 58 %, rhythm 13 %, files 4 %; 3 minutes 13, 49,
# 12, 17 %); the bar had stood at 0 % through the scan and given the stages after pass 2 half of it, and the time left
# from the job's rate (jobs/estimates.py) said 2 min where 50 s were left. Pass 1 ends at FEATURES_START, pass 2 at END
FEATURES_START, FEATURES_END, RHYTHM_AT, CHORDS_AT, MELODY_AT, WRITE_AT, JSON_AT = 0.2, 0.8, 0.8, 0.92, 0.93, 0.94, 0.99


@dataclass
class _Laps:
    """Seconds per stage, accumulated into `timings` (the caller's dict, if any)."""

    timings: dict = field(default_factory=dict)
    clock: float = field(default_factory=time.perf_counter)

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.clock
        self.clock = now


def analyze_music(y: np.ndarray, sr: int, *, options: PitchOptions | None = None, progress: Progress | None = None,
                  timings: dict | None = None) -> dict:
    """Key, tuning, chords, tempo/beats/downbeats/metre and melody of mono float32 `y` (n,) at `sr` Hz.

    Returns a JSON-serialisable dict with only the stages in `options.include` (plus
    "duration_seconds"). `timings`, if given, is filled with seconds per stage.
    Raises AudioError for input that cannot be analysed (shorter than MIN_SECONDS, longer
    than MAX_SECONDS, not mono); silence gives a valid result with no key, tempo or notes.
    """
    y, _ = _checked_input(y, sr)
    lap = _Laps({} if timings is None else timings)
    y22 = resample(y, orig_sr=sr, target_sr=chroma_mod.SR)
    lap("resample")
    return _analyze(lambda: array_blocks(y22, sr=chroma_mod.SR), options=options, progress=progress, lap=lap,
                    source_sr=sr, expected_seconds=len(y22) / chroma_mod.SR)[0]


def _checked_input(y: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """`y` as finite float32 and its duration; AudioError for what cannot be analysed."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError("analyze_music expects mono audio shaped (n,)", code="invalid_audio")
    if sr <= 0:
        raise AudioError(f"invalid sample rate {sr}", code="invalid_audio")
    duration = len(y) / sr
    _check_duration(duration)
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    return y, duration


def _check_duration(duration: float) -> None:
    if duration < MIN_SECONDS:
        raise AudioError(f"the audio lasts {duration:.2f} s; at least {MIN_SECONDS} s is needed for music analysis",
                         code="audio_too_short")
    if duration > MAX_SECONDS:
        raise AudioError(f"the audio lasts {duration:.0f} s; music analysis handles up to {MAX_SECONDS:.0f} s",
                         code="audio_too_long")


def _finite(blocks):
    return (b if np.all(np.isfinite(b)) else np.nan_to_num(b, nan=0.0, posinf=0.0, neginf=0.0) for b in blocks)


def _analyze(blocks: stream.Blocks, *, options: PitchOptions | None, progress: Progress | None,
             lap: _Laps, source_sr: float | None = None,
             expected_seconds: float | None = None) -> tuple[dict, chroma_mod.HarmonicFeatures]:
    """Both passes over `blocks()` (22.05 kHz mono, resampled from `source_sr` Hz), then every stage on the frame
    features. `expected_seconds`: the audio's length where known before reading it (the scan's progress)."""
    options = (options or PitchOptions()).validate()
    progress = progress or quiet
    progress(0.0, "scan")
    info = stream.scan(_finite(blocks()),
                       expected_samples=int(expected_seconds * chroma_mod.SR) if expected_seconds else None,
                       tick=lambda f: progress(FEATURES_START * f, "scan"))
    lap("scan")
    _check_duration(info.duration)
    duration = info.duration
    result: dict = {"duration_seconds": round(duration, 3), "warnings": []}
    silent = info.rms < SILENCE_RMS
    if silent:
        result["warnings"].append(SILENCE_WARNING)
    wants_rhythm = options.wants("tempo") or options.wants("beats") or options.wants("chords")
    progress(FEATURES_START, "chroma")
    feats = stream.extract(_finite(blocks()), info, onsets=wants_rhythm and not silent,
                           melody=options.wants("melody"), silent=silent, laps=lap, source_sr=source_sr,
                           tick=lambda f: progress(FEATURES_START + (FEATURES_END - FEATURES_START) * f, "chroma"))
    harmonic = feats.harmonic
    if silent:
        harmonic.harmonic_ratio = 0.0
    speech = None if silent or feats.speech is None else feats.speech
    beat_activation = None  # the beat network's output, computed here where speech needs it (rhythm reuses it)
    if speech is not None and speech.segments and feats.onsets is not None and feats.onsets.logmel is not None:
        beat_activation = beatnet.activations(feats.onsets.logmel)
        if beat_activation is not None:
            speech = without_steady_beats(speech, beat_activation[0], fps=ONSET_FPS)
    if wants_rhythm:  # silence too: the fields are there whenever chords, tempo or beats are
        result["speech_segments"] = [] if speech is None else [[a, min(b, round(duration, 3))]
                                                               for a, b in speech.segments]
        result["speech_share"] = 0.0 if speech is None else round(min(1.0, speech.share(duration)), 3)
    all_speech = speech is not None and speech.share(duration) >= SPEECH_WHOLE_SHARE
    spans = [] if speech is None else [(0.0, duration)] if all_speech else speech.segments
    listed = [] if silent or feats.melody is None else notes_outside(feats.melody.notes, spans)  # the melody's notes
    # always estimated (it is cheap): chords use it as a prior, rhythm uses it to tell noise apart
    key = _key_stage(harmonic, options, duration, result, silent=silent, all_speech=all_speech, notes=len(listed))
    lap("key")

    progress(RHYTHM_AT, "rhythm")
    rhythm = _rhythm_stage(feats, key, options, result, duration=duration, silent=silent, all_speech=all_speech,
                           activations=beat_activation)
    lap("rhythm")

    progress(CHORDS_AT, "chords")
    if options.wants("chords"):
        beats = np.zeros(0) if rhythm is None else rhythm.beat_times
        result["chords"] = _chords(harmonic, key, beats, duration, silent=silent)
        if speech is not None:
            result["chords"] = blank_chords(result["chords"], spans)
    if speech is not None and speech.segments:
        result["warnings"].insert(0, speech_warning(speech, options, duration=duration, all_speech=all_speech))
    lap("chords")

    progress(MELODY_AT, "melody")
    if options.wants("melody"):
        result["melody"] = _melody(feats.melody, silent=silent, notes=listed)
    lap("melody")
    return result, harmonic


def _key_stage(feats: chroma_mod.HarmonicFeatures, options: PitchOptions, duration: float, result: dict, *,
               silent: bool, all_speech: bool = False, notes: int = 0) -> dict:
    key = spoken_key() if all_speech else estimate_key(feats.chroma, harmonic_ratio=feats.harmonic_ratio,
                                                        bass=feats.bass, energy=feats.energy, frame_times=feats.times)
    if key["index"] is None and key.get("note") == NO_KEY_NOTE:  # "percussion, noise or silence" would misname
        key["_harmony"] = harmony = feats.harmonic_ratio >= CHORDS_WITHOUT_KEY_HARMONIC_RATIO  # chords: read
        key["note"] = (short_harmony_note if harmony else too_short_note)(duration) \
            if duration < SHORT_FOR_A_KEY_SECONDS and not silent else \
            HARMONY_WITHOUT_KEY_NOTE if harmony else drums_note(feats.harmonic_ratio) if notes else NO_KEY_NOTE
    short = key["index"] is not None and duration < SHORT_FOR_A_KEY_SECONDS
    if short:
        key["confidence"] = round(key["confidence"] * duration / SHORT_FOR_A_KEY_SECONDS, 3)
    if short and options.wants("key"):
        result["warnings"].append(f"the key is read from {duration:.1f} s of audio, too little to tell a key by "
                                  f"(a few chords are needed): take it as a guess")
    if options.wants("key"):  # over the music: silence around it does not count
        result["warnings"] += read_timeline(key, feats.chroma, feats.times, duration=duration,
                                            min_seconds=KEY_CHANGES_MIN_SECONDS)
    short_tuning = duration < SHORT_FOR_TUNING_SECONDS and not silent  # too few frames to read a tuning from
    if options.wants("key") and not (silent or short_tuning):  # after the timeline, which may rename the key
        result["warnings"] += tuning_edge(key, feats.tuning_cents)
    if options.wants("key"):
        result["key"] = {k: v for k, v in key.items() if k != "index" and not k.startswith("_")}
        result["warnings"] += key_warnings(key, silent=silent)
    if options.wants("tuning"):
        # noise and drums give the tuning scan peaks too (a stranger's white noise: "+39 cents" beside "no clear
        # key"): where nothing pitched sounds, or drums drown the few notes, the tuning is 0 and said to be none
        unpitched = None if silent else unpitched_tuning_note(key)  # NO_TUNING_NOTE, DRUMS_TUNING_NOTE, ... or None
        spoken = all_speech and key["index"] is None  # speech that a key's music does not carry
        none = silent or unpitched or spoken or short_tuning  # 0 with the note saying why, as for silence
        result["tuning_cents"] = 0.0 if none else round(feats.tuning_cents, 1)
        if none:
            result["tuning_note"] = "silence" if silent else unpitched or (
                short_tuning_note(duration) if short_tuning else SPEECH_TUNING_NOTE)
    return key


def _rhythm_stage(feats: stream.Features, key: dict, options: PitchOptions, result: dict, *,
                  duration: float, silent: bool, all_speech: bool = False,
                  activations: np.ndarray | None = None) -> Rhythm | None:
    """Tempo, beats, bars (None for silence, for noise that is neither pitched nor periodic and for speech)."""
    rhythm = None
    if feats.onsets is not None and not silent and not all_speech:
        h = feats.harmonic
        rhythm = analyze_rhythm(feats.onsets, duration=duration, chroma=h.chroma, bass=h.bass, chroma_times=h.times,
                                activations=activations)
        if key["index"] is None and rhythm.tempo_confidence < nontonal_min_confidence(duration):
            rhythm = None
    stretches = [] if rhythm is None else tempo_stretches(rhythm.beat_times, rhythm.tempo_bpm)
    kept = None if rhythm is None or rhythm.tempo_bpm is None else kept_tempo(rhythm.beat_times, stretches,
                                                                            rhythm.tempo_bpm)
    if rhythm is not None and rhythm.tempo_bpm is not None and kept is not None:
        rhythm = replace(rhythm, tempo_bpm=kept[0], warnings=[
            w for w in rhythm.warnings if not w.startswith(("tempo may be", "slow tempo"))] + [
            f"tempo: the beats keep {kept[0]:.0f} BPM over {kept[1]:.0%} of their span; the comb over the whole "
            f"track reads {rhythm.tempo_bpm:.0f} BPM"])
        stretches = tempo_stretches(rhythm.beat_times, rhythm.tempo_bpm)
    if options.wants("tempo"):
        result["tempo_bpm"] = None if rhythm is None or rhythm.tempo_bpm is None else round(rhythm.tempo_bpm, 2)
        result["tempo_confidence"] = 0.0 if rhythm is None else round(rhythm.tempo_confidence, 3)
    if options.wants("beats"):
        result["beat_times"] = [] if rhythm is None else [round(float(t), 3) for t in rhythm.beat_times]
        result["downbeat_times"] = [] if rhythm is None else [round(float(t), 3) for t in rhythm.downbeat_times]
        metre = None if rhythm is None else rhythm.time_signature
        compound = rhythm is not None and rhythm.compound
        result["time_signature"] = None if metre is None else time_signature(metre, compound=compound)
        result["beats_per_bar"] = metre
    if options.wants("tempo"):
        result["tempo_changes"] = stretches
    if rhythm is not None and (options.wants("tempo") or options.wants("beats")):
        result["warnings"] += rhythm.warnings
        if rhythm.tempo_bpm:
            result["warnings"] += tempo_change_warning(stretches, rhythm.tempo_bpm)
    elif not silent and not all_speech and (options.wants("tempo") or options.wants("beats")):
        result["warnings"].append("no steady beat found")
    return rhythm


def nontonal_min_confidence(seconds: float) -> float:
    """The tempo confidence audio with no key needs for its beat to be given."""
    return NONTONAL_MIN_TEMPO_CONFIDENCE + NONTONAL_NOISE_CONFIDENCE / float(np.sqrt(max(seconds, 1.0)))


def time_signature(beats_per_bar: int, *, compound: bool) -> str:
    """4 -> "4/4", 3 -> "3/4"; compound: 2 -> "6/8", 3 -> "9/8", 4 -> "12/8" (the beat is a dotted
    quarter)."""
    return f"{3 * beats_per_bar}/8" if compound else f"{beats_per_bar}/4"


def _chords(feats: chroma_mod.HarmonicFeatures, key: dict, beats: np.ndarray, duration: float, *,
            silent: bool) -> list[dict]:
    if silent or (key["index"] is None and not key.get("_harmony")):
        # no tonal centre in drums or noise, no harmony in one pitch class: chord labels would be noise too
        return [{"start": 0.0, "end": round(duration, 3), "label": "N"}]
    # no key but plainly harmonic (a cycle of major thirds, a tune that wanders): chords without a key's prior
    return decode_chords_learned(feats.chroma, feats.bass, feats.energy, feats.times, beats,
                                 duration=duration, key_index=key["index"])


def _melody(mel, *, silent: bool, notes: list[dict]) -> dict:
    """notes: the tracker's outside speech (a speaking voice's "notes" are guesses; its f0 contour stays)."""
    if silent:
        mel.voiced[:] = False
        mel.notes = []
    return {
        "notes": notes,
        "f0": {"hop_seconds": round(mel.hop_seconds, 6), "start_seconds": 0.0,
               "hz": [round(float(f), 2) for f in mel.f0_hz],
               "voiced": [bool(v) for v in mel.voiced]},
    }


def run_pitch(*, audio_path: Path, results_dir: Path, options: PitchOptions, progress: Progress | None = None,
              source: RunSource | None = None) -> dict:
    """Analyse one audio file and write pitch_<stem>.json/.txt/.mid/.png into `results_dir`.

    Returns what this run computed, with "filename", "duration_seconds" and "files" (names written). The files hold
    that merged with the earlier result of the same upload (`source`: the job and the upload's digest; merged.py):
    the stages this run did not report are kept, and the result's `merged_with` names them. The .mid is written
    when the files hold the melody. Files appear only once the analysis has finished; the JSON is written last,
    and if anything fails while writing (or `progress` raises JobCanceled) the files already written go.
    """
    options = options.validate()
    progress = progress or quiet
    audio_path, results_dir = Path(audio_path), Path(results_dir)
    progress(0.0, "load")
    info = stream_info(audio_path)  # read once: the blocks' source and the rate the beat network is told of
    result, feats = _analyze(_file_blocks(audio_path, info=info), options=options, progress=progress, lap=_Laps(),
                             source_sr=info.sample_rate, expected_seconds=(info.frames or 0) / info.sample_rate)
    result = {"filename": audio_path.name, **result}
    stem = f"pitch_{audio_path.stem}"
    source = source or RunSource()
    progress(WRITE_AT, "write")
    json_path = results_dir / f"{stem}.json"
    with merging(json_path, source):  # read the earlier result and write, one run at a time
        held, kept = merge(result, earlier_result(json_path, audio_path, source), source)
        names = {"png": f"{stem}.png", "txt": f"{stem}.txt", "json": f"{stem}.json"}
        if "melody" in held:
            names["mid"] = f"{stem}.mid"
        result["files"] = sorted(names.values())
        if kept:
            result["merged_with"] = merged_with(held, kept)
        _write_pitch_files(results_dir, names, {**held, "files": result["files"]}, feats, progress)
    return result


def _file_blocks(audio_path: Path, *, hold_seconds: float = HOLD_SECONDS,
                 info: StreamInfo | None = None) -> stream.Blocks:
    """A source of 22.05 kHz mono blocks of the file: decoded once and held when it is short (the
    usual case: no second decode), decoded again for each pass when it is long (bounded memory).
    `info`: the file's stream_info where the caller has read it."""
    info = info if info is not None else stream_info(audio_path)
    if info.frames is not None and info.frames / info.sample_rate > hold_seconds:
        _check_duration(info.frames / info.sample_rate)
        return lambda: mono_blocks(audio_path, target_sr=chroma_mod.SR)
    held: list[np.ndarray] = []
    n = 0
    for block in mono_blocks(audio_path, target_sr=chroma_mod.SR):
        held.append(block)
        n += len(block)
        if n > hold_seconds * chroma_mod.SR:
            held = []
            return lambda: mono_blocks(audio_path, target_sr=chroma_mod.SR)
    y22 = np.concatenate(held) if held else np.zeros(0, dtype=np.float32)
    return lambda: array_blocks(y22, sr=chroma_mod.SR)


def _write_pitch_files(results_dir: Path, names: dict[str, str], result: dict,
                       feats: chroma_mod.HarmonicFeatures, progress: Progress) -> None:
    """PNG, MIDI, text, then the JSON last; on any failure the files already written are removed."""
    written: list[Path] = []
    try:
        path = results_dir / names["png"]
        write_chromagram_png(path, chroma=feats.chroma, frame_seconds=chroma_mod.HOP / chroma_mod.SR,
                             duration=result["duration_seconds"], chords=result.get("chords"),
                             beat_times=result.get("beat_times"), downbeat_times=result.get("downbeat_times"),
                             title=_title(result))
        written.append(path)
        if "mid" in names:
            path = results_dir / names["mid"]
            write_analysis_midi(path, notes=result["melody"]["notes"], chords=result.get("chords"),
                                beat_times=result.get("beat_times"), downbeat_times=result.get("downbeat_times"),
                                tempo_bpm=result.get("tempo_bpm"), time_signature=result.get("time_signature"))
            written.append(path)
        path = results_dir / names["txt"]
        write_text_atomic(path, format_summary(result))
        written.append(path)
        progress(JSON_AT, "write")
        path = results_dir / names["json"]
        write_json_atomic(path, result)
        written.append(path)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise


def _title(result: dict) -> str:
    parts = [result["filename"]]
    key = result.get("key")
    if key:
        parts.append(f"{key['label']} ({key['confidence']:.2f})")
    if result.get("tempo_bpm"):
        parts.append(f"{result['tempo_bpm']:.0f} BPM ({result.get('tempo_confidence', 0.0):.2f})")
    if result.get("time_signature"):
        parts.append(result["time_signature"])
    title = "  |  ".join(parts)
    warnings = result.get("warnings") or []
    if warnings:
        title += "\nwarning: " + "; ".join(warnings[:TITLE_WARNINGS])
    return title
