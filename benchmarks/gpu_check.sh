#!/usr/bin/env bash
# GPU check: benchmarks/gpu_check.sh OUTDIR
#
# On a CUDA machine, with what is already installed (this script installs nothing), run in order:
#   1. the GPU tests              python -m pytest -m gpu            -> OUTDIR/pytest_gpu.txt   (cap 100 s)
#   2. the MFU benchmark          python benchmarks/mfu.py           -> OUTDIR/mfu.json         (cap  80 s)
#   3. the bench                  lrkd bench --device cuda --json    -> OUTDIR/bench.json     (cap  60 s)
#   4. the full preset's transformer track (d_T = 256, ranks up to 256) benchmarks/full_transformer.py
#                                 -> OUTDIR/full_transformer/{runs.csv,optima.json}         (cap 180 s)
#   5. a shortened full preset    paper_repro.py --preset full --device cuda --out OUTDIR/full (cap 120 s;
#      finished runs are stored as they finish, so a capped run leaves real partial results)
# and write OUTDIR/summary.json (exit code and seconds of every step, GPU name, torch version).
# Worst case 540 s of caps + 5 x 10 s kill grace = 9.8 min. Exit 3 (and a one-line message) when no CUDA device is visible.
set -u
if [ $# -ne 1 ]; then
    echo "usage: benchmarks/gpu_check.sh OUTDIR" >&2
    exit 2
fi
OUT=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
mkdir -p "$OUT" || { echo "gpu_check: cannot create $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export LRKD_CACHE="$OUT/cache"          # never touch the user's cache
export MPLBACKEND=Agg

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device visible to torch; nothing run" >&2
    printf '{"cuda": false}\n' > "$OUT/summary.json"
    exit 3
fi

lrkd() { "$PY" -c 'import sys, paper_repro; sys.exit(paper_repro.cli(sys.argv[1:]))' "$@"; }

STEPS=""
step() {  # step NAME CAP_S LOGFILE CMD...
    local name=$1 cap=$2 log=$3; shift 3
    local t0=$SECONDS
    timeout -k 10 "$cap" "$@" > "$OUT/$log" 2> "$OUT/$name.stderr.txt"
    local rc=$?
    echo "gpu_check: $name rc=$rc $((SECONDS - t0))s" >&2
    STEPS="$STEPS${STEPS:+,}\"$name\": {\"rc\": $rc, \"s\": $((SECONDS - t0)), \"cap_s\": $cap}"
}

(nvidia-smi || true) > "$OUT/nvidia-smi.txt" 2>&1
step pytest_gpu 100 pytest_gpu.txt "$PY" -m pytest -m gpu -q -p no:cacheprovider tests
step mfu 80 mfu.json "$PY" benchmarks/mfu.py --device cuda --size bench --steps 10
step bench 60 bench.json lrkd bench --device cuda --json --no-compile
step full_transformer 180 full_transformer.txt "$PY" benchmarks/full_transformer.py "$OUT/full_transformer"
step full_preset 120 full_preset.txt "$PY" paper_repro.py --preset full --device cuda --out "$OUT/full"

INFO=$("$PY" -c 'import json, torch; print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name()}))')
printf '{"cuda": true, "info": %s, "steps": {%s}}\n' "$INFO" "$STEPS" > "$OUT/summary.json"
cat "$OUT/summary.json"
