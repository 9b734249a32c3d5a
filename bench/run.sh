#!/usr/bin/env bash
# Side-by-side benchmark of rostree vs upstream ostree; see README.md.
# The harness itself is bench/run.py (python3 stdlib only).
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/run.py" "$@"
