#!/usr/bin/env bash
# Hot reload under a steady event stream: the users file is replaced with changed attributes and
# SIGHUP sent. Per partition, rows before the swap carry the old values and rows after it the new
# ones (one cutover, never back); no row is lost or duplicated; the largest pause of a worker to
# switch sets (a metric) stays under 10 ms. Then a broken users file and SIGHUP: the reload fails,
# is counted, and the engine keeps serving the last good set.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=30000

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 5 2>/dev/null
awk 'BEGIN { FS = OFS = "\t" } NR == 1 { print; next } { $2 = "R-" $2; $3 = "reloaded"; print }' \
	"$work/dims/users.tsv" >"$work/users.changed"
cp "$work/dims/users.tsv" "$work/users.original"
lib_broker_start clickstream 12
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 \
	"$LIB_INI_METRICS"
lib_enrichd_start_metrics "$work/enrichd.ini" "$work/enrichd.log"
enrichd_pid=$lib_enrichd_pid url=$lib_enrichd_url
hwm_before=$(awk '/VmHWM/ { print $2 }' "/proc/$enrichd_pid/status")

lib_produce 12 $events 3000 5 --miss-users 0.05 --manifest "$work/manifest.tsv"
producer=$lib_producer_pid
sleep 4
# Replaced atomically, as an operator should (write beside, rename over).
cp "$work/users.changed" "$work/dims/users.tsv.new"
mv "$work/dims/users.tsv.new" "$work/dims/users.tsv"
kill -HUP "$enrichd_pid"
lib_wait_log "$work/enrichd.log" "reload: dimension set 2 in use" 60
sleep 2
printf 'user_id\tcountry\tplan\tsignup_date\n1\tXX\n' >"$work/dims/users.tsv.new"
mv "$work/dims/users.tsv.new" "$work/dims/users.tsv"
kill -HUP "$enrichd_pid"
lib_wait_log "$work/enrichd.log" "reload failed" 60
wait "$producer"
lib_wait_sealed "$work/out" "$work/dl" $events 120
curl -sf "$url/metrics" >"$work/metrics.txt"
hwm_after=$(awk '/VmHWM/ { print $2 }' "/proc/$enrichd_pid/status")
kill -TERM "$enrichd_pid"
wait "$enrichd_pid"

metric() { awk -v n="$1" '$1 ~ "^"n { if ($2 > m) m = $2 } END { print m + 0 }' "$work/metrics.txt"; }
stall=$(metric enrichd_worker_reload_stall_max_seconds)
reloads=$(metric enrichd_dimension_reloads_total)
failures=$(metric enrichd_dimension_reload_failures_total)
echo "reload: worker switch stall max ${stall}s; peak RSS ${hwm_before} kB before, ${hwm_after} kB after"
grep -h "now joining\|reload" "$work/enrichd.log" | sed 's/^/   /'

cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$work/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE u ENGINE = Memory AS SELECT * FROM file('$work/users.original', 'TSVWithNames', 'user_id UInt64, country String, plan String, signup_date Date');
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS p, _offset AS o, user_id, toString(country) AS country, toString(plan) AS plan FROM file('$work/out/**/*.native', 'Native');
CREATE TABLE j ENGINE = Memory AS
SELECT a.p AS p, a.o AS o, multiIf(u.user_id = 0, 'miss', a.country = u.country AND a.plan = u.plan, 'old',
       a.country = concat('R-', u.country) AND a.plan = 'reloaded', 'new', 'wrong') AS v
FROM a LEFT JOIN u ON a.user_id = u.user_id;
SELECT 'rows', count(), uniqExact(p, o) FROM a;
SELECT 'produced', count() FROM m;
SELECT 'versions', countIf(v = 'old'), countIf(v = 'new'), countIf(v = 'wrong'), countIf(v = 'miss') FROM j;
SELECT 'flipbacks', count() FROM (SELECT p, maxIf(o, v = 'old') AS last_old, minIf(o, v = 'new') AS first_new FROM j GROUP BY p HAVING countIf(v = 'new') > 0 AND last_old > first_new);
SQL
ch_results "$work/check.sql"
check "rows" "$(val rows 2)" $events
check "each (partition, offset) once" "$(val rows 3)" $events
check "rows with values of neither set" "$(val versions 4)" 0
check "partitions whose rows go back to old values" "$(val flipbacks 2)" 0
check "successful reloads" "$reloads" 1
check "failed reloads" "$failures" 1
[ "$(val versions 2)" -gt 0 ] || check_fail "no row before the swap"
[ "$(val versions 3)" -gt 0 ] || check_fail "no row after the swap"
awk -v s="$stall" 'BEGIN { exit !(s > 0 && s < 0.010) }' ||
	check_fail "worker switch stall ${stall}s, want (0, 10 ms)"
checks_done
echo "dimset_reload: $(val versions 2) rows before the swap, $(val versions 3) after, none lost or duplicated"
