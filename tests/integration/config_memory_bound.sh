#!/usr/bin/env bash
# [workers] memory_limit: the most memory the settings may make enrichd take, as `--check` works
# it out, is an upper bound of a real run's peak RSS (VmHWM, from getrusage) less the dimension
# tables enrichd reports: with the default settings through the embedded Kafka broker and with
# --input, and with large blocks (block_rows 131072, inflight_bytes 256MiB) with --input, events
# spread over more hours than open segments. Settings whose figure passes the limit (block_rows
# 4194304 with open_segments 1024; a limit set below the figure) do not start, and the error
# names the keys that drive the figure.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=200000

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 31 \
	2>/dev/null
# Twelve hours: more than the default 8 open segments, so every block is filled and rolled.
"$bin/enrichd-gen-events" --out "$work/ev.jsonl" --count $events --seed 31 --users 20000 \
	--devices 20000 --urls 5000 --spread-ms 43200000 2>/dev/null

# peak LOG PIDFILE CMD...: runs CMD with stderr to LOG, its pid in PIDFILE; prints its peak RSS
# in bytes and exits with its status.
peak() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys
log, pidfile, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
p = subprocess.Popen(cmd, stderr=open(log, "w"))
open(pidfile, "w").write(str(p.pid))
rc = p.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
sys.exit(rc)
PY
}

# bound NAME CONFIG PEAK LOG: the figure of CONFIG against PEAK less the tables LOG reports.
bound() {
	local figure dims
	figure=$("$bin/enrichd" --config "$2" --check 2>/dev/null |
		sed -n 's/^memory: *up to \([0-9]*\) bytes.*/\1/p')
	[ -n "$figure" ] || fail "$1: --check shows no memory figure"
	dims=$(sed -n 's/.*dimensions (\([0-9.]*\) MiB x \([0-9]*\) replica.*/\1 \2/p' "$4" |
		awk '{ printf "%d", $1 * $2 * 1048576 }')
	[ -n "$dims" ] || fail "$1: no dimension size in the log"
	echo "-- $1: peak RSS $(($3 >> 20)) MiB, dimensions $((dims >> 20)) MiB," \
		"figure $((figure >> 20)) MiB"
	[ $(($3 - dims)) -le "$figure" ] ||
		check_fail "$1: peak RSS less dimensions $((($3 - dims) >> 20)) MiB > figure $((figure >> 20)) MiB"
}

# With --input: default settings, then large blocks on one worker.
for run in default large; do
	extra=""
	cpus=0-1
	if [ $run = large ]; then
		extra="[output]
block_rows = 131072
open_segments = 8
inflight_bytes = 256MiB
[workers]
batch_events = 16384"
		cpus=0
	fi
	lib_config "$work/$run.ini" "$work/dims" "$work/out-$run" "$work/dl-$run" 127.0.0.1:9 \
		"$cpus" "$extra"
	hwm=$(peak "$work/$run.log" "$work/$run.pid" "$bin/enrichd" --config "$work/$run.ini" \
		--input "$work/ev.jsonl") || fail "$run: enrichd failed: $(tail -n3 "$work/$run.log")"
	rows=$(ch "SELECT count() FROM file('$work/out-$run/**/*.native', 'Native')
		SETTINGS use_hive_partitioning = 0")
	check "$run: rows" "$rows" $events
	bound "--input, $run settings" "$work/$run.ini" "$hwm" "$work/$run.log"
done

# Through Kafka, default settings: the peak includes librdkafka's queues.
lib_broker_start clickstream 12
lib_config "$work/kafka.ini" "$work/dims" "$work/out-kafka" "$work/dl-kafka" "$BROKERS" 0-1
lib_spawn peak "$work/kafka.log" "$work/kafka.pid" "$bin/enrichd" --config "$work/kafka.ini" \
	>"$work/kafka.peak"
wrapper=${lib_pids[-1]}
lib_wait_log "$work/kafka.log" "partitions assigned" 60
lib_pids+=("$(cat "$work/kafka.pid")") # stopped on any exit, as the wrapper is
"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 12 \
	--count 60000 --seed 31 --users 20000 --devices 20000 --urls 5000 --spread-ms 43200000 \
	2>/dev/null
lib_wait_sealed "$work/out-kafka" "$work/dl-kafka" 60000 120
kill -TERM "$(cat "$work/kafka.pid")"
wait "$wrapper" || fail "Kafka: enrichd exited non-zero: $(tail -n3 "$work/kafka.log")"
bound "Kafka, default settings" "$work/kafka.ini" "$(cat "$work/kafka.peak")" "$work/kafka.log"

# Past the limit: refused at start and by --check, naming the keys.
lib_config "$work/huge.ini" "$work/dims" "$work/out-huge" "$work/dl-huge" 127.0.0.1:9 0 "[output]
block_rows = 4194304
open_segments = 1024"
rc=0
"$bin/enrichd" --config "$work/huge.ini" --check >/dev/null 2>"$work/huge.err" || rc=$?
check "block_rows 4194304 x open_segments 1024: --check status" "$rc" 2
for key in "[workers] memory_limit" "[output] open_segments" "[output] block_rows" \
	"[output] inflight_bytes" "[workers] cpus"; do
	grep -qF "$key" "$work/huge.err" || check_fail "the error does not name $key: $(cat "$work/huge.err")"
done
lib_config "$work/low.ini" "$work/dims" "$work/out-low" "$work/dl-low" 127.0.0.1:9 0 "[workers]
memory_limit = 100MiB"
rc=0
"$bin/enrichd" --config "$work/low.ini" --input "$work/ev.jsonl" 2>"$work/low.err" || rc=$?
check "memory_limit 100MiB: exit status at start" "$rc" 2
grep -qF "more than [workers] memory_limit (100 MiB)" "$work/low.err" ||
	check_fail "memory_limit 100MiB: $(cat "$work/low.err")"
[ ! -d "$work/out-low" ] || check_fail "memory_limit 100MiB: started anyway"
checks_done
echo "config_memory_bound: the figure bounds three real runs; settings past the limit refused"
