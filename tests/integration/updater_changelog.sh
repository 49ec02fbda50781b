#!/usr/bin/env bash
# A dimension whose only source is a changelog topic (users, UInt64 keys), with snapshots:
#  - malformed changes are dead letters with their reasons (not JSON, a key that is not a
#    UInt64, a value that does not convert) and the rest is applied;
#  - a change is visible to events within 1 s of being produced (20 changes, the slowest one);
#  - enrichd SIGKILLed during a storm of changes restarts from its last snapshot and the
#    changelog's offsets in it, and its table ends equal to the topic's final state (every
#    key joined once by a last batch of events, compared both ways).
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
users=10000 storm=50000

lib_broker_start clickstream,users_cl 4
"$bin/enrichd-gen-dims" --out "$work/dims" --users 10 --devices 10 --urls 10 --seed 5 2>/dev/null
"$bin/enrichd-gen-dims" --out "$work/probe-dims" --users 1 --devices 1 --urls 1 --seed 5 2>/dev/null
produce_changes() { kcat -P -b "$BROKERS" -t users_cl -K $'\t' -Z -l "$1"; }
probe=$(sed -n '2s/\t.*//p' "$work/probe-dims/users.tsv")

python3 - "$work" $users $storm "$probe" <<'PY'
import json, random, sys
work, users, storm, probe = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(3)
def row(v):
    return json.dumps({"country": f"c{v}", "plan": f"p{v}", "signup_date": f"{2000 + v % 100}-01-01"})
state = {}
with open(f"{work}/initial.txt", "w") as f:
    for u in range(1, users + 1):
        state[u] = 0
        f.write(f"{u}\t{row(0)}\n")
with open(f"{work}/storm.txt", "w") as f:
    for _ in range(storm):
        u = rng.randint(1, users + 500)
        if rng.random() < 0.05:
            state.pop(u, None)
            f.write(f"{u}\t\n")
        else:
            v = state.get(u, 0) + 1
            state[u] = v
            f.write(f"{u}\t{row(v)}\n")
state[probe] = 1020 # the visibility probe's last version
with open(f"{work}/final.tsv", "w") as f:
    for u, v in sorted(state.items()):
        f.write(f"{u}\tc{v}\tp{v}\t{2000 + v % 100}-01-01\n")
PY
produce_changes "$work/initial.txt"
printf 'abc\t{"country":"x"}\n5\tnot json\n7\t{"signup_date":"not a date"}\n7\t{"country":"c0","plan":"p0","signup_date":"2000-01-01"}\n' >"$work/bad.txt"
produce_changes "$work/bad.txt"

lib_config "$work/e.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "
[dimension users]
~source
changelog_topic = users_cl
[dimensions]
snapshot_dir = $work/snap
snapshot_interval = 1s
[metrics]
listen = 127.0.0.1:0"
start_enrichd() {
	lib_spawn "$bin/enrichd" --config "$work/e.ini" 2>>"$work/enrichd.log"
	enrichd_pid=${lib_pids[-1]}
}
start_enrichd
lib_wait_log "$work/enrichd.log" "changelog users_cl caught up" 60
lib_wait_log "$work/enrichd.log" "partitions assigned" 60
url=$(lib_metrics_url "$work/enrichd.log")

# Visibility: the probe user (the generator's first user key, every event of a 1-user run)
# changes 20 times, 1 s apart, while events for it flow at 200/s; the first event joined with a
# version shows when it became visible (an upper bound: it includes producing the change).
lib_spawn "$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --seed 5 --users 1 \
	--devices 1 --urls 1 --rate 200 --count 10000 --start-ms 1735689600000 --spread-ms 1000
gen_pid=${lib_pids[-1]}
for v in $(seq 1001 1020); do
	t0=$(date +%s%3N)
	printf '%s\t{"country":"c%d","plan":"p%d","signup_date":"%d-01-01"}\n' "$probe" $v $v \
		$((2000 + v % 100)) | kcat -P -b "$BROKERS" -t users_cl -K $'\t'
	echo "$v $t0" >>"$work/probes.txt"
	sleep 1
done
kill -TERM "$gen_pid"

# The storm, and a SIGKILL in its middle; the restart resumes from the snapshot.
produce_changes "$work/storm.txt" &
storm_pid=$!
sleep 2
kill -KILL "$enrichd_pid"
wait "$storm_pid"
start_enrichd
lib_wait_log "$work/enrichd.log" "from the offsets of the snapshot written" 60 ||
	check_fail "the restart did not resume from the snapshot"
metric() { curl -sf "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
url=$(tail -n +"$(grep -n 'serving /metrics' "$work/enrichd.log" | tail -1 | cut -d: -f1)" \
	"$work/enrichd.log" | sed -n 's|.*serving /metrics.* on \(http://127\.0\.0\.1:[0-9]*\).*|\1|p' | head -1)
for _ in $(seq 300); do
	[ "$(metric 'enrichd_dimension_changelog_lag_messages{dimension="users"}')" = 0 ] && break
	sleep 0.2
done
sleep 1
awk -v n=$((users + 500)) -v probe="$probe" 'BEGIN { for (u = 0; u <= n; u++)
	printf "{\"timestamp\":\"2025-01-01T01:00:00Z\",\"user_id\":%s,\"url\":\"u\",\"device_id\":\"d\"}\n", u ? u : probe }' \
	>"$work/last.txt"
kcat -P -b "$BROKERS" -t clickstream -l "$work/last.txt"
for _ in $(seq 120); do
	n=$(ch "SELECT count() FROM file('$work/out/**/*.native', 'Native') WHERE event_time >= '2025-01-01 01:00:00' SETTINGS use_hive_partitioning = 0" 2>/dev/null || echo 0)
	[ "$n" -ge $((users + 501)) ] && break
	sleep 1
done
kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || check_fail "enrichd exited non-zero: $(tail -5 "$work/enrichd.log")"

cat >"$work/check.sql" <<SQL
CREATE TABLE seg ENGINE = Memory AS SELECT * FROM file('$work/out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0;
CREATE TABLE probes ENGINE = Memory AS SELECT * FROM file('$work/probes.txt', 'TSV', 'line String');
SELECT 'visible_ms', count(), max(ms), quantileExact(0.5)(ms) FROM (
	SELECT v, min(kt) - any(t0) AS ms
	FROM (SELECT toUInt32(splitByChar(' ', line)[1]) AS v, toInt64(splitByChar(' ', line)[2]) AS t0 FROM probes) AS p
	JOIN (SELECT toUInt32OrZero(substring(toString(country), 2)) AS v, toUnixTimestamp64Milli(_kafka_time) AS kt
	      FROM seg WHERE user_id = $probe AND event_time < '2025-01-01 01:00:00') AS s USING v
	GROUP BY v);
CREATE TABLE fin ENGINE = Memory AS SELECT * FROM file('$work/final.tsv', 'TSV', 'user_id UInt64, country String, plan String, signup_date Date');
CREATE TABLE last ENGINE = Memory AS SELECT user_id, toString(country) AS country, toString(plan) AS plan, assumeNotNull(signup_date) AS signup_date FROM seg WHERE event_time >= '2025-01-01 01:00:00' AND country IS NOT NULL;
SELECT 'final_missing', count() FROM (SELECT * FROM fin EXCEPT ALL SELECT * FROM last);
SELECT 'final_unexpected', count() FROM (SELECT * FROM last EXCEPT ALL SELECT * FROM fin);
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl/*.changelog-deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'dead_letters', count(), countIf(error = 'changelog_key' AND raw = '{"country":"x"}'), countIf(error = 'changelog_json' AND offset >= 0), countIf(error = 'changelog_value' AND reason LIKE '%signup_date%') FROM dl;
SQL
ch_results "$work/check.sql"
check "probes seen" "$(val visible_ms 2)" 20
[ "$(val visible_ms 3)" -le 1000 ] || check_fail "a change took $(val visible_ms 3) ms to be visible (over 1 s)"
check "final rows missing" "$(val final_missing 2)" 0
check "rows not final" "$(val final_unexpected 2)" 0
check "dead letters" "$(val dead_letters 2)" 3
check "dead letter: key of the wrong type" "$(val dead_letters 3)" 1
check "dead letter: not JSON" "$(val dead_letters 4)" 1
check "dead letter: a value that does not convert" "$(val dead_letters 5)" 1
checks_done tail -30 "$work/enrichd.log"
echo "updater_changelog: dead letters, visible in $(val visible_ms 3) ms at worst, restart from the snapshot ends final"
