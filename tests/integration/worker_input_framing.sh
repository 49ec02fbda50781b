#!/usr/bin/env bash
# enrichd --input frames lines the same way whether the file is mapped (a regular file, one and
# two workers) or read through a buffer (a pipe): every line is one message whose _offset is its
# line index; an empty line is dead-lettered as `empty`, a line longer than the input buffer
# (16 MiB) as `too_long` by its first 4096 bytes; a last line without a newline is still an
# event. Nothing else is sealed or dead-lettered.
set -euo pipefail

build=${ENRICHD_BUILD_DIR:?}
src=${ENRICHD_SOURCE_DIR:?}
chq="$src/tools/ch/chq.js"
source "$src/tools/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$build/enrichd-gen-dims" --out "$tmp/dims" --seed 5 --users 1000 --devices 1000 --urls 500 \
	2>/dev/null
"$build/enrichd-gen-events" --seed 5 --count 3000 --users 1000 --devices 1000 --urls 500 \
	--out "$tmp/ev.jsonl" 2>/dev/null

# Lines 0-999 events, 1000 empty, 1001 a 70 MiB line (past the 64 MiB a mapped reader gives back
# at a time), 1002-2998 events, 2999 the last event without its newline.
{
	sed -n '1,1000p' "$tmp/ev.jsonl"
	echo
	head -c $((70 << 20)) /dev/zero | tr '\0' 'x'
	echo
	sed -n '1001,2997p' "$tmp/ev.jsonl"
	sed -n '2998p' "$tmp/ev.jsonl" | tr -d '\n'
} >"$tmp/in.jsonl"
expect_rows=2998

check() { # name out-dir dead-letter-dir
	local name=$1 out=$2 dl=$3
	local got
	got=$("$chq" "SELECT count(), uniqExact(_offset), min(_offset), max(_offset),
		countIf(_offset IN (1000, 1001)) FROM file('$out/**/*.native', 'Native')
		SETTINGS use_hive_partitioning = 0" | tr '\t' ' ')
	[ "$got" = "$expect_rows $expect_rows 0 2999 0" ] ||
		fail "$name: rows, distinct offsets, min, max, offsets 1000/1001: $got"
	cat "$dl"/*.deadletter.tsv | cut -f3,4 | sort >"$tmp/dl-$name"
	printf '1000\tempty\n1001\ttoo_long\n' >"$tmp/dl-expect"
	cmp -s "$tmp/dl-$name" "$tmp/dl-expect" ||
		fail "$name: dead letters (offset, error): $(tr '\n' ' ' <"$tmp/dl-$name")"
	local head_len
	head_len=$(awk -F'\t' '$4 == "too_long" { print length($6) }' "$dl"/*.deadletter.tsv)
	[ "$head_len" = 4096 ] || fail "$name: too_long dead letter keeps $head_len bytes, not 4096"
	echo "-- $name: $expect_rows rows, offsets 0..2999 without 1000/1001, 2 dead letters"
}

for cpus in 0 0-1; do
	out=$tmp/out-file-$cpus
	lib_config "$tmp/e.ini" "$tmp/dims" "$out" "$out.dl" 127.0.0.1:9 "$cpus"
	"$build/enrichd" --config "$tmp/e.ini" --input "$tmp/in.jsonl" 2>"$tmp/log" ||
		fail "enrichd failed: $(tail -n3 "$tmp/log")"
	check "file-cpus-$cpus" "$out" "$out.dl"
done

out=$tmp/out-pipe
lib_config "$tmp/e.ini" "$tmp/dims" "$out" "$out.dl" 127.0.0.1:9 0
cat "$tmp/in.jsonl" | "$build/enrichd" --config "$tmp/e.ini" --input - 2>"$tmp/log" ||
	fail "enrichd failed: $(tail -n3 "$tmp/log")"
check pipe "$out" "$out.dl"
echo "ok"
