#!/usr/bin/env bash
# One entry point for a fresh clone:  bash run.sh main  (set up, then the main job)
#                                      bash run.sh test  (set up if needed, then every test)
#                                      bash run.sh docs  (the documentation site, offline, into _docs/index.html)
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

browser() {
  # headless Chromium for the docs tests and screenshots (Debian packages; installed when missing and root, as in CI)
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return
  [ "$(id -u)" = 0 ] || { echo "run.sh: chromium/chromium-driver missing (apt-get install chromium chromium-driver as root)" >&2; return; }
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

case "${1:-main}" in
  setup) setup ;;
  main)  setup; shift || true; .venv/bin/hsvd-nb finetune "$@" ;;
  test)  setup; browser; shift || true; .venv/bin/python -m pytest -q tests "$@" ;;
  docs)  setup; browser; .venv/bin/python docs/build.py && .venv/bin/python -m pytest -q tests/test_docs.py ;;
  *) echo "usage: bash run.sh [main|test|docs|setup]" >&2; exit 2 ;;
esac
