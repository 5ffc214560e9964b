"""Figure 5 — mutual information between teacher and student activations, vs rank and vs training step.

Input: the long MI table of the activation-cloning experiment (:mod:`empirical.mi.cloning`), one row per
(rank, step, estimator, seed) with the estimate ``mi`` (nats), the clone MSE, and the theory evaluated on the
measured quantities: ``i1_bound`` (THEORY I1, the lower bound from the clone MSE), ``i3_bound`` (I1 at the
best rank-r linear clone's MSE, the PCA tail) and ``i2_cap`` (the rank cap I2, dashed). Estimates are
markers with a band over seeds; theory curves are lines; the cap is dashed.
"""
from __future__ import annotations

import pandas as pd

from figures import style

PANELS = {
    "vs rank": dict(xlabel="student rank r", ylabel="mutual information (nats)", title="MI vs rank (end of training)"),
    "vs step": dict(xlabel="training step", ylabel="mutual information (nats)", title="MI vs step (largest rank)"),
}
THEORY = (("i1_bound", "I1 lower bound from clone MSE", "theory"), ("i3_bound", "I3: I1 at best rank-r linear clone", "theory"),
          ("i2_cap", "I2 rank cap", "ceiling"))


def _block(panel: str, df: pd.DataFrame, x: str) -> list:
    out = []
    for i, (est, g) in enumerate(df.groupby("estimator")):
        agg = g.groupby(x)["mi"].agg(["mean", "min", "max"]).reset_index()
        out.append(style.rows(panel, f"{est} estimate", "measured", agg[x], agg["mean"], agg["min"], agg["max"], i))
    for k, (col, label, kind) in enumerate(THEORY):
        if col in df and df[col].notna().any():
            t = df.groupby(x)[col].mean().reset_index()
            out.append(style.rows(panel, label, kind, t[x], t[col], color_=-1 if k != 1 else 4))
    return out


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
        top = mi[mi["rank"] == mi["rank"].max()]
        if top["step"].nunique() > 1:
            out += _block("vs step", top, "step")
    else:
        out += _block("vs rank", mi, "rank")
    if not out:
        return pd.DataFrame(columns=style.COLUMNS)
    return style.finite_rows(pd.concat(out, ignore_index=True))


def plot(df: pd.DataFrame):
    """Figure 5 from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, suptitle="I: mutual information of teacher and student activations")
