#!/usr/bin/env bash
# The Prometheus endpoint end to end: enrichd consumes a few thousand events (some malformed, some
# with missing user keys) from the embedded broker while /metrics is scraped. The scrape must pass
# `promtool check metrics` without a lint remark; once everything is sealed its counters must
# equal what was produced (events, sealed rows, dead letters = decode errors = dead-letter file
# lines, latency histogram count = sealed rows) and the lag of every assigned partition must be 0.
# /readyz is 200 while running, /healthz 200, other paths 404.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=5000
partitions=4

"$bin/enrichd-gen-dims" --out "$work/dims" --users 5000 --devices 5000 --urls 1000 --seed 11 \
	2>/dev/null
lib_broker_start clickstream $partitions
# Port 0: the kernel picks a free port, which enrichd logs.
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 \
	"[metrics]
listen = 127.0.0.1:0"

lib_enrichd_start "$work/enrichd.ini" "$work/enrichd.log"
enrichd_pid=$lib_enrichd_pid
url=$(lib_metrics_url "$work/enrichd.log") || fail "no metrics address in the log"

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# Sum of the samples of one metric (all label sets): sum NAME FILE.
sum() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d", s }' "$2"; }

ready=000
for _ in $(seq 50); do
	ready=$(status "$url/readyz")
	[ "$ready" = 200 ] && break
	sleep 0.1
done
check "/readyz while running" "$ready" 200
check "/healthz while running" "$(curl -s "$url/healthz")" ok
check "/ is not served" "$(status "$url/")" 404
check "POST is refused" "$(status -X POST "$url/metrics")" 405
check "HEAD /metrics" "$(status -I "$url/metrics")" 200

"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions $partitions \
	--count $events --seed 11 --users 5000 --devices 5000 --urls 1000 --miss-users 0.05 \
	--malformed 0.02 --variety --manifest "$work/manifest.tsv" 2>/dev/null
malformed=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "malformed") c = i }
	NR > 2 && $c == 1 { n++ } END { printf "%d", n }' "$work/manifest.tsv")
lib_wait_sealed "$work/out" "$work/dl" $events 120

# Scrape until the counters settle: every event counted, every assigned partition's lag at 0.
settled=0
for _ in $(seq 60); do
	curl -sf "$url/metrics" >"$work/metrics.txt"
	assigned=$(sum enrichd_kafka_assigned_partitions "$work/metrics.txt")
	lags=$(grep -c '^enrichd_kafka_consumer_lag_messages{' "$work/metrics.txt" || true)
	if [ "$(sum enrichd_worker_events_total "$work/metrics.txt")" = $events ] &&
		[ "$assigned" = $partitions ] && [ "$lags" = $partitions ] &&
		[ "$(sum enrichd_kafka_consumer_lag_messages "$work/metrics.txt")" = 0 ]; then
		settled=1
		break
	fi
	sleep 1
done
[ $settled = 1 ] || check_fail "the metrics did not settle: $(grep -E \
	'^enrichd_(worker_events_total|kafka_)' "$work/metrics.txt")"

promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 ||
	check_fail "promtool check metrics failed"
[ ! -s "$work/promtool.txt" ] || check_fail "promtool lint: $(cat "$work/promtool.txt")"

m=$work/metrics.txt
dl_lines=$(cat "$work"/dl/*.deadletter.tsv 2>/dev/null | wc -l)
check "events" "$(sum enrichd_worker_events_total "$m")" $events
check "rows appended" "$(sum enrichd_worker_rows_appended_total "$m")" $((events - malformed))
check "rows sealed" "$(sum enrichd_worker_rows_sealed_total "$m")" $((events - malformed))
check "dead letters" "$(sum enrichd_worker_dead_letters_total "$m")" "$malformed"
check "dead-letter file lines" "$dl_lines" "$malformed"
check "decode errors" "$(sum enrichd_worker_decode_errors_total "$m")" "$malformed"
check "latency histogram count" "$(sum enrichd_event_seal_latency_seconds_count "$m")" \
	$((events - malformed))
check "latency +Inf bucket" "$(awk '$1 == "enrichd_event_seal_latency_seconds_bucket{le=\"+Inf\"}" \
	{ print $2 }' "$m")" $((events - malformed))
users_lookups=$(awk '/^enrichd_worker_join_lookups_total\{.*dimension="users"/ { s += $2 }
	END { printf "%d", s }' "$m")
users_misses=$(awk '/^enrichd_worker_join_misses_total\{.*dimension="users"/ { s += $2 }
	END { printf "%d", s }' "$m")
check "user lookups = rows" "$users_lookups" $((events - malformed))
[ "$users_misses" -gt 0 ] || check_fail "no user miss counted"
check "users rows" "$(sum 'enrichd_dimension_rows{dimension="users"}' "$m")" 5000
check "one page mode per dimension" "$(sum enrichd_dimension_huge_pages "$m")" 3
check "write errors" "$(sum enrichd_worker_write_errors_total "$m")" 0
check "ready" "$(sum enrichd_engine_ready "$m")" 1
grep -q '^enrichd_build_info{version="[0-9.]*",' "$m" || check_fail "no build_info"
for p in $(seq 0 $((partitions - 1))); do
	hw=$(sum "enrichd_kafka_high_watermark_offset{partition=\"$p\"}" "$m")
	co=$(sum "enrichd_kafka_committed_offset{partition=\"$p\"}" "$m")
	check "partition $p committed = high watermark" "$co" "$hw"
done

# The documentation's alert rules and dashboard: valid PromQL that names only metrics that exist.
docs=$ENRICHD_SOURCE_DIR/docs
awk '/^### Alert rules/ { a = 1 } a && /^```yaml$/ { y = 1; next } y && /^```$/ { exit } y' \
	"$docs/OPERATIONS.md" >"$work/alerts.yml"
[ -s "$work/alerts.yml" ] || check_fail "no alert rules in OPERATIONS.md"
promtool check rules "$work/alerts.yml" >"$work/rules.txt" 2>&1 ||
	check_fail "alert rules: $(cat "$work/rules.txt")"
python3 - "$docs/grafana-dashboard.json" >"$work/dashboard.yml" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schemaVersion"] >= 36 and d["panels"], "not a dashboard"
print("groups:\n  - name: dashboard\n    rules:")
n = 0
for p in d["panels"]:
    for t in p.get("targets", []):
        e = t["expr"].replace("$__rate_interval", "5m").replace("$instance", ".*")
        print(f"      - record: dashboard:expr{n}\n        expr: {json.dumps(e)}")
        n += 1
assert n >= 20, f"only {n} queries"
PY
	check_fail "dashboard JSON"
promtool check rules "$work/dashboard.yml" >"$work/rules.txt" 2>&1 ||
	check_fail "dashboard queries: $(cat "$work/rules.txt")"
for name in $(cat "$work/alerts.yml" "$work/dashboard.yml" | grep -o 'enrichd_[a-z0-9_]*' |
	sed -E 's/_(bucket|sum|count)$//' | sort -u); do
	grep -q "^# TYPE $name " "$m" || check_fail "the docs use $name, not exported"
done

kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || check_fail "enrichd exited non-zero"
grep -q "summary:" "$work/enrichd.log"
checks_done tail -n +1 "$m" "$work/enrichd.log"
echo "metrics_endpoint: $events events, $malformed dead letters, lag 0 on $partitions partitions," \
	"promtool clean"
