"""A header's length is a claim: believed where the file bears it out, measured where it does not.

A stranger's 48 s FLAC whose STREAMINFO total had been overwritten was refused as `audio_too_long`, "715827.9 s",
from the header alone. A file bears its length out when it holds a frame at the end of it: the decoder is asked to
seek there and read (libsndfile for what it reads, FFmpeg's demuxer for the rest), which is a binary search over
the frames' headers or a look-up in the file's index, milliseconds for an hour. Where the file does not, the length
is not known from the header: the upload decodes it, counting frames and stopping past MAX_DURATION_SECONDS, and the
jobs count it as they do a length the header does not declare.
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

END_SLACK_SECONDS = 0.5  # a packet ending this close to the declared end bears it out (its last frame is shorter)
MAX_PACKETS_AFTER_SEEK = 1024  # packets read after the seek looking for the end: past them the length is not known


def soundfile_reaches(f: sf.SoundFile) -> bool:
    """Whether libsndfile reads a frame at the end of the length `f` declares; `f` is left at its start. A FLAC
    whose frames end sooner fails here ("psf_fseek() failed"), as it fails at their end when read through."""
    if f.frames <= 0:
        return True  # nothing declared to bear out
    try:
        f.seek(f.frames - 1)
        reached = len(f.read(1, dtype="float32")) == 1
        f.seek(0)
    except (sf.LibsndfileError, RuntimeError):
        return False
    return reached


def av_reaches(path: str | Path, seconds: float) -> bool:
    """Whether FFmpeg finds a packet of the first audio stream ending at `seconds` (within END_SLACK_SECONDS):
    its demuxer seeks just before that time and reads on. A seek FFmpeg refuses, or one that lands too early to
    find the end within MAX_PACKETS_AFTER_SEEK packets, is not borne out (the caller measures instead)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            base = stream.time_base
            if base is None or seconds <= 0:
                return False
            target = max(0.0, seconds - END_SLACK_SECONDS - 1.0)
            container.seek(int(target / base), stream=stream, backward=True)
            for n, packet in enumerate(container.demux(stream)):
                if packet.pts is not None and packet.size:
                    if float((packet.pts + (packet.duration or 0)) * base) >= seconds - END_SLACK_SECONDS:
                        return True
                if n >= MAX_PACKETS_AFTER_SEEK:
                    return False
    except (av.error.FFmpegError, IndexError, OverflowError):
        return False
    return False


def length_guessed(container: str) -> bool:
    """Whether FFmpeg's duration for a file of `container` (its demuxer names, "mp3" or "aac,...") is a guess from
    the first frame's bitrate (an MP3's, a raw AAC's), not a length the file declares."""
    return bool({"mp3", "aac"} & set(container.split(",")))


def av_declared_seconds(container, stream) -> float | None:
    """The stream's (else the container's) declared duration; None when neither says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE units
    return None
