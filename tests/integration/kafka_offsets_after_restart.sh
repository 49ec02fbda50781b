#!/usr/bin/env bash
# After a restart, the group's committed offsets are brought up to the manifest's and every
# assigned partition has its committed-offset and lag series. They used to be absent when the
# recovered partitions had nothing new to commit (lag alerts went blank), and the group kept a
# stale commit, from which a partition moved to another instance started again.
#   1. instance 1 seals every event (group "first") and stops;
#   2. it restarts in a new group ("second", nothing committed): within seconds every partition
#      shows enrichd_kafka_committed_offset = its high watermark and a lag of 0, with no new
#      event;
#   3. it stops, and instance 2 (its own output directory) joins "second": it starts where
#      instance 1 sealed and consumes nothing again.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=2000
partitions=4

"$bin/enrichd-gen-dims" --out "$work/dims" --users 2000 --devices 2000 --urls 500 --seed 17 2>/dev/null
lib_broker_start clickstream $partitions
"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions $partitions \
	--count $events --seed 17 --users 2000 --devices 2000 --urls 500 2>/dev/null
lib_config "$work/one.ini" "$work/dims" "$work/out1" "$work/dl1" "$BROKERS" 0-1 "[kafka]
group_id = first
[metrics]
listen = 127.0.0.1:0"
lib_spawn "$bin/enrichd" --config "$work/one.ini" 2>"$work/1.log"
pid=${lib_pids[-1]}
lib_wait_sealed "$work/out1" "$work/dl1" $events 120
kill -TERM "$pid"
wait "$pid" || fail "instance 1 exited non-zero"

# 2. The same instance in a group that has no commit.
sed -i "s/^group_id = .*/group_id = second/" "$work/one.ini"
lib_enrichd_start "$work/one.ini" "$work/2.log"
pid=$lib_enrichd_pid
url=$(lib_metrics_url "$work/2.log")
shown=0
for _ in $(seq 100); do
	curl -sf "$url/metrics" >"$work/metrics.txt"
	committed=$(grep -c '^enrichd_kafka_committed_offset{' "$work/metrics.txt" || true)
	lags=$(grep -c '^enrichd_kafka_consumer_lag_messages{' "$work/metrics.txt" || true)
	if [ "$committed" = $partitions ] && [ "$lags" = $partitions ]; then
		shown=1
		break
	fi
	sleep 0.1
done
[ $shown = 1 ] || check_fail "after the restart: $committed committed-offset and $lags lag series of $partitions"
lag=$(awk '/^enrichd_kafka_consumer_lag_messages\{/ { s += $2 } END { print s + 0 }' "$work/metrics.txt")
check "lag after the restart" "$lag" 0
for p in $(seq 0 $((partitions - 1))); do
	hw=$(awk -v k="enrichd_kafka_high_watermark_offset{partition=\"$p\"}" '$1 == k { print $2 }' "$work/metrics.txt")
	co=$(awk -v k="enrichd_kafka_committed_offset{partition=\"$p\"}" '$1 == k { print $2 }' "$work/metrics.txt")
	check "partition $p: committed = high watermark" "$co" "$hw"
done
kill -TERM "$pid"
wait "$pid" || check_fail "instance 1 (restarted) exited non-zero"

# 3. Another instance of the group takes the partitions: from the commits, not from the start.
sed "s/^instance = .*/instance = enrichd-2/; s|$work/out1|$work/out2|; s|$work/dl1|$work/dl2|" \
	"$work/one.ini" >"$work/two.ini"
lib_enrichd_start "$work/two.ini" "$work/3.log"
pid=$lib_enrichd_pid
sleep 3
kill -TERM "$pid"
wait "$pid" || check_fail "instance 2 exited non-zero"
again=$(grep -o 'events=[0-9]*' "$work/3.log" | tail -n 1 | cut -d= -f2)
check "events instance 2 consumed again" "${again:-?}" 0
checks_done tail -n 5 "$work/2.log" "$work/3.log"
echo "kafka_offsets_after_restart: committed offsets brought up to the manifest, both series" \
	"from the start, and another instance resumed after them"
