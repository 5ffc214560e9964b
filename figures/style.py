"""One shared figure style for every lrkd figure (STYLE.md: the smile-mi-estimator grammar).

- theory with an explicit constant: a solid black-ish line (``theory_line``);
- a rate whose constant was *fitted*: a dash-dot line, labelled "... (fitted)" (``fitted_line``);
- a law whose exponents *and* constant were fitted (``r^a N^b``, ``C T^s``): a wide translucent line under the
  rest, labelled "... (fitted)" (``fitted_law_line``), so a theory rate that coincides with it stays visible;
- a family of curves (one per rank, say) shares one legend entry drawn in grey, "..., coloured by series";
- ceilings and floors (caps, vacuity lines, marked ranks): dashed grey (``ceiling_line``); a second and third
  ceiling in one panel are dotted and dash-dot-dotted, so no two look alike;
- on a log axis a seed band (or a seed mean) at 0 or below is cut at the axis bottom and each cut is marked
  with a triangle (legend entry "<= 0 ...: cut at the axis bottom"), never dropped silently;
- log x axes with few distinct measured values are ticked at exactly those values (so r = 16, N = 32 show);
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
import re  # noqa: E402

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
GID_CENSORED = "censored"
#: gid of the triangles marking where a seed band (or mean) at or below 0 was cut at a log axis' bottom
GID_CLIPPED = "clipped"


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


def fitted_law_line(ax, x, y, *, label: str, color_: str = FITTED_COLOR):
    """A law whose exponents and constant were both fitted: a wide translucent line beneath the other curves
    (a theory line on top of it stays visible); the label always ends in "(fitted)"."""
    if "fitted" not in label:
        label = f"{label} (fitted)"
    (line,) = ax.plot(x, y, ls="-", lw=5.0, alpha=0.35, solid_capstyle="butt", color=color_, label=label,
                      gid=GID_FITTED, zorder=1.5)
    return line


def fitted_line(ax, x, y, *, label: str, color_: str = FITTED_COLOR):
    """A rate with a fitted constant: dash-dot, and the label always ends in "(fitted)"."""
    if "fitted" not in label:
        label = f"{label} (fitted)"
    (line,) = ax.plot(x, y, ls="-.", lw=1.3, color=color_, label=label, gid=GID_FITTED)
    return line


#: line styles of the first, second, third ... ceiling series in one panel
CEILING_STYLES = ("--", ":", (0, (6, 2, 1, 2, 1, 2)), (0, (1, 4)))


def ceiling_line(ax, y=None, x=None, *, label: str, ls="--", color_: str = CEILING_COLOR):
    """A cap or floor (horizontal at ``y``) or a vertical marker at ``x``: dashed grey by default."""
    if y is not None:
        return ax.axhline(y, ls=ls, lw=1.1, color=color_, label=label, gid=GID_CEILING)
    return ax.axvline(x, ls=ls, lw=1.1, color=color_, label=label, gid=GID_CEILING)


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
        _data_ticks(ax)
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


#: at most this many distinct measured x values on a log x axis are ticked exactly at the data
DATA_TICKS_MAX = 8


def _data_ticks(ax) -> None:
    """Tick a log x axis at the measured x values when there are few of them: the ends (r = 16, N = 32) get a
    label, which decade-based ticks leave out."""
    from matplotlib import ticker

    xs = sorted({float(v) for line in ax.get_lines() if line.get_gid() in (GID_MEASURED, GID_CLIPPED)
                 for v in np.asarray(line.get_xdata(), float) if np.isfinite(v) and v > 0})
    if 2 <= len(xs) <= DATA_TICKS_MAX:
        ax.xaxis.set_major_locator(ticker.FixedLocator(xs))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))


def count_curves(fig, gid: str) -> int:
    """Number of Line2D artists with ``gid`` and data over all axes of ``fig`` (used by the tests; empty legend
    proxies are not curves)."""
    return sum(1 for ax in fig.axes for line in ax.get_lines() if line.get_gid() == gid and len(line.get_xdata()))


def fmt_ci(value: float, lo: float, hi: float) -> str:
    """``-0.52 [-0.61, -0.44]``."""
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


# ------------------------------------------------------------------------------------------- long frames
#: columns of every figure's data frame (one row per drawn point)
COLUMNS = ["panel", "series", "kind", "x", "y", "lo", "hi", "color"]
KINDS = ("measured", "raw", "theory", "fitted", "fitlaw", "ceiling", "note", "censored")


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


#: attribute naming the family legend entry a curve drawn without its own entry belongs to
FAMILY_ATTR = "lrkd_family"


_FAMILY_SEP = re.compile(r"(?<!\|)\|(?!\|)")  # a lone "|" ("||x||" is a norm, not a separator)


def family_of(series: str) -> str | None:
    """The family (legend text) of a series named ``"legend text|detail"``; None for a plain series."""
    parts = _FAMILY_SEP.split(series, maxsplit=1)
    return parts[0] if len(parts) == 2 else None


def _draw_series(ax, kind: str, s, label: str, col: int, ls_ceiling):
    """Draw one series of a long frame by its kind; returns the artist."""
    c = color(col) if col >= 0 else None
    if kind == "measured":
        return measured(ax, s["x"], s["y"], s["lo"], s["hi"], label=label, i=max(col, 0))
    if kind == "raw":
        (line,) = ax.plot(s["x"], s["y"], lw=0.6, alpha=0.3, color=c, gid=GID_RAW, label=label)
        return line
    if kind == "theory":
        return theory_line(ax, s["x"], s["y"], label=label, color_=c or THEORY_COLOR)
    if kind == "fitted":
        return fitted_line(ax, s["x"], s["y"], label=label, color_=c or FITTED_COLOR)
    if kind == "fitlaw":
        return fitted_law_line(ax, s["x"], s["y"], label=label, color_=c or FITTED_COLOR)
    if kind == "censored":  # a one-sided measurement: open triangles pointing where the value lies (≥ up, ≤ down)
        (line,) = ax.plot(s["x"], s["y"], ls="none", marker="v" if "≤" in label else "^", ms=9, mfc="none", mew=1.5,
                          color=color(max(col, 0)), gid=GID_CENSORED, label=label)
        return line
    if kind == "ceiling":
        if s["x"].nunique() == 1 and len(s) == 2:  # two rows at one x: a vertical marker
            return ceiling_line(ax, x=float(s["x"].iloc[0]), label=label, ls=ls_ceiling, color_=c or CEILING_COLOR)
        if len(s) == 1:
            return ceiling_line(ax, y=float(s["y"].iloc[0]), label=label, ls=ls_ceiling, color_=c or CEILING_COLOR)
        (line,) = ax.plot(s["x"], s["y"], ls=ls_ceiling, lw=1.0, color=c or CEILING_COLOR, label=label,
                          gid=GID_CEILING)
        return line
    raise ValueError(kind)


def _legend_proxy(ax, kind: str, label: str, ls_ceiling) -> None:
    """One grey legend entry (a line without data) standing for a family of curves drawn in their series'
    colours."""
    import pandas as pd

    empty = {"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=float)}
    empty.update(lo=empty["y"], hi=empty["y"])
    artist = _draw_series(ax, kind, empty, label, -1, ls_ceiling)
    artist.set_color("#555555")


def _cut_at_floor(ax, sub, logy: bool):
    """On a log y axis, measured values at or below 0 cannot be drawn: a seed band reaching <= 0 is cut at a
    floor below every positive value drawn, a seed mean <= 0 is left out of its line, and each such x is marked
    by a downward triangle at the floor in the series' colour. Returns the frame to draw and the floor (0 when
    nothing was cut)."""
    if not logy:
        return sub, 0.0
    meas = sub["kind"] == "measured"
    low = meas & ((sub["lo"] <= 0) | (sub["y"] <= 0))
    if not low.any():
        return sub, 0.0
    vals = sub.loc[sub["kind"] != "note", ["y", "lo", "hi"]].to_numpy(float).ravel()
    vals = vals[np.isfinite(vals) & (vals > 0)]
    floor = float(vals.min()) / 2.0 if len(vals) else 1e-3
    first = True
    for col, g in sub[low].groupby("color"):
        ax.plot(g["x"], np.full(len(g), floor), ls="none", marker="v", ms=6, color=color(int(col)),
                gid=GID_CLIPPED, label="≤ 0 (a seed, or the mean): cut at the axis bottom" if first else None)
        first = False
    sub = sub[~(meas & (sub["y"] <= 0))].copy()
    sub.loc[(sub["kind"] == "measured") & (sub["lo"] <= 0), "lo"] = floor
    return sub, floor


def draw_long(df, panels: dict, ncols: int | None = None, suptitle: str | None = None):
    """Draw a long frame: one axes per entry of ``panels`` (panel -> dict(xlabel, ylabel, logx, logy, title,
    raw_label: the legend text of the faint traces, default "per-step values (faint)")),
    each series by its kind (measured: markers + band; raw: faint line; theory: solid; fitted: dash-dot;
    fitlaw: wide translucent; ceiling: dashed, then dotted, ...). Series whose kind is ``note`` are written as
    text in the panel's title. A series named ``"legend text|detail"`` belongs to a family with one grey
    legend entry. A panel whose spec has ``text=True`` shows its notes as a block of text (no axes); a spec's
    ``raw_label`` names the faint traces in the legend."""
    import textwrap

    names = [p for p in panels if p in set(df["panel"])] or list(panels)[:1]
    ncols = ncols or len(names)
    nrows = int(math.ceil(len(names) / ncols))
    fig, axes = new_figure(ncols=ncols, nrows=nrows)
    for ax, name in zip(axes, names):
        spec = panels[name]
        sub = df[df["panel"] == name].copy()
        if spec.get("text"):
            ax.set_axis_off()
            body = [textwrap.fill(t, 60) for t in sub.loc[sub["kind"] == "note", "series"]]
            ax.set_title(spec.get("title", ""), loc="left")
            ax.text(0.0, 1.0, "\n\n".join(body), transform=ax.transAxes, va="top", ha="left", fontsize=8)
            continue
        sub, floor = _cut_at_floor(ax, sub, spec.get("logy", False))
        notes, shown, n_ceiling = [], {}, 0
        for (series, kind), s in sub.groupby(["series", "kind"], sort=False):
            if kind == "note":
                notes.append(series)
                continue
            head = family_of(series)
            if kind == "ceiling" and (head is None or head not in shown):
                n_ceiling += 1
            ls_ceiling = CEILING_STYLES[(n_ceiling - 1) % len(CEILING_STYLES)] if kind == "ceiling" else None
            if head is not None and head not in shown:
                shown[head] = ls_ceiling
                colours = sub.loc[sub["series"].map(family_of) == head, "color"].unique()
                legend = head if len(colours) <= 1 else f"{head}, coloured by series"
                _legend_proxy(ax, kind, legend, ls_ceiling)
            elif head is not None:
                ls_ceiling = shown[head]
            s = s.sort_values("x")
            col = int(s["color"].iloc[0])
            if kind == "raw":  # one legend entry per panel for all faint traces
                label = "_raw" if "raw" in shown else spec.get("raw_label", "per-step values (faint)")
                shown["raw"] = None
            else:
                label = f"_{head}" if head is not None else series
            artist = _draw_series(ax, kind, s, label, col, ls_ceiling)
            if head is not None:
                setattr(artist, FAMILY_ATTR, head)
        title = "\n".join([t for t in (spec.get("title"), *notes) if t]) or None
        label_axes(ax, spec["xlabel"], spec["ylabel"], title=title, logx=spec.get("logx", False),
                   logy=spec.get("logy", False))
        if floor:
            ax.set_ylim(bottom=floor / 1.4)
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
