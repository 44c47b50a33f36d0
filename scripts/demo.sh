#!/usr/bin/env bash
# The main job: set up and build what is missing (scripts/setup.sh), then run examples/demo.py.
# Arguments are passed to demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
MLX_SANITIZE='' scripts/setup.sh
exec .venv/bin/python examples/demo.py "$@"
