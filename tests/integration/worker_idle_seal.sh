#!/usr/bin/env bash
# segment_idle_ms seals a burst once the stream goes quiet, long before segment_age_ms: with a
# 10-minute age and a 300 ms idle time, two bursts through the embedded broker are each sealed
# within seconds, in separate epochs. With the idle time off, the same stream stays unsealed
# until SIGTERM seals it; both runs end with every event sealed exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
burst=3000

"$bin/enrichd-gen-dims" --out "$work/dims" --users 5000 --devices 5000 --urls 1000 --seed 5 2>/dev/null
lib_broker_start clickstream 4
produce() {
	"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 4 \
		--count $burst --seed "$1" --users 5000 --devices 5000 --urls 1000 2>/dev/null
}
# run NAME IDLE IDLE_MS: an enrichd of its own group and output directory, 10-minute epochs.
run() {
	lib_config "$work/$1.ini" "$work/dims" "$work/$1.out" "$work/$1.dl" "$BROKERS" 0-1
	sed -i -e "s/^group_id = .*/group_id = $1/" \
		-e "s/^segment_age_ms = .*/segment_age_ms = 10min\nsegment_idle_ms = $2/" "$work/$1.ini"
	"$bin/enrichd" --config "$work/$1.ini" --check >"$work/$1.check"
	if [ "$2" != 0 ]; then
		grep -q "or $(($3)) ms idle" "$work/$1.check" || fail "--check does not show the idle time"
	fi
	lib_enrichd_start "$work/$1.ini" "$work/$1.log"
	pid=$lib_enrichd_pid
}
# The (partition, offset) pairs sealed in DIR: all distinct and N of them.
exactly_once() {
	local got
	got=$(ch "SELECT count(), uniqExact(_partition, _offset)
		FROM file('$1/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0")
	[ "$got" = "$2	$2" ] || fail "$1: count and distinct (partition, offset) are '$got', want $2"
}
run idle 300ms 300
produce 1
lib_wait_sealed "$work/idle.out" "$work/idle.dl" $burst 30 || fail "first burst not sealed by idleness"
produce 2
lib_wait_sealed "$work/idle.out" "$work/idle.dl" $((burst * 2)) 30 ||
	fail "second burst not sealed by idleness"
kill -TERM "$pid"
wait "$pid" || fail "enrichd exited non-zero"
exactly_once "$work/idle.out" $((burst * 2))
segments=$(find "$work/idle.out" -name '*.native' | wc -l)
[ "$segments" -ge 2 ] || fail "two bursts sealed into $segments segment(s)"
echo "idle 300ms: $((burst * 2)) events in two bursts sealed by idleness into $segments segments"

run steady 0 0
produce 3
sleep 3
sealed=$(lib_sealed_count "$work/steady.out" "$work/steady.dl")
[ "$sealed" = 0 ] || fail "idle sealing off, yet $sealed events sealed before the 10-minute age"
kill -TERM "$pid"
wait "$pid" || fail "enrichd exited non-zero"
exactly_once "$work/steady.out" $((burst * 3))
echo "idle off: nothing sealed after 3 s of quiet; all $((burst * 3)) sealed at SIGTERM"
