"""Text output of `lrkd rank`: the headline first, then the per-method table and the optional sections.

Plain Python (the dict built by :func:`empirical.commands.rank.run` is printed as it is, nothing recomputed). A rank
that is not a recommendation — a "scaling only" row, or rank 0 (no rank fits) — is printed as ``-``.
"""
from __future__ import annotations

from bounds.units import format_count


def _target_line(inp: dict) -> str:
    if "shape" in inp:
        return f"shape {inp['shape'][0]} x {inp['shape'][1]}, p(r) = r(m+d) = {inp['params_per_rank']} r"
    if "teacher_config" in inp:
        what = {"lrc": "LRC student width", "lora": "LoRA rank per module", "svd": "SVD rank per matrix"}[inp["adapter"]]
        extra = "" if inp["adapter"] == "lrc" else f" over {inp['n_target_modules']} modules (targets {inp['targets']})"
        return (f"teacher {inp['teacher_config']} (d_T = {inp['hidden_size']}, L = {inp['num_layers']}); "
                f"rank = {what}{extra}; p(r) = {inp['params_per_rank']} r")
    return "rank as in the pilot runs"


def _calibration_lines(cal: dict) -> list[str]:
    if not cal.get("ok"):
        return [f"calibration: refused — {cal.get('reason')}; {cal.get('advice', '')}".rstrip("; ")]
    lines = [f"calibration ({cal['n_runs']} runs, track {cal['track']}, N in {cal['samples_span']}): "
             "L(r, N) = E + A tail(r) + C p(r)^a N^-b, Huber on log-loss, cluster bootstrap over datasets"]
    for name, value in cal["params"].items():
        lo, hi = cal["ci"].get(name, (None, None))
        ci = f" [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else ""
        lines.append(f"  {name:<6} = {value:.4g}{ci}")
    g, (glo, ghi) = cal.get("gamma"), cal.get("gamma_ci") or (None, None)
    if g is not None:
        lines.append(f"  gamma  = {g:.3g}" + (f" [{glo:.3g}, {ghi:.3g}]" if glo is not None else "")
                     + "  (r* ~ N^gamma)")
    h = cal.get("headline") or {}
    if h.get("rank"):
        iv = h.get("interval")
        lines.append(f"  r*(N = {format_count(cal['N'])}) = {h['rank']}"
                     + (f" [{iv[0]}, {iv[1]}]" if iv else "")
                     + (f"  (at the max rank {cal['max_rank']}: the surface wants more)" if h.get("capped") else ""))
    ex = cal.get("extrapolation") or {}
    if ex.get("ok"):
        lines.append(f"  validation: fit on N <= {format_count(max(ex['fit_samples']))}, predict N = "
                     f"{format_count(ex['target_samples'])}: r* predicted {ex['rstar_predicted']:g} "
                     f"[{ex['rstar_interval'][0]:g}, {ex['rstar_interval'][1]:g}], measured {ex['rstar_measured']:g} "
                     f"({ex['measured_status']}); "
                     f"covered: {ex['covered']}")
        for row in ex.get("predicted", []):
            lines.append(f"    r = {row['rank']:>5g}: loss predicted {row['loss']:.4g} [{row['lo']:.4g}, {row['hi']:.4g}], "
                         f"measured {row['measured']:.4g}" if row.get("measured") is not None else
                         f"    r = {row['rank']:>5g}: loss predicted {row['loss']:.4g}")
    elif ex:
        lines.append(f"  validation: not possible — {ex.get('reason')}")
    return lines


def print_text(out: dict) -> None:
    """Print ``out`` (see the module docstring)."""
    inp = out["inputs"]
    print(out["headline"]["line"])
    params = out["headline"].get("params")
    counted = "shape" in inp or "teacher_config" in inp
    print(f"target: {_target_line(inp)}"
          + (f"; headline rank = {params:,} trainable parameters" if params and counted else ""))
    conv = out.get("conversions")
    if conv:
        parts = []
        for row in conv["to"]:
            frac = f", {row['fraction_of_dense']:.2%} of dense" if "fraction_of_dense" in row else ""
            if row["rank"] == 0:
                parts.append(f"{row['adapter']}: below rank 1")
            else:
                parts.append(f"{row['adapter']} rank {row['rank']} ({row['params']:,}{frac})")
        print(f"equal parameters: {conv['from']} rank {conv['rank']} ({conv['params']:,}) = " + "; ".join(parts))
    if "calibration" in out:
        for line in _calibration_lines(out["calibration"]):
            print(line)
    if out.get("reference"):
        print(f"reference scaling r0 (N/N0)^gamma from {inp['reference']}:")
        for r in out["reference"]:
            iv = f" [{r['rank_interval'][0]}, {r['rank_interval'][1]}]" if r.get("rank_interval") else ""
            print(f"  {r['method']:<24} gamma = {r['gamma']:.3g}  rank {r['rank']}{iv}  ({r['source']})")
    spec = out["spectrum"]
    if spec and "alpha" in spec:
        lo, hi = spec["alpha_ci95"]
        print(f"spectrum {spec['source']}: {spec['n_singular_values']} singular values; power law "
              f"alpha = {spec['alpha']:.3f} [95% CI {lo:.3f}, {hi:.3f}] over k = {spec['fit_k_span'][0]}.."
              f"{spec['fit_k_span'][1]} ({spec['fit_k_span_from']})")
    rows = out["recommendations"]
    if rows:
        width = max(len(r["method"]) for r in rows)
        print(f"{'method':<{width}}  {'rank':>6}  {'params':>12}  assumption / formula")
        for r in rows:
            shown = "-" if r.get("scaling_only") or r["rank"] == 0 else str(r["rank"])
            tag = "scaling only: constants unknown; " if r.get("scaling_only") else ""
            gamma = f" (r ~ N^{r['gamma']:.3g})" if "gamma" in r and "r* ~" not in r["assumption"] else ""
            params = "-" if shown == "-" else f"{r['params']}"
            print(f"{r['method']:<{width}}  {shown:>6}  {params:>12}  {tag}{r['assumption']}{gamma}")
            print(f"{'':<{width}}  {'':>6}  {'':>12}  {r['formula']}")
    alloc = out.get("allocation")
    if alloc:
        how = ("budget chosen by the calibrated variance term" if alloc.get("mode") == "calibrated variance"
               else f"budget {alloc['budget_params']:,.0f}")
        print(f"allocation over {len(alloc['modules'])} matrices of {alloc['folder']}: {alloc['params']:,} parameters "
              f"({how}); tail energy allocated / uniform = "
              f"{alloc['tail_ratio_vs_uniform']:.3f}; ranks {min(m['rank'] for m in alloc['modules'])}-"
              f"{max(m['rank'] for m in alloc['modules'])} (uniform {max(m['uniform_rank'] for m in alloc['modules'])}); "
              "--json gives the PEFT rank_pattern")
    pilot = out.get("pilot")
    if pilot:
        print(f"pilot plan ({len(pilot['runs'])} runs, relative cost {pilot['relative_cost']:.3g} of one full run):")
        print(f"  sample sizes: {', '.join(format_count(x) for x in pilot['samples'])} {pilot['unit']}; ranks "
              f"{', '.join(str(r) for r in pilot['ranks'])}; seeds {pilot['seeds']} (independent data draws)")
        print(f"  {pilot['note']}")
    for note in out["notes"]:
        print(f"note: {note}")
