#!/usr/bin/env bash
# The full test suite: every notebook (nbdev_test; slow and gpu cells skipped) then pytest (tests/).
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
nbdev_test --n_workers 2 --timing
python -m pytest -q tests
