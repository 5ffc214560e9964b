"""The full preset's transformer track alone (d_T = 256, ranks up to 256), for benchmarks/gpu_check.sh.

usage: python benchmarks/full_transformer.py OUTDIR [--device cuda]
Runs the transformer configs of ``plan("full")`` into OUTDIR/store (finished groups are stored as they finish,
so a capped run leaves real partial results), then writes OUTDIR/runs.csv and OUTDIR/optima.json (measured
r*(N) with intervals and statuses, bounds.optimum.measured_optima). Untested in CI (no GPU there).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)
    from bounds.optimum import measured_optima
    from empirical import sweep
    from empirical.sweep import runners

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfgs = [c for c in sweep.plan("full", args.device) if runners.track_of(c) == "transformer"]
    runners.prepare_teachers(cfgs, out / "store")
    t0 = time.perf_counter()
    recs, stats = sweep.run_sweep(cfgs, runners.Store(out / "store"), workers=1)
    runs = runners.runs_table(recs)
    runs.to_csv(out / "runs.csv", index=False)
    opt = measured_optima(runs[runs["status"] == "ok"])
    (out / "optima.json").write_text(json.dumps({"wall_s": time.perf_counter() - t0, "runs": len(runs),
                                                 "optima": opt.to_dict("records")}, default=str, indent=1))
    print(opt.to_string(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
