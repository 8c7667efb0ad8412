"""Transcript writers: plain text, SubRip (.srt), WebVTT (.vtt) and LRC lyrics (.lrc).

Input is the transcript's segment list: dicts with `start`, `end` (seconds) and `text`, optionally `words`
(dicts with `start`, `end`, `word`). Pure functions returning text; callers write it atomically.
"""

from __future__ import annotations

LRC_GAP_SECONDS = 1.0  # a pause at least this long gets an empty LRC line, so players clear the lyric


def format_timestamp(seconds: float, *, decimal: str = ",", always_hours: bool = True) -> str:
    """1.5 -> '00:00:01,500' (SRT); decimal='.' gives WebVTT's form."""
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    head = f"{h:02d}:" if always_hours or h else ""
    return f"{head}{m:02d}:{s:02d}{decimal}{ms:03d}"


def format_lrc_timestamp(seconds: float) -> str:
    """63.456 -> '01:03.46' (minutes may exceed 59, as LRC has no hours)."""
    cs = max(0, int(round(seconds * 100)))
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{m:02d}:{s:02d}.{cs:02d}"


def _cues(segments: list[dict]) -> list[tuple[float, float, str]]:
    cues = []
    for seg in segments:
        text = " ".join(str(seg.get("text", "")).split())
        if text:
            end = max(float(seg["end"]), float(seg["start"]) + 0.001)
            cues.append((float(seg["start"]), end, text))
    return cues


def to_txt(segments: list[dict]) -> str:
    return "".join(f"{text}\n" for _, _, text in _cues(segments))


def to_srt(segments: list[dict]) -> str:
    blocks = []
    for i, (start, end, text) in enumerate(_cues(segments), 1):
        blocks.append(f"{i}\n{format_timestamp(start)} --> {format_timestamp(end)}\n{text}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # "-->" would end the cue timing line early; & and < start entities and tags in WebVTT
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(segments: list[dict]) -> str:
    lines = ["WEBVTT", ""]
    for start, end, text in _cues(segments):
        lines += [f"{format_timestamp(start, decimal='.')} --> {format_timestamp(end, decimal='.')}",
                  _vtt_escape(text), ""]
    return "\n".join(lines)


def to_lrc(segments: list[dict], *, title: str | None = None) -> str:
    """Line-synchronised lyrics: `[mm:ss.xx]line`, with an empty timed line after each long pause."""
    lines = [f"[ti:{title}]"] if title else []
    cues = _cues(segments)
    for i, (start, end, text) in enumerate(cues):
        lines.append(f"[{format_lrc_timestamp(start)}]{text}")
        next_start = cues[i + 1][0] if i + 1 < len(cues) else None
        if next_start is None or next_start - end >= LRC_GAP_SECONDS:
            lines.append(f"[{format_lrc_timestamp(end)}]")
    return "\n".join(lines) + "\n"
