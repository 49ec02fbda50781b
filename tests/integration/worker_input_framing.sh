#!/usr/bin/env bash
# enrichd --input frames lines the same way whether the file is mapped (a regular file, one and
# two workers) or read through a buffer (a pipe): every line is one message whose _offset is its
# line index; an empty line is dead-lettered as `empty`, a line longer than the input buffer
# (16 MiB) as `too_long` by its first 4096 bytes; a last line without a newline is still an
# event. Nothing else is sealed or dead-lettered.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

lib_gen_input 5 1000 1000 500 3000 "$work/ev.jsonl"

# Lines 0-999 events, 1000 empty, 1001 a 70 MiB line (past the 64 MiB a mapped reader gives back
# at a time), 1002-2998 events, 2999 the last event without its newline.
{
	sed -n '1,1000p' "$work/ev.jsonl"
	echo
	head -c $((70 << 20)) /dev/zero | tr '\0' 'x'
	echo
	sed -n '1001,2997p' "$work/ev.jsonl"
	sed -n '2998p' "$work/ev.jsonl" | tr -d '\n'
} >"$work/in.jsonl"
expect_rows=2998

check_output() { # name out-dir dead-letter-dir
	local name=$1 out=$2 dl=$3
	local got
	got=$(ch "SELECT count(), uniqExact(_offset), min(_offset), max(_offset),
		countIf(_offset IN (1000, 1001)) FROM file('$out/**/*.native', 'Native')
		SETTINGS use_hive_partitioning = 0" | tr '\t' ' ')
	[ "$got" = "$expect_rows $expect_rows 0 2999 0" ] ||
		fail "$name: rows, distinct offsets, min, max, offsets 1000/1001: $got"
	cat "$dl"/*.deadletter.tsv | cut -f3,4 | sort >"$work/dl-$name"
	printf '1000\tempty\n1001\ttoo_long\n' >"$work/dl-expect"
	cmp -s "$work/dl-$name" "$work/dl-expect" ||
		fail "$name: dead letters (offset, error): $(tr '\n' ' ' <"$work/dl-$name")"
	local head_len
	head_len=$(awk -F'\t' '$4 == "too_long" { print length($6) }' "$dl"/*.deadletter.tsv)
	[ "$head_len" = 4096 ] || fail "$name: too_long dead letter keeps $head_len bytes, not 4096"
	echo "-- $name: $expect_rows rows, offsets 0..2999 without 1000/1001, 2 dead letters"
}

for cpus in 0 0-1; do
	out=$work/out-file-$cpus
	lib_config "$work/e.ini" "$work/dims" "$out" "$out.dl" 127.0.0.1:9 "$cpus"
	lib_enrichd_input "$work/e.ini" "$work/in.jsonl" "$work/log"
	check_output "file-cpus-$cpus" "$out" "$out.dl"
done

out=$work/out-pipe
lib_config "$work/e.ini" "$work/dims" "$out" "$out.dl" 127.0.0.1:9 0
# Through a pipe: read through the buffer, not mapped.
cat "$work/in.jsonl" | lib_enrichd_input "$work/e.ini" - "$work/log"
check_output pipe "$out" "$out.dl"
echo "ok"
