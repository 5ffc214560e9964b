"""MFU benchmark: ``python benchmarks/mfu.py [--device cuda|cpu] [--size bench|preset|tiny] [--steps N]``.

Prints one JSON object: achieved FLOP/s of one teacher training step and one LRC step as a fraction of a
square-matmul peak measured in the same run (bf16 on CUDA, fp32 on CPU). The FLOP formulas and the timing
live in :mod:`empirical.perf.mfu` (importable by ``lrkd bench``); this file is the stand-alone entry point.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bounds.cliutil import OneLineParser, UsageError, positive_int  # noqa: E402
from empirical.perf.mfu import SIZES  # noqa: E402


def main(argv=None) -> int:
    """Parse, run :func:`empirical.perf.mfu.run`, print its JSON; bad input is one line on stderr and exit 2."""
    p = OneLineParser(prog="benchmarks/mfu.py", description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--size", choices=sorted(SIZES), default=None)
    p.add_argument("--steps", type=positive_int, default=10)
    args = p.parse_args(argv)
    from empirical.perf.mfu import run

    try:
        res = run(device=args.device, size=args.size, steps=args.steps)
    except UsageError as exc:
        print(f"benchmarks/mfu.py: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
