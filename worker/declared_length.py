"""A header's length is a claim: believed where the file bears it out, measured where it does not.

A stranger's 48 s FLAC whose STREAMINFO total had been overwritten was refused as `audio_too_long`, "715827.9 s",
from the header alone. A file bears its length out when it holds a frame at the end of it: FFmpeg's demuxer seeks there
and reads a packet, a binary search over the frames' headers or a look-up in the file's index (a few ms for 10
hours; libsndfile's seek to the end of an FFmpeg-written 10-hour FLAC took 5.4 s). Where the file does not, the length
is not known from the header: the upload decodes it, counting frames and stopping past MAX_DURATION_SECONDS, and the
jobs count it as they do a length the header does not declare.
"""

from __future__ import annotations

from pathlib import Path

END_SLACK_SECONDS = 0.5  # a packet ending this close to the declared end bears it out (its last frame is shorter)
MAX_PACKETS_AFTER_SEEK = 1024  # packets read after the seek looking for the end: past them the length is not known


def av_reaches(path: str | Path, seconds: float) -> bool:
    """Whether FFmpeg finds the first audio stream's packets reaching `seconds` (within END_SLACK_SECONDS)."""
    end = av_end(path, seconds)
    return end is not None and end >= seconds - END_SLACK_SECONDS


RUN_PAST_SECONDS = 1.0  # packets going on this far past a declared end: the file is longer than its header says


def av_length_differs(path: str | Path, seconds: float) -> bool:
    """Whether FFmpeg finds the first audio stream's packets ending before `seconds` (a cut file, or a total that
    overstates) or going on RUN_PAST_SECONDS past it (a total that understates: a 70-minute FLAC whose STREAMINFO
    says 10 s had been taken, and analysed, as its first 10 s, libsndfile stopping at the total and saying nothing).
    One seek just past the declared end tells both: past the last packet it lands on that packet."""
    end = av_end(path, seconds + RUN_PAST_SECONDS + END_SLACK_SECONDS)
    return end is not None and (end < seconds - END_SLACK_SECONDS or end >= seconds + RUN_PAST_SECONDS)


def av_end(path: str | Path, seconds: float) -> float | None:
    """Where the first audio stream's packets end, as far as FFmpeg's demuxer finds them after seeking to just
    before `seconds` and reading on (a seek past the last packet lands on it): `seconds` or more once a packet
    reaches that far; None where FFmpeg refuses the seek, or where MAX_PACKETS_AFTER_SEEK packets neither reach
    it nor the end of the file (it landed too early to tell)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            base = stream.time_base
            if base is None or seconds <= 0:
                return None
            target = max(0.0, seconds - END_SLACK_SECONDS - 1.0)
            container.seek(int(target / base), stream=stream, backward=True)
            end = None
            for n, packet in enumerate(container.demux(stream)):
                if packet.pts is not None and packet.size:
                    end = max(end or 0.0, float((packet.pts + (packet.duration or 0)) * base))
                    if end >= seconds - END_SLACK_SECONDS:
                        return end
                if n >= MAX_PACKETS_AFTER_SEEK:
                    return None
            return end  # the end of the file, short of `seconds`
    except (av.error.FFmpegError, IndexError, OverflowError):
        return None


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
