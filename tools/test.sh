#!/usr/bin/env bash
# Runs every test of enrichd: installs what is missing, builds the Release tree and runs all its
# tests (unit and integration) with ctest, builds the ASan+UBSan tree and runs the unit tests
# there, then runs each fuzz target for a short while.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/setup.sh

echo "== build (Release)"
tools/build.sh build
echo "== tests (Release)"
(cd build && ctest --output-on-failure -j 1) | tee build/ctest-release.log

echo "== build (ASan+UBSan)"
# For the baseline x86-64 target, not this machine: the unit tests then also cover the code
# that stands in where -march=native finds no AVX-512 (the Release build covers that path).
tools/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DENRICHD_SANITIZE=ON -DENRICHD_NATIVE_ARCH=OFF
echo "== unit tests (ASan+UBSan)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L unit -j 2) |
	tee build-asan/ctest-asan.log

targets=()
if ls tests/fuzz/*.c >/dev/null 2>&1; then
	echo "== fuzz targets (clang, libFuzzer)"
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DENRICHD_FUZZ=ON >/dev/null
	targets=()
	for src in tests/fuzz/*.c; do targets+=("fuzz-$(basename "$src" .c)"); done
	cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}" >/dev/null
	for name in "${targets[@]}"; do
		f=build-fuzz/$name
		corpus=tests/fuzz/corpus/${name#fuzz-}
		mkdir -p "build-fuzz/corpus-$name"
		args=("build-fuzz/corpus-$name")
		[ -d "$corpus" ] && args+=("$corpus")
		echo "-- $name (60 s)"
		"$f" -max_total_time=60 -timeout=10 -print_final_stats=0 "${args[@]}" 2>&1 | tail -2
	done
fi
fuzzed=${#targets[@]}
# ctest counts a skipped test (exit 77) among those that passed and lists it under "did not run";
# a failure has ended this script already (set -e, pipefail).
logs=(build/ctest-release.log build-asan/ctest-asan.log)
ran=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "${logs[@]}" |
	awk '{ s += $1 } END { print s + 0 }')
skipped=$(cat "${logs[@]}" | grep -c '^[[:space:]]*[0-9]* - .* (Skipped)$' || true)
echo "== all tests passed"
echo "tests: $((ran - skipped + fuzzed)) passed, 0 failed, $skipped skipped"
