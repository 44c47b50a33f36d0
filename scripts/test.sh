#!/usr/bin/env bash
# The whole test suite: set up and build what is missing (scripts/setup.sh), then the C tests
# (ctest) and the Python tests (pytest tests/python). Arguments are passed to pytest.
#   DEVICE=gpu scripts/test.sh             the Python suite with the GPU as default device (a real
#                                          one, or the fake one with MLX_FAKE_GPU=1)
#   MLX_SANITIZE=address scripts/test.sh   the C tests in the ASan+LSan+UBSan build (build-asan/)
#   MLX_SANITIZE=thread scripts/test.sh    the C tests in the TSan build (build-tsan/)
#   CTEST_ARGS="-R threads"                extra ctest arguments (here: only the threading tests)
# Sanitizer runs have no Python extension, so no pytest. Both suites run even if one fails;
# the exit status is nonzero if any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
run=()
case ${MLX_SANITIZE:-} in
  "") build_dir=build ;;
  address)
    build_dir=build-asan
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
  thread)
    build_dir=build-tsan
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    # TSan needs a predictable address layout; some kernels randomize too much (mmap_rnd_bits 32)
    if setarch "$(uname -m)" -R true 2>/dev/null; then run=(setarch "$(uname -m)" -R); fi ;;
esac
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
failed=()

echo "== C tests (ctest${CTEST_ARGS:+ $CTEST_ARGS}, $build_dir/) =="
# shellcheck disable=SC2086  # CTEST_ARGS is split into words on purpose
(cd "$build_dir" &&
 "${run[@]}" ctest --output-on-failure --no-tests=error --timeout 300 -j "$jobs" ${CTEST_ARGS:-}) ||
  failed+=(ctest)

if [ -n "${MLX_SANITIZE:-}" ]; then
  echo "== Python tests skipped: the $MLX_SANITIZE build has no Python extension =="
else
  echo "== Python tests (pytest tests/python${DEVICE:+, DEVICE=$DEVICE}) =="
  rc=0
  .venv/bin/python -m pytest tests/python -q "$@" || rc=$?
  [ $rc = 0 ] || failed+=(pytest)
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all tests passed"
