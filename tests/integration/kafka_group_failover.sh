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
	lib_enrichd_start "$dir/a.ini" "$dir/a.log"
	local pid_a=$lib_enrichd_pid
	lib_enrichd_start "$dir/b.ini" "$dir/b.log"
	lib_produce 12 $events 2000 3 --miss-users 0.05 --malformed 0.01 \
		--manifest "$dir/manifest.tsv"
	local producer=$lib_producer_pid
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
	local good malformed
	lib_check_exactly_once "$dir/manifest.tsv" "$dir/out-{a,b}/**/*.native" \
		"$dir/dl-{a,b}/*.deadletter.tsv" "$signal" >/dev/null
	checks_done tail -5 "$dir/a.log" "$dir/b.log"
	echo "kafka_group_failover ($signal): $good rows exactly once across two instances"
	rm -rf "$dir"
}

run TERM
run KILL
