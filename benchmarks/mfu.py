"""MFU benchmark: ``python benchmarks/mfu.py [--device cuda|cpu] [--size bench|preset|tiny] [--steps N]``.

Prints one JSON object: achieved FLOP/s of one teacher training step and one LRC step as a fraction of a
square-matmul peak measured in the same run (bf16 on CUDA, fp32 on CPU). The FLOP formulas and the timing
live in :mod:`empirical.mfu` (importable by ``lrkd bench``); this file is the stand-alone entry point.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from empirical.mfu import SIZES, lrc_step_flops, teacher_step_flops  # noqa: E402,F401


def run(device: str = "cuda", size: str | None = None, steps: int = 10) -> dict:
    """See :func:`empirical.mfu.run`."""
    from empirical.mfu import run as _run

    return _run(device=device, size=size, steps=steps)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--size", choices=sorted(SIZES), default=None)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args(argv)
    print(json.dumps(run(args.device, args.size, args.steps), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
