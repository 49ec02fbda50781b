#!/usr/bin/env bash
# docs/CONFIGURATION.md holds the reference enrichd generates from its key table, and its example
# configuration (its ini blocks together: the main example and the [event] one) is valid.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
doc=$src/docs/CONFIGURATION.md
"$bin/enrichd" --config-reference >"$work/reference.md"
sed -n '/^## Keys$/,$p' "$doc" | tail -n +2 >"$work/documented.md"
diff -u "$work/documented.md" "$work/reference.md" ||
	fail "docs/CONFIGURATION.md is out of date: regenerate its Keys section with enrichd --config-reference"
sed -n '/^```ini$/,/^```$/p' "$doc" | grep -v '^```' >"$work/example.ini"
sed -i "s/^cpus = .*/cpus = 0/" "$work/example.ini"
# Its paths under $work: --check reads the sources as the start does.
sed -i "s|= /data/|= $work/data/|" "$work/example.ini"
mkdir -p "$work/data"
"$bin/enrichd-gen-dims" --out "$work/data/dims" --users 10 --devices 10 --urls 10 2>/dev/null
"$bin/enrichd" --config "$work/example.ini" --check >/dev/null
echo "config_docs: the reference and the example are current"
