"""One shared figure style for every lrkd figure (STYLE.md: the smile-mi-estimator grammar).

- theory with an explicit constant: a solid black-ish line (``theory_line``);
- a rate whose constant was *fitted*: a dash-dot line, labelled "... (fitted)" (``fitted_line``);
- ceilings and floors (caps, vacuity lines): dashed grey (``ceiling_line``);
- measurements: markers at the seed mean with a shaded band over seeds (``measured``);
- raw traces faint, in their series' colour, with one legend entry per panel.

Axes say their units (nats) through :func:`label_axes`. Everything here draws on an ``Axes`` given to it
and returns the artist it made, so tests can count curves by their ``gid``.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402

#: colour cycle for measured series (colour-blind friendly, Okabe-Ito)
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
THEORY_COLOR = "#222222"
FITTED_COLOR = "#7a0177"
CEILING_COLOR = "#777777"

#: gid given to each kind of artist, so tests can count what a figure draws
GID_MEASURED = "measured"
GID_THEORY = "theory"
GID_FITTED = "fitted"
GID_CEILING = "ceiling"
GID_RAW = "raw"


def color(i: int) -> str:
    """The i-th measured-series colour."""
    return PALETTE[i % len(PALETTE)]


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 4.0):
    """A figure with ``nrows x ncols`` axes (always returned as a flat list) in the shared style."""
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 7,
                         "axes.spines.top": False, "axes.spines.right": False})
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             layout="constrained")
    return fig, list(axes.ravel())


def measured(ax, x, mean, lo=None, hi=None, *, label: str, i: int = 0, marker: str = "o"):
    """Seed-mean markers joined thinly, with a band ``[lo, hi]`` over seeds when given."""
    x, mean = np.asarray(x, float), np.asarray(mean, float)
    (line,) = ax.plot(x, mean, marker=marker, ms=4, lw=0.8, color=color(i), label=label, gid=GID_MEASURED)
    if lo is not None and hi is not None:
        ax.fill_between(x, np.asarray(lo, float), np.asarray(hi, float), color=color(i), alpha=0.18, lw=0)
    return line


def theory_line(ax, x, y, *, label: str, color_: str = THEORY_COLOR, ls: str = "-"):
    """An explicit-constant bound or exact theory curve: solid line, label says which result."""
    (line,) = ax.plot(x, y, ls=ls, lw=1.6, color=color_, label=label, gid=GID_THEORY)
    return line


def fitted_line(ax, x, y, *, label: str, color_: str = FITTED_COLOR):
    """A rate with a fitted constant: dash-dot, and the label always ends in "(fitted)"."""
    if "fitted" not in label:
        label = f"{label} (fitted)"
    (line,) = ax.plot(x, y, ls="-.", lw=1.3, color=color_, label=label, gid=GID_FITTED)
    return line


def ceiling_line(ax, y=None, x=None, *, label: str):
    """A cap or floor (horizontal at ``y``) or a vertical marker at ``x``: dashed grey."""
    if y is not None:
        return ax.axhline(y, ls="--", lw=1.1, color=CEILING_COLOR, label=label, gid=GID_CEILING)
    return ax.axvline(x, ls="--", lw=1.1, color=CEILING_COLOR, label=label, gid=GID_CEILING)


#: at most this many legend entries go inside the axes; more go underneath (gid GID_LEGEND_BELOW)
LEGEND_INSIDE_MAX = 4
GID_LEGEND_BELOW = "legend-below"


def label_axes(ax, xlabel: str, ylabel: str, *, title: str | None = None, logx=False, logy=False):
    """Axis labels (with units), optional log scales and title, and a legend if anything is labelled."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis, ax.get_xlim())
    if logy:
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis, ax.get_ylim())
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if len(handles) > LEGEND_INSIDE_MAX or max((len(t) for t in labels), default=0) > 45:
        # many or long entries would cover the data: put the legend under the axes (constrained layout
        # makes room for it)
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1).set_gid(GID_LEGEND_BELOW)
    elif handles:
        ax.legend(frameon=False, loc="best")
    ax.grid(True, which="major", lw=0.3, alpha=0.5)


def _plain_log_ticks(axis, lim) -> None:
    """Log-axis tick labels as plain numbers (8, 16, 32 rather than 2x10^0); minor labels only over short spans."""
    from matplotlib import ticker

    fmt = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    lo, hi = (max(min(lim), 1e-300), max(lim))
    # minor labels: 2 3 4 5 6 8 over less than a decade or so, 2 and 5 over a couple of decades, none beyond
    keep = (2, 3, 4, 5, 6, 8) if hi / lo < 12 else (2, 5) if hi / lo < 300 else ()

    def minor(v, _):
        if v <= 0 or not keep:
            return ""
        lead = round(v / 10 ** math.floor(math.log10(v)), 6)
        return f"{v:g}" if lead in keep else ""

    axis.set_minor_formatter(ticker.FuncFormatter(minor) if keep else ticker.NullFormatter())


def count_curves(fig, gid: str) -> int:
    """Number of Line2D artists with ``gid`` over all axes of ``fig`` (used by the tests)."""
    return sum(1 for ax in fig.axes for line in ax.get_lines() if line.get_gid() == gid)


def fmt_ci(value: float, lo: float, hi: float) -> str:
    """``-0.52 [-0.61, -0.44]``."""
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


# ------------------------------------------------------------------------------------------- long frames
#: columns of every figure's data frame (one row per drawn point)
COLUMNS = ["panel", "series", "kind", "x", "y", "lo", "hi", "color"]
KINDS = ("measured", "raw", "theory", "fitted", "ceiling", "note")


def rows(panel: str, series: str, kind: str, x, y, lo=None, hi=None, color_: int | None = None):
    """A block of long-format rows (a pandas DataFrame) for one drawn series; ``lo``/``hi`` default to ``y``.
    ``color_``: palette index; default 0 for measured and raw series, -1 (the kind's own colour: theory
    black, fitted purple, ceiling grey) otherwise."""
    import pandas as pd

    assert kind in KINDS, kind
    x = np.asarray(x, float).ravel()
    y = np.broadcast_to(np.asarray(y, float), x.shape).astype(float)
    lo = y if lo is None else np.broadcast_to(np.asarray(lo, float), x.shape)
    hi = y if hi is None else np.broadcast_to(np.asarray(hi, float), x.shape)
    if color_ is None:
        color_ = 0 if kind in ("measured", "raw") else -1
    return pd.DataFrame({"panel": panel, "series": series, "kind": kind, "x": x, "y": y, "lo": lo, "hi": hi,
                         "color": int(color_)})


def draw_long(df, panels: dict, ncols: int | None = None, suptitle: str | None = None):
    """Draw a long frame: one axes per entry of ``panels`` (panel -> dict(xlabel, ylabel, logx, logy, title,
    raw_label: the legend text of the faint traces, default "per-step values (faint)")),
    each series by its kind (measured: markers + band; raw: faint line; theory: solid; fitted: dash-dot;
    ceiling: dashed). Series whose kind is ``note`` are written as text in the panel's corner."""
    names = [p for p in panels if p in set(df["panel"])] or list(panels)[:1]
    ncols = ncols or len(names)
    nrows = int(math.ceil(len(names) / ncols))
    fig, axes = new_figure(ncols=ncols, nrows=nrows)
    for ax, name in zip(axes, names):
        spec = panels[name]
        sub = df[df["panel"] == name]
        notes, shown = [], set()
        for (series, kind), s in sub.groupby(["series", "kind"], sort=False):
            if "|" in series:  # "legend text|detail": one legend entry for a family of curves
                head = series.split("|")[0]
                series = head if head not in shown else "_" + head
                shown.add(head)
            s = s.sort_values("x")
            col = int(s["color"].iloc[0])
            c = color(col) if col >= 0 else None
            if kind == "measured":
                measured(ax, s["x"], s["y"], s["lo"], s["hi"], label=series, i=col)
            elif kind == "raw":  # one legend entry per panel for all faint traces
                ax.plot(s["x"], s["y"], lw=0.6, alpha=0.3, color=c, gid=GID_RAW,
                        label=None if "raw" in shown else spec.get("raw_label", "per-step values (faint)"))
                shown.add("raw")
            elif kind == "theory":
                theory_line(ax, s["x"], s["y"], label=series, color_=c or THEORY_COLOR)
            elif kind == "fitted":
                fitted_line(ax, s["x"], s["y"], label=series, color_=c or FITTED_COLOR)
            elif kind == "ceiling":
                if s["x"].nunique() <= 1 and len(s) <= 2 and spec.get("vertical_ceilings"):
                    ceiling_line(ax, x=float(s["x"].iloc[0]), label=series)
                elif len(s) == 1:
                    ceiling_line(ax, y=float(s["y"].iloc[0]), label=series)
                else:
                    (ln,) = ax.plot(s["x"], s["y"], ls="--", lw=1.0, color=c or CEILING_COLOR, label=series,
                                    gid=GID_CEILING)
            elif kind == "note":
                notes.append(series)
        title = "\n".join([t for t in (spec.get("title"), *notes) if t]) or None
        label_axes(ax, spec["xlabel"], spec["ylabel"], title=title, logx=spec.get("logx", False),
                   logy=spec.get("logy", False))
        if not len(sub):
            ax.text(0.5, 0.5, spec.get("empty", "no data"), transform=ax.transAxes, ha="center", va="center")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    below = [len(leg.get_texts()) for ax in axes
             if (leg := ax.get_legend()) is not None and leg.get_gid() == GID_LEGEND_BELOW]
    if below:  # grow the figure by the tallest legend under an axes, so the axes keep their height
        w, h = fig.get_size_inches()
        fig.set_size_inches(w, h + 0.16 * max(below) + 0.2)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def finite_rows(df):
    """Drop rows whose x, y, lo or hi is not finite (what is drawn is what is saved)."""
    ok = np.isfinite(df[["x", "y", "lo", "hi"]].to_numpy(float)).all(axis=1)
    return df[ok].reset_index(drop=True)
