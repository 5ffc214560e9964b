"""Sample counts as people write them (``2e6``, ``2M``, ``20B``, ``1.5k``) and the unit N is counted in.

THEORY R's N is a number of i.i.d. samples. Language-model practice counts tokens; a sequence of T tokens is
one sample when the data are drawn sequence by sequence, so

.. math:: N_{\\text{sequences}} = N_{\\text{tokens}} / T .

:class:`SampleCount` keeps the number as given, its unit, and T when known, and says in words which unit the
formulas read. A ratio :math:`N/N_0` (reference scaling) is unit-free when both are in the same unit; a
calibrated surface reads N in the unit of its pilot runs' ``samples`` column.

Plain Python only (no numpy): ``lrkd rank`` parses its arguments with this module.
"""
from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass

#: suffix -> multiplier (SI-style; B = billion as in "20B tokens", G accepted as its synonym)
SUFFIXES = {"": 1, "k": 10**3, "K": 10**3, "m": 10**6, "M": 10**6, "b": 10**9, "B": 10**9, "G": 10**9,
            "g": 10**9, "t": 10**12, "T": 10**12}
UNITS = ("sequences", "tokens")
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]{1,3}))?\s*([A-Za-z]?)\s*$")
_MAX = 10**18


def parse_count(text: str) -> int:
    """A positive integer count from ``2000000``, ``2e6``, ``2M``, ``20B``, ``1.5k`` (``ValueError`` otherwise).

    The value must be a whole number (``1.5`` and ``1.2345k`` are refused) and at most 1e18."""
    match = _PATTERN.match(str(text))
    if not match or match.group(3) not in SUFFIXES:
        raise ValueError(f"expected a count such as 2000000, 2e6, 2M, 20B or 1.5k, got {text!r}")
    mantissa, exponent, suffix = match.groups()
    whole, _, frac = mantissa.partition(".")
    # exact rational arithmetic: digits * 10^(exp - len(frac)) * multiplier
    digits = int((whole or "0") + frac)
    power = int(exponent or 0) - len(frac)
    if power > 30:
        raise ValueError(f"count {text!r} exceeds 1e18")
    num, den = digits * SUFFIXES[suffix] * 10 ** max(power, 0), 10 ** max(-power, 0)
    if num % den:
        raise ValueError(f"a count must be a whole number, got {text!r}")
    value = num // den
    if not 0 < value <= _MAX:
        raise ValueError(f"expected a count in 1..1e18, got {text!r}")
    return value


def count_arg(text: str) -> int:
    """argparse type for :func:`parse_count`."""
    try:
        return parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_count(n: float) -> str:
    """``2000000`` -> ``2M``, ``20000000000`` -> ``20B``, ``1500`` -> ``1.5k``, small numbers as integers."""
    n = float(n)
    for mult, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= mult:
            return f"{n / mult:.3g}{suffix}"
    return f"{n:.4g}"


@dataclass(frozen=True)
class SampleCount:
    """N as given (``value`` in ``unit``) and the tokens per sequence T when known."""

    value: int
    unit: str = "sequences"
    tokens_per_sample: int | None = None

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")

    @property
    def sequences(self) -> float | None:
        """N in sequences (None when the count is in tokens and T is unknown)."""
        if self.unit == "sequences":
            return float(self.value)
        return self.value / self.tokens_per_sample if self.tokens_per_sample else None

    @property
    def tokens(self) -> float | None:
        """N in tokens (None when the count is in sequences and T is unknown)."""
        if self.unit == "tokens":
            return float(self.value)
        return float(self.value * self.tokens_per_sample) if self.tokens_per_sample else None

    @property
    def formula_n(self) -> float:
        """The N the formulas read: sequences when they are known, else the count as given."""
        seq = self.sequences
        return seq if seq is not None else float(self.value)

    @property
    def formula_unit(self) -> str:
        return "sequences" if self.sequences is not None else self.unit

    def describe(self) -> str:
        """E.g. ``N = 2M tokens = 977 sequences of 2048 tokens (formulas read sequences)``."""
        text = f"N = {format_count(self.value)} {self.unit}"
        if self.tokens_per_sample:
            other = self.sequences if self.unit == "tokens" else self.tokens
            other_unit = "sequences" if self.unit == "tokens" else "tokens"
            text += f" = {format_count(other)} {other_unit} ({self.tokens_per_sample} tokens per sequence)"
        if self.unit == "tokens" and not self.tokens_per_sample:
            return text + " (no --tokens-per-sample: the formulas read N in tokens)"
        return text + f"; formulas read N in {self.formula_unit}"


def ratio(n: float, n0: float) -> float:
    """:math:`N/N_0` (both in one unit), checked finite and positive."""
    out = float(n) / float(n0)
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"N/N0 must be finite and positive, got {n}/{n0}")
    return out
