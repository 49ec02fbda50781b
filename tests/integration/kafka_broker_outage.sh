#!/usr/bin/env bash
# The Kafka brokers go down for a while mid-stream: enrichd keeps running, reports the outage,
# and once the brokers are back it resumes; every event is sealed exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=20000

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 9 2>/dev/null
lib_broker_start clickstream 12
broker_pid=${lib_pids[-1]}
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1
lib_enrichd_start "$work/enrichd.ini" "$work/enrichd.log"
enrichd_pid=$lib_enrichd_pid
lib_produce 12 $events 2000 9 --malformed 0.01 --manifest "$work/manifest.tsv"
producer=$lib_producer_pid
sleep 3
kill -USR1 "$broker_pid"
sleep 8
kill -0 "$enrichd_pid" || fail "enrichd died during the outage"
during=$(wc -l <"$work/enrichd.log")
kill -USR2 "$broker_pid"
wait "$producer"
lib_wait_sealed "$work/out" "$work/dl" $events 180
kill -TERM "$enrichd_pid"
wait "$enrichd_pid"
# Into a file first: `grep -q` on a pipe may close it early and fail sed under pipefail.
sed -n "1,${during}p" "$work/enrichd.log" | grep -E "warn|error" >"$work/outage.log" || true
echo "enrichd's log during the outage:"
head -5 "$work/outage.log" | sed 's/^/   /'
[ -s "$work/outage.log" ] || fail "the outage was not reported"

cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$work/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS partition, _offset AS offset FROM file('$work/out/**/*.native', 'Native');
SELECT 'rows', count(), uniqExact(partition, offset) FROM a;
SELECT 'good', count() FROM m WHERE malformed = 0 AND offset >= 0;
SELECT 'missing', count() FROM (SELECT toUInt64(partition), toUInt64(offset) FROM m WHERE malformed = 0 EXCEPT ALL SELECT partition, offset FROM a);
SQL
ch_results "$work/check.sql"
good=$(val good 2)
[ "$(val rows 2)" = "$good" ] && [ "$(val rows 3)" = "$good" ] && [ "$(val missing 2)" = 0 ] ||
	fail "rows $(val rows 2) (distinct $(val rows 3), missing $(val missing 2)), want $good"
echo "kafka_broker_outage: $good rows exactly once across an 8 s outage"
