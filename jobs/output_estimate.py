"""How many bytes a job will write into its session, estimated before it is queued (USER_STORAGE_MB, api/quota.py).

What it is told: the job's type and options, and for each upload it reads what the upload route measured of the
file (its description, storage.upload_description: `frames`, `sample_rate`, `channels`, `duration_seconds`), or
only the upload's size where a description is missing (an upload of an older version). Nothing is decoded here.

Audio results are most of it and predictable: a stem is written at the upload's own rate and channels
(worker/separation/streams.py), as 32-bit float WAV, 24-bit FLAC or 320 kbit/s MP3 (worker/audio_writers.py), so a
separation writes (stems) x (frames x channels x bytes per sample): WAV stems to within a header. The other results
(JSON, text, a picture, a MIDI file) are small and bounded by a fixed part per file and a part per second of audio
(the pitch JSON carries its f0 curve, ~3 KB a second; the features picture is 0.25-0.6 MB whatever the length).
Measured on real recordings (bench/output_estimate.py, ratios in the README's quota section): the estimate is at
or a little above what is written; FLAC stems, whose compression depends on the music, count 75 % of 24-bit PCM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

WAV_SAMPLE_BYTES = 4  # the stems' WAV is 32-bit float: it never clips a stem that exceeds full scale
FLAC_SAMPLE_BYTES = 3 * 0.75  # 24-bit FLAC: separated stems measured at 33-70 % of 24-bit PCM
MP3_BYTES_PER_SECOND = 320_000 // 8  # constant bit rate, whatever the channels
AUDIO_FILE_OVERHEAD = 4096  # a header (WAV's PEAK chunk, FLAC's seek table, ...)
MUSICGEN_RATE = 32_000  # every MusicGen checkpoint offered writes 32 kHz mono
FALLBACK_EXPANSION = 12  # an upload without a description: a stem is taken as 12 x its bytes (compressed -> float)
# results that are not audio: (bytes per file, bytes per second of the file's audio); measured, then rounded up
SMALL_RESULTS: dict[str, tuple[int, int]] = {
    "features": (650_000, 0),  # json and txt (4 KB each) and the overview picture: 0.25-0.6 MB, whatever the length
    "pitch": (100_000, 3_600),  # json with the f0 curve (~3 KB/s), txt, chromagram picture (50-115 KB), MIDI
    "whisper": (64_000, 1_000),  # json with word times, txt, srt, vtt, lrc
}
FEATURES_WITHOUT_PICTURE = 16_000
TEXT_RESULT_BYTES = 64_000  # an LLM job's json and txt (gemma_3n, lyrics, compare): bounded by its tokens
TOKEN_BYTES = 16  # a token in the txt and again, escaped, in the json
DEFAULT_RESULT_BYTES = 1_000_000  # a job type this table does not know: a bound, not a measure


def stem_count(options: Mapping[str, Any]) -> int:
    """The stems a separation writes: two for two_stems or a DSP method (hpss, repet), six for a 6-source
    Demucs model (htdemucs_6s), four for the others."""
    model = str(options.get("model") or "htdemucs")
    if options.get("two_stems") or model in ("hpss", "repet"):
        return 2
    return 6 if "6s" in model else 4


def audio_bytes(upload: Mapping[str, Any], audio_format: str = "wav") -> int:
    """One audio file written at the upload's rate and channels in `audio_format` (wav, flac, mp3)."""
    seconds, samples = _seconds(upload), _samples(upload)
    if samples is None:  # no description: from the upload's size
        return int(upload.get("bytes") or 0) * FALLBACK_EXPANSION + AUDIO_FILE_OVERHEAD
    if audio_format == "mp3":
        return int(seconds * MP3_BYTES_PER_SECOND) + AUDIO_FILE_OVERHEAD
    per_sample = FLAC_SAMPLE_BYTES if audio_format == "flac" else WAV_SAMPLE_BYTES
    return int(samples * per_sample) + AUDIO_FILE_OVERHEAD


def estimate_output_bytes(job_type: str, options: Mapping[str, Any], uploads: Sequence[Mapping[str, Any]]) -> int:
    """The bytes a job of `job_type` with `options` (its stored options' dict) writes into its session for
    `uploads` (one description per file it reads; `bytes` alone where there is none). Never 0."""
    if job_type == "demucs":
        stems = stem_count(options)
        return sum(stems * audio_bytes(u, str(options.get("format") or "wav")) for u in uploads) or 1
    if job_type == "musicgen":
        seconds = float(options.get("duration_seconds") or 10.0)
        wav = int(seconds * MUSICGEN_RATE) * WAV_SAMPLE_BYTES + AUDIO_FILE_OVERHEAD
        mp3 = int(seconds * MP3_BYTES_PER_SECOND) + AUDIO_FILE_OVERHEAD if options.get("mp3") else 0
        return wav + mp3 + TEXT_RESULT_BYTES
    if job_type in SMALL_RESULTS:
        fixed, per_second = SMALL_RESULTS[job_type]
        if job_type == "features" and options.get("picture") is False:
            fixed = FEATURES_WITHOUT_PICTURE
        total = sum(fixed + int(per_second * _seconds(u)) for u in uploads)
        if job_type == "whisper" and options.get("source") == "vocals":  # separated first (two stems, WAV)
            total += sum(2 * audio_bytes(u) for u in uploads)
        return total or 1
    if job_type in ("gemma_3n", "lyrics", "compare"):
        text = TEXT_RESULT_BYTES + TOKEN_BYTES * int(options.get("max_new_tokens") or 1024)
        return text if job_type == "compare" else text * max(len(uploads), 1)
    return DEFAULT_RESULT_BYTES


def _samples(upload: Mapping[str, Any]) -> float | None:
    """frames x channels of the description; None where it has none."""
    channels = _number(upload.get("channels"))
    frames = _number(upload.get("frames"))
    if not frames:
        frames = _number(upload.get("duration_seconds")) * _number(upload.get("sample_rate"))
    return frames * channels if frames and channels else None


def _seconds(upload: Mapping[str, Any]) -> float:
    seconds = _number(upload.get("duration_seconds"))
    if not seconds and _number(upload.get("sample_rate")):
        seconds = _number(upload.get("frames")) / _number(upload.get("sample_rate"))
    return seconds


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else 0.0
