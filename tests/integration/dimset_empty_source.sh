#!/usr/bin/env bash
# A dimension source with a header and no row used to load as an empty table without a word:
# every lookup then missed. Now it is logged, and [dimension] allow_empty = false refuses it:
#   1. allowed (the default): enrichd runs, and its log says the table is empty;
#   2. refused: enrichd does not start, and says why;
#   3. refused on a reload: the reload fails (counted), and the rows keep the set in use.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

"$bin/enrichd-gen-dims" --out "$work/dims" --users 2000 --devices 2000 --urls 500 --seed 21 2>/dev/null
"$bin/enrichd-gen-events" --out "$work/events.jsonl" --count 200 --seed 21 --users 2000 \
	--devices 2000 --urls 500 2>/dev/null
cp "$work/dims/users.tsv" "$work/users.full"
head -n 1 "$work/users.full" >"$work/users.empty"

# 1. Allowed: a warning.
cp "$work/users.empty" "$work/dims/users.tsv"
lib_config "$work/allowed.ini" "$work/dims" "$work/out1" "$work/dl1" 127.0.0.1:9 0
lib_enrichd_input "$work/allowed.ini" "$work/events.jsonl" "$work/1.log"
grep -q "warn  dim: users: .* has no row" "$work/1.log" || check_fail "1: no warning of the empty table"

# 2. Refused at start.
lib_config "$work/refused.ini" "$work/dims" "$work/out2" "$work/dl2" 127.0.0.1:9 0 "[dimension users]
allow_empty = false"
rc=0
"$bin/enrichd" --config "$work/refused.ini" --input "$work/events.jsonl" 2>"$work/2.log" || rc=$?
[ "$rc" -ne 0 ] || check_fail "2: enrichd started with an empty users source refused"
grep -q "holds no row, and allow_empty = false" "$work/2.log" || check_fail "2: the refusal is not said"

# 3. Refused on a reload: the set in use stays.
cp "$work/users.full" "$work/dims/users.tsv"
lib_broker_start clickstream 2
lib_config "$work/kafka.ini" "$work/dims" "$work/out3" "$work/dl3" "$BROKERS" 0 "[dimension users]
allow_empty = false
[metrics]
listen = 127.0.0.1:0"
lib_enrichd_start "$work/kafka.ini" "$work/3.log"
pid=$lib_enrichd_pid
url=$(lib_metrics_url "$work/3.log")
cp "$work/users.empty" "$work/dims/users.tsv.new"
mv "$work/dims/users.tsv.new" "$work/dims/users.tsv"
kill -HUP "$pid"
lib_wait_log "$work/3.log" "reload failed" 30 || check_fail "3: the reload of an empty source did not fail"
"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 2 --count 200 \
	--seed 21 --users 2000 --devices 2000 --urls 500 2>/dev/null
lib_wait_sealed "$work/out3" "$work/dl3" 200 60
failures=$(curl -sf "$url/metrics" | awk '$1 == "enrichd_dimension_reload_failures_total" { print $2 }')
kill -TERM "$pid"
wait "$pid" || check_fail "3: enrichd exited non-zero"
check "3: failed reloads" "$failures" 1
hits=$(ch "SELECT countIf(country IS NOT NULL) FROM file('$work/out3/**/*.native', 'Native')")
check "3: rows joined with the users in use" "$hits" 200
checks_done tail -n 5 "$work/1.log" "$work/2.log" "$work/3.log"
echo "dimset_empty_source: an empty source is warned of, and refused with allow_empty = false"
