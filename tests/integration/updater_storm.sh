#!/usr/bin/env bash
# An update storm while events flow: 200K changes (updates, inserts, deletes), half through
# PostgreSQL (users: update_field, delete_field) and half through a compacted changelog topic
# (devices: its only source, read from the beginning before the workers start), against 200K
# events through Kafka with 2 workers. Every version of a row carries its version number in
# every attribute, so a row joined from a mix of versions shows. Checks: no sealed row mixes
# versions; after quiescence a second batch of events, one per key, sees exactly the final
# state (ClickHouse reads users through postgresql(), devices from the storm's final state),
# both ways; the changes are counted in /metrics, and a malformed changelog message is a dead
# letter with its reason. Under a sanitizer build, a report in enrichd's log fails the test:
#   ENRICHD_BUILD_DIR=build-asan bash tests/integration/updater_storm.sh
#   ENRICHD_BUILD_DIR=build-tsan ENRICHD_STORM_CHANGES=20000 bash tests/integration/updater_storm.sh
#   ENRICHD_STORM_CHANGES=N  changes in all (default 200000)
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
changes=${ENRICHD_STORM_CHANGES:-200000}
users=20000 devices=20000 events=200000 rounds=20

lib_pg_start
lib_broker_start clickstream,devices 4
"$bin/enrichd-gen-dims" --out "$work/dims" --users 10 --devices 10 --urls 10 --seed 5 2>/dev/null
pg "CREATE TABLE users (user_id bigint PRIMARY KEY, country text, plan text, signup_date date,
	version int NOT NULL, deleted bool NOT NULL DEFAULT false,
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE INDEX ON users (updated_at);
    INSERT INTO users (user_id, country, plan, signup_date, version)
	SELECT g, 'c0', 'p0', date '2000-01-01', 0 FROM generate_series(1, $users) g"

# The storm's script: SQL rounds for users, changelog rounds for devices (key TAB value, an
# empty value is a tombstone), and the devices' final state.
python3 - "$work" $users $devices $((changes / 2)) $rounds <<'PY'
import json, random, sys
work, users, devices, per_side, rounds = sys.argv[1], *map(int, sys.argv[2:])
rng = random.Random(7)
def dev(v):
    return json.dumps({"device_type": f"t{v}", "os": f"o{v}", "browser": f"b{v}"})
state = {f"d{i}": 0 for i in range(1, devices + 1)}
with open(f"{work}/devices-0.txt", "w") as f:
    for k in state:
        f.write(f"{k}\t{dev(0)}\n")
next_user, next_dev = users + 1, devices + 1
for r in range(rounds):
    n = per_side // rounds
    with open(f"{work}/users-{r + 1}.sql", "w") as f:
        f.write("BEGIN;\n")
        for _ in range(n):
            x = rng.random()
            if x < 0.1:
                f.write(f"INSERT INTO users (user_id, country, plan, signup_date, version) VALUES ({next_user}, 'c1', 'p1', date '2000-01-02', 1);\n")
                next_user += 1
            elif x < 0.15:
                u = rng.randint(1, next_user - 1)
                f.write(f"UPDATE users SET deleted = true, updated_at = clock_timestamp() WHERE user_id = {u};\n")
            else:
                u = rng.randint(1, next_user - 1)
                f.write(f"UPDATE users SET version = version + 1, country = 'c' || (version + 1), plan = 'p' || (version + 1), signup_date = date '2000-01-01' + (version + 1), deleted = false, updated_at = clock_timestamp() WHERE user_id = {u};\n")
        f.write("COMMIT;\n")
    with open(f"{work}/devices-{r + 1}.txt", "w") as f:
        for _ in range(n):
            x = rng.random()
            if x < 0.1:
                k = f"d{next_dev}"; next_dev += 1; state[k] = 1
                f.write(f"{k}\t{dev(1)}\n")
            elif x < 0.15:
                k = f"d{rng.randint(1, next_dev - 1)}"
                state.pop(k, None)
                f.write(f"{k}\t\n")
            else:
                k = f"d{rng.randint(1, next_dev - 1)}"
                v = state.get(k, 0) + 1; state[k] = v
                f.write(f"{k}\t{dev(v)}\n")
with open(f"{work}/devices-final.tsv", "w") as f:
    for k, v in state.items():
        f.write(f"{k}\tt{v}\to{v}\tb{v}\n")
with open(f"{work}/ids.txt", "w") as f:
    f.write(f"{next_user - 1} {next_dev - 1}\n")
PY
read -r max_user max_dev <"$work/ids.txt"
produce_devices() { kcat -P -b "$BROKERS" -t devices -K $'\t' -Z -l "$1"; }
# Malformed changes among the first ones: the catch-up dead-letters them.
printf 'd1\tnot json\nnot-a-number-key\t{"device_type":"x"}\n' >"$work/bad.txt"
produce_devices "$work/devices-0.txt"
produce_devices "$work/bad.txt"

# Events: user u, device d, in rounds; the timestamp is the same hour for every event.
events_round() { # FIRST COUNT MAX_USER MAX_DEV FILE
	awk -v f="$1" -v n="$2" -v mu="$3" -v md="$4" 'BEGIN { srand(f); for (i = 0; i < n; i++)
		printf "{\"timestamp\":\"2025-01-01T00:00:00Z\",\"user_id\":%d,\"url\":\"u\",\"device_id\":\"d%d\"}\n",
		1 + int(rand() * mu), 1 + int(rand() * md) }' >"$5"
}

lib_config "$work/e.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "
[dimension users]
~source
postgresql = $PG_URL
table = users
update_field = updated_at
update_interval = 200ms
delete_field = deleted
attr.country = LowCardinality(String)
attr.plan = LowCardinality(String)
attr.signup_date = Date
[dimension devices]
~source
changelog_topic = devices
[dimensions]
snapshot_dir = $work/snapshots
[metrics]
listen = 127.0.0.1:0"
"$bin/enrichd" --config "$work/e.ini" --check >/dev/null
lib_spawn "$bin/enrichd" --config "$work/e.ini" 2>"$work/enrichd.log"
enrichd_pid=${lib_pids[-1]}
url=$(lib_metrics_url "$work/enrichd.log")
lib_wait_log "$work/enrichd.log" "changelog devices caught up" 120
lib_wait_log "$work/enrichd.log" "partitions assigned" 60

# The storm: each round, a transaction of user changes, a run of device changes, and events.
per_round=$((events / rounds))
for r in $(seq 1 $rounds); do
	psql -q -v ON_ERROR_STOP=1 -f "$work/users-$r.sql" >/dev/null &
	sql_pid=$!
	produce_devices "$work/devices-$r.txt" &
	kcat_pid=$!
	events_round "$r" $per_round "$max_user" "$max_dev" "$work/ev.txt"
	kcat -P -b "$BROKERS" -t clickstream -l "$work/ev.txt"
	wait "$sql_pid" "$kcat_pid"
done
lib_wait_sealed "$work/out" "$work/dl" $events 300
echo "storm done: $changes changes, $events events"

# Quiescence: the changelog read to its end, nothing applied for a second, and two reads of
# users after the last change.
metric() { curl -sf "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
applied() {
	curl -sf "$url/metrics" | awk '/^enrichd_dimension_(upserts|deletes)_total/ { s += $2 } END { print s }'
}
quiet=0
for _ in $(seq 300); do
	before=$(applied)
	sleep 1
	if [ "$(metric 'enrichd_dimension_changelog_lag_messages{dimension="devices"}')" = 0 ] &&
		[ "$(applied)" = "$before" ]; then
		quiet=1
		break
	fi
done
[ $quiet = 1 ] || fail "the changes were still being applied after 300 s"
reads=$(metric 'enrichd_dimension_change_reads_total{dimension="users"}')
for _ in $(seq 100); do
	[ "$(metric 'enrichd_dimension_change_reads_total{dimension="users"}')" -ge $((reads + 2)) ] && break
	sleep 0.2
done

# The second batch: every key once, an hour after the storm's events.
awk -v mu="$max_user" -v md="$max_dev" 'BEGIN { n = mu > md ? mu : md; for (i = 1; i <= n; i++)
	printf "{\"timestamp\":\"2025-01-01T01:00:00Z\",\"user_id\":%d,\"url\":\"u\",\"device_id\":\"d%d\"}\n",
	(i - 1) % mu + 1, (i - 1) % md + 1 }' >"$work/ev2.txt"
second=$(wc -l <"$work/ev2.txt")
kcat -P -b "$BROKERS" -t clickstream -l "$work/ev2.txt"
lib_wait_sealed "$work/out" "$work/dl" $((events + second)) 300
curl -sf "$url/metrics" >"$work/metrics.txt"
kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || fail "enrichd exited non-zero: $(tail -20 "$work/enrichd.log")"

users_pg="postgresql('127.0.0.1:$PGPORT', 'postgres', 'users', 'postgres', '$PGPASSWORD')"
cat >"$work/check.sql" <<SQL
CREATE TABLE seg ENGINE = Memory AS SELECT * FROM file('$work/out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0;
SELECT 'rows', count(), countIf(event_time < '2025-01-01 01:00:00'), countIf(event_time >= '2025-01-01 01:00:00') FROM seg;
SELECT 'user_mix', count() FROM seg WHERE NOT (country IS NULL AND plan IS NULL AND signup_date IS NULL)
	AND NOT (substring(country, 2) = substring(plan, 2) AND toString(signup_date) = toString(date '2000-01-01' + toInt32OrZero(substring(country, 2))));
SELECT 'device_mix', count() FROM seg WHERE NOT (device_type IS NULL AND os IS NULL AND browser IS NULL)
	AND NOT (substring(device_type, 2) = substring(os, 2) AND substring(os, 2) = substring(browser, 2));
CREATE TABLE pu ENGINE = Memory AS SELECT toUInt64(user_id) AS user_id, country, plan, signup_date FROM $users_pg WHERE NOT deleted;
CREATE TABLE fd ENGINE = Memory AS SELECT * FROM file('$work/devices-final.tsv', 'TSV', 'device_id String, device_type String, os String, browser String');
CREATE TABLE second ENGINE = Memory AS SELECT * FROM seg WHERE event_time >= '2025-01-01 01:00:00';
SELECT 'users_final_missing', count() FROM (SELECT * FROM pu EXCEPT ALL SELECT DISTINCT user_id, toString(country), toString(plan), assumeNotNull(signup_date) FROM second WHERE country IS NOT NULL);
SELECT 'users_final_unexpected', count() FROM (SELECT DISTINCT user_id, toString(country), toString(plan), assumeNotNull(signup_date) FROM second WHERE country IS NOT NULL EXCEPT ALL SELECT * FROM pu);
SELECT 'users_deleted_seen', count() FROM second WHERE country IS NULL AND user_id IN (SELECT user_id FROM pu);
SELECT 'devices_final_missing', count() FROM (SELECT * FROM fd EXCEPT ALL SELECT DISTINCT device_id, toString(device_type), toString(os), toString(browser) FROM second WHERE device_type IS NOT NULL);
SELECT 'devices_final_unexpected', count() FROM (SELECT DISTINCT device_id, toString(device_type), toString(os), toString(browser) FROM second WHERE device_type IS NOT NULL EXCEPT ALL SELECT * FROM fd);
SELECT 'devices_deleted_seen', count() FROM second WHERE device_type IS NULL AND device_id IN (SELECT device_id FROM fd);
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl/*.changelog-deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'dead_letters', count(), countIf(error = 'changelog_json' AND raw = 'not json'), countIf(error = 'changelog_key' AND reason LIKE '%not a UInt64%') FROM dl;
SQL
ch_results "$work/check.sql"
check "rows of the storm" "$(val rows 3)" $events
check "rows of the second batch" "$(val rows 4)" "$second"
check "rows joined with a mix of user versions" "$(val user_mix 2)" 0
check "rows joined with a mix of device versions" "$(val device_mix 2)" 0
check "final users missing from the second batch" "$(val users_final_missing 2)" 0
check "users in the second batch not final" "$(val users_final_unexpected 2)" 0
check "final users joined as missing" "$(val users_deleted_seen 2)" 0
check "final devices missing from the second batch" "$(val devices_final_missing 2)" 0
check "devices in the second batch not final" "$(val devices_final_unexpected 2)" 0
check "final devices joined as missing" "$(val devices_deleted_seen 2)" 0
# devices: "not-a-number-key" is a fine String key: only the JSON error is a dead letter.
check "changelog dead letters" "$(val dead_letters 3)" 1
grep -q '^enrichd_dimension_upserts_total{dimension="devices"} [1-9]' "$work/metrics.txt" ||
	check_fail "no devices upserts counted"
grep -q '^enrichd_dimension_deletes_total{dimension="users"} [1-9]' "$work/metrics.txt" ||
	check_fail "no users deletes counted"
grep -q '^enrichd_dimension_changelog_caught_up{dimension="devices"} 1' "$work/metrics.txt" ||
	check_fail "devices' changelog not caught up in /metrics"
# The changes went into the live tables in place: a table is built anew only when it outgrows
# the room it was planned with (devices start empty, users grow by a quarter), a few times in all.
rebuilds=$(awk '/^enrichd_dimension_rebuilds_total/ { s += $2 } END { print s + 0 }' "$work/metrics.txt")
[ "$rebuilds" -le 4 ] || check_fail "tables rebuilt $rebuilds times for $changes changes"
# A sanitizer build (ENRICHD_BUILD_DIR=build-asan or build-tsan) reports into the log.
if grep -q "ThreadSanitizer\|AddressSanitizer\|runtime error:" "$work/enrichd.log"; then
	check_fail "the sanitizer reported: $(grep -c 'WARNING: ThreadSanitizer' "$work/enrichd.log") TSan warnings"
fi
checks_done tail -30 "$work/enrichd.log"
echo "updater_storm: $changes changes against $events events: no mixed version, final state after"
