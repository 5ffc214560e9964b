"""`lrkd rank`: the recommended student rank for N samples, one headline answer first, then every reading.

    lrkd rank --samples N [--unit sequences|tokens] [--tokens-per-sample T]
              [--shape M D | --teacher-config FILE|FOLDER] [--adapter lrc|lora|svd] [--targets q_proj,...]
              [--alpha A | --spectrum FILE] [--reference RANK@N0] [--calibrate RUNS [--track NAME]]
              [--allocate FOLDER (--budget-fraction F | --budget-params P)] [--plan-pilot] [--json]

The headline (:mod:`bounds.headline`) comes from a calibration on pilot runs (:mod:`bounds.calibrate`), else a
reference rank scaled by r0 (N/N0)^gamma (:mod:`bounds.reference`), else a spectrum baseline. After it: R1 for
each rate form (needs --alpha or a spectrum), R2's budget rank, and with a spectrum R3 plus the baselines
(Gavish-Donoho, effective rank, energy ranks); R1/R2/R3 without user constants are "scaling only". `params`
is the trainable count p(r) of the chosen adapter (:mod:`bounds.adapters`). Without --calibrate, --allocate
and --plan-pilot only numpy is imported (no sympy, torch, pandas or matplotlib): it answers in well under 1 s.
"""
from __future__ import annotations

from bounds.cliutil import UsageError, positive_float, positive_int, unit_interval
from bounds.rates import RATE_FORMS
from bounds.units import UNITS, count_arg

_FORMS = tuple(RATE_FORMS)  # paper, covering, fast
_ADAPTERS = ("lrc", "lora", "svd")


def configure(parser) -> None:
    """Arguments of ``lrkd rank``."""
    parser.add_argument("--samples", type=count_arg, required=True, metavar="N",
                        help="data size N: 2000000, 2e6, 2M, 20B, 1.5k (unit: --unit; the full data size with "
                             "--plan-pilot)")
    parser.add_argument("--unit", choices=UNITS, default="sequences",
                        help="what --samples (and a --reference's N0) count (default: sequences = i.i.d. samples)")
    parser.add_argument("--tokens-per-sample", type=positive_int, metavar="T",
                        help="tokens per sequence: converts tokens to sequences (the theory's N), printed both ways")
    target = parser.add_mutually_exclusive_group()  # one is needed unless --spectrum reads a matrix (its shape)
    target.add_argument("--shape", type=positive_int, nargs=2, metavar=("M", "D"),
                        help="teacher matrix shape; p(r) = r(M+D) (free rank-r factorization); default: the shape "
                             "of the --spectrum matrix")
    target.add_argument("--teacher-config", metavar="FILE",
                        help="HuggingFace-style config.json or a model folder; p(r) = the --adapter's count")
    parser.add_argument("--adapter", choices=_ADAPTERS,
                        help="what the rank means with --teacher-config: lrc = student width (default), lora = "
                             "LoRA rank per targeted module, svd = truncation rank per targeted matrix")
    parser.add_argument("--targets", metavar="NAMES",
                        help="modules adapted by lora/svd, e.g. q_proj,v_proj (PEFT target_modules; default all)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--alpha", type=positive_float, metavar="A",
                        help="power-law spectrum exponent, sigma_k^2 = s k^(-2A); needs A > 1/2")
    source.add_argument("--spectrum", metavar="FILE",
                        help="singular values or a weight matrix: .npy/.txt/.csv/.safetensors/.pt or a model folder")
    parser.add_argument("--tensor", metavar="NAME", help="tensor name inside a .safetensors/.pt spectrum file")
    parser.add_argument("--module", metavar="NAME",
                        help="module inside a model folder, e.g. encoder.layer.0.attention.self.query (uses NAME.weight)")
    parser.add_argument("--rate", choices=_FORMS, help="only this rate form of V(r, N) (default: all three)")
    parser.add_argument("--reference", metavar="RANK@N0",
                        help="a rank known to work at N0 (same unit as --samples), e.g. 1536@20B: r(N) = r0 (N/N0)^gamma")
    parser.add_argument("--calibrate", metavar="RUNS",
                        help="pilot runs (a `lrkd repro` results folder or a CSV in the `lrkd tightness` format): "
                             "fit L(r, N) = E + A tail(r) + C p(r)^a N^-b and give r*(N) with its interval")
    parser.add_argument("--track", metavar="NAME", help="with --calibrate: the track of the runs to fit")
    parser.add_argument("--level", type=unit_interval, default=0.95, help="interval level (default 0.95)")
    parser.add_argument("--plan-pilot", action="store_true",
                        help="list the (rank, N) pilot runs a calibration needs for the full data size --samples")
    parser.add_argument("--guess-rank", type=positive_int, metavar="R",
                        help="with --plan-pilot: the rank you expect at the full N (default: the headline's)")
    parser.add_argument("--allocate", metavar="FOLDER",
                        help="model folder (safetensors + config.json): allocate ranks across its matrices")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget-fraction", type=unit_interval, metavar="F",
                        help="with --allocate: parameter budget as a fraction of the dense parameters")
    budget.add_argument("--budget-params", type=count_arg, metavar="P",
                        help="with --allocate: parameter budget (e.g. 2M); default: the headline rank's count")
    parser.add_argument("--scale", type=positive_float, metavar="S",
                        help="spectrum scale s of sigma_k^2 = s k^(-2 alpha) with --alpha (default 1.0, unknown in "
                             "practice; fitted from a spectrum otherwise)")
    parser.add_argument("--c", dest="C", type=positive_float, metavar="C",
                        help="constant of the variance term V(r, N) = C p(r)^a N^(-b) (default 1.0, unknown in practice)")
    parser.add_argument("--epsilon", type=positive_float, metavar="EPS",
                        help="R2's variance budget epsilon (default 0.1, unknown in practice)")
    parser.add_argument("--noise-sigma", type=positive_float, metavar="SIGMA",
                        help="known per-entry noise std of the matrix (Gavish-Donoho known-sigma threshold)")
    fit_range = parser.add_mutually_exclusive_group()
    fit_range.add_argument("--fit-range", type=positive_int, nargs=2, metavar=("KMIN", "KMAX"),
                           help="fit the power law sigma_k^2 = s k^(-2 alpha) on k = KMIN..KMAX only (keep a noise "
                                "bulk or a few outlying top values out of the fit; default: every non-negligible k)")
    fit_range.add_argument("--k-max", type=positive_int, metavar="K", help="same as --fit-range 1 K")
    parser.add_argument("--boot", type=positive_int, default=500, metavar="B",
                        help="bootstrap resamples of the spectrum's power-law fit and of a calibration (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _target(args):
    """(AdapterCount, description) for --shape or --teacher-config with --adapter."""
    from bounds.adapters import AdapterCount, factorized_count, lrc_count

    if args.shape is not None:
        if args.adapter == "lrc" or args.targets:
            raise UsageError("--adapter lrc and --targets need --teacher-config (--shape is one matrix, p(r) = r(M+D))")
        m, d = args.shape
        return AdapterCount("matrix", m + d, min(m, d), 1, m * d, "rank-r factorization of one matrix"), {"shape": [m, d]}
    import os

    from bounds.modules import modules_from_config, modules_from_folder, parse_targets, select
    from bounds.params import teacher_arch_from_config

    arch = teacher_arch_from_config(args.teacher_config)
    info = {"teacher_config": args.teacher_config, "hidden_size": arch.hidden_size,
            "num_layers": arch.num_layers, "tied_embeddings": arch.tied_embeddings}
    adapter = args.adapter or "lrc"
    if adapter == "lrc" and args.targets:
        raise UsageError("--targets applies to --adapter lora or svd (LRC adapts every block matrix)")
    cfg = args.teacher_config
    has_weights = os.path.isdir(cfg) and any(os.path.exists(os.path.join(cfg, f)) for f in
                                             ("model.safetensors", "model.safetensors.index.json"))
    modules = modules_from_folder(cfg) if has_weights else modules_from_config(cfg)
    info["modules_from"] = "safetensors header" if has_weights else "config.json shapes"
    counts = {"lrc": lrc_count(arch)}
    chosen = select(modules, parse_targets(args.targets))
    for name in ("lora", "svd"):
        counts[name] = factorized_count(name, chosen)
    info["adapter"] = adapter
    info["targets"] = args.targets or "all"
    info["n_target_modules"] = len(chosen)
    return counts[adapter], {**info, "_others": [c for k, c in counts.items() if k != adapter]}


def _validate(args) -> None:
    if (args.tensor or args.module) and not args.spectrum:
        raise UsageError("--tensor/--module need --spectrum")
    if args.alpha is not None and not args.alpha > 0.5:
        raise UsageError(f"--alpha must be > 1/2 (the power-law tail must converge), got {args.alpha:g}")
    if args.track and not args.calibrate:
        raise UsageError("--track needs --calibrate")
    if args.guess_rank and not args.plan_pilot:
        raise UsageError("--guess-rank needs --plan-pilot")
    if (args.budget_fraction or args.budget_params) and not args.allocate:
        raise UsageError("--budget-fraction/--budget-params need --allocate FOLDER")


def run(args) -> int:
    """Compute and print the headline, the per-method table and whatever was asked (see the module docstring)."""
    from bounds import recommend as rec
    from bounds.units import SampleCount

    _validate(args)
    k_range = tuple(args.fit_range) if args.fit_range else (1, args.k_max) if args.k_max else None
    if k_range is not None:
        flag = "--fit-range" if args.fit_range else "--k-max"
        if not args.spectrum:
            raise UsageError(f"{flag} needs --spectrum (it limits the power-law fit of a measured spectrum)")
        if k_range[1] - k_range[0] < 2:
            raise UsageError(f"{flag}: the fit needs at least 3 indices KMIN..KMAX, got {k_range[0]}..{k_range[1]}")
    no_target = args.shape is None and args.teacher_config is None
    if no_target and not args.spectrum and not args.calibrate:
        raise UsageError("one of --shape M D or --teacher-config FILE is required (or a --spectrum matrix, "
                         "whose shape is then used)")
    reference = None
    if args.reference:
        from bounds.reference import parse_reference

        try:
            reference = parse_reference(args.reference)
        except ValueError as exc:
            raise UsageError(f"--reference: {exc}") from None
    n = SampleCount(args.samples, args.unit, args.tokens_per_sample)
    N = n.formula_n
    spec = None
    if args.spectrum:
        from bounds.spectrum_io import read_spectrum

        spec = read_spectrum(args.spectrum, tensor=args.tensor, module=args.module)
        if no_target and spec.shape is not None:
            args.shape = list(spec.shape)
        elif no_target and not args.calibrate:
            raise UsageError(f"--shape M D (or --teacher-config) is required: {args.spectrum} holds singular "
                             "values, not a matrix with a shape")
    if args.shape is None and args.teacher_config is None:  # --calibrate alone: a count per rank of 1
        from bounds.adapters import AdapterCount

        count, target_info = AdapterCount("rank", 1, 10**9, 1, None, "rank as in the runs"), {}
    else:
        count, target_info = _target(args)
    others = target_info.pop("_others", [])
    if no_target and args.shape is not None:
        target_info["shape_from"] = "the --spectrum matrix"
    per_rank, r_max = count.per_rank, count.max_rank
    forms = (args.rate,) if args.rate else _FORMS
    C = 1.0 if args.C is None else args.C
    eps = 0.1 if args.epsilon is None else args.epsilon
    scale = 1.0 if args.scale is None else args.scale
    inputs = {"samples": args.samples, "unit": args.unit, "tokens_per_sample": args.tokens_per_sample,
              "N_formulas": N, "N_unit": n.formula_unit, "N_text": n.describe(), **target_info,
              "alpha": args.alpha, "spectrum": args.spectrum, "rate": args.rate or "all", "scale": scale, "c": C,
              "epsilon": eps, "noise_sigma": args.noise_sigma, "params_per_rank": per_rank, "max_rank": r_max,
              "reference": str(reference) if reference else None}
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
    elif args.alpha is None and (args.shape is not None or args.teacher_config is not None):
        notes.append("R1 needs the spectrum exponent: pass --alpha A or --spectrum FILE")
    rows = []
    if args.shape is not None or args.teacher_config is not None:
        recs = rec.recommend(N, per_rank, r_max, forms=forms, alpha=args.alpha, scale=scale, C=C, epsilon=eps,
                             singular_values=sv, shape=shape, noise_sigma=args.noise_sigma, spectrum_fit=fit)
        rows = _rows(recs, count, args, notes)
    out = {"inputs": inputs, "recommendations": rows, "spectrum": spectrum_info, "notes": notes}
    calibrated, model = None, None
    if args.calibrate:
        from bounds.calibrate import calibrate

        from bounds.calibrate import spectrum_tail

        # the pilot's `samples` are in the unit the user asks in (--unit), like a reference's N0: no conversion
        tail, p_of_r = (spectrum_tail(sv) if sv is not None else None), None
        if args.allocate and args.budget_fraction is None and args.budget_params is None:
            model = _model_tails(args)              # calibrate on the model's total tail: allocation by variance
            tail, p_of_r = model["tail"], model["params"]
        out["calibration"] = calibrate(args.calibrate, N=float(args.samples), track=args.track, ranks_max=r_max,
                                       tail=tail, params_of_rank=p_of_r, n_boot=args.boot, seed=args.seed,
                                       level=args.level)
        if model is not None:
            out["calibration"]["tail"] = "total tail of the --allocate model's matrices at a uniform rank"
        calibrated = out["calibration"].get("headline")
    alpha_for_gamma = args.alpha if args.alpha is not None else (fit.alpha if fit is not None else None)
    ref_rows = []
    if reference is not None:
        from bounds.reference import reference_ranks

        cal = out.get("calibration") or {}
        ref_rows = reference_ranks(reference, args.samples, r_max, alpha=alpha_for_gamma, forms=forms,
                                   calibrated_gamma=cal.get("gamma"), calibrated_gamma_ci=cal.get("gamma_ci"))
        out["reference"] = [{"method": r.method, "gamma": r.gamma, "gamma_ci": r.gamma_ci, "rank": r.rank,
                             "rank_real": r.rank_real, "rank_interval": r.rank_interval, "source": r.source,
                             "params": count.params(r.rank)} for r in ref_rows]
    from bounds.headline import choose

    head = choose(calibrated=calibrated, reference_rows=ref_rows, method_rows=rows,
                  reference_text=str(reference) if reference else "")
    out = {"headline": {**head.to_dict(), "line": head.line(n.describe()),
                        "params": count.params(head.rank) if head.rank else None}, **out}
    if head.rank and others:
        from bounds.adapters import conversions

        out["conversions"] = {"from": count.adapter, "rank": head.rank, "params": count.params(head.rank),
                              "to": conversions(head.rank, count, others)}
    if args.allocate:
        out["allocation"] = _allocation(args, head, count, out.get("calibration"), model)
    if args.plan_pilot:
        from bounds.pilot import plan_pilot

        guess = args.guess_rank or head.rank
        out["pilot"] = plan_pilot(args.samples, guess, r_max, unit=args.unit).to_dict()
    if args.json:
        from bounds.cliutil import emit_json

        emit_json(out)
        return 0
    from bounds.rank_text import print_text

    print_text(out)
    return 0


def _rows(recs, count, args, notes) -> list[dict]:
    """Recommendation rows; R1/R2/R3 are "scaling only" unless the user gave their constants."""
    known = {"R1": args.C is not None and (args.scale is not None or args.spectrum is not None),
             "R2": args.C is not None and args.epsilon is not None, "R3": args.C is not None}
    rows = []
    for item in recs:
        row = {"method": item.method, "rank": item.rank, "params": int(count.params(item.rank)),
               "assumption": item.assumption, "formula": item.formula}
        if item.rank_real is not None:
            row["rank_real"] = item.rank_real
        row.update(item.extra)
        family = item.method.split("/")[0]
        if family in known:
            row["scaling_only"] = not known[family]
        rows.append(row)
        if item.note:
            notes.append(item.note)
        if family == "R2" and item.rank == 0 and known["R2"]:
            notes.append(f"{item.method}: even rank 1 exceeds the budget epsilon = {args.epsilon:g} (no rank fits)")
    if any(r.get("scaling_only") for r in rows):
        notes.append("R1/R2/R3 use constants nobody knows (--c, --scale, --epsilon default to 1, 1, 0.1): read them "
                     "for their scaling in N only; --calibrate or --reference gives an answer")
    return rows


def _model_tails(args) -> dict:
    """The --allocate folder's targeted modules, spectra, and the uniform-rank total tail and p(r)."""
    from bounds.allocate import model_spectra, tail_energies, total_tail_function
    from bounds.modules import modules_from_folder, parse_targets, select

    modules = select(modules_from_folder(args.allocate), parse_targets(args.targets))
    spectra = model_spectra(args.allocate, modules)
    tail, params = total_tail_function([tail_energies(s) for s in spectra], [m.per_rank for m in modules])
    return {"modules": modules, "spectra": spectra, "tail": tail, "params": params}


def _allocation(args, head, count, cal: dict | None, model: dict | None) -> dict:
    """Per-matrix ranks: at a budget (--budget-*), by the calibrated variance term, or at the headline's params."""
    from bounds.allocate import allocate_model, allocate_modules_with_variance
    from bounds.modules import parse_targets

    if args.budget_fraction is None and args.budget_params is None and cal is not None:
        if not cal.get("ok"):
            raise UsageError("--allocate with --calibrate needs an identifiable calibration (see the refusal: "
                             f"{cal.get('reason')}), or pass --budget-fraction/--budget-params")
        model = model or _model_tails(args)
        p = cal["params"]
        alloc = allocate_modules_with_variance(model["modules"], model["spectra"], A=p["A"], C=p["C"], a=p["a"],
                                               b=p["b"], N=float(args.samples))
        return {"folder": args.allocate, **alloc.to_dict()}
    if args.budget_fraction is None and args.budget_params is None:
        if not head.rank or count.adapter == "rank":
            raise UsageError("--allocate needs --budget-fraction F or --budget-params P (or a headline rank with "
                             "--shape/--teacher-config, whose trainable parameters are then spent)")
        budget = {"budget_params": count.params(head.rank)}  # equal trainable parameters, whatever the adapter
    elif args.budget_params is not None:
        budget = {"budget_params": args.budget_params}
    else:
        budget = {"budget_fraction": args.budget_fraction}
    try:
        alloc = allocate_model(args.allocate, targets=parse_targets(args.targets), **budget)
    except ValueError as exc:
        raise UsageError(f"--allocate: {exc}") from None
    return {"folder": args.allocate, **alloc.to_dict()}
