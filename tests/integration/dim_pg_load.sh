#!/usr/bin/env bash
# Full loads from a real PostgreSQL: 1M users (a table: read in ranges of pages, one connection
# per load thread, in one snapshot; the password from password_file) and 1M devices (a query:
# one connection; the password inside the connection string). One event per user and device
# goes through enrichd --input, so every row of both tables is joined once, and the sealed rows
# must equal the tables as ClickHouse reads them through postgresql(), in both directions. The
# password appears neither in --check's output nor in the log. Then a value that does not
# convert fails the load, naming the row's key and the column, and enrichd does not start.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
users=1000000 devices=1000000

"$bin/enrichd-gen-dims" --out "$work/dims" --users $users --devices $devices --urls 1000 \
	--seed 11 2>/dev/null
lib_pg_start
lib_pg_dims "$work/dims"
pg "ANALYZE users; ANALYZE devices"

# One event per user, paired with one device each, as ClickHouse reads the tables.
pgfn="postgresql('127.0.0.1:$PGPORT', 'postgres', '%s', 'postgres', '$PGPASSWORD')"
# shellcheck disable=SC2059
users_pg=$(printf "$pgfn" users) devices_pg=$(printf "$pgfn" devices)
ch "SELECT '2025-01-01T00:00:00Z' AS timestamp, toString(u.user_id) AS user_id,
	   'https://example.com/' AS url, d.device_id AS device_id
    FROM (SELECT user_id, row_number() OVER (ORDER BY user_id) AS n FROM $users_pg) AS u
    JOIN (SELECT device_id, row_number() OVER (ORDER BY device_id) AS n FROM $devices_pg) AS d
    USING n FORMAT JSONEachRow" >"$work/events.jsonl"
check "events" "$(wc -l <"$work/events.jsonl")" $users

echo "$PGPASSWORD" >"$work/pgpass"
chmod 600 "$work/pgpass"
lib_config "$work/e.ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:9 0-1 "
[dimension users]
~source
postgresql = host=127.0.0.1 port=$PGPORT dbname=postgres user=postgres
password_file = $work/pgpass
table = public.users
[dimension devices]
~source
postgresql = postgresql://postgres:$PGPASSWORD@127.0.0.1:$PGPORT/postgres
query = SELECT device_id, device_type, os, browser FROM devices WHERE device_id <> ''"
env -u PGPASSWORD "$bin/enrichd" --config "$work/e.ini" --check >"$work/check.txt"
grep -q "from postgresql table public.users (.*port=$PGPORT" "$work/check.txt" ||
	check_fail "--check does not name the users' PostgreSQL table: $(grep users "$work/check.txt")"
! grep -q "$PGPASSWORD" "$work/check.txt" || check_fail "--check shows the password"

env -u PGPASSWORD "$bin/enrichd" --config "$work/e.ini" --input "$work/events.jsonl" \
	2>"$work/log" || fail "enrichd failed: $(tail -5 "$work/log")"
! grep -q "$PGPASSWORD" "$work/log" || check_fail "the log shows the password"
grep -q "users: loading from postgresql table public.users .* in 2 range(s)" "$work/log" ||
	check_fail "the users table was not read in 2 ranges: $(grep 'loading from' "$work/log")"
grep -q "devices: loading from postgresql query .* in 1 range(s)" "$work/log" ||
	check_fail "the devices query was not read in one range"
grep -q "users: 1000000 rows from postgresql table public.users" "$work/log" ||
	check_fail "no summary line of the users' load"

cat >"$work/check.sql" <<SQL
CREATE TABLE pu ENGINE = Memory AS SELECT toUInt64(user_id) AS user_id, country, plan, signup_date FROM $users_pg;
CREATE TABLE pd ENGINE = Memory AS SELECT device_id, device_type, os, browser FROM $devices_pg;
CREATE TABLE seg ENGINE = Memory AS SELECT * FROM file('$work/out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0;
SELECT 'rows', count(), uniqExact(user_id), uniqExact(device_id) FROM seg;
SELECT 'users_missing', count() FROM (SELECT * FROM pu EXCEPT ALL SELECT user_id, toString(country), toString(plan), assumeNotNull(signup_date) FROM seg);
SELECT 'users_unexpected', count() FROM (SELECT user_id, toString(country), toString(plan), assumeNotNull(signup_date) FROM seg EXCEPT ALL SELECT * FROM pu);
SELECT 'devices_missing', count() FROM (SELECT * FROM pd EXCEPT ALL SELECT device_id, toString(device_type), toString(os), toString(browser) FROM seg);
SELECT 'devices_unexpected', count() FROM (SELECT device_id, toString(device_type), toString(os), toString(browser) FROM seg EXCEPT ALL SELECT * FROM pd);
SELECT 'nulls', countIf(country IS NULL OR signup_date IS NULL), countIf(device_type IS NULL) FROM seg;
SQL
ch_results "$work/check.sql"
check "rows sealed" "$(val rows 2)" $users
check "distinct users" "$(val rows 3)" $users
check "distinct devices" "$(val rows 4)" $devices
check "users rows missing from the segments" "$(val users_missing 2)" 0
check "users rows in the segments not in PostgreSQL" "$(val users_unexpected 2)" 0
check "devices rows missing from the segments" "$(val devices_missing 2)" 0
check "devices rows in the segments not in PostgreSQL" "$(val devices_unexpected 2)" 0
check "user misses" "$(val nulls 2)" 0
check "device misses" "$(val nulls 3)" 0

# A date out of Date's range: the load fails naming the row's key and the column; no start.
bad=$(pg "SELECT user_id FROM users ORDER BY user_id DESC LIMIT 1")
pg "UPDATE users SET signup_date = '2200-01-01' WHERE user_id = $bad"
if env -u PGPASSWORD "$bin/enrichd" --config "$work/e.ini" --input "$work/events.jsonl" \
	2>"$work/bad.log"; then
	check_fail "enrichd started with a bad value in users"
fi
grep -q "users: load failed: postgresql table public.users .*(key '$bad'): column 'signup_date': '2200-01-01' is out of range" \
	"$work/bad.log" || check_fail "the failure does not name the key and column: $(grep 'load failed' "$work/bad.log")"
checks_done tail -20 "$work/log"
echo "dim_pg_load: $users users and $devices devices from PostgreSQL equal ClickHouse's view"
