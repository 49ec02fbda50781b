#!/usr/bin/env bash
# A dimension source rewritten in place and truncated while a reload reads it (the mistake the
# operations guide warns about) fails that reload, never the process: enrichd maps the file, and
# a read past its new end used to end it with SIGBUS. Five times: the 1M-row users file is
# written in place, SIGHUP, 40 ms after the reload began `truncate -s 0` (more tries, up to twelve,
# until one truncation lands while the loader reads). enrichd must stay up, count the failed
# reloads (at least one must have seen the file change under it), keep the set it had, and seal
# every event exactly once; a last good file then reloads.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=6000

"$bin/enrichd-gen-dims" --out "$work/dims" --users 1000000 --devices 20000 --urls 5000 --seed 5 \
	2>/dev/null
cp "$work/dims/users.tsv" "$work/users.full"
lib_broker_start clickstream 4
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 \
	"$LIB_INI_METRICS"
lib_enrichd_start_metrics "$work/enrichd.ini" "$work/enrichd.log"
pid=$lib_enrichd_pid url=$lib_enrichd_url
lib_produce 4 $events 500 5 --manifest "$work/manifest.tsv"
producer=$lib_producer_pid

# The reloads that ended (with a new set, nothing changed, or a failure), and those begun.
reloads_ended() { grep -c "reload failed\|reload: " "$work/enrichd.log" || true; }
reloads_begun() { grep -c "SIGHUP: reloading" "$work/enrichd.log" || true; }
changed_seen() { grep -c "changed while it was read" "$work/enrichd.log" || true; }
# Five tries at least; on a busy machine a truncation may come before the loader opened the file
# (a refused empty file, not a change under the loader), so up to twelve until one is seen.
try=0
while [ $try -lt 5 ] || { [ "$(changed_seen)" -eq 0 ] && [ $try -lt 12 ]; }; do
	try=$((try + 1))
	before=$(reloads_ended) begun=$(reloads_begun)
	cat "$work/users.full" >"$work/dims/users.tsv" # in place: same inode
	kill -HUP "$pid"
	for _ in $(seq 500); do
		[ "$(reloads_begun)" -gt "$begun" ] && break
		sleep 0.01
	done
	sleep 0.04
	truncate -s 0 "$work/dims/users.tsv"
	for _ in $(seq 600); do
		[ "$(reloads_ended)" -gt "$before" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null || fail "enrichd died in try $try: $(tail -n 3 "$work/enrichd.log")"
	echo "try $try: $(grep "reload failed\|reload: " "$work/enrichd.log" | tail -n 1 |
		sed 's/.*engine: //')"
done
changed=$(changed_seen)
[ "$changed" -ge 1 ] || check_fail "no reload saw its source change under it"

# A good file, replaced the right way, reloads.
cp "$work/users.full" "$work/dims/users.tsv.new"
mv "$work/dims/users.tsv.new" "$work/dims/users.tsv"
kill -HUP "$pid"
lib_wait_log "$work/enrichd.log" "reload: dimension set 2 in use" 120 ||
	check_fail "the good file did not reload"
wait "$producer"
lib_wait_sealed "$work/out" "$work/dl" $events 120
failures=$(curl -sf "$url/metrics" | awk '$1 == "enrichd_dimension_reload_failures_total" { print $2 }')
kill -TERM "$pid"
wait "$pid" || check_fail "enrichd exited non-zero"
[ "${failures:-0}" -ge "$changed" ] || check_fail "failed reloads counted: $failures, want >= $changed"

cat >"$work/check.sql" <<SQL
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS p, _offset AS o FROM file('$work/out/**/*.native', 'Native');
SELECT 'rows', count(), uniqExact(p, o) FROM a;
SQL
ch_results "$work/check.sql"
check "rows" "$(val rows 2)" $events
check "each (partition, offset) once" "$(val rows 3)" $events
checks_done tail -n 20 "$work/enrichd.log"
echo "dim_source_rewritten_during_reload: 5 truncations under a reload, $changed seen by the" \
	"loader, $failures failed reloads counted, enrichd up, $events events exactly once"
