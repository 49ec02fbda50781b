#!/usr/bin/env bash
# PostgreSQL failures: enrichd does not start without its database (a clear error, at once); a
# load past statement_timeout fails; PostgreSQL stopped during a full reload fails that reload
# (logged, counted) and the table in use stays, and the next reload succeeds; PostgreSQL
# stopped while a live dimension's changes are read: the failure is logged once and counted,
# the table stays, and once the database is back the reads resume and a change made meanwhile
# is applied; SIGTERM during a reload ends enrichd within seconds.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

lib_pg_start
lib_broker_start clickstream 2
"$bin/enrichd-gen-dims" --out "$work/dims" --users 10 --devices 10 --urls 10 --seed 5 2>/dev/null
# users_slow: each row takes 1 ms to produce, so a load of it takes about 3 s.
pg "CREATE TABLE users (user_id bigint PRIMARY KEY, country text, plan text, signup_date date,
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
    INSERT INTO users (user_id, country, plan, signup_date)
	SELECT g, 'c' || g % 7, 'p0', date '2020-01-01' FROM generate_series(1, 3000) g;
    CREATE VIEW users_slow AS SELECT u.* FROM users u, LATERAL (SELECT pg_sleep(0.001 + 0 * u.user_id)) s"

config() { # FILE TABLE EXTRA
	lib_config "$1" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "
[dimension users]
~source
postgresql = $PG_URL
table = $2
attr.country = LowCardinality(String)
attr.plan = LowCardinality(String)
attr.signup_date = Date
$3
[metrics]
listen = 127.0.0.1:0"
}
metric() { curl -sf "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# No database: enrichd says so and does not start, at once.
config "$work/down.ini" users "connect_timeout = 2s"
sed -i "s/port=\?$PGPORT/port=1/; s/:$PGPORT\//:1\//" "$work/down.ini"
start=$(date +%s)
if "$bin/enrichd" --config "$work/down.ini" --input /dev/null 2>"$work/down.log"; then
	check_fail "enrichd started without its database"
fi
grep -q "users: load failed: postgresql table users (.*port=1.*): cannot connect" "$work/down.log" ||
	check_fail "no connection error: $(grep -m1 'load failed' "$work/down.log")"
[ $(($(date +%s) - start)) -le 10 ] || check_fail "enrichd took over 10 s to give up"

# A load past statement_timeout fails.
config "$work/timeout.ini" users_slow "statement_timeout = 1s"
if "$bin/enrichd" --config "$work/timeout.ini" --input /dev/null 2>"$work/timeout.log"; then
	check_fail "a load past statement_timeout succeeded"
fi
grep -q "users: load failed: .*statement timeout" "$work/timeout.log" ||
	check_fail "no statement timeout: $(grep -m1 'load failed' "$work/timeout.log")"

# PostgreSQL stopped during a full reload: the reload fails, the table stays.
config "$work/e.ini" users_slow ""
lib_spawn "$bin/enrichd" --config "$work/e.ini" 2>"$work/e.log"
pid=${lib_pids[-1]}
url=$(lib_metrics_url "$work/e.log")
kill -HUP "$pid"
lib_wait_log "$work/e.log" "SIGHUP: reloading" 10
sleep 1
lib_pg_stop
lib_wait_log "$work/e.log" "reload failed" 30 || check_fail "no failed reload logged"
check "reload failures" "$(metric enrichd_dimension_reload_failures_total)" 1
check "rows in use after the failed reload" "$(metric 'enrichd_dimension_rows{dimension="users"}')" 3000
lib_pg_restart
kill -HUP "$pid"
lib_wait_log "$work/e.log" "reload: dimension set 2 in use" 60 || check_fail "no reload after the restart"
check "reloads" "$(metric enrichd_dimension_reloads_total)" 1

# SIGTERM during a reload: enrichd ends within seconds.
kill -HUP "$pid"
sleep 0.5
start=$(date +%s)
kill -TERM "$pid"
wait "$pid" || check_fail "enrichd exited non-zero after SIGTERM during a reload"
[ $(($(date +%s) - start)) -le 5 ] || check_fail "SIGTERM during a reload took over 5 s"

# A live dimension while PostgreSQL is down: logged once, counted, resumed, caught up.
config "$work/live.ini" users "update_field = updated_at
update_interval = 200ms
update_overlap = 2s"
lib_spawn "$bin/enrichd" --config "$work/live.ini" 2>"$work/live.log"
url=$(lib_metrics_url "$work/live.log")
lib_pg_stop
sleep 2
lib_pg_restart
pg "UPDATE users SET country = 'changed', updated_at = clock_timestamp() WHERE user_id = 42"
lib_wait_log "$work/live.log" "reading changes again" 30 || check_fail "reads did not resume"
check "read failures logged" "$(grep -c 'reading changes failed' "$work/live.log")" 1
[ "$(metric 'enrichd_dimension_change_read_failures_total{dimension="users"}')" -ge 1 ] ||
	check_fail "read failures not counted"
for _ in $(seq 50); do
	[ "$(metric 'enrichd_dimension_upserts_total{dimension="users"}')" -ge 1 ] && break
	sleep 0.2
done
[ "$(metric 'enrichd_dimension_upserts_total{dimension="users"}')" -ge 1 ] ||
	check_fail "the change made while the database was down was not applied"
checks_done tail -20 "$work/live.log"
echo "dim_pg_faults: start, timeout, reload and live reads survive PostgreSQL failures"
