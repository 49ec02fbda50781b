#!/usr/bin/env bash
# Rows whose strings fill a block's String bytes (8 MiB per column) long before its 8192 rows
# are all sealed, in order and unchanged: events with URLs of up to 600 KB give the same rows
# with the default block_rows (rows appended column-wise, many at a time) and with
# block_rows = 1 (one row at a time). A URL too long for an empty block (9 MiB) is
# dead-lettered as `too_large` and nothing else is lost.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

lib_gen_input 9 1000 1000 500 3000 "$work/ev.jsonl"

# Every 7th event (line index 3, 10, ...) gets a URL of 1..600000 bytes; line index 1500 one of
# 9 MiB. The others keep their generated URLs (which the urls dimension knows).
awk 'BEGIN { a = "a"; while (length(a) < 9437184) a = a a }
{
	i = NR - 1
	if (i == 1500)
		sub(/"url":"[^"]*"/, "\"url\":\"https://big.example/" substr(a, 1, 9437184) "\"")
	else if (i % 7 == 3)
		sub(/"url":"[^"]*"/, "\"url\":\"https://long.example/" \
			substr(a, 1, (i * 7919) % 600000 + 1) "\"")
	print
}' "$work/ev.jsonl" >"$work/in.jsonl"

rows() { # out-dir: one line per row, in offset order
	ch "SELECT _offset, event_time, user_id, device_id, length(url), cityHash64(url),
		country, plan, signup_date, device_type, os, browser, domain, category, _topic, _partition
		FROM file('$1/**/*.native', 'Native') ORDER BY _offset
		SETTINGS use_hive_partitioning = 0"
}

for block_rows in 8192 1; do
	out=$work/out-$block_rows
	lib_config "$work/e.ini" "$work/dims" "$out" "$out.dl" 127.0.0.1:9 0
	sed -i "s/^\[output\]$/[output]\nblock_rows = $block_rows/" "$work/e.ini"
	lib_enrichd_input "$work/e.ini" "$work/in.jsonl" "$work/log"
	rows "$out" >"$work/rows-$block_rows"
	got=$(cut -f1 "$work/rows-$block_rows" | awk '$1 != NR - 1 + (NR > 1500) { bad++ }
		END { print NR, bad + 0 }')
	[ "$got" = "2999 0" ] || fail "block_rows $block_rows: rows, offsets out of place: $got"
	long=$(awk -F'\t' '$1 % 7 == 3 && $5 == ($1 * 7919) % 600000 + 1 + 21 { n++ }
		END { print n + 0 }' "$work/rows-$block_rows")
	[ "$long" = 429 ] || fail "block_rows $block_rows: $long long URLs kept whole, not 429"
	dl=$(cat "$out.dl"/*.deadletter.tsv | cut -f3,4 | tr '\t\n' '  ')
	[ "$dl" = "1500 too_large " ] || fail "block_rows $block_rows: dead letters: $dl"
	blocks=$("$bin/enrichd-native-cat" --blocks $(find "$out" -name '*.native') | wc -l)
	echo "-- block_rows $block_rows: 2999 rows in $blocks blocks, 429 long URLs, 1 too_large"
done
cmp -s "$work/rows-8192" "$work/rows-1" ||
	fail "rows differ between block_rows 8192 and 1: $(diff "$work/rows-8192" "$work/rows-1" |
		head -c 300)"
echo "ok"
