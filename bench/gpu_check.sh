#!/usr/bin/env bash
# The GPU speed run of the issue, in one go (< 8 minutes): ViT-B/16 at 224 px, batch 64, bf16 autocast,
# every method eager, then torch.compile in priority order (floor, LoRA-qkv, HTA first) while the time
# budget lasts; merged inference against the base model, eager and compiled.
#
#   bash bench/gpu_check.sh                 # from anywhere; outputs under $OUT (default bench/results/speed-cuda)
#   PYTHON=/path/to/python bash bench/gpu_check.sh
#
# Needs a python with a CUDA build of torch, timm, peft and safetensors (timm brings it); not fastai or
# nbdev, and the package need not be installed (bench/speed.py puts the checkout on sys.path).
# Writes env.txt (machine and versions), run.log, speed.md and speed.json; the eager figures are written
# as soon as they exist, so a run cut short still leaves a table.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/speed-cuda}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3 python .venv/bin/python; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import torch, timm' >/dev/null 2>&1; then PY=$c; break; fi
  done
fi
if [ -z "$PY" ]; then echo "gpu_check: no python with torch and timm found; set PYTHON=..." >&2; exit 2; fi

{
  echo "date: $(date -u +%FT%TZ)"; echo "host: $(hostname)"; echo "python: $(command -v "$PY")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null || echo "nvidia-smi: not available"
  "$PY" - <<'EOF'
import importlib, torch
print('torch', torch.__version__, '| cuda', torch.version.cuda, '| gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
for m in ('timm', 'peft', 'safetensors', 'triton'):
    try: print(m, importlib.import_module(m).__version__)
    except Exception as e: print(m, 'MISSING', type(e).__name__)
EOF
} 2>&1 | tee "$OUT/env.txt"

if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu_check: CUDA is not available to $PY" >&2; exit 3
fi
if ! "$PY" -c 'import peft' 2>/dev/null; then echo "gpu_check: peft is missing: the LoRA and HRA rows (and the ratios to LoRA) will be errors" >&2; fi

# --budget: no new torch.compile starts after 240 s of the run; timeout: a hard stop inside 8 minutes
timeout --signal=TERM --kill-after=10 460 "$PY" bench/speed.py --device cuda --check --budget 240 --out "$OUT" 2>&1 | tee "$OUT/run.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "gpu_check: bench/speed.py ended with status $rc (124: timed out); the table so far:" >&2
  cat "$OUT/speed.md" 2>/dev/null || echo "(no table was written)" >&2
fi
exit "$rc"
