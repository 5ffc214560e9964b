"""``lrkd mi``: mutual information (nats) between two sample matrices, and the estimator validation suite.

    lrkd mi --x X.npy --y Y.npy [--estimator gaussian|ksg|infonce|all] [--shrinkage auto|off|ledoit-wolf]
            [--k K] [--batch-size B] [--json]
    lrkd mi --validate [--preset smoke|quick|full] [--out DIR] [--json]

Rows of X and Y are paired samples (a 1-D array is n samples of a scalar). Files are read with
``numpy.load(allow_pickle=False)``. An estimate known to be biased (KSG in high dimension or at high MI,
InfoNCE near its ceiling or with an overfit critic, a shrunk Gaussian estimate) carries a ``warning`` in the
JSON and prints one ``lrkd mi: warning:`` line per estimator on stderr. Nothing heavy is imported at module
level.
"""
from __future__ import annotations

from bounds.cliutil import UsageError, emit_json, positive_int

ESTIMATORS = ("gaussian", "ksg", "infonce")


def configure(parser) -> None:
    """Arguments of ``lrkd mi``."""
    parser.add_argument("--x", metavar="X.npy", help="samples of X (n x d_x .npy)")
    parser.add_argument("--y", metavar="Y.npy", help="samples of Y (n x d_y .npy), rows paired with X")
    parser.add_argument("--estimator", choices=[*ESTIMATORS, "all"], default="all",
                        help="which estimator (default: all)")
    parser.add_argument("--shrinkage", choices=["auto", "off", "ledoit-wolf"], default="auto",
                        help="Gaussian estimator's covariance shrinkage: auto (default) shrinks only when the sample "
                             "covariance is singular (n < d_x + d_y + 2 or collinear columns), off never, "
                             "ledoit-wolf always; shrinkage biases the MI down")
    parser.add_argument("--k", type=positive_int, default=3, help="KSG neighbours (default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=128,
                        help="InfoNCE batch size B; its ceiling is log B (default 128)")
    parser.add_argument("--steps", type=positive_int, default=400, help="InfoNCE critic training steps (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="seed of InfoNCE training and KSG tie jitter")
    parser.add_argument("--validate", action="store_true",
                        help="run the validation suite against closed-form ground truth instead")
    parser.add_argument("--preset", choices=["smoke", "quick", "full"], default="quick",
                        help="validation grid: smoke (1+1 dims, n=500, 2 families, seconds), quick (default: 1+1, 4+4 "
                             "and 32+32 dims, n=2000, MI 0.1-8 nats, 4 families, 3 seeds; minutes), full (1+1 to "
                             "32+32 dims, n=1000 and 10000, MI 0.1-8 nats, 4 families, 5 seeds; long)")
    parser.add_argument("--out", metavar="DIR", help="validation: write CSVs and the figure here")
    parser.add_argument("--json", action="store_true", help="print JSON")


#: the first bytes of a .npy file and of a .npz (zip) archive
_NPY_MAGIC, _ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def _not_npy(path: str, name: str) -> str | None:
    """Why ``path`` is not a .npy/.npz file (judged by its first bytes), or None when it might be one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None  # np.load reports it
    if head.startswith(_NPY_MAGIC) or head.startswith(_ZIP_MAGIC):
        return None
    expected = ("a numeric array saved with numpy.save "
                "(e.g. numpy.save(\"x.npy\", numpy.loadtxt(\"x.csv\", delimiter=\",\")))")
    if not head:
        return f"--{name}: {path} is empty; expected {expected}"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"--{name}: {path} is not a .npy file (binary data without the .npy header); expected {expected}"
    first = text.splitlines()[0][:30] if text.strip() else ""
    kind = "a CSV/text table" if ("," in first or "\t" in first) else "a text file"
    return f"--{name}: {path} is {kind} (starts {first!r}), not a .npy file; expected {expected}"


def _load(path: str, name: str):
    import numpy as np

    why = _not_npy(path, name)
    if why is not None:
        raise UsageError(why)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"--{name}: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"--{name}: is a directory: {path}") from None
    except ValueError as exc:
        if "bject" in str(exc):  # "Object arrays cannot be loaded when allow_pickle=False"
            raise UsageError(f"--{name}: {path} holds Python objects (dtype object), not numbers; "
                             "expected a numeric array saved with numpy.save") from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--{name}: cannot read {path} as a .npy array ({reason})") from None
    except (OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--{name}: cannot read {path} as a .npy array ({reason})") from None
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "close"):
            arr.close()
        raise UsageError(f"--{name}: {path} is an .npz archive; save one array with numpy.save")
    return arr


def _one(name: str, x, y, args) -> dict:
    if name == "gaussian":
        from empirical.mi.gaussian import gaussian_mi

        r = gaussian_mi(x, y, shrinkage=args.shrinkage)
        return {"estimator": name, "mi": r.mi, "mi_plugin": r.mi_plugin,
                "canonical_correlations": r.canonical_correlations, "shrinkage": r.shrinkage,
                "shrinkage_mode": args.shrinkage, "bias_corrected": r.bias_corrected, "sd_null": r.sd_null,
                "warning": r.warning}
    if name == "ksg":
        from empirical.mi.ksg import ksg_mi

        r = ksg_mi(x, y, k=args.k, seed=args.seed)
        return {"estimator": name, "mi": r.mi, "k": r.k, "method": r.method, "warning": r.warning}
    from empirical.mi.infonce import SATURATION_MARGIN, infonce_mi

    r = infonce_mi(x, y, batch_size=args.batch_size, steps=args.steps, seed=args.seed)
    return {"estimator": name, "mi": r.mi, "ceiling": r.ceiling, "batch_size": r.batch_size,
            "n_train": r.n_train, "n_test": r.n_test, "critic": r.critic,
            "train_mi": r.train_mi, "saturated": bool(r.mi > r.ceiling - SATURATION_MARGIN), "warning": r.warning}


#: fewest samples each estimator accepts from the command line
MIN_SAMPLES = {"gaussian": 3, "ksg": None, "infonce": 20}


def _estimate(args) -> int:
    if not args.x or not args.y:
        raise UsageError("give both --x X.npy and --y Y.npy (or --validate)")
    from empirical.mi.samples import as_samples

    x_raw, y_raw = _load(args.x, "x"), _load(args.y, "y")
    names = list(ESTIMATORS) if args.estimator == "all" else [args.estimator]
    need = max((MIN_SAMPLES[n] or args.k + 1) for n in names)
    try:
        x, y = as_samples(x_raw, y_raw, min_samples=need, name_x="--x", name_y="--y")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
    results = []
    for name in names:
        try:
            res = _one(name, x, y, args)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
        res.update({"n": n, "dx": dx, "dy": dy, "units": "nats"})
        results.append(res)
    import sys

    for r in results:
        if r["warning"]:
            print(f"lrkd mi: warning: {r['warning']}", file=sys.stderr)
    if args.json:
        emit_json(results[0] if len(results) == 1 else results)
        return 0
    print(f"lrkd mi: n={n} samples, d_x={dx}, d_y={dy} (nats)")
    for r in results:
        extra = ""
        if r["estimator"] == "gaussian":
            rho = ", ".join(f"{v:.3f}" for v in r["canonical_correlations"][:5])
            extra = f"  canonical correlations: {rho}{' ...' if len(r['canonical_correlations']) > 5 else ''}"
            extra += f"; shrinkage {r['shrinkage']:.3g} ({r['shrinkage_mode']})"
            if r["shrinkage"] == 0:
                extra += f"; sd under independence {r['sd_null']:.3g}"
        elif r["estimator"] == "ksg":
            extra = f"  k={r['k']}, {r['method']}"
        else:
            extra = f"  ceiling log B = {r['ceiling']:.3f} (B={r['batch_size']})"
            if r["saturated"]:
                extra += "  SATURATED: the true MI may be far above this"
        print(f"  {r['estimator']:<9} {r['mi']:8.4f}{extra}")
    return 0


def _validate(args) -> int:
    from pathlib import Path

    if args.x or args.y:
        raise UsageError("--validate takes no --x/--y")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    import sys

    from empirical.mi import validate

    def progress(i, total, row):
        if not args.json and sys.stderr.isatty():
            print(f"\r  {i}/{total} {row['estimator']:<8} {row['family']:<15} {row['dims']:>6} "
                  f"n={row['n']} I={row['true_mi']:g}", end="", file=sys.stderr, flush=True)

    raw = validate.run(args.preset, progress=progress)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    summary = validate.summarize(raw)
    table = validate.family_table(summary)
    files = {}
    if out is not None:
        from figures import io, mi_validation

        out.mkdir(parents=True, exist_ok=True)
        raw.to_csv(out / "mi_validation_raw.csv", index=False)
        summary.to_csv(out / "mi_validation_summary.csv", index=False)
        fig_df = mi_validation.compute(raw)
        saved = io.save(mi_validation.plot(fig_df), fig_df, out, "mi_validation")
        files = {f"figure_{k}": str(v) for k, v in saved.items()}
        files.update(raw=str(out / "mi_validation_raw.csv"), summary=str(out / "mi_validation_summary.csv"))
    if args.json:
        emit_json({"preset": args.preset, "units": "nats", "table": table.to_dict(orient="records"),
                   "summary": summary.to_dict(orient="records"), "files": files})
        return 0
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.float_format", "{:.3f}".format):
        print(f"lrkd mi --validate (preset {args.preset}): bias and spread over seeds, nats")
        print(table.to_string(index=False))
    for k, v in files.items():
        print(f"  wrote {k}: {v}")
    return 0


def run(args) -> int:
    """Estimate MI between two .npy sample matrices, or run the validation suite."""
    return _validate(args) if args.validate else _estimate(args)
