#!/usr/bin/env bash
# Two enrichd instances in one consumer group, each with its own output directory, while events
# flow. One is stopped mid-stream (SIGTERM in one run, SIGKILL in the other); the other takes its
# partitions over. ClickHouse reads both directories: every produced well-formed event appears
# exactly once across them, and every malformed one once in the dead letters.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=24000

run() {
	local signal=$1 dir=$work/$1
	mkdir -p "$dir"
	"$bin/enrichd-gen-dims" --out "$dir/dims" --users 20000 --devices 20000 --urls 5000 --seed 3 2>/dev/null
	lib_broker_start clickstream 12
	for i in a b; do
		lib_config "$dir/$i.ini" "$dir/dims" "$dir/out-$i" "$dir/dl-$i" "$BROKERS" \
			"$([ $i = a ] && echo 0 || echo 1)"
		sed -i "s/^instance = .*/instance = enrichd-$i/" "$dir/$i.ini"
	done
	lib_spawn "$bin/enrichd" --config "$dir/a.ini" 2>"$dir/a.log"
	local pid_a=${lib_pids[-1]}
	lib_wait_log "$dir/a.log" "partitions assigned" 60
	lib_spawn "$bin/enrichd" --config "$dir/b.ini" 2>"$dir/b.log"
	lib_wait_log "$dir/b.log" "partitions assigned" 60
	lib_spawn "$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 12 \
		--count $events --rate 2000 --seed 3 --users 20000 --devices 20000 --urls 5000 \
		--miss-users 0.05 --malformed 0.01 --manifest "$dir/manifest.tsv"
	local producer=${lib_pids[-1]}
	sleep 5
	kill "-$signal" "$pid_a"
	wait "$pid_a" || [ "$signal" = KILL ] || fail "$signal: instance a exited non-zero"
	wait "$producer"
	local got=0
	for _ in $(seq 120); do
		got=$(($(lib_sealed_count "$dir/out-a" "$dir/dl-a") + $(lib_sealed_count "$dir/out-b" "$dir/dl-b")))
		[ "$got" -ge $events ] && break
		sleep 1
	done
	lib_cleanup
	cat >"$dir/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$dir/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS partition, _offset AS offset, user_id, url FROM file('$dir/out-{a,b}/**/*.native', 'Native');
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$dir/dl-{a,b}/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'rows', count(), uniqExact(partition, offset) FROM a;
SELECT 'good', count() FROM m WHERE malformed = 0;
SELECT 'missing', count() FROM (SELECT toUInt64(partition), toUInt64(offset), user_id, url FROM m WHERE malformed = 0 EXCEPT ALL SELECT partition, offset, user_id, url FROM a);
SELECT 'dead', count(), uniqExact(partition, offset) FROM dl;
SELECT 'malformed', count() FROM m WHERE malformed = 1;
SQL
	ch_results "$dir/check.sql" >/dev/null
	local good
	good=$(val good 2)
	check "$signal: rows across both directories" "$(val rows 2)" "$good"
	check "$signal: distinct (partition, offset)" "$(val rows 3)" "$good"
	check "$signal: produced rows missing" "$(val missing 2)" 0
	check "$signal: dead letters" "$(val dead 2)" "$(val malformed 2)"
	check "$signal: distinct dead letters" "$(val dead 3)" "$(val malformed 2)"
	checks_done tail -5 "$dir/a.log" "$dir/b.log"
	echo "kafka_group_failover ($signal): $good rows exactly once across two instances"
	rm -rf "$dir"
}

run TERM
run KILL
