"""`lrkd rank`: the recommended student rank for N samples under each reading of THEORY.md R.

    lrkd rank --samples N [--shape M D | --teacher-config FILE] [--alpha A | --spectrum FILE]
              [--rate paper|covering|fast] [--fit-range KMIN KMAX | --k-max K] [--json]

R1 for each rate form (needs --alpha or a spectrum), R2's budget rank for each form, and with a spectrum
R3 plus the baselines (Gavish-Donoho, effective rank, energy ranks). `params` is the trainable count p(r):
r(m+d) for a shape, LRC's count for a teacher config. Imports only numpy (no sympy, torch, pandas or
matplotlib) so it answers in a fraction of a second.
"""
from __future__ import annotations

from bounds.cliutil import UsageError, positive_float, positive_int
from bounds.rates import RATE_FORMS

_FORMS = tuple(RATE_FORMS)  # paper, covering, fast


def configure(parser) -> None:
    """Arguments of ``lrkd rank``."""
    parser.add_argument("--samples", type=positive_int, required=True, metavar="N",
                        help="number of i.i.d. training samples (sequences) N")
    target = parser.add_mutually_exclusive_group()  # one is needed unless --spectrum reads a matrix (its shape)
    target.add_argument("--shape", type=positive_int, nargs=2, metavar=("M", "D"),
                        help="teacher matrix shape; p(r) = r(M+D) (free rank-r factorization); default: the shape "
                             "of the --spectrum matrix")
    target.add_argument("--teacher-config", metavar="FILE",
                        help="HuggingFace-style config.json (or its folder); p(r) = LRC's trainable count")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--alpha", type=positive_float, metavar="A",
                        help="power-law spectrum exponent, sigma_k^2 = s k^(-2A); needs A > 1/2")
    source.add_argument("--spectrum", metavar="FILE",
                        help="singular values or a weight matrix: .npy/.txt/.csv/.safetensors/.pt or a model folder")
    parser.add_argument("--tensor", metavar="NAME", help="tensor name inside a .safetensors/.pt spectrum file")
    parser.add_argument("--module", metavar="NAME",
                        help="module inside a model folder, e.g. encoder.layer.0.attention.self.query (uses NAME.weight)")
    parser.add_argument("--rate", choices=_FORMS, help="only this rate form of V(r, N) (default: all three)")
    parser.add_argument("--scale", type=positive_float, default=1.0, metavar="S",
                        help="spectrum scale s of sigma_k^2 = s k^(-2 alpha) with --alpha (default 1.0; fitted "
                             "from a spectrum otherwise)")
    parser.add_argument("--c", dest="C", type=positive_float, default=1.0, metavar="C",
                        help="constant of the variance term V(r, N) = C p(r)^a N^(-b) (default 1.0)")
    parser.add_argument("--epsilon", type=positive_float, default=0.1, metavar="EPS",
                        help="R2's variance budget epsilon (default 0.1)")
    parser.add_argument("--noise-sigma", type=positive_float, metavar="SIGMA",
                        help="known per-entry noise std of the matrix (Gavish-Donoho known-sigma threshold)")
    fit_range = parser.add_mutually_exclusive_group()
    fit_range.add_argument("--fit-range", type=positive_int, nargs=2, metavar=("KMIN", "KMAX"),
                           help="fit the power law sigma_k^2 = s k^(-2 alpha) on k = KMIN..KMAX only (keep a noise "
                                "bulk or a few outlying top values out of the fit; default: every non-negligible k)")
    fit_range.add_argument("--k-max", type=positive_int, metavar="K", help="same as --fit-range 1 K")
    parser.add_argument("--boot", type=positive_int, default=500, metavar="B",
                        help="bootstrap resamples of the spectrum's power-law fit (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _target(args):
    """(p(r) function, p(r)/r, r_max, description) for --shape or --teacher-config."""
    from bounds.params import free_factorization_params, teacher_arch_from_config

    if args.shape is not None:
        m, d = args.shape
        return (lambda r: free_factorization_params(m, d, r)), m + d, min(m, d), {"shape": [m, d]}
    arch = teacher_arch_from_config(args.teacher_config)
    info = {"teacher_config": args.teacher_config, "hidden_size": arch.hidden_size,
            "num_layers": arch.num_layers, "tied_embeddings": arch.tied_embeddings}
    return arch.trainable_params, arch.params_per_rank(), arch.hidden_size, info


def run(args) -> int:
    """Compute and print the recommendations."""
    from bounds import recommend as rec

    if (args.tensor or args.module) and not args.spectrum:
        raise UsageError("--tensor/--module need --spectrum")
    k_range = tuple(args.fit_range) if args.fit_range else (1, args.k_max) if args.k_max else None
    if k_range is not None:
        flag = "--fit-range" if args.fit_range else "--k-max"
        if not args.spectrum:
            raise UsageError(f"{flag} needs --spectrum (it limits the power-law fit of a measured spectrum)")
        if k_range[1] - k_range[0] < 2:
            raise UsageError(f"{flag}: the fit needs at least 3 indices KMIN..KMAX, got {k_range[0]}..{k_range[1]}")
    if args.alpha is not None and not args.alpha > 0.5:
        raise UsageError(f"--alpha must be > 1/2 (the power-law tail must converge), got {args.alpha:g}")
    no_target = args.shape is None and args.teacher_config is None
    if no_target and not args.spectrum:
        raise UsageError("one of --shape M D or --teacher-config FILE is required (or a --spectrum matrix, "
                         "whose shape is then used)")
    spec = None
    if args.spectrum:
        from bounds.spectrum_io import read_spectrum

        spec = read_spectrum(args.spectrum, tensor=args.tensor, module=args.module)
        if no_target:
            if spec.shape is None:
                raise UsageError(f"--shape M D (or --teacher-config) is required: {args.spectrum} holds singular "
                                 "values, not a matrix with a shape")
            args.shape = list(spec.shape)
    params_fn, per_rank, r_max, target_info = _target(args)
    if no_target:
        target_info["shape_from"] = "the --spectrum matrix"
    forms = (args.rate,) if args.rate else _FORMS
    inputs = {"samples": args.samples, **target_info, "alpha": args.alpha, "spectrum": args.spectrum,
              "rate": args.rate or "all", "scale": args.scale, "c": args.C, "epsilon": args.epsilon,
              "noise_sigma": args.noise_sigma, "params_per_rank": per_rank, "max_rank": r_max}
    notes, spectrum_info, sv, shape, fit = [], None, None, None, None
    if spec is not None:
        sv, shape = spec.singular_values, spec.shape
        if shape is not None and args.shape is not None and sorted(shape) != sorted(args.shape):
            raise UsageError(f"--shape {args.shape[0]} {args.shape[1]} does not match the matrix in "
                             f"{args.spectrum} ({shape[0]} x {shape[1]})")
        shape = shape or (tuple(args.shape) if args.shape is not None else None)
        spectrum_info = {"source": spec.source, "n_singular_values": int(sv.size),
                         "matrix_shape": list(spec.shape) if spec.shape else None}
        if k_range is not None and k_range[1] > sv.size:
            raise UsageError(f"{'--fit-range' if args.fit_range else '--k-max'}: KMAX = {k_range[1]} exceeds the "
                             f"{sv.size} singular values of {args.spectrum}")
        try:
            if k_range is None:
                fit = rec.fit_spectrum(sv, n_boot=args.boot, seed=args.seed)
            else:
                fit = rec.fit_spectrum(sv, k_min=k_range[0], k_max=k_range[1], n_boot=args.boot, seed=args.seed)
        except ValueError as exc:
            notes.append(f"no power-law fit: {exc}")
        if fit is not None:
            spectrum_info.update({"alpha": fit.alpha, "alpha_ci95": list(fit.alpha_ci), "s": fit.s, "log_s": fit.log_s,
                                  "fit_k_span": list(fit.k_span),
                                  "fit_k_span_from": "--fit-range/--k-max" if k_range else "default: every sigma_k > 1e-12 sigma_1",
                                  "fit": "Huber log-log fit of sigma_k^2 vs k, "
                                  f"bootstrap {args.boot} resamples, seed {args.seed}"})
            if not fit.alpha > 0.5:
                notes.append(f"fitted alpha = {fit.alpha:.3g} <= 1/2: R1's power-law reading does not apply")
                fit = None
        if shape is None:
            notes.append("Gavish-Donoho needs the matrix shape: pass a matrix or --shape")
    elif args.alpha is None:
        notes.append("R1 needs the spectrum exponent: pass --alpha A or --spectrum FILE")
    recs = rec.recommend(args.samples, per_rank, r_max, forms=forms, alpha=args.alpha, scale=args.scale,
                         C=args.C, epsilon=args.epsilon, singular_values=sv, shape=shape,
                         noise_sigma=args.noise_sigma, spectrum_fit=fit)
    rows = []
    for item in recs:
        row = {"method": item.method, "rank": item.rank, "params": int(params_fn(item.rank)),
               "assumption": item.assumption, "formula": item.formula}
        if item.rank_real is not None:
            row["rank_real"] = item.rank_real
        row.update(item.extra)
        rows.append(row)
        if item.note:
            notes.append(item.note)
        if item.method.startswith("R2/") and item.rank == 0:
            notes.append(f"{item.method}: even rank 1 exceeds the budget epsilon = {args.epsilon:g}")
    out = {"inputs": inputs, "recommendations": rows, "spectrum": spectrum_info, "notes": notes}
    if args.json:
        from bounds.cliutil import emit_json

        emit_json(out)
        return 0
    _print_text(out)
    return 0


def _print_text(out: dict) -> None:
    inp = out["inputs"]
    target = (f"shape {inp['shape'][0]} x {inp['shape'][1]}, p(r) = r(m+d)" if "shape" in inp
              else f"teacher {inp['teacher_config']} (d_T = {inp['hidden_size']}, L = {inp['num_layers']}), "
                   "p(r) = LRC trainable count")
    print(f"N = {inp['samples']}; {target}; V(r, N) = C p(r)^a N^-b with C = {inp['c']:g}")
    spec = out["spectrum"]
    if spec and "alpha" in spec:
        lo, hi = spec["alpha_ci95"]
        print(f"spectrum {spec['source']}: {spec['n_singular_values']} singular values; power law "
              f"alpha = {spec['alpha']:.3f} [95% CI {lo:.3f}, {hi:.3f}] over k = {spec['fit_k_span'][0]}.."
              f"{spec['fit_k_span'][1]} ({spec['fit_k_span_from']})")
    width = max(len(r["method"]) for r in out["recommendations"])
    print(f"{'method':<{width}}  {'rank':>6}  {'params':>12}  assumption / formula")
    for r in out["recommendations"]:
        print(f"{r['method']:<{width}}  {r['rank']:>6}  {r['params']:>12}  {r['assumption']}")
        print(f"{'':<{width}}  {'':>6}  {'':>12}  {r['formula']}")
    for note in out["notes"]:
        print(f"note: {note}")
