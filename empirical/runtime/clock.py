"""Durations for progress lines (the sweep's ETA, teacher training): one formatter for every layer.

May import: the standard library.
"""
from __future__ import annotations


def fmt_duration(seconds: float | None) -> str:
    """``m:ss`` under an hour, ``h:mm:ss`` from one hour; ``?`` when unknown (None, NaN or negative)."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
