"""The judge's input: a results folder written by ``lrkd repro`` or one user CSV, read into :class:`Tables`
and validated, and the kind of each run.

``runs``: one row per run (rank, samples, seed, train_loss, test_loss and the optional columns of
:data:`OPTIONAL_COLUMNS`); ``traj``: one row per logged step (grad_norm_sq and/or grad_norm_sq_running_avg);
``mi``: MI estimates vs rank / step. Bad input is a :class:`bounds.cliutil.UsageError` (one line, exit 2)
naming the column and the first bad row (its line number in the file, header = line 1).

Kinds (INFERENCE rule 2: never pooled): a run's kind is its ``experiment`` (``gen``: the sweep over rank and N,
``conv``: long SGD trajectories, ``horizon``: one SGD run per horizon T at the tuned step) and its
``optimizer`` (``rrr``: exact reduced-rank ERM, ``sgd``, ``adamw``), :func:`run_kind`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bounds.cliutil import UsageError


@dataclass(frozen=True)
class Tables:
    """What the report reads: runs (one row per run), trajectories and MI estimates (long format)."""

    runs: pd.DataFrame
    traj: pd.DataFrame
    mi: pd.DataFrame


#: required columns of a user CSV
REQUIRED_COLUMNS = ("rank", "samples", "seed", "train_loss", "test_loss")
#: optional numeric columns the report uses when present
OPTIONAL_COLUMNS = ("params", "m", "d", "step", "grad_norm_sq", "grad_norm_sq_running_avg", "beta", "sigma2",
                    "delta", "lr", "horizon", "train_loss_smoothed", "test_loss_smoothed", "loss_range_B", "code_bits",
                    "param_norm", "lipschitz", "spectrum_alpha", "mi", "clone_mse", "i1_bound", "i2_cap", "i3_bound")
#: text columns: used (track, experiment, optimizer, status, estimator, i1_kind) or written by ``lrkd repro`` and
#: ignored (config_hash, failure_reason, device, term, ...). Any other column is ignored.
TEXT_COLUMNS = ("track", "experiment", "optimizer", "status", "estimator", "i1_kind", "config_hash",
                "failure_reason", "device", "term", "layer", "objective")
#: the columns checked row by row: name -> (rule, message)
_CHECKS = {
    "samples": (lambda v: v > 0, "must be > 0"),
    "rank": (lambda v: (v > 0) & (v == np.round(v)), "must be a positive integer"),
    "train_loss": (lambda v: v >= 0, "must be finite and >= 0"),
    "test_loss": (lambda v: v >= 0, "must be finite and >= 0"),
}


def _row_error(where: str, col: str, row: int, value, rule: str) -> UsageError:
    shown = value.item() if hasattr(value, "item") else value     # -4, not np.int64(-4)
    return UsageError(f"{where}: column {col!r} {rule}; first bad value {shown!r} on line {row + 2}")


def _numeric(df: pd.DataFrame, cols, where: str) -> pd.DataFrame:
    """Convert ``cols`` to numbers; a non-numeric value is a :class:`UsageError` naming the column and line."""
    for c in cols:
        if c not in df.columns:
            continue
        conv = pd.to_numeric(df[c], errors="coerce")
        bad = conv.isna() & df[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise _row_error(where, c, row, df[c].iloc[row], "must be numeric")
        df[c] = conv
    return df


def validate(df: pd.DataFrame, where: str, finite_losses: bool) -> None:
    """Row checks of :data:`_CHECKS` on the runs whose status is ok (or absent): samples > 0, rank a positive
    integer, losses >= 0 (and finite when ``finite_losses``: a results folder marks a non-finite loss failed)."""
    live = (np.ones(len(df), bool) if "status" not in df.columns
            else (df["status"].fillna("ok").astype(str) == "ok").to_numpy())
    for col, (rule, text) in _CHECKS.items():
        if col not in df.columns:
            continue
        v = df[col].to_numpy(float)
        fin = np.isfinite(v)
        with np.errstate(invalid="ignore"):
            good = rule(v)
        lenient = col in ("train_loss", "test_loss") and not finite_losses
        bad = live & (fin & ~good if lenient else ~(fin & good))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _row_error(where, col, i, df[col].iloc[i], text)


def from_user_csv(path) -> Tables:
    """Read a user CSV of measurements (columns :data:`REQUIRED_COLUMNS`, optional :data:`OPTIONAL_COLUMNS` and
    :data:`TEXT_COLUMNS`). A CSV with ``step`` and ``grad_norm_sq`` columns is a trajectory: each (track, rank,
    samples, seed) is one run, its last step's row gives the run's losses. A ``runs.csv`` written by ``lrkd
    repro`` is read as its results folder's runs table."""
    path = Path(path)
    df = read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise UsageError(f"{path.name}: missing required column(s) {', '.join(missing)} "
                         f"(needs {','.join(REQUIRED_COLUMNS)})")
    if df.empty:
        raise UsageError(f"{path.name}: no rows")
    df = _numeric(df, [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)], path.name)
    written_by_repro = "config_hash" in df.columns and "status" in df.columns
    if not written_by_repro and df[list(REQUIRED_COLUMNS)].isna().any().any():
        col = next(c for c in REQUIRED_COLUMNS if df[c].isna().any())
        raise _row_error(path.name, col, int(np.flatnonzero(df[col].isna().to_numpy())[0]), "", "has an empty value")
    validate(df, path.name, finite_losses=not written_by_repro)
    if "track" not in df.columns:
        df["track"] = "user"
    key = ["track", "rank", "samples", "seed"]
    if "config_hash" not in df.columns:
        df["config_hash"] = df[key].astype(str).agg("/".join, axis=1)
    traj = pd.DataFrame()
    if "step" in df.columns and ("grad_norm_sq" in df.columns or "grad_norm_sq_running_avg" in df.columns):
        traj = df.copy()
        runs = df.sort_values("step").groupby("config_hash", as_index=False).tail(1).reset_index(drop=True)
    else:
        runs = df
    mi = df[df["mi"].notna()].copy() if "mi" in df.columns else pd.DataFrame()
    return Tables(runs=finish_runs(runs), traj=traj, mi=mi)


def from_results_dir(folder) -> Tables:
    """Read a results folder written by ``paper_repro.py`` (``runs.csv``, ``trajectories.csv``, ``mi.csv``)."""
    folder = Path(folder)
    runs_path = folder / "runs.csv"
    if not runs_path.exists():
        raise UsageError(f"{folder}: no runs.csv (is this a results folder written by `lrkd repro`?)")
    runs = read_table(runs_path)
    missing = [c for c in ("rank", "samples", "train_loss", "test_loss") if c not in runs.columns]
    if missing:
        raise UsageError(f"{runs_path}: missing column(s) {', '.join(missing)} (not a runs.csv written by `lrkd repro`)")
    runs = _numeric(runs, [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)], str(runs_path))
    validate(runs, str(runs_path), finite_losses=False)
    traj = read_table(folder / "trajectories.csv") if (folder / "trajectories.csv").exists() else pd.DataFrame()
    mi = read_table(folder / "mi.csv") if (folder / "mi.csv").exists() else pd.DataFrame()
    return Tables(runs=finish_runs(runs), traj=traj, mi=mi)


def read_table(path: Path) -> pd.DataFrame:
    """``pd.read_csv(path)``; an unreadable, empty, non-UTF-8 or malformed file is a :class:`UsageError`."""
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def load_path(path) -> Tables:
    """A results folder or a CSV file; :class:`UsageError` if it is neither."""
    path = Path(path)
    if path.is_dir():
        return from_results_dir(path)
    if path.is_file():
        return from_user_csv(path)
    raise UsageError(f"no such file or folder: {path}")


def finish_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Status (default ok; a non-finite loss is failed), gap = test - train loss, track (default user)."""
    runs = runs.copy()
    runs["status"] = runs["status"].fillna("ok").astype(str) if "status" in runs.columns else "ok"
    if "gap" not in runs.columns or runs["gap"].isna().all():
        runs["gap"] = runs["test_loss"] - runs["train_loss"]
    finite = np.isfinite(runs[["train_loss", "test_loss"]].to_numpy(float)).all(axis=1)
    runs.loc[~finite & (runs["status"] == "ok"), "status"] = "failed"
    if "track" not in runs.columns:
        runs["track"] = "user"
    runs["track"] = runs["track"].fillna("user").astype(str)
    return runs


def run_kind(runs: pd.DataFrame) -> pd.Series:
    """``experiment/optimizer`` per run (``gen/rrr``, ``gen/adamw``, ``conv/sgd``, ``horizon/sgd``; ``gen`` and
    ``sgd`` when a column is absent for a CSV without them: a user table is one experiment)."""
    exp = runs["experiment"].fillna("gen").astype(str) if "experiment" in runs.columns else pd.Series("gen", runs.index)
    opt = runs["optimizer"].fillna("-").astype(str).str.lower() if "optimizer" in runs.columns else pd.Series("-", runs.index)
    return exp + "/" + opt


def gen_rows(runs: pd.DataFrame, track: str) -> tuple[pd.DataFrame, str, dict]:
    """The runs of one kind that claims G and R use on ``track``: the ``gen`` experiment, and within it the most
    frequent optimizer. Returns (rows, kind, {other kind: number of runs left out})."""
    rows = runs[(runs["track"] == track) & (runs["status"] == "ok")]
    kinds = run_kind(rows)
    gen = kinds[kinds.str.startswith("gen/")]
    if gen.empty:
        return rows.iloc[:0], "-", kinds.value_counts().to_dict()
    kind = gen.value_counts().index[0]
    left = kinds[kinds != kind].value_counts().to_dict()
    return rows[kinds == kind], kind, {str(k): int(v) for k, v in left.items()}
