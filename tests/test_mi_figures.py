"""figures.mutual_info on cloning-shaped rows: I1 labelled by i1_kind, a vacuity mark at 0 when I1 < 0, I3's
note computed from the rows, and every series distinguishable."""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import mutual_info, style


def _rows(i1_kind: str | None, i1_shift: float) -> pd.DataFrame:
    rows = []
    d = 64
    for r in (2, 8, 32):
        for step in (0, 80):
            for est, mi in (("gaussian", 2.0 + r / 4), ("ksg", 1.0 + r / 8)):
                eps2, tail = 10.0 / r, 2.0 / r  # clone MSE 5x the PCA tail
                i1 = i1_shift + np.log(r)
                rows.append(dict(rank=r, step=step, estimator=est, mi=mi, i1_bound=i1,
                                 i3_bound=i1 + d / 2 * np.log(eps2 / tail), i2_cap=r * 2.0, d_teacher=d,
                                 **({"i1_kind": i1_kind} if i1_kind else {})))
    return pd.DataFrame(rows)


def test_kl_entropy_i1_is_labelled_an_estimate_and_vacuity_marked():
    df = mutual_info.compute(_rows("estimate", -50.0))
    rank = df[df["panel"] == "vs rank"]
    assert mutual_info.I1_ESTIMATE in set(rank["series"]) and mutual_info.I1_BOUND not in set(rank["series"])
    zero = rank[rank["series"] == mutual_info.VACUOUS]
    assert len(zero) == 1 and zero["y"].iloc[0] == 0.0 and zero["kind"].iloc[0] == "ceiling"
    note = rank[rank["kind"] == "note"]["series"].iloc[0]
    assert "5x the PCA tail" in note and "r = 32" in note
    fig = mutual_info.plot(df)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert lo <= rank.loc[rank["kind"] != "note", "y"].min() and hi >= rank.loc[rank["kind"] != "note", "y"].max()
    styles = [(ln.get_color(), ln.get_linestyle()) for ln in ax.get_lines()]
    assert len(styles) == len(set(styles))  # no two series share colour and style
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert mutual_info.VACUOUS in labels and mutual_info.I1_ESTIMATE in labels


def test_closed_form_entropy_i1_is_a_bound_and_no_mark_when_positive():
    df = mutual_info.compute(_rows("bound", 5.0))
    assert mutual_info.I1_BOUND in set(df["series"]) and mutual_info.VACUOUS not in set(df["series"])


def test_rows_without_i1_kind_are_read_as_kl_entropy_estimates():
    assert mutual_info.I1_ESTIMATE in set(mutual_info.compute(_rows(None, 1.0))["series"])
