"""`lrkd tightness PATH [--json]`: the tightness report for a results folder or a CSV of measurements.

PATH is a folder written by ``lrkd repro`` (``runs.csv``, ``trajectories.csv``, ``mi.csv``) or a CSV with the
columns ``rank,samples,seed,train_loss,test_loss`` and optionally ``params,m,d,step,grad_norm_sq,
grad_norm_sq_running_avg,beta,sigma2,delta,lr,optimizer,train_loss_smoothed,test_loss_smoothed,loss_range_B,
code_bits,param_norm,lipschitz,spectrum_alpha,track`` (see bounds.tightness). A results folder that holds the
real-teacher stage's outputs (``real_runs.csv``, ``real_spectra_fits.csv``) also gets the real-model section,
rebuilt from those files (:func:`bounds.tightness.real_section_from_dir`; no torch, no model package). Prints
report.md's text, or the report as strict JSON with ``--json``. Writes nothing.
"""
from __future__ import annotations


def configure(parser) -> None:
    """Arguments of ``lrkd tightness``."""
    parser.add_argument("path", help="results folder (from lrkd repro) or a CSV of measurements")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    """Build the report from ``args.path`` and print it."""
    import warnings
    from pathlib import Path

    from bounds import tightness
    from bounds.cliutil import emit_json

    tables = tightness.load_path(args.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = tightness.judge(tables)
        real = tightness.real_section_from_dir(args.path) if Path(args.path).is_dir() else None
    if real is not None:
        report["real_model"] = real
    if args.json:
        emit_json(report)
    else:
        print(tightness.to_markdown(report), end="")
    return 0
