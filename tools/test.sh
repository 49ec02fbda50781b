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
(cd build && ctest --output-on-failure -j 1)

echo "== build (ASan+UBSan)"
tools/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DENRICHD_SANITIZE=ON
echo "== unit tests (ASan+UBSan)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L unit -j 2)

if ls tests/fuzz/*.c >/dev/null 2>&1; then
	echo "== fuzz targets (clang, libFuzzer)"
	CC=clang tools/build.sh build-fuzz -DCMAKE_BUILD_TYPE=Debug -DENRICHD_FUZZ=ON
	for f in build-fuzz/fuzz-*; do
		name=$(basename "$f")
		corpus=tests/fuzz/corpus/${name#fuzz-}
		mkdir -p "build-fuzz/corpus-$name"
		args=("build-fuzz/corpus-$name")
		[ -d "$corpus" ] && args+=("$corpus")
		echo "-- $name (60 s)"
		"$f" -max_total_time=60 -timeout=10 -print_final_stats=0 "${args[@]}" 2>&1 | tail -2
	done
fi
echo "== all tests passed"
