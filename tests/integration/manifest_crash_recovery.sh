#!/usr/bin/env bash
# Exactly once under crashes: while events flow through the embedded broker, enrichd is killed
# with SIGKILL at random moments (20 trials, restarted each time), then run to the end. In most
# trials the users source is replaced first (by a larger file with other attributes, or back)
# and SIGHUP sent, with the kill shortly after, so that some kills land during a reload. ClickHouse
# reads every sealed segment: every produced well-formed (partition, offset) appears exactly once
# and nothing else does; the dead-letter files hold every malformed message exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=${CRASH_EVENTS:-60000}
trials=${CRASH_TRIALS:-20}
RANDOM=${CRASH_SEED:-4242}

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 11 2>/dev/null
# The other users source: the same keys and 280000 more (so a reload takes a while), other values.
"$bin/enrichd-gen-dims" --out "$work/dims-big" --users 300000 --devices 10 --urls 10 --seed 11 2>/dev/null
awk 'BEGIN { FS = OFS = "\t" } NR > 1 { $2 = "R-" $2 } { print }' "$work/dims-big/users.tsv" \
	>"$work/users.other"
cp "$work/dims/users.tsv" "$work/users.first"
lib_broker_start clickstream 12
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1
sed -i "s/^segment_age_ms = .*/segment_age_ms = 200ms/" "$work/enrichd.ini"

# Events flow the whole time, slower than enrichd consumes, well inside the broker's retention.
lib_produce 12 "$events" 1000 11 --miss-users 0.05 --malformed 0.01 --variety \
	--manifest "$work/manifest.tsv"
producer=$lib_producer_pid

in_reload=0
for trial in $(seq "$trials"); do
	log=$work/enrichd-$trial.log
	"$bin/enrichd" --config "$work/enrichd.ini" 2>"$log" &
	pid=$!
	# Sometimes before the partitions arrive, mostly while rows are being sealed.
	if [ $((RANDOM % 5)) -ne 0 ]; then
		lib_wait_log "$log" "partitions assigned" 60 || true
	fi
	sleep "$((RANDOM % 1500 / 1000)).$(printf '%03d' $((RANDOM % 1000)))"
	if [ $((RANDOM % 4)) -ne 0 ]; then
		# A changed source, replaced as an operator should, and a reload: killed during it.
		if cmp -s "$work/dims/users.tsv" "$work/users.first"; then next=other; else next=first; fi
		cp "$work/users.$next" "$work/dims/users.tsv.new"
		mv "$work/dims/users.tsv.new" "$work/dims/users.tsv"
		kill -HUP "$pid"
		sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	fi
	# It may have ended already: a first load that failed (say) ends it.
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	state=""
	if grep -q "SIGHUP: reloading" "$log"; then
		state=", reload done"
		sed -n '/SIGHUP: reloading/,$p' "$log" | grep -q "reload: \|reload failed\|no reload" ||
			{ state=", killed during a reload"; in_reload=$((in_reload + 1)); }
	fi
	echo "trial $trial: killed after $(grep -c 'sealed\|assigned' "$log" || true) log lines of progress$state"
done
echo "$in_reload of $trials kills landed during a reload"
[ "$in_reload" -ge 1 ] || check_fail "no kill landed during a reload"
wait "$producer"
produced=$(($(wc -l <"$work/manifest.tsv") - 2))
[ "$produced" -eq "$events" ] || fail "producer delivered $produced of $events"

lib_spawn "$bin/enrichd" --config "$work/enrichd.ini" 2>"$work/enrichd-final.log"
final=${lib_pids[-1]}
lib_wait_sealed "$work/out" "$work/dl" "$events" 180
kill -TERM "$final"
wait "$final"
grep -h "manifest:" "$work"/enrichd-*.log | head -5 || true

lib_check_exactly_once "$work/manifest.tsv" "$work/out/**/*.native" "$work/dl/*.deadletter.tsv"
check "rows not produced (or duplicated)" "$(val unexpected 2)" 0
check "dead letters that are not malformed messages" "$(val dl_unexpected 2)" 0
checks_done
echo "manifest_crash_recovery: $trials SIGKILL trials, $good rows and $malformed dead letters exactly once"
