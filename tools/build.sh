#!/usr/bin/env bash
# Configures and builds enrichd into build/ (Release) or the directory given, with extra CMake
# arguments after it:  tools/build.sh [DIR [CMAKE-ARGS...]]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
