#!/usr/bin/env bash
# Sets up a fresh Debian machine and builds the project; does only what is missing, so it is cheap
# to run again (scripts/demo.sh and scripts/test.sh start with it).
#   1. apt packages (skipped when dpkg says all are installed; sudo only when not root)
#   2. .venv (python3 -m venv) with numpy and pytest
#   3. CMake configure + build into build/ (Release), and a .pth file in .venv that puts
#      build/python on sys.path, so `.venv/bin/python -c "import mlx.core"` uses this build.
#
# Usage: scripts/setup.sh [--sanitize=address|thread]
# Environment:
#   MLX_SANITIZE=address|thread  sanitizer build of the library and C tests (no Python extension)
#                                into build-asan/ or build-tsan/ (same as --sanitize)
#   MLX_BUILD_CUDA=ON            build the CUDA backend (needs the CUDA toolkit)
#   MLX_CMAKE_ARGS="..."         extra arguments for the CMake configure step
#   MLX_EXTRA_APT="pkg ..."      more Debian packages to install (scripts/demo.sh: the dataset)
#   MLX_EXTRA_PIP="pkg ..."      more Python packages for .venv (scripts/demo.sh: matplotlib)
#   PYTHON=python3               interpreter the virtual environment is made from
#   JOBS=N                       parallel build jobs (default: nproc)
#   MLX_VERBOSE=1                show all output instead of logging it
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=${MLX_SANITIZE:-}
while [ $# -gt 0 ]; do
  case $1 in
    --sanitize=*) sanitize=${1#--sanitize=} ;;
    --sanitize) sanitize=${2:?"--sanitize needs address or thread"}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case $sanitize in
  "") build_dir=build ;;
  address) build_dir=build-asan ;;
  thread) build_dir=build-tsan ;;
  *) echo "setup.sh: MLX_SANITIZE must be address or thread, not '$sanitize'" >&2; exit 2 ;;
esac
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
mkdir -p "$build_dir/logs"
logs=$build_dir/logs

# Runs a command with its output in a log file; on failure shows the end of the log and stops.
run_logged() {
  local what=$1 log=$2
  shift 2
  if [ "${MLX_VERBOSE:-0}" = 1 ]; then
    "$@" 2>&1 | tee "$log" && return 0
    echo "setup.sh: $what failed (log: $log)" >&2
    exit 1
  fi
  if ! "$@" >"$log" 2>&1; then
    echo "setup.sh: $what failed (full log: $log)" >&2
    if grep -qE '( error: |undefined reference)' "$log"; then  # with -j the first errors may be far up
      echo "--- first errors:" >&2
      grep -m 20 -E '( error: |undefined reference)' "$log" >&2
    fi
    echo "--- end of the log:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
}

# ---- 1. system packages ----
apt_packages=(build-essential cmake pkg-config python3-dev python3-venv
              libopenblas-dev libopenblas-pthread-dev liblapacke-dev zlib1g-dev)
# shellcheck disable=SC2206  # the extra package list is split into words on purpose
apt_packages+=(${MLX_EXTRA_APT:-})
if command -v dpkg >/dev/null 2>&1; then
  missing=()
  for p in "${apt_packages[@]}"; do
    # (not `dpkg -s | grep -q`: with pipefail, grep quitting early can fail the pipeline)
    status=$(dpkg -s "$p" 2>/dev/null || true)
    [[ $status == *"Status: install ok installed"* ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null 2>&1 || {
        echo "setup.sh: not root and no sudo; install these first: ${missing[*]}" >&2; exit 1; }
      sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    run_logged "apt-get update" "$logs/apt-update.log" "${sudo[@]}" apt-get update -q
    run_logged "apt-get install" "$logs/apt-install.log" \
      "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup.sh: no dpkg (not Debian?): make sure a C11 compiler, CMake >= 3.18, Python 3 headers" \
       "and venv, OpenBLAS and LAPACKE are installed" >&2
fi

# ---- 2. virtual environment ----
py=.venv/bin/python
if ! { [ -x "$py" ] && "$py" -c 'import sys' >/dev/null 2>&1; }; then
  rm -rf .venv
  run_logged "creating .venv" "$logs/venv.log" "${PYTHON:-python3}" -m venv .venv
fi
if ! "$py" -c 'import numpy, pytest' >/dev/null 2>&1; then
  run_logged "pip install numpy pytest" "$logs/pip.log" \
    "$py" -m pip install -q --disable-pip-version-check numpy pytest
fi
extra_pip=()
for p in ${MLX_EXTRA_PIP:-}; do
  "$py" -m pip show -q "$p" >/dev/null 2>&1 || extra_pip+=("$p")
done
if [ ${#extra_pip[@]} -gt 0 ]; then
  run_logged "pip install ${extra_pip[*]}" "$logs/pip-extra.log" \
    "$py" -m pip install -q --disable-pip-version-check "${extra_pip[@]}"
fi

# ---- 3. configure and build ----
if [ -n "$sanitize" ]; then
  # Sanitizer builds are for the C tests: -O2 -g for readable reports, no Python extension
  # (loading an ASan/TSan extension into an uninstrumented python needs LD_PRELOAD games).
  cfg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLX_SANITIZE="$sanitize" -DMLX_BUILD_PYTHON=OFF)
else
  cfg=(-DCMAKE_BUILD_TYPE=Release -DMLX_SANITIZE= -DMLX_BUILD_PYTHON=ON)
fi
cfg+=(-DMLX_BUILD_TESTS=ON -DMLX_BUILD_CUDA="${MLX_BUILD_CUDA:-OFF}"
      -DPython3_EXECUTABLE="$PWD/$py")
if [ -n "${MLX_CMAKE_ARGS:-}" ]; then
  # shellcheck disable=SC2206  # splitting the user's extra arguments into words is intended
  cfg+=(${MLX_CMAKE_ARGS})
fi

# Configure when the tree is new or the arguments changed; `cmake --build` re-runs CMake by
# itself when a CMakeLists.txt changes.
stamp=$build_dir/.setup-configure-args
if [ ! -f "$build_dir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${cfg[*]}" ]; then
  run_logged "configuring $build_dir/" "$logs/configure.log" cmake -S . -B "$build_dir" "${cfg[@]}"
  printf '%s' "${cfg[*]}" >"$stamp"
fi
run_logged "building $build_dir/" "$logs/build.log" cmake --build "$build_dir" -j "$jobs"
warnings=$(grep -c 'warning:' "$logs/build.log" || true)
if [ "$warnings" -gt 0 ]; then
  echo "setup.sh: $warnings compiler warning(s) building $build_dir/, see $logs/build.log"
fi

# ---- 4. make this build importable from .venv (normal build only) ----
if [ -z "$sanitize" ]; then
  site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  pth=$site/mlx-build.pth
  want=$PWD/$build_dir/python
  [ "$(cat "$pth" 2>/dev/null)" = "$want" ] || printf '%s\n' "$want" >"$pth"
  if ! "$py" -c 'import mlx.core' >"$logs/import.log" 2>&1; then
    echo "setup.sh: the build finished but 'import mlx.core' fails:" >&2
    cat "$logs/import.log" >&2
    exit 1
  fi
fi
