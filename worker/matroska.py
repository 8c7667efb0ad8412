"""WebM and Matroska audio (`.webm`, `.mka`): which of them are taken, and whether a file is whole.

WebM is the Matroska profile a browser's MediaRecorder writes (`audio/webm`, Opus) and whose audio codecs are
Opus and Vorbis; an `.mka` holding either is the same thing by another name, and both are decoded by FFmpeg.
Other codecs in Matroska (FLAC, AAC, PCM) are refused as they were: each has a container of its own that is read
here. A file with a moving picture (MediaRecorder's `video/webm`, a screen capture) is a video, not an audio
upload: its picture would be stored and counted against the quota for nothing, so it is refused with the command
that takes its audio out. Cover art, which FFmpeg shows as a video stream marked as an attached picture, is not one.

FFmpeg, like libsndfile with a cut Ogg, decodes a cut Matroska file to where its bytes stop without a word
(`check_complete`). The file is a tree of EBML elements, each an id and a byte size: an element whose size runs
past the end of the file was cut off. A recorder that cannot seek back (MediaRecorder, `ffmpeg -f webm pipe:`)
writes the segment and its clusters with the "unknown" size; their children (blocks) still carry theirs.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from worker.errors import AudioError

CODECS = frozenset({"opus", "vorbis"})  # FFmpeg's decoder names: WebM's audio codecs
EXTENSIONS = frozenset({"webm", "mka"})

EBML_ID = 0x1A45DFA3  # the header element every EBML file starts with
SEGMENT_ID = 0x18538067  # the element holding everything else (tracks, clusters of blocks, cues, tags)
MAX_VINT_BYTES = 8  # EBML's variable-length integers (ids and sizes) take 1 to 8 bytes


def is_video(container) -> bool:
    """A PyAV container (Matroska or MP4) holding a moving-picture stream (cover art, an attached picture, is not
    one)."""
    import av

    return any(not s.disposition & av.stream.Disposition.attached_pic for s in container.streams.video)


def check_complete(path: Path) -> None:
    """Raise AudioError `truncated_audio` where an element the file declares runs past its end (half of a WebM
    decoded as a valid file half as long). Elements of unknown size are walked into, those of a
    known size stepped over: a segment of known size is one step, a recorder's file one per block. A file cut
    exactly between blocks of a recorder's file passes, as an Ogg file cut between pages does."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        try:
            head = _element(fh, 0)
            if head is None or head[0] != EBML_ID:
                return  # not EBML: not for this check (the decoder has judged the file)
            pos = head[1] + (head[2] or 0)
            while pos < size:
                element = _element(fh, pos)
                if element is None:
                    raise AudioError(f"the file is truncated: its last Matroska element is cut off at byte {pos} "
                                     f"of {size}", code="truncated_audio")
                element_id, start, length = element
                if length is None:  # unknown size: its children follow, each with its own
                    pos = start
                    continue
                if start + length > size:
                    raise AudioError(f"the file is truncated: a Matroska element declares {length} bytes, "
                                     f"{size - start} are present", code="truncated_audio")
                if element_id == SEGMENT_ID:
                    return  # the whole stream is present; what follows it is not read by a decoder either
                pos = start + length
        except _NotEbml:
            return  # bytes that are no element (junk, zero padding): the decoder has judged them


class _NotEbml(Exception):
    pass


def _element(fh: BinaryIO, pos: int) -> tuple[int, int, int | None] | None:
    """(id, offset of its data, data size or None for "unknown") of the element at `pos`; None where its id and
    size do not fit in the bytes left. Raises _NotEbml where a first byte is 0 (no length marker)."""
    fh.seek(pos)
    head = fh.read(2 * MAX_VINT_BYTES)
    id_len = _vint_length(head, 0)
    if id_len is None:
        return None
    size_len = _vint_length(head, id_len)
    if size_len is None:
        return None
    element_id = int.from_bytes(head[:id_len], "big")  # ids keep their length marker, as the spec writes them
    value_bits = (1 << (7 * size_len)) - 1
    raw = int.from_bytes(head[id_len:id_len + size_len], "big") & value_bits
    return element_id, pos + id_len + size_len, None if raw == value_bits else raw  # all ones: "unknown"


def _vint_length(head: bytes, at: int) -> int | None:
    """Bytes of the variable-length integer starting at `head[at]` (its leading zero bits, plus one); None where
    the bytes end first."""
    if at >= len(head):
        return None
    if head[at] == 0:
        raise _NotEbml
    length = MAX_VINT_BYTES + 1 - head[at].bit_length()
    return length if at + length <= len(head) else None
