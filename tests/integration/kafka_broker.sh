#!/usr/bin/env bash
# The embedded broker with real clients, and the kafka module against it:
#  1. enrichd-broker listens on 127.0.0.1 only and prints its bootstrap list first;
#  2. kcat produces 1000 keyed messages to a 12-partition topic and reads them all back, both
#     as a plain consumer and in a consumer group (-G);
#  3. enrichd-kafka-probe (engine/kafka.c, 2 workers, group "probe"): every message once, at the
#     worker the placement names, partition 3 starting at offset 10, nothing at worker 0 while
#     it is paused (from before the assignment); it commits mid-way offsets;
#  4. a second probe in the same group (3 workers, one of them pausing and resuming) starts
#     exactly at the committed offsets and reads the rest once;
#  5. two probes in one group ("pair") split the partitions between them, each message once;
#  6. SIGTERM stops the broker with status 0 and removes its port file.
# Every step is bounded by `timeout`; the broker and the probes are stopped on any exit.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
broker_bin=$bin/enrichd-broker
probe_bin=$bin/enrichd-kafka-probe
topic=clickstream
partitions=12
messages=1000
# The mock group coordinator waits session.timeout.ms - 1 s before electing a leader when a
# member joins a group that had members; keep it short so the test stays short.
group_props=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

echo "== broker"
lib_spawn "$broker_bin" --topic "$topic" --partitions "$partitions" --brokers 3 \
	--port-file "$work/port" >"$work/broker.out" 2>"$work/broker.err"
broker_pid=${lib_pids[-1]}
for _ in $(seq 1 100); do
	[ -s "$work/port" ] && break
	kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.err" >&2; fail "broker exited"; }
	sleep 0.1
done
[ -s "$work/port" ] || fail "broker not ready after 10 s"
bootstrap=$(cat "$work/port")
[ "$(head -n 1 "$work/broker.out")" = "$bootstrap" ] || fail "stdout's first line is not the bootstrap list"
echo "bootstrap: $bootstrap"
IFS=, read -r -a endpoints <<<"$bootstrap"
[ "${#endpoints[@]}" -eq 3 ] || fail "expected 3 brokers, got '$bootstrap'"
for ep in "${endpoints[@]}"; do
	[[ $ep == 127.0.0.1:* ]] || fail "listener $ep is not on 127.0.0.1"
	port=${ep#127.0.0.1:}
	if command -v ss >/dev/null; then
		# Every socket listening on this port is bound to 127.0.0.1.
		binds=$(ss -Hltn "sport = :$port" | awk '{print $4}')
		[ -n "$binds" ] || fail "nothing listens on port $port"
		[ "$(echo "$binds" | grep -cv "^127\.0\.0\.1:$port\$" || true)" -eq 0 ] ||
			fail "port $port listens on: $binds"
	fi
done

echo "== kcat produce $messages messages"
seq 1 "$messages" | sed 's/.*/key&:msg&/' >"$work/input"
timeout 60 kcat -P -b "$bootstrap" -t "$topic" -K: -X delivery.timeout.ms=20000 <"$work/input" \
	2>"$work/produce.err" || { cat "$work/produce.err" >&2; fail "kcat produce"; }

echo "== kcat consume"
timeout 60 kcat -C -b "$bootstrap" -t "$topic" -o beginning -e -q -f '%p %o %k %s\n' \
	>"$work/consumed" || fail "kcat consume"
[ "$(wc -l <"$work/consumed")" -eq "$messages" ] || fail "kcat read $(wc -l <"$work/consumed") messages"
# Each value exactly once, with its own key; offsets dense per partition.
awk '{ print (("key" substr($4, 4)) == $3 ? $4 : "MISMATCH") }' "$work/consumed" | sort >"$work/values"
sed 's/^key[0-9]*://' "$work/input" | sort | diff -q - "$work/values" >/dev/null ||
	fail "kcat did not read back exactly the produced values"
awk '{ if ($2 + 1 > end[$1]) end[$1] = $2 + 1; n[$1]++ }
     END { for (p in end) print p, end[p], n[p] }' "$work/consumed" | sort -n >"$work/ends"
[ "$(wc -l <"$work/ends")" -eq "$partitions" ] || fail "messages are not in all $partitions partitions"
awk '$2 != $3 { exit 1 }' "$work/ends" || fail "offsets are not dense: $(cat "$work/ends")"
cut -d' ' -f1,2 "$work/ends" >"$work/expect_end"
p3_end=$(awk '$1 == 3 { print $2 }' "$work/ends")
[ "$p3_end" -gt 10 ] || fail "partition 3 has only $p3_end messages"

echo "== kcat consumer group"
timeout 60 kcat -G kcat-group -b "$bootstrap" -o beginning -e -q -f '%p %o\n' "$topic" \
	>"$work/group_consumed" 2>"$work/group.err" || { cat "$work/group.err" >&2; fail "kcat -G"; }
[ "$(sort -u "$work/group_consumed" | wc -l)" -eq "$messages" ] ||
	fail "kcat -G read $(sort -u "$work/group_consumed" | wc -l) distinct messages"

# Prints, for every "partition P worker W ..." line whose W differs from want(P), the line.
check_workers() { # file awk-expression-for-want
	awk "/^partition/ { p = \$2; want = $2; if (\$4 != want) print }" "$1"
}

echo "== probe 1: 2 workers on 2 nodes, partition 3 from offset 10, worker 0 paused at join, commit half"
timeout 60 "$probe_bin" --brokers "$bootstrap" --topic "$topic" --group probe \
	"${group_props[@]}" --workers 2 --topology '0:0;1:1' --cpus 0,1 \
	--expect-end "$work/expect_end" --start 3:10 --pause-until-assigned 0 --commit half \
	--commit-file "$work/committed" --timeout-ms 30000 \
	>"$work/probe1.out" 2>"$work/probe1.err" || { cat "$work/probe1.err" >&2; fail "probe 1"; }
cat "$work/probe1.out"
# Two nodes with one worker each: partition p -> node p mod 2 -> its only worker.
bad=$(check_workers "$work/probe1.out" 'p % 2')
[ -z "$bad" ] || fail "probe 1: partitions at the wrong worker: $bad"
grep -qx "partition 3 worker 1 first 10 last $((p3_end - 1)) count $((p3_end - 10))" "$work/probe1.out" ||
	fail "probe 1: partition 3 did not start at offset 10"
[ "$(awk '/^total/ { print $2 }' "$work/probe1.out")" -eq $((messages - 10)) ] || fail "probe 1: total"
[ "$(wc -l <"$work/committed")" -eq "$partitions" ] || fail "probe 1: not every commit confirmed"

echo "== probe 2: same group, 3 workers (2 on node 0), worker 1 pauses and resumes"
timeout 60 "$probe_bin" --brokers "$bootstrap" --topic "$topic" --group probe \
	"${group_props[@]}" --workers 3 --topology '0:0-1;1:2-3' --cpus 0,1,2 \
	--expect-end "$work/expect_end" --expect-first "$work/committed" --pause-worker 1 \
	--timeout-ms 40000 >"$work/probe2.out" 2>"$work/probe2.err" ||
	{ cat "$work/probe2.err" >&2; fail "probe 2"; }
cat "$work/probe2.out"
# Node 0 (workers 0, 1) takes the even partitions in turn, node 1 (worker 2) the odd ones.
bad=$(check_workers "$work/probe2.out" 'p % 2 == 1 ? 2 : int(p / 2) % 2')
[ -z "$bad" ] || fail "probe 2: partitions at the wrong worker: $bad"
# It starts at each committed offset and reads to the end: the committed offsets are honoured.
while read -r p committed; do
	end=$(awk -v p="$p" '$1 == p { print $2 }' "$work/expect_end")
	grep -qx "partition $p worker [0-9]* first $committed last $((end - 1)) count $((end - committed))" \
		"$work/probe2.out" || fail "probe 2: partition $p did not resume at committed offset $committed"
done <"$work/committed"
grep -q "revoked (reason 2)" "$work/probe2.err" || fail "probe 2: close did not revoke through the hook"

echo "== two probes in one group split the partitions"
# The members stay in the group until both are at the end of their partitions and together
# own every partition once: a member leaving early would hand its partitions to the other.
# (The mock coordinator sometimes answers a follower's SyncGroup with INVALID_REQUEST when the
# leader's SyncGroup came first; the follower then rejoins and is served in the next round.)
pair=(--topic "$topic" --group pair "${group_props[@]}" -X enable.partition.eof=true
	--until-eof --commit-on-revoke --stop-file "$work/pair_stop" --timeout-ms 50000)
lib_spawn timeout 60 "$probe_bin" --brokers "$bootstrap" "${pair[@]}" \
	--status-file "$work/pair_a.status" >"$work/pair_a.out" 2>"$work/pair_a.err"
pair_a=${lib_pids[-1]}
lib_spawn timeout 60 "$probe_bin" --brokers "$bootstrap" "${pair[@]}" \
	--status-file "$work/pair_b.status" >"$work/pair_b.out" 2>"$work/pair_b.err"
pair_b=${lib_pids[-1]}
show_pair() { grep -hv rdkafka "$work/pair_a.err" "$work/pair_b.err" >&2 || true; }
settled=
for _ in $(seq 1 450); do
	if [ -s "$work/pair_a.status" ] && [ -s "$work/pair_b.status" ]; then
		read -r a_state a_parts <"$work/pair_a.status" || true
		read -r b_state b_parts <"$work/pair_b.status" || true
		owned=$(echo "$a_parts $b_parts" | tr ' ' '\n' | grep -c . || true)
		distinct=$(echo "$a_parts $b_parts" | tr ' ' '\n' | { grep . || true; } | sort -u | wc -l)
		if [ "$a_state" = complete ] && [ "$b_state" = complete ] && [ -n "$a_parts" ] &&
			[ -n "$b_parts" ] && [ "$owned" -eq "$partitions" ] && [ "$distinct" -eq "$partitions" ]; then
			settled=1
			break
		fi
	fi
	sleep 0.1
done
touch "$work/pair_stop"
wait "$pair_a" || { show_pair; fail "pair member a"; }
wait "$pair_b" || { show_pair; fail "pair member b"; }
[ -n "$settled" ] || { show_pair; fail "the pair never owned all partitions between them"; }
echo "member a owned: $a_parts"
echo "member b owned: $b_parts"
# Across both members, each partition's offsets 0..end-1 arrived exactly once: the ranges the
# members report for it follow each other without gap or overlap.
cat "$work/pair_a.out" "$work/pair_b.out" | awk '/^partition/ { print $2, $6, $8, $10 }' |
	sort -n -k1,1 -k2,2 >"$work/pair_ranges"
awk 'NR == FNR { end[$1] = $2; next }
     { if ($2 != next_off[$1] + 0) { print "partition " $1 ": range " $2 ".." $3 " after " next_off[$1] + 0; bad = 1 }
       next_off[$1] = $3 + 1 }
     END { for (p in end) if (next_off[p] + 0 != end[p]) { print "partition " p ": ends at " next_off[p] + 0 ", expected " end[p]; bad = 1 }
           exit bad }' "$work/expect_end" "$work/pair_ranges" || { show_pair; fail "the pair did not read every message exactly once"; }

echo "== broker stops on SIGTERM"
kill -TERM "$broker_pid"
rc=0
for _ in $(seq 1 100); do
	kill -0 "$broker_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$broker_pid" 2>/dev/null && fail "broker still running 10 s after SIGTERM"
wait "$broker_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "broker exited with $rc"
[ ! -e "$work/port" ] || fail "port file left behind"
echo "PASS"
