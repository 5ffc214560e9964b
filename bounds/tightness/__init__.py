"""The tightness report: claim by claim (C, G, R, I of the paper; ``docs/theory.md``), is the theory right and
how tight is it. Input is a table of measurements, never a model (:mod:`.tables`).

One module per claim, each read top to bottom: :mod:`.claim_c` (convergence rate, in its own setting),
:mod:`.claim_g` (generalization gap), :mod:`.claim_r` (optimal rank against R1's finite-grid prediction),
:mod:`.claim_i` (mutual information), :mod:`.real` (the real pretrained teacher); shared vocabulary and the
rule that combines tracks in :mod:`.common`, seed-mean fits with a cluster bootstrap in :mod:`.cellfit`, the
markdown in :mod:`.render`. Verdicts are in :data:`VERDICTS`; one per track, combined by :data:`COMBINE_RULE`.

Imports numpy, scipy and pandas only (and :mod:`bounds`), never torch.
"""
from __future__ import annotations

import pandas as pd

from bounds.cliutil import UsageError

from .claim_c import HORIZON_COLUMNS, c1_curves, claim_C, running_average
from .claim_g import G_CANDIDATES, claim_G, g2_bound, g3_bound, g_bound_points
from .claim_i import MI_COLUMNS, claim_I, mi_trajectories
from .claim_r import claim_R
from .common import (BOUND_DELTA, COMBINE_RULE, MARGIN_RULE, MAX_CI_WIDTH, N_BOOT, VERDICTS, combine_tracks, covers,
                     covers_exponent)
from .real import (ALL_MATRICES_METHODS, REAL_ALL_FITS_FILE, REAL_ALL_RANKS_FILE, REAL_COLUMNS, REAL_FITS_FILE,
                   REAL_RUNS_FILE, SEED_GAMMA, r1_gammas_by_form, real_all_matrices_summary, real_g2_bound,
                   real_gap_fit, real_model_section, real_section_from_dir, short_matrix_name)
from .render import _all_matrices_markdown, _real_markdown, to_markdown, write_report
from .tables import (OPTIONAL_COLUMNS, REQUIRED_COLUMNS, TEXT_COLUMNS, Tables, finish_runs, from_results_dir,
                     from_user_csv, load_path, run_kind)

_finish_runs = finish_runs  # the name paper_repro.py and the tests use

__all__ = ["ALL_MATRICES_METHODS", "BOUND_DELTA", "COMBINE_RULE", "G_CANDIDATES", "HORIZON_COLUMNS", "MAX_CI_WIDTH",
           "MI_COLUMNS", "N_BOOT", "OPTIONAL_COLUMNS", "REAL_ALL_FITS_FILE", "REAL_ALL_RANKS_FILE", "REAL_COLUMNS",
           "REAL_FITS_FILE", "REAL_RUNS_FILE", "REQUIRED_COLUMNS", "SEED_GAMMA", "TEXT_COLUMNS", "Tables", "UsageError",
           "VERDICTS", "c1_curves", "claim_C", "claim_G", "claim_I", "claim_R", "combine_tracks", "covers", "covers_exponent",
           "finish_runs", "from_results_dir", "from_user_csv", "g2_bound", "g3_bound", "g_bound_points", "judge",
           "load_path", "mi_trajectories", "r1_gammas_by_form", "real_all_matrices_summary",
           "real_g2_bound", "real_gap_fit", "real_model_section", "real_section_from_dir", "run_counts",
           "run_kind", "running_average", "short_matrix_name", "to_markdown", "write_report"]


def run_counts(tables: Tables) -> dict:
    """How many runs of each (track, kind) the table holds and which claim uses them; MI-cloning runs (in the MI
    table only)."""
    runs = tables.runs[tables.runs["status"] == "ok"]
    use = {"gen": "G, R", "conv": "C (C1 bound at fixed eta; slope as a description)", "horizon": "C (rate test)"}
    kinds = run_kind(runs)
    by = []
    for (track, kind), n in pd.DataFrame({"track": runs["track"], "kind": kinds}).value_counts(sort=False).items():
        exp, opt = kind.split("/", 1)
        used = use.get(exp, "not used by a claim")
        if exp == "conv" and opt != "sgd":
            used = "not used (C1 applies to SGD only)"
        by.append({"track": track, "kind": kind, "n": int(n), "used_by": used})
    mi = tables.mi
    n_mi = 0
    if mi is not None and not mi.empty and "config_hash" in mi.columns:
        n_mi = int((~mi["config_hash"].drop_duplicates().isin(tables.runs.get("config_hash", pd.Series()))).sum())
    return {"by_kind": sorted(by, key=lambda x: (x["track"], x["kind"])), "mi_runs": n_mi}


def judge(tables: Tables, seed: int = 0, n_boot: int = N_BOOT, n_boot_surface: int | None = None) -> dict:
    """The whole report (a JSON-able dict): every claim's per-track verdicts, fits, bounds and overall verdict."""
    runs = tables.runs
    report = {
        "n_runs": int(len(runs)), "n_ok": int((runs["status"] == "ok").sum()),
        "n_failed": int((runs["status"] != "ok").sum()), "run_counts": run_counts(tables),
        "failed": runs.loc[runs["status"] != "ok", [c for c in ("config_hash", "track", "rank", "samples", "seed",
                                                                 "failure_reason") if c in runs]].to_dict("records"),
        "combine_rule": COMBINE_RULE, "margin_rule": MARGIN_RULE,
        "claims": {"C": claim_C(runs, tables.traj, seed, n_boot=n_boot), "G": claim_G(runs, seed, n_boot=n_boot),
                   "R": claim_R(runs, seed, n_boot=n_boot, **({} if n_boot_surface is None else {"n_boot_surface": n_boot_surface})), "I": claim_I(tables.mi)},
    }
    for c in report["claims"].values():
        assert c["verdict"] in VERDICTS, c["verdict"]
    return report
