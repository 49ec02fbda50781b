#!/usr/bin/env bash
# enrichd --input over generated events with keys missing from every dimension, devices joined
# `inner`: every event whose device is missing is dead-lettered (reason inner_join_miss) and
# every other one is sealed, and the summary's hit rates are the manifest's shares, with one
# and with two workers.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

users=20000 devices=20000 urls=5000 count=30000
lib_gen_input 3 $users $devices $urls $count "$work/ev.jsonl" --miss-users 0.1 \
	--miss-devices 0.2 --miss-urls 0.05 --manifest "$work/m.tsv"

read -r dev_missing user_hits dev_hits url_hits < <(ch "
	SELECT countIf(device_present = 0), sum(user_present), sum(device_present), sum(url_present)
	FROM file('$work/m.tsv', 'TSVWithNamesAndTypes')")
# As enrichd prints them: 100 * hits / lookups, two decimals.
hit_pct() { awk -v h="$1" -v n="$count" 'BEGIN { printf "%.2f", 100 * h / n }'; }
user_hit=$(hit_pct "$user_hits") dev_hit=$(hit_pct "$dev_hits") url_hit=$(hit_pct "$url_hits")
[ "$dev_missing" -gt 0 ] || fail "the manifest has no missing device"

for cpus in 0 0-1; do
	echo "-- cpus $cpus"
	out=$work/out-$cpus
	lib_enrichd_inner_devices "$cpus" "$out" "$work/ev.jsonl" "$work/log"
	rows=$(ch "SELECT count() FROM file('$out/**/*.native', 'Native')
		WHERE device_type IS NOT NULL SETTINGS use_hive_partitioning = 0")
	all=$(ch "SELECT count() FROM file('$out/**/*.native', 'Native')
		SETTINGS use_hive_partitioning = 0")
	dead=$lib_inner_misses
	[ "$all" = "$rows" ] || fail "$((all - rows)) sealed rows without a device"
	[ "$rows" = $((count - dev_missing)) ] || fail "$rows rows sealed, expected $((count - dev_missing))"
	[ "$dead" = "$dev_missing" ] || fail "$dead inner-join dead letters, expected $dev_missing"
	summary=$(grep "summary: events=" "$work/log")
	echo "$summary" | grep -q "dead_letters=$dev_missing " || fail "summary: $summary"
	echo "$summary" | grep -q "users=$user_hit% devices=$dev_hit% urls=$url_hit%" ||
		fail "hit rates $summary, expected users=$user_hit% devices=$dev_hit% urls=$url_hit%"
done
echo "ok"
