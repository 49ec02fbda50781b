#!/usr/bin/env bash
# The dimension benchmark's two sides on small files, checked for what they report rather than
# how fast: bench-dim-load loads every row of the default schema (TSV and CSV), its sampled
# lookup keys all hit, its bytes match the sum it prints and forced 4 KiB pages are reported as
# such; dim_clickhouse.js loads the same rows into ClickHouse dictionaries and stops with
# status=memory_limit under a tiny max_server_memory_usage; dims.sh rejects a bad scale.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

users=30000 devices=20000 urls=5000

# field FILE PREFIX NAME KEY: value of KEY= on the line "PREFIX<TAB>name=NAME..." (NAME "" for
# a line without a name).
field() {
	awk -F'\t' -v p="$2" -v n="name=$3" -v k="$4=" '
		$1 == p && ($2 == n || n == "name=") {
			for (i = 2; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit }
		}' "$1"
}

"$bin/enrichd-gen-dims" --out "$work/tsv" --users $users --devices $devices --urls $urls \
	2>/dev/null
"$bin/enrichd-gen-dims" --out "$work/csv" --format csv --users $users --devices $devices \
	--urls $urls 2>/dev/null

check_enrichd() { # FILE
	local sum=0
	for d in users devices urls; do
		local want=${!d}
		[ "$(field "$1" dim $d rows)" = "$want" ] || fail "$1: $d rows $(field "$1" dim $d rows)"
		[ "$(field "$1" dim $d lookups)" = 100000 ] || fail "$1: $d lookups"
		[ "$(field "$1" dim $d lookup_hits)" = 100000 ] || fail "$1: $d lookup hits"
		[ "$(field "$1" dim $d repeat)" = 2 ] || fail "$1: $d repeat"
		[ "$(field "$1" dim $d load_s_all | tr ',' '\n' | wc -l)" = 2 ] || fail "$1: $d loads"
		sum=$((sum + $(field "$1" dim $d bytes)))
	done
	[ "$(field "$1" total "" rows)" = $((users + devices + urls)) ] || fail "$1: total rows"
	[ "$(field "$1" total "" bytes)" = "$sum" ] || fail "$1: total bytes"
}

echo "-- bench-dim-load, TSV"
"$bin/bench-dim-load" --dir "$work/tsv" --repeat 2 --lookups 100000 --pool 4096 \
	>"$work/e.txt"
check_enrichd "$work/e.txt"

echo "-- bench-dim-load, CSV, 4 KiB pages, one thread"
"$bin/bench-dim-load" --repeat 2 --lookups 100000 --pool 4096 --huge-mode 4k --threads 1 \
	users="$work/csv/users.csv" devices="$work/csv/devices.csv" urls="$work/csv/urls.csv" \
	>"$work/c.txt"
check_enrichd "$work/c.txt"
for d in users devices urls; do
	[ "$(field "$work/c.txt" dim $d huge_mode)" = 4k ] || fail "$d: page mode"
	[ "$(field "$work/c.txt" dim $d threads)" = 1 ] || fail "$d: threads"
	[ "$(field "$work/c.txt" dim $d bytes)" = "$(field "$work/e.txt" dim $d bytes)" ] ||
		fail "$d: CSV and TSV tables differ in size"
done

echo "-- bench-dim-load, bad arguments"
if "$bin/bench-dim-load" nosuch="$work/tsv/users.tsv" 2>/dev/null; then fail "unknown dim"; fi
if "$bin/bench-dim-load" users="$work/none.tsv" >/dev/null 2>&1; then fail "missing file"; fi

echo "-- dim_clickhouse.js"
node "$src/perf/dim_clickhouse.js" --dir "$work/tsv" --repeat 2 >"$work/ch.txt"
for d in users devices urls; do
	[ "$(field "$work/ch.txt" ch $d rows)" = "${!d}" ] || fail "ClickHouse $d rows"
	[ "$(field "$work/ch.txt" ch $d status)" = loaded ] || fail "ClickHouse $d status"
	[ "$(field "$work/ch.txt" ch $d bytes)" -gt 0 ] || fail "ClickHouse $d bytes"
done
[ "$(field "$work/ch.txt" ch_total "" rows)" = $((users + devices + urls)) ] ||
	fail "ClickHouse total rows"

echo "-- dim_clickhouse.js over its memory limit"
set +e
node "$src/perf/dim_clickhouse.js" --dir "$work/tsv" --dims users --max-memory 1000000 \
	>"$work/lim.txt" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || fail "memory limit: exit status $rc"
[ "$(field "$work/lim.txt" ch users status)" = memory_limit ] || fail "memory limit status"

echo "-- dims.sh arguments"
if "$src/perf/dims.sh" --scale 7m >/dev/null 2>&1; then fail "dims.sh took --scale 7m"; fi
if "$src/perf/dims.sh" --repeat 0 >/dev/null 2>&1; then fail "dims.sh took --repeat 0"; fi
echo "ok"
