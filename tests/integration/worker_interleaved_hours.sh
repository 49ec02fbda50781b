#!/usr/bin/env bash
# enrichd --input over events whose times interleave several hours (each up to two hours earlier
# than its place in the stream, as late events arrive), devices joined `inner` so dead-lettered
# events sit among them: every other event is sealed once, in the segment of its own hour, and
# each segment holds its rows in the order of the input; with one and with two workers.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

users=5000 devices=5000 urls=1000 count=20000
# Four hours of events, each up to two hours early.
lib_gen_input 5 $users $devices $urls $count "$work/ev.jsonl" --miss-devices 0.1 \
	--start-ms 1735686000000 --spread-ms 14400000 --jitter-ms 7200000 --manifest "$work/m.tsv"

# The input does interleave: the hour changes from one event to the next most of the time.
changes=$(grep -o '"timestamp":"[0-9T:-]*' "$work/ev.jsonl" | cut -c14-26 |
	awk 'NR > 1 && $0 != prev { n++ } { prev = $0 } END { print n + 0 }')
[ "$changes" -gt $((count / 4)) ] || fail "only $changes hour changes between $count events"
dev_missing=$(ch "SELECT countIf(device_present = 0)
	FROM file('$work/m.tsv', 'TSVWithNamesAndTypes')")
[ "$dev_missing" -gt 0 ] || fail "the manifest has no missing device"

for cpus in 0 0-1; do
	echo "-- cpus $cpus"
	out=$work/out-$cpus
	lib_enrichd_inner_devices "$cpus" "$out" "$work/ev.jsonl" "$work/log"
	dead=$lib_inner_misses
	[ "$dead" = "$dev_missing" ] || fail "$dead inner-join dead letters, expected $dev_missing"
	# Per segment: its rows, those outside its hour, and whether its input lines (_offset) rise.
	read -r segments rows distinct misplaced unordered < <(ch "
		SELECT count(), sum(n), sum(d), sum(wrong), countIf(o != arraySort(o))
		FROM (SELECT _path, count() AS n, uniqExact(_offset) AS d, groupArray(_offset) AS o,
			countIf(toStartOfHour(event_time) != toDateTime(concat(
				extract(_path, 'dt=([0-9-]+)'), ' ', extract(_path, 'hour=([0-9]+)'),
				':00:00'), 'UTC')) AS wrong
			FROM file('$out/**/*.native', 'Native') GROUP BY _path)
		SETTINGS use_hive_partitioning = 0, max_threads = 1")
	echo "$segments segments, $rows rows"
	[ "$rows" = $((count - dev_missing)) ] ||
		fail "$rows rows sealed, expected $((count - dev_missing))"
	[ "$distinct" = "$rows" ] || fail "$((rows - distinct)) rows sealed twice in one segment"
	all=$(ch "SELECT uniqExact(_offset) FROM file('$out/**/*.native', 'Native')
		SETTINGS use_hive_partitioning = 0")
	[ "$all" = "$rows" ] || fail "$((rows - all)) rows sealed in two segments"
	[ "$misplaced" = 0 ] || fail "$misplaced rows in the segment of another hour"
	[ "$unordered" = 0 ] || fail "$unordered segments with rows out of input order"
	[ "$segments" -ge 4 ] || fail "only $segments segments for four hours and more"
done
echo "ok"
