"""The one answer `lrkd rank` prints first: a rank, the method it came from, and its interval.

Priority (the first the inputs allow):

1. a calibration (:mod:`bounds.calibrate`): the fitted surface's :math:`r^*(N)` with its bootstrap interval;
2. a reference (:mod:`bounds.reference`): :math:`r_0 (N/N_0)^\\gamma` — with a calibrated γ, its interval
   from γ's CI; otherwise the median over the rate forms of R1 (when α is known, else R2's budget exponent), with
   the range over the forms as the interval (a spread of theories, not a confidence interval);
3. R1 when the user gave its constants (``--c`` and ``--scale`` or a spectrum): the median over the rate forms;
4. a spectrum alone: the Gavish–Donoho rank (scale-free, ignores N), no interval;
5. nothing: no rank — R1/R2 without constants give a scaling only, and rank 0 is never recommended.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Headline:
    """``rank`` None when the inputs cannot give one (``basis`` says what to add)."""

    rank: int | None
    method: str
    interval: tuple[int, int] | None
    interval_kind: str
    basis: str

    def line(self, unit_text: str) -> str:
        """The first line of the text output."""
        if self.rank is None:
            return f"recommended rank: none — {self.basis}; {unit_text}"
        iv = (f" [{self.interval_kind} {self.interval[0]}–{self.interval[1]}]" if self.interval is not None
              else " (no interval)")
        return f"recommended rank: {self.rank}{iv} via {self.method}; {unit_text}; {self.basis}"

    def to_dict(self) -> dict:
        return {"rank": self.rank, "method": self.method,
                "interval": list(self.interval) if self.interval else None,
                "interval_kind": self.interval_kind, "basis": self.basis}


def _median(values: list[int]) -> int:
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else int(round((v[mid - 1] + v[mid]) / 2))


def choose(*, calibrated: dict | None = None, reference_rows=(), method_rows=(), reference_text: str = "") -> Headline:
    """Pick the headline from what was computed (see the module docstring).

    ``calibrated``: ``{"rank", "interval", "level"}``; ``reference_rows``: :class:`bounds.reference.ScaledRank`;
    ``method_rows``: the recommendation dicts (``method``, ``rank``, ``scaling_only``)."""
    if calibrated is not None and calibrated.get("rank"):
        iv = calibrated.get("interval")
        capped = "; at the max rank: the fitted surface would take more" if calibrated.get("capped") else ""
        if calibrated.get("beyond_pilot_ranks"):
            capped += "; beyond the largest pilot rank (extrapolated in r as well as N)"
        if calibrated.get("validated"):
            capped += "; " + calibrated["validated"]
        return Headline(int(calibrated["rank"]), "calibrated surface r*(N)",
                        tuple(int(x) for x in iv) if iv else None,
                        f"{int(round(100 * calibrated.get('level', 0.95)))}% bootstrap",
                        "fitted on the pilot runs (see the calibration section)" + capped)
    rows = list(reference_rows)
    cal = [r for r in rows if r.method == "reference/calibrated"]
    if cal:
        r = cal[0]
        return Headline(r.rank, f"reference {reference_text} with the calibrated gamma = {r.gamma:.3g}",
                        r.rank_interval, "95% (gamma CI)", "r0 (N/N0)^gamma")
    for prefix in ("reference/R1/", "reference/R2/"):
        group = [r for r in rows if r.method.startswith(prefix)]
        if group:
            ranks = [r.rank for r in group]
            gammas = ", ".join(f"{r.method.split('/')[-1]} {r.gamma:.3g}" for r in group)
            return Headline(_median(ranks), f"reference {reference_text} scaled by {prefix[10:12]}'s gamma "
                            f"(median over rate forms)", (min(ranks), max(ranks)), "range over rate forms",
                            f"r0 (N/N0)^gamma with gamma = {gammas}; not a confidence interval")
    given = [r for r in method_rows if r["method"].startswith("R1/") and r.get("scaling_only") is False
             and r["rank"] >= 1]
    if given:
        ranks = [r["rank"] for r in given]
        return Headline(_median(ranks), "R1 with your constants (median over rate forms)", (min(ranks), max(ranks)),
                        "range over rate forms", "the answer is only as good as --c and --scale (or the spectrum)")
    gd = [r for r in method_rows if r["method"] == "gavish-donoho/unknown-sigma" and r["rank"] >= 1]
    if gd:
        return Headline(gd[0]["rank"], "Gavish-Donoho (unknown noise)", None, "",
                        "spectrum only: scale-free but ignores N; pass --calibrate RUNS or --reference RANK@N0 "
                        "for a data-size answer")
    return Headline(None, "", None, "", "R1/R2 give a scaling only (constants unknown); pass --calibrate RUNS "
                    "(pilot runs) or --reference RANK@N0 (a rank known to work at N0)")
