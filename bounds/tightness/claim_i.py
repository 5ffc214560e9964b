r"""Claim I, "activation cloning maximizes the mutual information between teacher and student representations".

Two readings, each with its own verdict, combined by the report's rule (:data:`.common.COMBINE_RULE`):

- *across ranks* (per estimator): Spearman's rank correlation of the MI estimate with the negative clone MSE at
  the final step, one point per (rank, seed) (several layers/terms of one run are averaged first: they are not
  independent units; checkpoints of one run are never pooled, INFERENCE rule 1);
- *along training* (the literal claim): per rank and estimator, the seed-mean MI at each logged step with a
  seed band (:func:`mi_trajectories`); training maximizes MI when the final value is within the band of the
  largest one. With one seed there is no band and the literal verdict is inconclusive.

Bounds (``docs/theory.md``): I2 caps the MI of the student read through noise, and counts as a bound; I1
lower-bounds MI by :math:`h(h_T) - \frac d2\log(2\pi e\,\varepsilon^2/d)` and counts as a bound only on rows
with ``i1_kind == "bound"`` (a known entropy). With a Kozachenko–Leonenko entropy (``i1_kind == "estimate"``,
or the column absent) the value is an *estimate* with unknown sign of bias: reported, never counted as held.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .common import CONTRADICTED, HOLDS, INCONCLUSIVE, combine_tracks, fmt, has, ratios, spearman

#: MI rows (mi.csv) the judge reads
MI_COLUMNS = {
    "estimator": "MI estimator (gaussian, ksg, infonce, ...)", "rank": "student rank", "seed": "seed",
    "step": "training step of the checkpoint", "is_final": "True on the run's last checkpoint (else: the max step)",
    "mi": "MI estimate (nats)", "clone_mse": "clone MSE at that checkpoint", "layer / term": "optional: which activation",
    "i1_bound": "I1 value (nats)", "i1_kind": '"bound" (known entropy) or "estimate" (estimated entropy; absent = estimate)',
    "i2_cap": "I2 cap (nats)",
}


def _final(d: pd.DataFrame) -> pd.DataFrame:
    """The final checkpoint of each run: ``is_final`` rows when the column exists, else the largest step."""
    if "is_final" in d.columns and d["is_final"].notna().any():
        return d[d["is_final"].astype(str).str.lower().isin(("true", "1", "1.0"))]
    keys = [c for c in ("estimator", "rank", "seed", "layer", "term") if c in d.columns]
    return d[d["step"] == d.groupby(keys)["step"].transform("max")] if "step" in d.columns else d


def across_ranks(d: pd.DataFrame) -> dict:
    """Per estimator: Spearman(MI, −clone MSE) over one point per (rank, seed) at the final step, and a verdict."""
    out = {}
    fin = _final(d)
    for est, g in fin.groupby("estimator", sort=True) if "estimator" in fin.columns else [("MI", fin)]:
        keys = [c for c in ("rank", "seed") if c in g.columns]
        pts = g.groupby(keys)[["mi", "clone_mse"]].mean().reset_index()
        sp = spearman(pts["mi"], -pts["clone_mse"])
        if not np.isfinite(sp["rho"]):
            v = INCONCLUSIVE
        elif sp["p_value"] < 0.05:
            v = HOLDS if sp["rho"] > 0 else CONTRADICTED
        else:
            v = INCONCLUSIVE
        out[str(est)] = {"spearman_mi_vs_neg_clone_mse": sp, "n_ranks": int(pts["rank"].nunique()),
                         "n_seeds": int(pts["seed"].nunique()) if "seed" in pts else 1, "verdict": v}
    return out


def mi_trajectories(mi: pd.DataFrame) -> list[dict]:
    r"""One entry per trajectory (estimator, rank, and layer/term when present) with at least two steps: seed
    means of the MI at the first and final step, its maximum over steps, the band ``tol`` = twice the largest
    standard deviation over seeds at any step (0 with one seed), ``maximized`` (final within ``tol`` of the
    maximum), ``rose`` (final above first by more than ``tol``), and Spearman(MI, −clone MSE) over the
    trajectory's rows as a description (checkpoints of one run: no p-value is a test here)."""
    if mi is None or mi.empty or not has(mi, "mi", "step", "rank"):
        return []
    d = mi[np.isfinite(mi["mi"])]
    keys = [c for c in ("estimator", "rank", "layer", "term") if c in d.columns]
    out = []
    for key, g in d.groupby(keys, sort=True):
        steps = np.sort(g["step"].unique())
        if len(steps) < 2:
            continue
        by = g.groupby("step")["mi"]
        mean, sd = by.mean(), by.std(ddof=1).fillna(0.0)
        n_seeds = int(g.groupby("step").size().min())
        tol = float(2 * sd.max()) if n_seeds > 1 else 0.0
        final, first = float(mean[steps[-1]]), float(mean[steps[0]])
        entry = {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(keys, key if isinstance(key, tuple) else (key,))}
        entry.update(steps=[int(x) for x in steps], mi_first=first, mi_final=final, mi_max=float(mean.max()),
                     step_of_max=int(mean.idxmax()), tol=tol, n_seeds=n_seeds,
                     maximized=bool(final >= float(mean.max()) - tol), rose=bool(final > first + tol),
                     band=[{"step": int(s), "mean": float(mean[s]), "sd": float(sd[s])} for s in steps])
        if "clone_mse" in g.columns:
            sp = spearman(g["mi"], -g["clone_mse"])
            if np.isfinite(sp["rho"]):
                entry["spearman_mi_vs_neg_clone_mse"] = {"rho": sp["rho"], "n": sp["n"], "note": "description only"}
        out.append(entry)
    return out


def _literal(traj: list[dict]) -> tuple[str, str] | None:
    if not traj:
        return None
    name = lambda t: f"{t.get('estimator', 'MI')} r={t['rank']}"  # noqa: E731
    falls = [t for t in traj if not t["maximized"]]
    txt = "; ".join(f"{name(t)}: {fmt(t['mi_first'])} at step {t['steps'][0]} -> {fmt(t['mi_final'])} at step "
                    f"{t['steps'][-1]} (max {fmt(t['mi_max'])} at step {t['step_of_max']}, band {fmt(t['tol'])})"
                    for t in traj)
    if any(t["n_seeds"] > 1 for t in falls):
        return CONTRADICTED, (f"{txt}. Training ends below the highest MI (beyond the seed band) in "
                              + ", ".join(name(t) for t in falls if t["n_seeds"] > 1) + ".")
    if falls:
        return INCONCLUSIVE, f"{txt}. MI falls in {', '.join(name(t) for t in falls)}, with one seed (no band)."
    return HOLDS, f"{txt}. Training ends at the highest MI (within the seed band) in every trajectory."


def _bounds(d: pd.DataFrame) -> list[dict]:
    out = []
    if has(d, "i2_cap"):
        sel = d[d["i2_cap"].notna()]
        out.append({"id": "I2", "explicit": True, "evaluated": True, "kind": "bound", "direction": "cap (MI <= I2)",
                    **ratios(sel["i2_cap"], sel["mi"])})
    else:
        out.append({"id": "I2", "explicit": True, "evaluated": False, "reason": "no i2_cap column"})
    if has(d, "i1_bound"):
        kind = d["i1_kind"].fillna("estimate").astype(str) if "i1_kind" in d.columns else pd.Series("estimate", d.index)
        for k in ("bound", "estimate"):
            sel = d[d["i1_bound"].notna() & (kind == k)]
            if sel.empty:
                continue
            r = ratios(sel["mi"], sel["i1_bound"])
            b = {"id": "I1" if k == "bound" else "I1 (estimate)", "explicit": k == "bound", "evaluated": True,
                 "kind": k, "direction": "lower bound (MI >= I1)", **r, "vacuous": bool((sel["i1_bound"] <= 0).all())}
            if k == "estimate":
                b.update(held_all=None, note="rests on an estimated entropy (unknown sign of bias): an estimate, "
                         f"not a bound; {r['n_points'] - r['n_violations']}/{r['n_points']} points on the expected side")
            out.append(b)
    else:
        out.append({"id": "I1", "explicit": True, "evaluated": False, "reason": "no i1_bound column"})
    return out


def claim_I(mi: pd.DataFrame) -> dict:
    """I: across ranks (per estimator, final step) and along training (literal), bounds I1/I2 as bound or estimate."""
    res = {"claim": "I", "paper_claim": "activation cloning maximizes I(h_T; h_S)",
           "measured_quantity": "MI estimates (nats) of teacher/student activations vs rank and training step",
           "assumptions": ["I1 is a bound only with a known teacher entropy; with an estimated entropy it is an estimate",
                           "I2 needs the student activation read through noise N(0, sigma_n^2 I)"],
           "fits": [], "bounds": [], "by_reading": {}}
    if mi is None or mi.empty or not has(mi, "mi", "clone_mse"):
        res.update(verdict=INCONCLUSIVE, reason="no MI estimates with clone MSE")
        return res
    d = mi[np.isfinite(mi["mi"].to_numpy(float)) & np.isfinite(mi["clone_mse"].to_numpy(float))]
    res["bounds"] = _bounds(d)
    res["across_ranks"] = across = across_ranks(d)
    res["along_training"] = traj = mi_trajectories(d)
    verdicts, parts = {}, []
    for est, a in across.items():
        sp = a["spearman_mi_vs_neg_clone_mse"]
        verdicts[f"across ranks ({est})"] = a["verdict"]
        parts.append(f"[across ranks, {est}] Spearman(MI, -clone MSE) = {fmt(sp['rho'], '.2f')} (p = "
                     f"{fmt(sp['p_value'], '.2g')}, n = {sp['n']}: one point per (rank, seed) at the final step): "
                     f"{a['verdict']}.")
    lit = _literal(traj)
    if lit:
        verdicts["along training (literal)"] = lit[0]
        parts.append(f"[along training, literal] {lit[1]}")
    held = [b for b in res["bounds"] if b.get("evaluated") and b.get("kind") == "bound"]
    broken = [b["id"] for b in held if b["held_all"] is False]
    parts.append("; ".join(f"{b['id']}: {b['n_points'] - b['n_violations']}/{b['n_points']} points on the right side"
                           for b in held) + "." if held else "")
    parts += [b["note"].capitalize() + " (I1)." for b in res["bounds"] if b.get("kind") == "estimate"]
    res["by_reading"] = verdicts
    overall, why = combine_tracks(verdicts, noun="reading")
    if broken:
        why += (f"; {', '.join(broken)} violated at some point: an MI estimate crossed the bound (estimator bias or the "
                "bound's noise resolution), reported beside the claim's readings")
    res.update(verdict=overall, reason=" ".join(p for p in parts if p) + f" Overall: {why}.")
    return res
