#!/usr/bin/env bash
# docs/CONFIGURATION.md holds the reference enrichd generates from its key table, and its example
# configuration is valid.
set -euo pipefail
source "$(dirname "$0")/../../tools/lib.sh"
doc=$ENRICHD_SOURCE_DIR/docs/CONFIGURATION.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$ENRICHD_BUILD_DIR/enrichd" --config-reference >"$work/reference.md"
sed -n '/^## Keys$/,$p' "$doc" | tail -n +2 >"$work/documented.md"
if ! diff -u "$work/documented.md" "$work/reference.md"; then
	echo "FAIL: docs/CONFIGURATION.md is out of date: regenerate its Keys section with enrichd --config-reference"
	exit 1
fi
sed -n '/^```ini$/,/^```$/p' "$doc" | sed '1d;$d' >"$work/example.ini"
sed -i "s/^cpus = .*/cpus = 0/" "$work/example.ini"
"$ENRICHD_BUILD_DIR/enrichd" --config "$work/example.ini" --check >/dev/null
echo "docs_config: the reference and the example are current"
