#!/usr/bin/env bash
# The last mile, as docs/OPERATIONS.md ("Loading into ClickHouse") gives it: the sealed segments of
# a Kafka pipeline loaded with tools/enrichd-load into the tables of the document's own CREATE
# TABLE statements, whose columns must be the segments' columns. Three clients: the embedded
# ClickHouse on a data directory that persists between calls; the HTTP interface with curl
# (tests/integration/ch_http.js serves it from the embedded ClickHouse); clickhouse-client's
# command line (a stand-in hands its INSERT to the embedded ClickHouse). Each loads every segment,
# then every segment again: the table holds each (_topic, _partition, _offset) once and equals the
# segments, EXCEPT ALL in both directions; clickhouse-client's tokens are chdb's, so it adds
# nothing. A second enrichd run adds segments: a --state load offers exactly those and one right
# after offers none. A copy of a segment under another instance's name (what a killed instance
# and the one taking its partitions over can both seal) is inserted again by the MergeTree table
# and replaced in the ReplacingMergeTree one.
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
load=$ENRICHD_SOURCE_DIR/tools/enrichd-load
doc=$ENRICHD_SOURCE_DIR/docs/OPERATIONS.md
out=$work/out
db=$work/ch

chdb() { "$CHQ" --path "$db" "$@"; }
segments() { (cd "$out" && find . -path './dt=*/hour=*/*.native' | sed 's|^\./||' | sort); }
all_segments="file('$out/dt=*/hour=*/*.native', 'Native')"

# The CREATE statements of the document's "Loading into ClickHouse" section, one per line.
awk '/^## Loading into ClickHouse/ { on = 1; next } /^## / { on = 0 }
	on && /^```sql$/ { sql = 1; next } sql && /^```$/ { sql = 0; next } sql' "$doc" |
	tr '\n' ' ' | sed 's/; */;\n/g' >"$work/create.sql"
grep -q "CREATE TABLE clickstream.events$" <(sed 's/ *(.*//' "$work/create.sql") ||
	fail "no CREATE TABLE clickstream.events in $doc"
grep -q "CREATE TABLE clickstream.events_dedup " "$work/create.sql" ||
	fail "no CREATE TABLE clickstream.events_dedup in $doc"

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 9 \
	2>/dev/null
lib_broker_start clickstream 4
lib_config "$work/enrichd.ini" "$work/dims" "$out" "$work/dl" "$BROKERS" 0-1

# One enrichd run: produce EVENTS (seed SEED, event times from START_MS over SPREAD_MS), wait
# until TOTAL rows are sealed, stop it. run_enrichd N EVENTS SEED START_MS SPREAD_MS TOTAL
run_enrichd() {
	local log=$work/enrichd-$1.log pid
	lib_enrichd_start "$work/enrichd.ini" "$log"
	# shellcheck disable=SC2154 # set by tools/lib.sh
	pid=$lib_enrichd_pid
	"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 4 \
		--count "$2" --seed "$3" --users 20000 --devices 20000 --urls 5000 \
		--miss-users 0.05 --start-ms "$4" --spread-ms "$5" 2>/dev/null
	lib_wait_sealed "$out" "$work/dl" "$6" 120
	kill -TERM "$pid"
	wait "$pid" || { tail -n 20 "$log"; fail "enrichd run $1 exited non-zero"; }
	! compgen -G "$out/dt=*/hour=*/*.tmp" >/dev/null || fail "open segments left after run $1"
}

# Rows of TABLE against the segments: "rows distinct_offsets missing unexpected", where missing
# are the segments' rows not in the table and unexpected the table's rows not in the segments.
compare() {
	echo "SELECT count(), uniqExact(_topic, _partition, _offset) FROM $1;
SELECT count() FROM (SELECT * FROM $all_segments EXCEPT ALL SELECT * FROM $1) SETTINGS use_hive_partitioning = 0;
SELECT count() FROM (SELECT * FROM $1 EXCEPT ALL SELECT * FROM $all_segments) SETTINGS use_hive_partitioning = 0;"
}

# Run 1: 12,000 events over three hours across a day's end (2024-12-31 22:00 to 2025-01-01 01:00).
run_enrichd 1 12000 21 1735682400000 10800000 12000
seg1=$(segments)
[ "$(echo "$seg1" | cut -d/ -f1 | sort -u | wc -l)" -ge 2 ] || fail "run 1 sealed no two days: $seg1"
echo "run 1: $(echo "$seg1" | wc -l) segments"

echo "-- the document's tables, their columns the segments' columns"
chdb -f "$work/create.sql"
chdb "SELECT name, type FROM system.columns WHERE database = 'clickstream' AND table = 'events'
	ORDER BY position" >"$work/table-columns.tsv"
chdb "DESCRIBE TABLE file('$out/$(echo "$seg1" | head -n1)', 'Native')
	SETTINGS use_hive_partitioning = 0" | cut -f1,2 >"$work/segment-columns.tsv"
diff -u "$work/segment-columns.tsv" "$work/table-columns.tsv" ||
	fail "clickstream.events does not have the segments' columns"

echo "-- chdb: every segment, then every segment again"
sleep 2 # the segments' ctime before the state's second (--overlap 0 below)
"$load" --client chdb --chdb-path "$db" --table clickstream.events --state "$work/state" \
	--overlap 0 "$out" 2>&1 | tee "$work/load.log"
grep -q "^enrichd-load: $(echo "$seg1" | wc -l) segment(s)" "$work/load.log" ||
	fail "the first load did not offer every segment"
"$load" --client chdb --chdb-path "$db" --table clickstream.events "$out"
read -r rows distinct missing unexpected <<<"$(compare clickstream.events | chdb - | tr '\n' ' ')"
check "rows after two loads" "$rows" 12000
check "distinct offsets" "$distinct" 12000
check "segment rows missing from the table" "$missing" 0
check "table rows not in the segments" "$unexpected" 0

# Run 2: 6,000 more events, later in the stream; the same group resumes where run 1 sealed.
run_enrichd 2 6000 22 1735693200000 3600000 18000
seg2=$(comm -13 <(echo "$seg1") <(segments))
echo "run 2: $(echo "$seg2" | wc -l) new segments"

echo "-- chdb: --state offers exactly the new segments, then none"
sleep 2
"$load" --client chdb --chdb-path "$db" --table clickstream.events --state "$work/state" \
	--overlap 0 --dry-run "$out" | cut -f2 | sed 's/^insert_deduplication_token=//' >"$work/offered"
diff -u <(echo "$seg2") "$work/offered" || fail "--state did not offer exactly run 2's segments"
"$load" --client chdb --chdb-path "$db" --table clickstream.events --state "$work/state" \
	--overlap 0 "$out"
"$load" --client chdb --chdb-path "$db" --table clickstream.events --state "$work/state" \
	--overlap 0 "$out" 2>&1 | tee "$work/load.log"
grep -q "^enrichd-load: 0 segment(s)" "$work/load.log" || fail "a --state run right after offered segments"
# Looking back an hour offers every segment again; each is deduplicated by its token.
"$load" --client chdb --chdb-path "$db" --table clickstream.events --state "$work/state" \
	--overlap 3600 "$out" 2>&1 | tee "$work/load.log"
grep -q "^enrichd-load: $(segments | wc -l) segment(s)" "$work/load.log" ||
	fail "a --state run looking back an hour did not offer every segment"
read -r rows distinct missing unexpected <<<"$(compare clickstream.events | chdb - | tr '\n' ' ')"
check "rows after run 2's loads" "$rows" 18000
check "distinct offsets" "$distinct" 18000
check "segment rows missing from the table" "$missing" 0
check "table rows not in the segments" "$unexpected" 0

echo "-- clickhouse-client: the same tokens as chdb's, so nothing is added"
# A stand-in: --NAME=VALUE settings, --query 'INSERT ... FORMAT F' and the data on stdin become
# INSERT ... FROM INFILE with those settings in the embedded ClickHouse.
mkdir -p "$work/bin"
cat >"$work/bin/clickhouse-client" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
settings=() query=""
while [ $# -gt 0 ]; do
	case "$1" in
	--query) query=$2; shift 2 ;;
	--host) shift 2 ;;
	--*=*) name=${1%%=*} value=${1#*=}; settings+=("${name#--} = '${value//\'/\\\'}'"); shift ;;
	*) echo "clickhouse-client (test): unexpected argument $1" >&2; exit 2 ;;
	esac
done
data=$(mktemp)
trap 'rm -f "$data"' EXIT
cat >"$data"
IFS=,
"$CHQ" --path "$CH_PATH" "${query% FORMAT *} FROM INFILE '$data' SETTINGS ${settings[*]} FORMAT ${query##* FORMAT }"
SH
chmod +x "$work/bin/clickhouse-client"
PATH=$work/bin:$PATH CHQ=$CHQ CH_PATH=$db "$load" --client clickhouse-client \
	--table clickstream.events "$out" -- --host 127.0.0.1
check "rows after the clickhouse-client load" "$(chdb "SELECT count() FROM clickstream.events")" 18000

echo "-- HTTP (curl): every segment, then every segment again"
lib_spawn node "$ENRICHD_SOURCE_DIR/tests/integration/ch_http.js" --path "$work/ch-http" \
	--port-file "$work/http.port"
for _ in $(seq 100); do
	[ -s "$work/http.port" ] && break
	sleep 0.1
done
url=http://127.0.0.1:$(cat "$work/http.port")/
[ "$url" != "http://127.0.0.1:/" ] || fail "ch_http.js did not start"
hq() { curl -sS --fail-with-body --data-binary "$1" "$url"; }
while IFS= read -r statement; do
	[ -z "$statement" ] || hq "${statement%;}"
done <"$work/create.sql"
CLICKHOUSE_USER=default "$load" --url "$url" --table clickstream.events "$out"
"$load" --client http --url "$url" --table clickstream.events -v "$out" | wc -l |
	grep -qx 0 && fail "-v printed no segment"
read -r rows distinct missing unexpected <<<"$(compare clickstream.events |
	while IFS= read -r q; do hq "${q%;}"; done | tr '\n' ' ')"
check "rows after two HTTP loads" "$rows" 18000
check "distinct offsets" "$distinct" 18000
check "segment rows missing from the table" "$missing" 0
check "table rows not in the segments" "$unexpected" 0
"$load" --url "$url" --table clickstream.no_such_table "$out" 2>"$work/err.log" &&
	fail "a load into a missing table succeeded"
grep -q "UNKNOWN_TABLE" "$work/err.log" || fail "the server's error was not shown: $(cat "$work/err.log")"

echo "-- the same rows sealed twice under two names: MergeTree keeps both, ReplacingMergeTree one"
"$load" --client chdb --chdb-path "$db" --table clickstream.events_dedup --state "$work/state-dedup" \
	"$out"
# shellcheck disable=SC2086,SC2012 # the segments' paths have no spaces
largest=$(cd "$out" && ls -S $seg1 | head -n1)
copy=$(dirname "$largest")/enrichd-2-w0-$(basename "$largest" | sed 's/.*-//')
cp "$out/$largest" "$out/$copy"
copied=$(chdb "SELECT count() FROM file('$out/$copy', 'Native') SETTINGS use_hive_partitioning = 0")
[ "$copied" -gt 0 ] || fail "the copied segment $largest has no rows"
"$load" --client chdb --chdb-path "$db" --table clickstream.events --state "$work/state" "$out"
"$load" --client chdb --chdb-path "$db" --table clickstream.events_dedup --state "$work/state-dedup" \
	"$out"
read -r rows distinct <<<"$(chdb "SELECT count(), uniqExact(_topic, _partition, _offset) FROM clickstream.events")"
check "MergeTree rows with the copy" "$rows" $((18000 + copied))
check "MergeTree distinct offsets with the copy" "$distinct" 18000
check "ReplacingMergeTree rows, FINAL" "$(chdb "SELECT count() FROM clickstream.events_dedup FINAL")" 18000
echo "load_clickhouse: 18000 rows loaded exactly once through chdb, clickhouse-client and HTTP"
