#!/usr/bin/env bash
# Two enrichd instances in one consumer group, each with its own output directory, while events
# flow. One is stopped mid-stream (SIGTERM in one run, SIGKILL in the other); the other takes its
# partitions over. ClickHouse reads both directories: every produced well-formed event appears
# exactly once across them, and every malformed one once in the dead letters.
set -euo pipefail
source "$(dirname "$0")/../../tools/lib.sh"
bin=$ENRICHD_BUILD_DIR
events=24000

run() {
	local signal=$1 work
	work=$(mktemp -d)
	"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 3 2>/dev/null
	lib_broker_start clickstream 12
	for i in a b; do
		lib_config "$work/$i.ini" "$work/dims" "$work/out-$i" "$work/dl-$i" "$BROKERS" \
			"$([ $i = a ] && echo 0 || echo 1)"
		sed -i "s/^instance = .*/instance = enrichd-$i/" "$work/$i.ini"
	done
	lib_spawn "$bin/enrichd" --config "$work/a.ini" 2>"$work/a.log"
	local pid_a=${lib_pids[-1]}
	lib_wait_log "$work/a.log" "partitions assigned" 60
	lib_spawn "$bin/enrichd" --config "$work/b.ini" 2>"$work/b.log"
	lib_wait_log "$work/b.log" "partitions assigned" 60
	lib_spawn "$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 12 \
		--count $events --rate 2000 --seed 3 --users 20000 --devices 20000 --urls 5000 \
		--miss-users 0.05 --malformed 0.01 --manifest "$work/manifest.tsv"
	local producer=${lib_pids[-1]}
	sleep 5
	kill "-$signal" "$pid_a"
	wait "$pid_a" || [ "$signal" = KILL ] || { echo "FAIL: instance a exited non-zero"; return 1; }
	wait "$producer"
	local got=0
	for _ in $(seq 120); do
		got=$(($(lib_sealed_count "$work/out-a" "$work/dl-a") + $(lib_sealed_count "$work/out-b" "$work/dl-b")))
		[ "$got" -ge $events ] && break
		sleep 1
	done
	lib_cleanup
	cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$work/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS partition, _offset AS offset, user_id, url FROM file('$work/out-{a,b}/**/*.native', 'Native');
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl-{a,b}/*.deadletter.tsv', 'TSV', 'topic String, partition Int32, offset Int64, error String, reason String, raw String');
SELECT 'rows', count(), uniqExact(partition, offset) FROM a;
SELECT 'good', count() FROM m WHERE malformed = 0;
SELECT 'missing', count() FROM (SELECT toUInt64(partition), toUInt64(offset), user_id, url FROM m WHERE malformed = 0 EXCEPT ALL SELECT partition, offset, user_id, url FROM a);
SELECT 'dead', count(), uniqExact(partition, offset) FROM dl;
SELECT 'malformed', count() FROM m WHERE malformed = 1;
SQL
	"$CHQ" -f "$work/check.sql" >"$work/result.tsv"
	val() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$work/result.tsv"; }
	local fail=0 good
	good=$(val good 2)
	check() { if [ "$2" != "$3" ]; then echo "FAIL ($signal): $1: got '$2', want '$3'"; fail=1; fi; }
	check "rows across both directories" "$(val rows 2)" "$good"
	check "distinct (partition, offset)" "$(val rows 3)" "$good"
	check "produced rows missing" "$(val missing 2)" 0
	check "dead letters" "$(val dead 2)" "$(val malformed 2)"
	check "distinct dead letters" "$(val dead 3)" "$(val malformed 2)"
	if [ $fail -ne 0 ]; then
		tail -5 "$work/a.log" "$work/b.log"
		rm -rf "$work"
		return 1
	fi
	echo "group_failover ($signal): $good rows exactly once across two instances"
	rm -rf "$work"
}

trap lib_cleanup EXIT
run TERM
run KILL
