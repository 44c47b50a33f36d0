#!/usr/bin/env bash
# fuzz.sh: a longer fuzzing session of the file loaders (.npy, .npz, .safetensors, .gguf)
# than the 5-second-per-loader one of the test suite: builds the libFuzzer targets with
# clang + ASan + UBSan in build-fuzz/ and runs each for FUZZ_SECONDS (default 600).
# The corpus grows in build-fuzz/corpus/; crash reproducers land in build-fuzz/artifacts/.
#   scripts/fuzz.sh [--only npy|npz|safetensors|gguf]      (needs clang with libFuzzer)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/tests/fuzz/run.sh" --build "$root/build-fuzz" --seconds "${FUZZ_SECONDS:-600}" \
  --jobs "$(nproc 2>/dev/null || echo 2)" "$@"
