"""The audio file types taken at upload: their names, the decoders' names for them and the extensions they carry.

A type's name is the `format` of an upload's description (and of AUDIO_FILE_TYPES in config.py): wav, flac, ogg,
mp3, m4a, aiff, webm, caf (Apple's Core Audio Format: PCM, ALAC, AAC, IMA4) and wv (WavPack). libsndfile names the major
formats it reads (`SF_FORMATS`); FFmpeg's demuxer and decoder names are mapped by `av_format`.
"""

from __future__ import annotations

from pathlib import Path

from worker import caf, matroska, wavpack
from worker.audio_complete import check_iff_header_complete

# libsndfile's major format names -> our file type names (libsndfile reads CAF with PCM or ALAC; not WavPack)
SF_FORMATS = {"WAV": "wav", "WAVEX": "wav", "RF64": "wav", "FLAC": "flac", "OGG": "ogg",
              "MP3": "mp3", "MPEG": "mp3", "AIFF": "aiff", "CAF": "caf"}
# extensions a file of each type may carry ("mp3" is MPEG audio: a layer II file named .mp2 had been refused)
EXTENSIONS = {"wav": {"wav", "wave"}, "flac": {"flac"}, "ogg": {"ogg", "oga", "opus"},
              "mp3": {"mp3", "mp2", "mpa"}, "m4a": {"m4a", "mp4", "aac"}, "aiff": {"aiff", "aif", "aifc"},
              "webm": set(matroska.EXTENSIONS), "caf": set(caf.EXTENSIONS), "wv": set(wavpack.EXTENSIONS)}
# how a type is named in a message where its upper-cased name is not a word ("holds WV audio")
_SPOKEN = {"wv": "WavPack"}


def spoken(fmt: str) -> str:
    """A type's name in a message: "WAV", "CAF", "WavPack"."""
    return _SPOKEN.get(fmt, fmt.upper())


def av_format(container: str, codec: str) -> str | None:
    """Our type for FFmpeg's demuxer names (`container`, comma-separated) and decoder name; None: not taken."""
    names = set(container.split(","))
    if names & {"mov", "mp4", "m4a"} and codec in {"aac", "alac", "mp3", "mp3float"}:
        return "m4a"
    if "aac" in names and codec == "aac":  # raw AAC (ADTS), a `.aac` file: AAC audio, as in an M4A
        return "m4a"
    if "matroska" in names:  # FFmpeg's one demuxer for both ("matroska,webm"): the codec says whether it is WebM
        return "webm" if codec in matroska.CODECS else None
    if "caf" in names:  # PCM, ALAC, AAC, IMA4 (worker/caf.py)
        return "caf" if caf.takes_codec(codec) else None
    if "wv" in names:
        return "wv" if codec in wavpack.CODECS else None
    for name in ("mp3", "ogg", "flac", "wav", "aiff"):
        if name in names:
            return name
    return None


def walked(path: Path) -> bool:
    """A CAF or WavPack file, whose structure `check_structure` judges."""
    with open(path, "rb") as fh:
        head = fh.read(10)
    return caf.is_caf(head) or wavpack.is_wavpack(head)


def check_structure(path: Path) -> None:
    """Before any decoding: raise AudioError `truncated_audio` for a CAF or WavPack file cut off (their decoders
    shorten one without a word, or fail it as not audio), and for a WAV or AIFF cut inside its header chunks (both
    decoders refuse it outright, and it had been `corrupt_audio`); return for every other file."""
    caf.check_complete(path)
    wavpack.check_complete(path)
    check_iff_header_complete(path)
