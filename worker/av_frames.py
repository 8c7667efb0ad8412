"""Decoding a PyAV stream frame by frame, as FFmpeg's command line does: past a few packets it cannot decode."""

from __future__ import annotations

from collections.abc import Iterator

MAX_SKIPPED_PACKETS = 16  # packets the decoder refuses that are skipped before a file counts as not decodable


def decoded_frames(container, stream) -> Iterator:
    """The audio frames of `stream`, past a few packets the decoder refuses, as FFmpeg's command line goes on past
    them: MP3s joined end to end (`cat a.mp3 b.mp3`) hold the second file's tag and header frame at the joint, and
    a stranger's 418 s join was decoded by ffmpeg to its end but refused here as not audio. More than
    MAX_SKIPPED_PACKETS is a file that is not audio."""
    import av

    skipped = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            skipped += 1
            if skipped > MAX_SKIPPED_PACKETS:
                raise
            continue
        yield from frames
