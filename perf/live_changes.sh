#!/usr/bin/env bash
# Live changes against the event path, in one run: two workers enrich events at full speed
# (enrichd --input: no broker in the event path) with the devices dimension following a
# changelog topic, once with the topic quiet and once while a storm of changes is produced to
# it; the event path's rate with the storm against without it (target: within 10%), and the
# changes applied per second meanwhile.
#
#   perf/live_changes.sh [--events N] [--devices N] [--changes N] [--repeat R]
#
#   --events N    events of each run (default 20000000; 2000000 checks the script quickly)
#   --devices N   devices, the changelog's keys (default 1000000)
#   --changes N   changes of the storm (default 2000000), produced as fast as kcat can
#   --repeat R    runs of each kind, the best kept (default 3)
#
# The embedded broker (tools/broker.c) holds the changelog; its partitions keep about 5 MB each,
# so the storm is produced while enrichd reads it, never all ahead. Figures from enrichd's
# summary lines (events, event_path_s) and the updater's last line (changes applied) go to
# stdout and perf/results/live_changes.tsv. Use a quiet machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ENRICHD_BUILD_DIR:-$top/build}
events=20000000 devices=1000000 changes=2000000 repeat=3
while [ $# -gt 0 ]; do
	case "$1" in
	--events) events=$2; shift 2 ;;
	--devices) devices=$2; shift 2 ;;
	--changes) changes=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
# shellcheck source=perf/lib.sh
source "$top/perf/lib.sh" live-changes

echo "== $events events, $devices devices, a storm of $changes changes"
"$build/enrichd-gen-dims" --out "$work/dims" --users 1000000 --devices "$devices" --urls 100000 \
	--seed 1 2>/dev/null
"$build/enrichd-gen-events" --out "$work/events.jsonl" --count "$events" --seed 1 --users 1000000 \
	--devices "$devices" --urls 100000 2>/dev/null
lib_broker_start devices_cl 4
# The changelog's first state: every device, from the generator's file; then the storm: random
# devices at increasing versions, a delete now and then.
tail -n +2 "$work/dims/devices.tsv" |
	awk -F'\t' '{ printf "%s\t{\"device_type\":\"%s\",\"os\":\"%s\",\"browser\":\"%s\"}\n", $1, $2, $3, $4 }' \
	>"$work/initial.txt"
awk -F'\t' -v n="$changes" 'NR > 1 { key[NR - 1] = $1 } END { srand(1); m = NR - 1
	for (i = 0; i < n; i++) { k = key[1 + int(rand() * m)]
		if (rand() < 0.02) printf "%s\t\n", k
		else printf "%s\t{\"device_type\":\"t%d\",\"os\":\"o%d\",\"browser\":\"b%d\"}\n", k, i, i, i } }' \
	"$work/dims/devices.tsv" >"$work/storm.txt"
kcat -P -b "$BROKERS" -t devices_cl -K $'\t' -Z -l "$work/initial.txt"

lib_config "$work/e.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "
[dimension devices]
~source
changelog_topic = devices_cl
[dimensions]
snapshot_interval = 0"

# One run: events/s of the event path, and changes applied (the updater's last line).
run() { # NAME STORM(0|1) -> "events_per_s changes"
	rm -rf "$work/out" "$work/dl"
	local log=$work/$1.log
	"$build/enrichd" --config "$work/e.ini" --input "$work/events.jsonl" 2>"$log" &
	local pid=$!
	if [ "$2" = 1 ]; then
		lib_wait_log "$log" "reading --input" 600 >/dev/null
		kcat -P -b "$BROKERS" -t devices_cl -K $'\t' -Z -l "$work/storm.txt" &
		local kpid=$!
	fi
	wait "$pid"
	[ "$2" = 1 ] && { kill "$kpid" 2>/dev/null || true; wait "$kpid" 2>/dev/null || true; }
	awk '/summary: events=/ { sub(/.*events=/, ""); split($0, a, " "); ev = a[1] }
	     /summary: event_path_s=/ { sub(/.*event_path_s=/, ""); split($0, b, " "); s = b[1] }
	     /updater: \[dimension devices\]: done:/ { sub(/.*done: /, ""); split($0, c, " "); u = c[1]
		sub(/^[0-9]* upserts, /, ""); split($0, d, " "); del = d[1] }
	     END { printf "%.0f %d\n", (s > 0 ? ev / s : 0), u + del }' "$log"
}
best_quiet=0 best_storm=0 applied=0
for r in $(seq "$repeat"); do
	read -r q _ < <(run "quiet-$r" 0)
	read -r s c < <(run "storm-$r" 1)
	echo "run $r: $q events/s quiet, $s events/s during the storm ($c changes applied)"
	[ "$q" -gt "$best_quiet" ] && best_quiet=$q
	[ "$s" -gt "$best_storm" ] && { best_storm=$s; applied=$c; }
done
secs=$(awk -v e="$events" -v r="$best_storm" 'BEGIN { printf "%.3f", (r > 0 ? e / r : 0) }')
awk -v q="$best_quiet" -v s="$best_storm" -v c="$applied" -v t="$secs" 'BEGIN {
	printf "event path: %d events/s quiet, %d during the storm (%.1f%% slower; target <= 10%%)\n",
		q, s, (q > 0 ? 100 * (q - s) / q : 0)
	printf "changes applied during the storm: %d in %s s (%.0f/s)\n", c, t, (t > 0 ? c / t : 0) }'
results=$top/perf/results/live_changes.tsv
[ -s "$results" ] || printf 'date\tevents\tdevices\tquiet_events_per_s\tstorm_events_per_s\tchanges_applied\tchanges_per_s\n' >"$results"
awk -v d="$(date +%F)" -v e="$events" -v n="$devices" -v q="$best_quiet" -v s="$best_storm" \
	-v c="$applied" -v t="$secs" 'BEGIN { printf "%s\t%d\t%d\t%d\t%d\t%d\t%.0f\n", d, e, n, q, s, c,
	(t > 0 ? c / t : 0) }' >>"$results"
