#!/usr/bin/env bash
# The kernel threads that copy segment writes into the page cache (io_uring workers, iou-wrk-*)
# run on [output] io_cpus: with `auto` and one worker on CPU 0, on the other CPUs this process
# may use (so the copy leaves the worker's core); with `io_cpus = 0`, on CPU 0 only. Read from
# /proc/<pid>/task/*/status while enrichd runs; every event is still sealed.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

# CPUs of a list such as 1-3,5, one per line.
expand() {
	local part
	for part in ${1//,/ }; do
		if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
	done
}

allowed=$(expand "$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)" | tr '\n' ' ')
if [ "$(echo $allowed | wc -w)" -lt 2 ] || [[ " $allowed " != *" 0 "* ]]; then
	lib_skip "needs CPU 0 and one more (allowed: $allowed)"
fi
others=$(for c in $allowed; do [ "$c" = 0 ] || echo "$c"; done | tr '\n' ' ')

lib_gen_input 3 1000 1000 500 40000 "$work/ev.jsonl"

run() { # io_cpus expected-cpus
	local io=$1 want=$2 out=$work/out-$1 pid found=""
	lib_config "$work/e.ini" "$work/dims" "$out" "$out.dl" 127.0.0.1:9 0
	sed -i "s/^\[output\]$/[output]\nio_cpus = $io/" "$work/e.ini"
	rm -f "$work/in"
	mkfifo "$work/in"
	exec 3<>"$work/in"
	# Not lib_spawn: an asynchronous command's standard input is /dev/null unless redirected on
	# the command itself.
	"$bin/enrichd" --config "$work/e.ini" --input - <"$work/in" 2>"$work/log-$io" 3>&- &
	pid=$!
	lib_pids+=("$pid")
	# Events in slices until the kernel's write threads are there to look at (they exit after
	# a few idle seconds); at most all 40000 events.
	for first in $(seq 1 4000 40000); do
		sed -n "${first},$((first + 3999))p" "$work/ev.jsonl" >&3
		sleep 0.3
		local t
		for t in /proc/"$pid"/task/*; do
			[[ $(cat "$t/comm" 2>/dev/null) == iou-wrk* ]] || continue
			local cpus
			cpus=$(expand "$(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status")" |
				tr '\n' ' ')
			[ "$cpus" = "$want" ] ||
				fail "io_cpus = $io: ${t##*/} ($(cat "$t/comm")) may run on CPUs '$cpus', not '$want'"
			found+="${t##*/} "
		done
		[ -n "$found" ] && break
	done
	[ -n "$found" ] || fail "io_cpus = $io: no io_uring worker thread seen"
	sed -n "$((first + 4000)),\$p" "$work/ev.jsonl" >&3
	exec 3>&-
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "io_cpus = $io: enrichd did not finish at the input's end"
	wait "$pid" || fail "io_cpus = $io: enrichd failed: $(tail -n3 "$work/log-$io")"
	lib_pids=()
	local listed
	listed=$(echo $want | tr ' ' ',')
	grep -q "run on CPUs $listed " "$work/log-$io" ||
		fail "io_cpus = $io: the log does not name CPUs '$want'"
	lib_wait_sealed "$out" "$out.dl" 40000 30 || fail "io_cpus = $io: events not sealed"
	echo "-- io_cpus = $io: io_uring workers (threads ${found% }) on CPUs $listed, 40000 events sealed"
}

run auto "$others"
run 0 "0 "
echo "ok"
