#!/usr/bin/env bash
# End to end through the embedded Kafka broker (12 partitions) with 2 workers: tens of thousands
# of events, some with keys missing from each dimension, some malformed. ClickHouse computes the
# expected enrichment independently (a LEFT JOIN of the produced events with the dimension files)
# and the sealed segments must equal it row for row, in both directions; every produced
# (partition, offset) appears exactly once; the dead-letter file holds exactly the malformed
# messages, byte for byte.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=40000

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 7
lib_broker_start clickstream 12
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1
"$bin/enrichd" --config "$work/enrichd.ini" --check >/dev/null

lib_enrichd_start "$work/enrichd.ini" "$work/enrichd.log"
enrichd_pid=$lib_enrichd_pid
"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 12 \
	--count $events --seed 7 --users 20000 --devices 20000 --urls 5000 \
	--miss-users 0.05 --miss-devices 0.05 --miss-urls 0.05 --malformed 0.01 --variety \
	--manifest "$work/manifest.tsv"

lib_wait_sealed "$work/out" "$work/dl" $events 120
kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || fail "enrichd exited non-zero: $(tail -20 "$work/enrichd.log")"
grep -q "summary:" "$work/enrichd.log"
! compgen -G "$work/out/dt=*/hour=*/*.tmp" >/dev/null || fail "open segments left"

cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$work/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE users ENGINE = Memory AS SELECT * FROM file('$work/dims/users.tsv', 'TSVWithNames', 'user_id UInt64, country String, plan String, signup_date Date');
CREATE TABLE devices ENGINE = Memory AS SELECT * FROM file('$work/dims/devices.tsv', 'TSVWithNames', 'device_id String, device_type String, os String, browser String');
CREATE TABLE urls ENGINE = Memory AS SELECT * FROM file('$work/dims/urls.tsv', 'TSVWithNames', 'url String, domain String, category String');
CREATE TABLE expected ENGINE = Memory AS
SELECT fromUnixTimestamp64Milli(m.event_time_ms, 'UTC') AS event_time, m.user_id AS user_id,
       m.device_id AS device_id, m.url AS url,
       u.country AS country, u.plan AS plan, u.signup_date AS signup_date,
       d.device_type AS device_type, d.os AS os, d.browser AS browser,
       l.domain AS domain, l.category AS category,
       'clickstream' AS topic, toUInt64(m.partition) AS partition, toUInt64(m.offset) AS offset
FROM m
LEFT JOIN users AS u ON m.user_id = u.user_id
LEFT JOIN devices AS d ON m.device_id = d.device_id
LEFT JOIN urls AS l ON m.url = l.url
WHERE m.malformed = 0
SETTINGS join_use_nulls = 1;
CREATE TABLE actual ENGINE = Memory AS
SELECT event_time, user_id, device_id, url,
       CAST(country AS Nullable(String)) AS country, CAST(plan AS Nullable(String)) AS plan,
       signup_date, CAST(device_type AS Nullable(String)) AS device_type,
       CAST(os AS Nullable(String)) AS os, CAST(browser AS Nullable(String)) AS browser,
       CAST(domain AS Nullable(String)) AS domain, CAST(category AS Nullable(String)) AS category,
       toString(_topic) AS topic, _partition AS partition, _offset AS offset
FROM file('$work/out/**/*.native', 'Native');
SELECT 'produced', count(), countIf(malformed = 1), countIf(offset < 0) FROM m;
SELECT 'expected_rows', count() FROM expected;
SELECT 'actual_rows', count(), uniqExact(partition, offset) FROM actual;
SELECT 'missing', count() FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual);
SELECT 'unexpected', count() FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected);
SELECT 'misses', countIf(country IS NULL), countIf(device_type IS NULL), countIf(category IS NULL) FROM actual;
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'dead_letters', count(), uniqExact(partition, offset) FROM dl;
SELECT 'dl_missing', count() FROM (SELECT partition, offset, payload FROM m WHERE malformed = 1 EXCEPT ALL SELECT partition, offset, raw FROM dl);
SELECT 'dl_unexpected', count() FROM (SELECT partition, offset, raw FROM dl EXCEPT ALL SELECT partition, offset, payload FROM m WHERE malformed = 1);
SQL
ch_results "$work/check.sql"

malformed=$(val produced 3)
check "every message delivered by the broker" "$(val produced 4)" 0
check "expected rows" "$(val expected_rows 2)" $((events - malformed))
check "actual rows" "$(val actual_rows 2)" $((events - malformed))
check "each (partition, offset) once" "$(val actual_rows 3)" $((events - malformed))
check "expected rows missing from the segments" "$(val missing 2)" 0
check "rows in the segments not expected" "$(val unexpected 2)" 0
check "dead letters" "$(val dead_letters 2)" "$malformed"
check "dead letters unique" "$(val dead_letters 3)" "$malformed"
check "malformed messages missing from the dead letters" "$(val dl_missing 2)" 0
check "dead letters that are not malformed messages" "$(val dl_unexpected 2)" 0
[ "$(val misses 2)" -gt 0 ] || check_fail "no user misses joined as NULL"
[ "$malformed" -gt 0 ] || check_fail "the run produced no malformed message"
checks_done tail -30 "$work/enrichd.log"
echo "engine_pipeline: $((events - malformed)) rows and $malformed dead letters exactly once"
