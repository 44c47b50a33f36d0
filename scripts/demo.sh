#!/usr/bin/env bash
# The main job: set up and build what is missing (scripts/setup.sh, plus the Debian package
# dataset-fashion-mnist and matplotlib in .venv), then train the small convolutional network of
# examples/train_fashion_mnist.py on Fashion-MNIST; it fails when the test accuracy ends below
# 88%. Arguments go to the training script (--help lists them; a later --target wins).
set -euo pipefail
cd "$(dirname "$0")/.."
MLX_SANITIZE='' MLX_EXTRA_APT="dataset-fashion-mnist ${MLX_EXTRA_APT:-}" \
  MLX_EXTRA_PIP="matplotlib ${MLX_EXTRA_PIP:-}" scripts/setup.sh
exec .venv/bin/python examples/train_fashion_mnist.py --target 0.88 "$@"
