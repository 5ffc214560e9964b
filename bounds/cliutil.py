"""Shared command-line plumbing for every `lrkd` subcommand.

Torch-free and import-light on purpose: `lrkd rank` must answer in well under a second, so nothing here
imports numpy, sympy, torch, pandas or matplotlib at module level.

Conventions every subcommand follows:
- a command module (``empirical/commands/<name>.py``; the table is
  ``paper_repro.COMMANDS``) exposes ``configure(parser)`` (adds arguments; imports nothing heavy)
  and ``run(args) -> int`` (does the work; heavy imports go inside);
- bad input raises :class:`UsageError` (:mod:`bounds.errors`) (or argparse rejects it); the dispatcher prints one line on stderr
  and exits with status 2, never a traceback;
- ``--json`` output goes through :func:`emit_json`, which writes strict JSON (no NaN/inf tokens).
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from bounds.errors import UsageError  # noqa: F401 - re-exported: commands import it from here
from bounds.jsonable import jsonable as _jsonable


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump) and exit with status 2.

    Abbreviated long options are refused (``allow_abbrev=False``): with them a typo such as ``--sample 3``
    would silently become ``--samples 3``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(text: str, kind, name: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite {name}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    value = _number(text, int, "a positive integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _number(text, int, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    value = _number(text, float, "a positive number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """argparse type: any finite float."""
    return _number(text, float, "a finite number")


def unit_interval(text: str) -> float:
    """argparse type: a float in the open interval (0, 1)."""
    value = _number(text, float, "a number in (0, 1)")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def emit_json(obj, stream=None) -> None:
    """Print ``obj`` as strict JSON (numpy values converted, NaN/inf written as null)."""
    json.dump(_jsonable(obj), stream or sys.stdout, indent=2, allow_nan=False)
    (stream or sys.stdout).write("\n")
