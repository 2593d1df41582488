#!/usr/bin/env bash
# One entry point for a fresh clone:  bash run.sh main  (set up, then the main job)
#                                      bash run.sh test  (set up if needed, then every test)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}; command -v "$PY" >/dev/null || PY=python3
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}

setup() {
  # a venv at .venv with torch (CPU or CUDA build from pip) and the package with its dev extra;
  # re-run only when pyproject.toml changes
  local stamp=.venv/.hsvd-nb-installed want
  want=$(cat pyproject.toml run.sh | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1 || .venv/bin/python -m pip install -q torch torchvision
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
}

case "${1:-main}" in
  setup) setup ;;
  main)  setup; shift || true; .venv/bin/hsvd-nb finetune "$@" ;;
  test)  setup; shift || true; .venv/bin/python -m pytest -q tests "$@" ;;
  *) echo "usage: bash run.sh [main|test|setup]" >&2; exit 2 ;;
esac
