"""report.md and report.json: the verdict table, the rule that combines tracks, the run counts, then per claim
its per-track verdicts, fits (with the range each was fitted on) and bounds, and the real-model section.

Plain text from the report dict (:func:`bounds.tightness.judge`); nothing is computed here but formatting.
"""
from __future__ import annotations

from pathlib import Path

from .common import COMBINE_RULE, MARGIN_RULE, fmt, fmt_ci
from .real import ALL_MATRICES_METHODS, r1_gammas_by_form

#: what the report says about its tracks and where the theory is written
INTRO = ("Each claim of the paper (arXiv 2603.22355) is judged against measurements; the claims, our reading of "
         "each and the bounds named below (C1, G1–G3, R1, I1, I2) are stated with their assumptions in "
         "[docs/theory.md](docs/theory.md). The **synthetic** track is a linear teacher with a planted power-law "
         "spectrum and rank-r students whose risk is known in closed form (the theory's assumptions hold there). "
         "The **transformer** track distills a small byte-level transformer teacher into Low-Rank Clone students "
         "of rank r on N training sequences.")
#: the figures ``lrkd repro`` draws, and what each shows
FIGURES = {
    "convergence": "claim C: running average of the squared gradient norm vs T against C1",
    "gen_rank": "claim G: gap vs rank per N with the fitted law",
    "gen_samples": "claim G: gap vs N per rank, G1's shape and the fitted law",
    "optimal_rank": "claim R: held-out loss vs rank and the measured r* per N (censored r* marked)",
    "mutual_info": "claim I: MI estimates vs rank and along training, with I1 and I2",
    "tightness": "bound/measured ratios of the explicit bounds",
    "real_model": "the real-model section: spectra, gap vs N, MI",
}


def _verdict_table(report: dict) -> list[str]:
    lines = ["| claim | paper's claim | verdict | per track / reading | why |", "|---|---|---|---|---|"]
    for cid, c in report["claims"].items():
        per = c.get("by_track") or {}
        cells = "; ".join(f"{t}: {v['verdict']}" for t, v in per.items() if isinstance(v, dict) and "verdict" in v)
        cells = cells or "; ".join(f"{k}: {v}" for k, v in (c.get("by_reading") or {}).items()) or "-"
        lines.append(f"| {cid} | {c['paper_claim']} | **{c['verdict']}** | {cells} | {c.get('reason', '').replace('|', '/')} |")
    return lines


def _counts(report: dict) -> list[str]:
    rc = report.get("run_counts") or {}
    lines = [f"{report['n_ok']} runs used of {report.get('n_runs', report['n_ok'] + report['n_failed'])} in the runs table ({report['n_failed']} failed, excluded)."]
    if rc.get("by_kind"):
        lines += ["", "| track | kind (experiment/optimizer) | runs | used by |", "|---|---|---|---|"]
        lines += [f"| {k['track']} | {k['kind']} | {k['n']} | {k['used_by']} |" for k in rc["by_kind"]]
    if rc.get("mi_runs"):
        lines += ["", f"{rc['mi_runs']} MI-cloning run(s) (in mi.csv, not in the runs table) are reported in section I."]
    return lines


def _fits(fits: list) -> list[str]:
    if not fits:
        return []
    lines = ["", "| fit | track | range | exponent | 95% CI | data span | cells (non-positive runs) | theory |",
             "|---|---|---|---|---|---|---|---|"]
    for f in fits:
        lines.append(f"| {f['variable']} | {f.get('track', '-')} | {f.get('range', 'global')} | {fmt(f['exponent'])} | "
                     f"{fmt_ci(f['ci'])} | [{fmt(f['span'][0])}, {fmt(f['span'][1])}] | {f['n']}"
                     f"{' (' + str(f['n_nonpositive_points']) + ')' if 'n_nonpositive_points' in f else ''} | "
                     f"{fmt(f['theory_exponent'])} |")
    return lines


def _bounds(bounds: list) -> list[str]:
    if not bounds:
        return []
    lines = ["", "| bound | track / setting | evaluated | held at every point | bound/measured min / median / max | vacuous |",
             "|---|---|---|---|---|---|"]
    for b in bounds:
        where = b.get("track", "-") + (f" ({b['setting']})" if b.get("setting") else "")
        if not b.get("evaluated"):
            lines.append(f"| {b['id']} | {where} | no: {b.get('reason', '')} | - | - | - |")
            continue
        held = (f"{b['held_all']} ({b['n_violations']} violations)" if b.get("kind") != "estimate"
                else f"estimate, not counted ({b['n_points'] - b['n_violations']}/{b['n_points']} on the expected side)")
        vf = b.get("vacuous_fraction")
        lines.append(f"| {b['id']} | {where} | yes ({b['n_points']} points) | {held} | {fmt(b.get('ratio_min'))} / "
                     f"{fmt(b.get('ratio_median'))} / {fmt(b.get('ratio_max'))} | {b.get('vacuous')}"
                     f"{' (' + format(vf, '.0%') + ')' if vf is not None else ''} |")
    return lines


def _claim_c_extra(c: dict) -> list[str]:
    lines = []
    if not c.get("rate_tested"):
        lines += ["", "**The rate O(1/sqrt(T)) was not tested in its setting**: that needs one SGD run per horizon T at "
                  "the tuned step eta*(T) (rows with experiment = horizon; columns: "
                  + ", ".join(f"`{k}` ({v})" for k, v in c.get("horizon_columns", {}).items()) + ")."]
    if c.get("description_fits"):
        lines += ["", "Fixed-step trajectories (a description, not the rate test: any summable gradient sequence gives "
                  "a slope near -1):"] + _fits(c["description_fits"])
    return lines


def _claim_r_extra(c: dict) -> list[str]:
    lines = []
    for track, t in c.get("by_track", {}).items():
        lines += ["", f"**{track}** ({t.get('kind', '-')}, {t['n_runs']} runs): {t['verdict']}"]
        if t.get("compare"):
            lines += ["", "| N | measured r* | surface's r* on the grid [interval] | agree |", "|---|---|---|---|"]
            lines += [f"| {fmt(x['samples'])} | {x['measured']} | {x['predicted']} {fmt_ci(x['predicted_interval'])} | "
                      f"{x['agree']} |" for x in t["compare"]]
        elif t.get("measured"):
            from .claim_r import measured_text
            lines += [""] + [f"- N = {fmt(m['samples'])}: {measured_text(m)}" for m in t["measured"]]
        ext = t.get("extrapolation") or {}
        if ext.get("ok"):
            lines += ["", f"Extrapolation to N = {fmt(ext['target_samples'])} (fitted on N = "
                      f"{', '.join(fmt(v) for v in ext['fit_samples'])}):", "",
                      "| rank | predicted loss [interval] | measured |", "|---|---|---|"]
            lines += [f"| {fmt(p['rank'])} | {fmt(p['loss'])} [{fmt(p['lo'])}, {fmt(p['hi'])}] | {fmt(p['measured'])} |"
                      for p in ext["predicted"]]
    return lines


def _claim_i_extra(c: dict) -> list[str]:
    lines = []
    if c.get("across_ranks"):
        lines += ["", "| estimator | Spearman(MI, -clone MSE) at the final step | p | points (rank x seed) | verdict |",
                  "|---|---|---|---|---|"]
        for est, a in c["across_ranks"].items():
            sp = a["spearman_mi_vs_neg_clone_mse"]
            lines.append(f"| {est} | {fmt(sp['rho'], '.2f')} | {fmt(sp['p_value'], '.2g')} | {sp['n']} | {a['verdict']} |")
    if c.get("along_training"):
        lines += ["", "| estimator | rank | first step mean | final mean | max (step) | seed band | seeds | maximized |",
                  "|---|---|---|---|---|---|---|---|"]
        for t in c["along_training"]:
            lines.append(f"| {t.get('estimator', '-')} | {t['rank']} | {fmt(t['mi_first'])} | {fmt(t['mi_final'])} | "
                         f"{fmt(t['mi_max'])} ({t['step_of_max']}) | {fmt(t['tol'])} | {t['n_seeds']} | {t['maximized']} |")
    return lines


def _all_matrices_markdown(summ: dict) -> list[str]:
    """report.md lines of :func:`real_all_matrices_summary`."""
    from bounds.rates import RATE_FORMS

    forms = list(RATE_FORMS)
    n_big = max(summ["sample_sizes"]) if summ["sample_sizes"] else None
    lines = ["", f"### All {summ['n_matrices']} weight matrices (spectra fitted over every singular value)", "",
             "| kind | n | alpha median [min, max] | alpha's CI > 1/2 | paper's gamma = 1/2 follows (" + " / ".join(forms)
             + ")" + (f" | median rank at N = {n_big}: " + " / ".join(ALL_MATRICES_METHODS) if n_big else "") + " |",
             "|---|---|---|---|---|" + ("---|" if n_big else "")]
    for k in summ["kinds"]:
        ranks = ""
        if n_big and "median_rank" in k:
            ranks = " | " + " / ".join(fmt(k["median_rank"].get(f"{m} @ N={n_big}"), ".0f") for m in ALL_MATRICES_METHODS)
        lines.append(f"| {k['kind']} | {k['n']} | {fmt(k['alpha_median'])} [{fmt(k['alpha_min'])}, "
                     f"{fmt(k['alpha_max'])}] | {k['n_alpha_ci_above_half']}/{k['n']} | "
                     + " / ".join(str(k["n_seed_gamma_half_follows"][f]) for f in forms) + ranks + " |")
    tot, need = summ["n_seed_gamma_half_follows"], r1_gammas_by_form(1.0)
    lines += ["", "The paper's gamma = 1/2 follows from R1 for " + ", ".join(
        f"{tot[f]}/{summ['n_matrices']} matrices under the {f} rate form (needs alpha = {fmt(need[f'alpha_half_{f}'])})"
        for f in forms) + "; alpha = 1/2 is the boundary R1 excludes (the tail sum diverges), so a count there is a "
        "limit statement. R3's ranks use the variance constant C = 1 (unknown in practice); the CSV real_all_ranks.csv has every "
        "matrix, method and N."]
    return lines


def _real_markdown(sec: dict) -> list[str]:
    """report.md lines of :func:`real_model_section` (or of a skipped / failed section)."""
    lines = ["", "## Real model (all-MiniLM-L6-v2)", ""]
    status = sec.get("status")
    if status == "skipped":
        return lines + [f"skipped: {sec.get('reason', '')}"]
    if status == "failed":
        return lines + [f"failed: {sec.get('error', '')} (the rest of this report is unaffected)"]
    where = f" (real preset '{sec['preset']}')" if sec.get("preset") else ""
    n_mat = len(sec["matrices"])
    lines += [f"{sec['n_runs']} cloning runs on {n_mat} weight matri{'x' if n_mat == 1 else 'ces'} of the pretrained "
              f"sentence-transformers model{where}: rank-r students trained on N real input activations "
              "(embedded corpus) to clone the matrix's output; gap = held-out minus train clone MSE.", ""]
    lines += ["### Spectra and R1's exponent of r* in N", "",
              "| matrix | m x d | alpha [95% CI] | fitted k | gamma (paper a=1, b=1/2) | gamma (covering 1/2, 1/2) | "
              "gamma (fast 1, 1) | paper's gamma = 1/2 follows? |", "|---|---|---|---|---|---|---|---|"]
    for it in sec["matrices"]:
        sp = it.get("spectrum")
        if sp is None:
            lines.append(f"| {it['short']} | - | no spectrum fit | - | - | - | - | - |")
            continue
        g = sp["gamma"]
        cell = lambda f: (f"{fmt(g[f]['gamma'])} [{fmt(g[f]['gamma_ci'][0])}, {fmt(g[f]['gamma_ci'][1])}]"  # noqa: E731
                          if f in g else "-")
        follows = ", ".join(sp["seed_gamma_follows_under"]) or "no"
        lines.append(f"| {it['short']} | {it.get('m', '-')} x {it.get('d', '-')} | {fmt(sp['alpha'])} "
                     f"[{fmt(sp['alpha_ci'][0])}, {fmt(sp['alpha_ci'][1])}] | {sp['k_span'][0]}..{sp['k_span'][1]} | "
                     f"{cell('paper')} | {cell('covering')} | {cell('fast')} | {follows} |")
    lines += ["", "### Generalization gap of the free rank-r student: gap ~ p^a N^-b (G1: a = 1, b = 1/2)", "",
              "| matrix | runs (gap <= 0, kept in the seed means) | a [95% CI] | b [95% CI] | verdict | G2 bound/measured min / median | "
              "G2 held | G2 vacuous |", "|---|---|---|---|---|---|---|---|"]
    for it in sec["matrices"]:
        g = it["gap"]
        ab = (f"{fmt(g['a'])} [{fmt(g['a_ci'][0])}, {fmt(g['a_ci'][1])}] | "
              f"{fmt(g['b'])} [{fmt(g['b_ci'][0])}, {fmt(g['b_ci'][1])}]") if "a" in g else "- | -"
        b2 = next((b for b in g["bounds"] if b["id"] == "G2"), {})
        g2 = (f"{fmt(b2['ratio_min'])} / {fmt(b2['ratio_median'])} | {b2['held_all']} ({b2['n_violations']} "
              f"violations) | {b2.get('vacuous')}") if b2.get("evaluated") else f"not evaluated: {b2.get('reason', '')} | - | -"
        lines.append(f"| {it['short']} | {g['n_runs']} ({g.get('n_nonpositive_gap', 0)}) | {ab} | **{g['verdict']}** | {g2} |")
    lines += [""] + [f"- {it['short']}: {it['gap']['reason'].replace('|', '/')} Spectrum: {it['spectrum']['text']}."
                     if "spectrum" in it else f"- {it['short']}: {it['gap']['reason']}" for it in sec["matrices"]]
    lines += ["", "p = r(m + d) for the free student, so the exponent in p is the exponent in r. G2's constants "
              "are measured at the fitted student, not certified.", "",
              "### MI between teacher output and student activation (Gaussian estimate, nats)", "",
              "| matrix | student | N | runs | MI <= I2 cap | MI >= I1 | Spearman(MI, r) |", "|---|---|---|---|---|---|---|"]
    for it in sec["matrices"]:
        for m in it["mi"]:
            cap, i1 = m.get("I2"), m.get("I1")
            sp = m["spearman_mi_rank"]
            lines.append(f"| {it['short']} | {m['student']} | {', '.join(str(n) for n in m['N'])} | {m['n']} | "
                         + (f"{cap['held_all']} ({cap['n_points'] - cap['n_violations']}/{cap['n_points']})" if cap else "-")
                         + " | " + (f"{i1['held_all']} ({i1['n_points'] - i1['n_violations']}/{i1['n_points']})" if i1 else "-")
                         + f" | {fmt(sp['rho'], '.2f')} (n = {sp['n']}"
                         + (f", p = {fmt(sp['p_value'], '.2g')})" if sp["n"] >= 5 else ", too few for a p-value)") + " |")
    if sec.get("all_matrices"):
        lines += _all_matrices_markdown(sec["all_matrices"])
    if sec.get("allocation"):
        lines += ["", "### Per-matrix ranks at a parameter budget (bounds.allocate)", ""]
        lines += sec["allocation"].get("markdown", [])
    return lines


def _advice_markdown(report: dict) -> list[str]:
    """The rank-advice calibration (bounds.calibrate) and the MI bound check on planted Gaussian pairs."""
    lines = []
    adv = report.get("rank_advice")
    if adv:
        lines += ["", "## Rank advice calibrated on these runs", "",
                  "Per track, the held-out loss surface L(r, N) = E + A r^(1-2 alpha) + C r^a N^-b fitted to the runs "
                  "(`lrkd rank --calibrate`), r* at 4x the largest N, and the check that makes it trustworthy: fitted "
                  "on all but the largest N, predicted vs measured there.", ""]
        lines += [f"- {t}" for t in adv.get("markdown", [])]
    mi = report.get("mi_gaussian_check")
    if mi:
        lines += ["", "## I1, I2, I3 and the MI estimators on planted Gaussian pairs", ""]
        if "error" in mi:
            lines.append(f"failed: {mi['error']}")
        else:
            sz = mi.get("sizes", {})
            lines += [f"Jointly Gaussian teacher/student activations at the cloning experiment's sizes "
                      f"(d = {sz.get('d')}, n = {sz.get('n')}, ranks {sz.get('ranks')}), where the true MI is known "
                      f"in closed form ({mi.get('cases')} cases). A quantity that rests "
                      "on an estimated entropy is an estimate, not a bound, whatever side it lands on here.", ""]
            lines += [f"- {q}: {v.get('text', '')} (mean error {fmt(v.get('mean_error'))}, worst "
                      f"{fmt(v.get('worst_error'))} nats)" for q, v in mi.get("quantities", {}).items()]
    return lines


_EXTRA = {"C": _claim_c_extra, "R": _claim_r_extra, "I": _claim_i_extra}


def to_markdown(report: dict) -> str:
    """report.md: intro, run counts, the verdict table and its combining rule, then per claim its details."""
    lines = ["# Tightness report", "", INTRO, ""] + _counts(report) + [""] + _verdict_table(report)
    lines += ["", COMBINE_RULE, "", MARGIN_RULE, ""]
    figs = report.get("figures")
    if figs:
        lines += ["Figures (in `figures/`): " + "; ".join(f"`{f}` ({FIGURES.get(f, '')})" for f in figs) + ".", ""]
    for cid, c in report["claims"].items():
        lines += ["", f"## {cid}: {c['paper_claim']}", "", f"Measured: {c['measured_quantity']}.", "",
                  "Assumptions: " + "; ".join(c["assumptions"]) + "."]
        for t, v in (c.get("by_track") or {}).items():
            if isinstance(v, dict) and v.get("left_out_kinds"):
                lines += ["", f"[{t}] uses {v['kind']} runs only; left out (other kinds): "
                          + ", ".join(f"{k} ({n})" for k, n in v["left_out_kinds"].items()) + "."]
        lines += _fits(c.get("fits", [])) + _bounds(c.get("bounds", []))
        lines += _EXTRA.get(cid, lambda _: [])(c)
    lines += _advice_markdown(report)
    if report.get("real_model") is not None:
        lines += _real_markdown(report["real_model"])
    if report.get("failed"):
        lines += ["", "## Failed runs", ""] + [f"- {f}" for f in report["failed"]]
    return "\n".join(lines) + "\n"


def write_report(report: dict, folder) -> tuple[Path, Path]:
    """Write report.md and report.json (strict JSON) into ``folder``; lists the figures found in ``folder/figures``."""
    import io

    from bounds.cliutil import emit_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figs = sorted({p.stem for p in (folder / "figures").glob("*.png")}) if (folder / "figures").is_dir() else []
    if figs:
        report = {**report, "figures": figs}
    md, js = folder / "report.md", folder / "report.json"
    md.write_text(to_markdown(report))
    buf = io.StringIO()
    emit_json(report, buf)
    js.write_text(buf.getvalue())
    return md, js
