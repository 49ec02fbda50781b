#!/usr/bin/env bash
# docs/CONFIGURATION.md holds the reference enrichd generates from its key table, and its example
# configuration is valid.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
doc=$ENRICHD_SOURCE_DIR/docs/CONFIGURATION.md
"$ENRICHD_BUILD_DIR/enrichd" --config-reference >"$work/reference.md"
sed -n '/^## Keys$/,$p' "$doc" | tail -n +2 >"$work/documented.md"
diff -u "$work/documented.md" "$work/reference.md" ||
	fail "docs/CONFIGURATION.md is out of date: regenerate its Keys section with enrichd --config-reference"
sed -n '/^```ini$/,/^```$/p' "$doc" | sed '1d;$d' >"$work/example.ini"
sed -i "s/^cpus = .*/cpus = 0/" "$work/example.ini"
"$ENRICHD_BUILD_DIR/enrichd" --config "$work/example.ini" --check >/dev/null
echo "config_docs: the reference and the example are current"
