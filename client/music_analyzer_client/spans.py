"""Spans of time as a person reads them (the end lines' running, queue and lost-attempt times)."""

from __future__ import annotations


def span_text(seconds: float) -> str:
    """"3.7 s", "9 min 2 s", "1 h 5 min": a span as a person reads it."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
