#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets of the file loaders (tests/fuzz/fuzz_*.c) with clang,
# AddressSanitizer and UBSan in their own build tree, then runs each for a while, starting
# from its seed corpus tests/fuzz/corpus/<format>/ plus what earlier runs found (kept in
# <build>/corpus/<format>/). Any crash, leak, sanitizer report or oversized allocation
# fails the run; reproducers are written to <build>/artifacts/.
#
#   tests/fuzz/run.sh [--build DIR] [--seconds N] [--jobs N] [--only FORMAT]
#
# Exit 77 when clang with libFuzzer is not available or MLX_SKIP_FUZZ is set (ctest then
# reports the test as skipped). FUZZ_CC picks another compiler.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build-fuzz"
seconds=5
jobs=2
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -n "${MLX_SKIP_FUZZ:-}" ]; then
  echo "fuzz: MLX_SKIP_FUZZ is set; skipped"
  exit 77
fi
cc="${FUZZ_CC:-clang}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz: $cc not found; skipped (install clang to fuzz the loaders)"
  exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
  > "$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  echo "fuzz: $cc cannot build libFuzzer targets (-fsanitize=fuzzer); skipped"
  exit 77
fi

mkdir -p "$build"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLX_SANITIZE=fuzzer -DMLX_BUILD_PYTHON=OFF \
    -DMLX_BUILD_TESTS=OFF > "$build/configure.log" 2>&1 \
    || { cat "$build/configure.log"; exit 1; }
fi
formats=(npy npz safetensors gguf)
[ -n "$only" ] && formats=("$only")
targets=()
for f in "${formats[@]}"; do targets+=("fuzz_$f"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}" > "$build/build.log" 2>&1 \
  || { tail -40 "$build/build.log"; exit 1; }

mkdir -p "$build/artifacts"
status=0
for f in "${formats[@]}"; do
  work="$build/corpus/$f"
  mkdir -p "$work"
  log="$build/fuzz_$f.log"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
     "$build/fuzz_$f" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
       -malloc_limit_mb=512 -max_len=65536 -artifact_prefix="$build/artifacts/$f-" \
       -print_final_stats=1 "$work" "$here/corpus/$f" > "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    echo "fuzz_$f: ok (${runs:-?} inputs in ${seconds}s)"
  else
    echo "fuzz_$f: FAILED (log: $log)"
    tail -40 "$log"
    status=1
  fi
done
exit $status
