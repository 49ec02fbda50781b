#!/usr/bin/env bash
# SIGTERM ends enrichd within a bound whatever a dimension source does, and it leaves the group
# cleanly. A source that is not a regular file used to hang the process beyond SIGTERM (a FIFO's
# open blocks with the signals masked; during a reload the control thread waited for the stuck
# loader while librdkafka kept heartbeating for the partitions, which the group never got back).
#   1. a FIFO swapped in for a source during the first load, then SIGTERM: gone within 2 s;
#   2. SIGTERM during the first load of a large source: gone within 2 s, exit 0;
#   3. a FIFO swapped in, SIGHUP, SIGTERM: the reload is refused at once; exit 0 within 5 s after
#      revoking the partitions and leaving the group;
#   4. SIGTERM during the reload of a large source: the same;
#   5. SIGTERM while the broker is down (session.timeout.ms 45 s, librdkafka's default): gone
#      within 15 s, where librdkafka's close and destroy wait for the coordinator 45 s and more.
# (The mock broker's coordinator holds every rebalance for session.timeout.ms, so how soon
# another member gets the partitions cannot tell a clean leave from an eviction here: the log of
# the close does.)
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
big_users=12000000

"$bin/enrichd-gen-dims" --out "$work/small" --users 20000 --devices 20000 --urls 5000 --seed 7 \
	2>/dev/null
"$bin/enrichd-gen-dims" --out "$work/big" --users $big_users --devices 10 --urls 10 --seed 7 \
	2>/dev/null
cp "$work/small/devices.tsv" "$work/small/urls.tsv" "$work/big/"
mkdir -p "$work/one"
cp "$work/small/"*.tsv "$work/one/"
lib_broker_start clickstream 6
broker_pid=${lib_pids[-1]}
lib_config "$work/one.ini" "$work/one" "$work/out" "$work/dl" "$BROKERS" 0
lib_config "$work/big.ini" "$work/big" "$work/out" "$work/dl" "$BROKERS" 0

now() { date +%s.%N; }
# Waits up to S seconds for PID to end; sets st to its exit status, or "running".
wait_exit() {
	local pid=$1 s=$2
	for _ in $(seq $((s * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	st=running
	if ! kill -0 "$pid" 2>/dev/null; then
		st=0
		wait "$pid" || st=$?
	fi
}
# The log shows a clean close: partitions revoked on close, the consumer closed without error.
left_group() {
	grep -q "partition(s) revoked (close)" "$1" && grep -q "consumer for clickstream closed" "$1" &&
		! grep -q "leaving group:" "$1"
}
# Seconds from $1 to now, and whether that is within $2.
within() { awk -v a="$1" -v b="$(now)" -v max="$2" 'BEGIN { d = b - a; printf "%.2f", d; exit !(d <= max) }'; }
# Sends PID SIGTERM and waits up to WAIT_S seconds for it to end (wait_exit); sets took to the
# seconds that took, and returns non-zero when they are more than MAX_S. stop_timed PID WAIT_S MAX_S.
stop_timed() {
	local t0
	t0=$(now)
	kill -TERM "$1"
	wait_exit "$1" "$2"
	took=$(within "$t0" "$3")
}

# 1. A FIFO replaces the devices source while the users table loads.
lib_spawn "$bin/enrichd" --config "$work/big.ini" 2>"$work/1.log"
pid=${lib_pids[-1]}
lib_wait_log "$work/1.log" "users: .* rows parsed" 60
mv "$work/big/devices.tsv" "$work/devices.keep"
mkfifo "$work/big/devices.tsv"
stop_timed "$pid" 10 2 || check_fail "1: SIGTERM took ${took}s with a FIFO source (status $st)"
echo "1. FIFO during the first load, SIGTERM: status $st after ${took}s"
rm "$work/big/devices.tsv"
mv "$work/devices.keep" "$work/big/devices.tsv"

# 2. SIGTERM while a large source loads at start.
lib_spawn "$bin/enrichd" --config "$work/big.ini" 2>"$work/2.log"
pid=${lib_pids[-1]}
lib_wait_log "$work/2.log" "users: .* rows parsed" 60
stop_timed "$pid" 10 2 || check_fail "2: SIGTERM during the first load took ${took}s"
check "2: exit status after SIGTERM during the first load" "$st" 0
echo "2. SIGTERM during the first load: status $st after ${took}s"

# 3. A FIFO swapped in for the users source, SIGHUP, SIGTERM.
lib_enrichd_start "$work/one.ini" "$work/3.log"
pid=$lib_enrichd_pid
sleep 1
mkfifo "$work/one/users.fifo"
mv "$work/one/users.fifo" "$work/one/users.tsv"
kill -HUP "$pid"
sleep 0.2
stop_timed "$pid" 20 5 || check_fail "3: SIGTERM after a reload of a FIFO took ${took}s"
check "3: exit status" "$st" 0
grep -q "not a regular file (a FIFO)" "$work/3.log" || check_fail "3: the FIFO was not refused"
left_group "$work/3.log" || check_fail "3: the group was not left cleanly"
echo "3. FIFO on reload, SIGTERM: status $st after ${took}s"
rm -f "$work/one/users.tsv"
cp "$work/small/users.tsv" "$work/one/users.tsv"

# 4. SIGTERM during the reload of a large users source.
lib_enrichd_start "$work/one.ini" "$work/4.log"
pid=$lib_enrichd_pid
sleep 1
cp "$work/big/users.tsv" "$work/one/users.tsv.new"
mv "$work/one/users.tsv.new" "$work/one/users.tsv"
kill -HUP "$pid"
lib_wait_log "$work/4.log" "users: .* rows parsed" 60
stop_timed "$pid" 20 3 || check_fail "4: SIGTERM during a reload took ${took}s"
check "4: exit status" "$st" 0
left_group "$work/4.log" || check_fail "4: the group was not left cleanly"
echo "4. SIGTERM during a reload: status $st after ${took}s"
# 5. SIGTERM during a broker outage.
sed "/^property.session.timeout.ms/d; /^property.heartbeat.interval.ms/d" "$work/one.ini" \
	>"$work/outage.ini"
lib_enrichd_start "$work/outage.ini" "$work/5.log" 90
pid=$lib_enrichd_pid
"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 6 --count 600 \
	--seed 7 --users 20000 --devices 20000 --urls 5000 2>/dev/null
lib_wait_log "$work/5.log" "rows_sealed=600 \|w0: sealed" 30 || true
sleep 1
kill -USR1 "$broker_pid"
sleep 2
stop_timed "$pid" 60 15 || check_fail "5: SIGTERM during a broker outage took ${took}s"
check "5: exit status" "$st" 0
echo "5. SIGTERM during a broker outage: status $st after ${took}s"
kill -USR2 "$broker_pid"
checks_done tail -n 5 "$work/1.log" "$work/3.log" "$work/4.log" "$work/5.log"
echo "engine_stop_bounded: SIGTERM ends enrichd within its bound at start, during a load and" \
	"during a reload and during a broker outage, and leaves the group cleanly when it can"
