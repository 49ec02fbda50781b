#!/usr/bin/env bash
# Backpressure: the output disk fills up while events stream in through Kafka. Blocks wait for
# the disk, and once the bytes waiting pass 3/4 of [output] inflight_bytes the worker pauses its
# partitions (logged, and enrichd_worker_paused = 1) so memory stays bounded; when space returns
# the writes drain, the partitions resume and every event is sealed exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
out=$work/out
events=40000

lib_tmpfs "$out" 16m
dd if=/dev/zero of="$out/filler" bs=1M count=15 status=none
"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 21 2>/dev/null
lib_broker_start clickstream 12
lib_config "$work/enrichd.ini" "$work/dims" "$out" "$work/dl" "$BROKERS" 0 "[output]
inflight_bytes = 1MiB
block_rows = 512
$LIB_INI_METRICS"
lib_enrichd_start_metrics "$work/enrichd.ini" "$work/enrichd.log"
pid=$lib_enrichd_pid url=$lib_enrichd_url
lib_produce 12 $events 8000 21 --manifest "$work/manifest.tsv"
producer=$lib_producer_pid
lib_wait_log "$work/enrichd.log" "partitions paused" 60
paused=$(curl -sf "$url/metrics" | awk '$1 ~ /^enrichd_worker_paused/ { print $2 }')
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
echo "paused while the disk is full: enrichd_worker_paused=$paused, RSS ${rss_kb} kB"
wait "$producer"
sleep 2
rss2_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
rm "$out/filler"
lib_wait_log "$work/enrichd.log" "partitions resumed" 60
lib_wait_sealed "$out" "$work/dl" $events 120
kill -TERM "$pid"
wait "$pid"
echo "RSS ${rss2_kb} kB after the whole stream was produced with the disk still full"

[ "$paused" = 1 ] || check_fail "enrichd_worker_paused was '$paused'"
# The backlog stays in Kafka, not in enrichd: RSS does not grow with the stream while paused.
[ $((rss2_kb - rss_kb)) -lt 65536 ] || check_fail "RSS grew by $((rss2_kb - rss_kb)) kB while paused"
rows=$(ch "SELECT count(), uniqExact(_partition, _offset) FROM file('$out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0")
[ "$rows" = "$events	$events" ] || check_fail "rows (count, distinct) = $rows, want $events"
checks_done
echo "worker_backpressure: paused while the disk was full, resumed, $events rows exactly once"
