"""Figure 5 — mutual information between teacher and student activations, vs rank and vs training step.

Input: the long MI table of the activation-cloning experiment (:mod:`empirical.mi.cloning`), one row per
(rank, step, estimator, seed) with the estimate ``mi`` (nats), the clone MSE, and the theory evaluated on the
measured quantities. Estimates are markers with a band over seeds; theory curves are lines; the cap is dashed.

- ``i1_bound`` (THEORY I1 from the clone MSE). Labelled by the rows' ``i1_kind``: a "lower bound" only when
  the teacher entropy is a closed form; with the Kozachenko-Leonenko entropy (every real run) it is an
  *estimate* and the label says so (INFERENCE.md §5). A grey dashed line at 0 marks where any I1 value is
  negative: below 0 the "bound" says nothing (MI >= 0), i.e. it is vacuous.
- ``i3_bound`` (I1 at the PCA-tail MSE, the smallest MSE any rank-r affine read-out of the teacher can reach,
  Eckart-Young). Why it lies above the estimates: it is not a bound on this student's MI but the most any
  rank-r linear clone could *certify* through I1; I3 - I1 = (d/2) log(clone MSE / PCA tail), so it sits above
  I1 by the factor this student's read-out misses the PCA optimum (a note in the rank panel gives the factor),
  and above the MI whenever the certificate at the optimum exceeds what this student carries (on planted
  Gaussian pairs at the quick sizes, with exact entropies, I3 exceeds the true MI in 4 of 6 cases:
  :mod:`empirical.mi.validate_bounds`). With the KL entropy it inherits that entropy's bias too.
- ``i2_cap`` (THEORY I2, the rank cap): an upper bound, dashed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import style

PANELS = {
    "vs rank": dict(xlabel="student rank r", ylabel="mutual information (nats)", title="MI vs rank (end of training)"),
    "vs step": dict(xlabel="training step", ylabel="mutual information (nats)", title="MI vs step (largest rank)"),
}
I1_BOUND = "I1 lower bound from clone MSE (exact entropy)"
I1_ESTIMATE = "I1 from clone MSE: an estimate (KL entropy), not a bound"
I3_LABEL = "I3: I1 at the PCA-tail MSE (best a rank-r linear clone could certify; not a bound)"
I2_LABEL = "I2 rank cap (upper bound)"
VACUOUS = "0: I1 below this line is vacuous (MI >= 0)"
#: palette indices of the theory lines (estimators take 0, 1, 2)
I3_COLOR, I2_COLOR = 4, 3


def _i1_label(df: pd.DataFrame) -> str:
    """I1's legend text: a bound only if every row's I1 rests on a closed-form entropy (``i1_kind``)."""
    kinds = set(df["i1_kind"].dropna()) if "i1_kind" in df else set()
    return I1_BOUND if kinds == {"bound"} else I1_ESTIMATE  # rows without the column used the KL entropy


def _block(panel: str, df: pd.DataFrame, x: str) -> list:
    out = []
    for i, (est, g) in enumerate(df.groupby("estimator")):
        agg = g.groupby(x)["mi"].agg(["mean", "min", "max"]).reset_index()
        out.append(style.rows(panel, f"{est} estimate", "measured", agg[x], agg["mean"], agg["min"], agg["max"], i))
    theory = (("i1_bound", _i1_label(df), "theory", -1), ("i3_bound", I3_LABEL, "theory", I3_COLOR),
              ("i2_cap", I2_LABEL, "ceiling", I2_COLOR))
    for col, label, kind, colour in theory:
        if col in df and df[col].notna().any():
            t = df.groupby(x)[col].mean().reset_index()
            out.append(style.rows(panel, label, kind, t[x], t[col], color_=colour))
    if "i1_bound" in df and (df["i1_bound"] < 0).any():
        out.append(style.rows(panel, VACUOUS, "ceiling", [df[x].min()], [0.0]))
    return out


def _i3_note(last: pd.DataFrame) -> list:
    """'clone MSE = k x PCA tail at r = R' from I3 - I1 = (d/2) log(eps2 / tail), at the largest rank."""
    need = {"i1_bound", "i3_bound", "d_teacher"}
    if not need <= set(last.columns):
        return []
    top = last[last["rank"] == last["rank"].max()][list(need)].dropna()
    if top.empty or not np.isfinite(top["i3_bound"]).all():
        return []
    d = float(top["d_teacher"].iloc[0])
    ratio = float(np.exp(2.0 * (top["i3_bound"].mean() - top["i1_bound"].mean()) / d))
    text = (f"at r = {int(last['rank'].max())} this clone's MSE is {ratio:.3g}x the PCA tail\n"
            "(I3 - I1 = (d/2) log(clone MSE / PCA tail))")
    return [style.rows("vs rank", text, "note", [0], [0])]


def compute(mi: pd.DataFrame) -> pd.DataFrame:
    """Long frame of figure 5 from the MI table."""
    if mi is None or mi.empty:
        return pd.DataFrame(columns=style.COLUMNS)
    mi = mi.copy()
    if "estimator" not in mi:
        mi["estimator"] = "mi"
    out = []
    if "step" in mi and mi["step"].notna().any():
        last = mi[mi["step"] == mi.groupby("rank")["step"].transform("max")]
        out += _block("vs rank", last, "rank")
        notes = _i3_note(last)
        top = mi[mi["rank"] == mi["rank"].max()]
        if top["step"].nunique() > 1:
            out += _block("vs step", top, "step")
    else:
        out += _block("vs rank", mi, "rank")
        notes = _i3_note(mi)
    if not out:
        return pd.DataFrame(columns=style.COLUMNS)
    drawn = style.finite_rows(pd.concat(out, ignore_index=True))
    return pd.concat([drawn, *notes], ignore_index=True) if notes else drawn


def plot(df: pd.DataFrame):
    """Figure 5 from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, suptitle="I: mutual information of teacher and student activations")
