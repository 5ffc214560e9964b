"""`lrkd tightness PATH [--json]`: the tightness report for a results folder or a CSV of measurements.

PATH is a folder written by ``lrkd repro`` (``runs.csv``, ``trajectories.csv``, ``mi.csv``) or a CSV with the
columns ``rank,samples,seed,train_loss,test_loss`` and optionally ``params,m,d,step,grad_norm_sq,
grad_norm_sq_running_avg,beta,sigma2,delta,lr,optimizer,train_loss_smoothed,test_loss_smoothed,loss_range_B,
code_bits,param_norm,lipschitz,spectrum_alpha,horizon`` and the text columns ``track,experiment,optimizer,status,
estimator,i1_kind`` (used) or ``config_hash,failure_reason,device,...`` (ignored; see bounds.tightness.tables). A results folder that holds the
real-teacher stage's outputs (``real_runs.csv``, ``real_spectra_fits.csv``) also gets the real-model section,
rebuilt from those files (:func:`bounds.tightness.real_section_from_dir`; no torch, no model package). Prints
report.md's text, or the report as strict JSON with ``--json``. Writes nothing.
"""
from __future__ import annotations


def configure(parser) -> None:
    """Arguments of ``lrkd tightness``."""
    parser.add_argument("path", help="results folder (from lrkd repro) or a CSV of measurements")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--n-boot", type=int, default=None, metavar="B",
                        help="bootstrap resamples of every CI (default 1000; the risk surface's refits use B/5)")


def run(args) -> int:
    """Build the report from ``args.path`` and print it."""
    import warnings
    from pathlib import Path

    from bounds import tightness
    from bounds.cliutil import emit_json

    from bounds.cliutil import UsageError

    n_boot = getattr(args, "n_boot", None)
    if n_boot is not None and n_boot < 20:
        raise UsageError(f"--n-boot must be >= 20, got {n_boot}")
    kw = {} if n_boot is None else {"n_boot": n_boot, "n_boot_surface": max(5, n_boot // 5)}
    tables = tightness.load_path(args.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = tightness.judge(tables, **kw)
        real = tightness.real_section_from_dir(args.path) if Path(args.path).is_dir() else None
    if real is not None:
        report["real_model"] = real
    if args.json:
        emit_json(report)
    else:
        print(tightness.to_markdown(report), end="")
    return 0
