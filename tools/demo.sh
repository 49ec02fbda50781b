#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, starts the embedded
# Kafka broker (12 partitions), generates demo dimensions (1M users, 1M devices, 100K URLs) and
# events, runs enrichd with one worker per core while the events are produced, waits until every
# event is sealed or dead-lettered, stops enrichd (SIGTERM: seal, commit, leave the group) and
# shows the result as ClickHouse reads the segments. Everything it makes is under var/demo/.
#   DEMO_EVENTS=N  events to produce (default 300000)
#   --pg           the users and devices dimensions in PostgreSQL: a cluster of its own under
#                  var/demo/pg (tools/lib.sh, lib_pg_start), loaded from the generated files,
#                  and read by enrichd through COPY; users follows the table's changes
#                  (update_field), and a few of them change while the events flow
#   --avro         the events in Avro (Confluent wire format) instead of JSON: the test schema
#                  registry (tests/registry/registry.js) is started, the independent producer
#                  (tests/registry/produce.js: avsc, @kafkajs/confluent-schema-registry) writes
#                  the events, kcat sends them, enrichd reads them as `format = avro-confluent`
#                  (default DEMO_EVENTS 20000: kcat sends one file per message)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/setup.sh
tools/build.sh build
source tools/lib.sh
trap lib_cleanup EXIT

with_pg=0 with_avro=0
[ "${1:-}" = --pg ] && with_pg=1
[ "${1:-}" = --avro ] && with_avro=1
events=${DEMO_EVENTS:-$([ "$with_avro" = 1 ] && echo 20000 || echo 300000)}
work=$top/var/demo
rm -rf "$work"
mkdir -p "$work"
bin=$ENRICHD_BUILD_DIR

# --avro: the registry, the users' ids made exact for JavaScript (below 2^53: the producer's
# records are JSON), the events encoded by the producer and split into one file per message
# and partition for kcat. Sets REG_URL.
avro_prepare() {
	lib_registry_start
	echo "   registry: $REG_URL"
	python3 - "$work" "$events" <<'PY'
import json, os, random, sys, uuid
work, events = sys.argv[1], int(sys.argv[2])
random.seed(42)
path = f"{work}/dims/users.tsv"
lines = open(path).read().splitlines()
with open(path, "w") as f:
    f.write(lines[0] + "\n")
    for n, line in enumerate(lines[1:]):
        f.write("\t".join([str(1000 + 7 * n)] + line.split("\t")[1:]) + "\n")
def column(name, col):
    with open(f"{work}/dims/{name}.tsv") as f:
        head = f.readline().rstrip("\n").split("\t")
        return [line.rstrip("\n").split("\t")[head.index(col)] for line in f]
users, devices, urls = column("users", "user_id"), column("devices", "device_id"), column("urls", "url")
import time
base = int(time.time() * 1000) - 3600000
out = []
for i in range(events):
    out.append({"ts": base + i * 3600000 // events,
                "user_id": int(random.choice(users)) if random.random() > 0.02 else 2**50 + i,
                "device_id": random.choice(devices) if random.random() > 0.02 else "missing-%d" % i,
                "page": {"url": random.choice(urls), "referrer": None if i % 3 else "https://ref.example/%d" % i},
                "kind": random.choice(["VIEW", "CLICK", "BUY"]),
                "session": str(uuid.UUID(int=random.getrandbits(128))),
                "tags": random.sample(["new", "sale", "gift"], i % 3),
                "price": None if i % 4 else round(random.random() * 100, 2)})
json.dump(out, open(f"{work}/events.json", "w"))
PY
	cat >"$work/click.avsc" <<'EOF'
{"type":"record","name":"Click","namespace":"demo","fields":[
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"user_id","type":"long"},
 {"name":"device_id","type":"string"},
 {"name":"page","type":{"type":"record","name":"Page","fields":[
   {"name":"url","type":"string"},{"name":"referrer","type":["null","string"],"default":null}]}},
 {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["VIEW","CLICK","BUY"]}},
 {"name":"session","type":{"type":"string","logicalType":"uuid"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"price","type":["null","double"],"default":null}
]}
EOF
	node "$top/tests/registry/produce.js" --registry "$REG_URL" --subject clickstream-value \
		--schema "$work/click.avsc" --records "$work/events.json" --hex "$work/events.hex" >/dev/null
	python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
for i, h in enumerate(open(f"{work}/events.hex").read().split()):
    d = f"{work}/msg/{i % 12}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/{i:08d}", "wb").write(bytes.fromhex(h))
PY
}

echo "== generating dimensions (1M users, 1M devices, 100K urls)"
"$bin/enrichd-gen-dims" --out "$work/dims" --users 1000000 --devices 1000000 --urls 100000 --seed 42
echo "== starting the embedded Kafka broker"
lib_broker_start clickstream 12
echo "   bootstrap: $BROKERS"
pg_ini=""
if [ "$with_pg" = 1 ]; then
	echo "== starting PostgreSQL and loading users and devices into it"
	lib_pg_start
	pg "CREATE TABLE users (user_id numeric(20) PRIMARY KEY, country text, plan text,
		signup_date date, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
	    CREATE INDEX ON users (updated_at);
	    CREATE TABLE devices (device_id text PRIMARY KEY, device_type text, os text, browser text)"
	psql -qc "\\copy users (user_id, country, plan, signup_date) FROM '$work/dims/users.tsv' WITH (FORMAT text, HEADER true)"
	psql -qc "\\copy devices FROM '$work/dims/devices.tsv' WITH (FORMAT text, HEADER true)"
	pg "ANALYZE users; ANALYZE devices"
	echo "$PGPASSWORD" >"$work/pg.password"
	chmod 600 "$work/pg.password"
	pg_ini="
[dimension users]
~source
postgresql = host=127.0.0.1 port=$PGPORT dbname=postgres user=postgres
password_file = $work/pg.password
table = users
update_field = updated_at
[dimension devices]
~source
postgresql = host=127.0.0.1 port=$PGPORT dbname=postgres user=postgres
password_file = $work/pg.password
table = devices"
fi
avro_ini=""
if [ "$with_avro" = 1 ]; then
	echo "== starting the test schema registry; writing $events Avro events with the producer"
	avro_prepare
	avro_ini="
[event]
format = avro-confluent
time_field = event_time
field.event_time = DateTime64(3, 'UTC') from ts
field.user_id = UInt64
field.device_id = String
field.url = String from page.url
field.referrer = Nullable(String) from page.referrer
field.kind = LowCardinality(String)
field.session_id = UUID from session
field.tags = Array(String)
field.price = Nullable(Float64)
[registry]
urls = $REG_URL"
fi
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dead-letter" "$BROKERS" auto "$pg_ini$avro_ini"
"$bin/enrichd" --config "$work/enrichd.ini" --check
echo "== running enrichd (log: var/demo/enrichd.log)"
lib_spawn "$bin/enrichd" --config "$work/enrichd.ini" 2>"$work/enrichd.log"
enrichd_pid=${lib_pids[-1]}
lib_wait_log "$work/enrichd.log" "partitions assigned" 60
# Produced at a steady rate while enrichd consumes: the embedded broker keeps only ~5 MB per
# partition, so a burst far ahead of the consumer would be dropped by the broker.
start=$(date +%s.%N)
if [ "$with_avro" = 1 ]; then
	echo "== sending the $events Avro events with kcat (12 partitions)"
	for p in $(seq 0 11); do
		[ -d "$work/msg/$p" ] || continue
		find "$work/msg/$p" -type f | sort | xargs kcat -P -b "$BROKERS" -t clickstream -p "$p"
	done
else
	echo "== producing $events events at 100K/s (2% of keys missing per dimension, 0.1% malformed)"
	"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --count "$events" --rate 100000 --seed 42 \
		--users 1000000 --devices 1000000 --urls 100000 --miss-users 0.02 --miss-devices 0.02 \
		--miss-urls 0.02 --malformed 0.001 --variety --start-ms "$(($(date +%s) * 1000 - 3600000))"
fi
if [ "$with_pg" = 1 ]; then
	# Users change while the events flow: enrichd applies them within a second.
	pg "UPDATE users SET plan = 'enterprise', updated_at = clock_timestamp()
	    WHERE user_id IN (SELECT user_id FROM users ORDER BY user_id LIMIT 1000)"
fi
lib_wait_sealed "$work/out" "$work/dead-letter" "$events" 300
end=$(date +%s.%N)
kill -TERM "$enrichd_pid"
wait "$enrichd_pid"
echo
echo "== enrichd's summary"
grep -E "summary:|worker.*done" "$work/enrichd.log" | sed 's/^/   /'
segments=$(find "$work/out" -name '*.native' | wc -l)
dead=$(cat "$work"/dead-letter/*.deadletter.tsv 2>/dev/null | wc -l)
awk -v n="$events" -v s="$start" -v e="$end" -v seg="$segments" -v dl="$dead" 'BEGIN {
	printf "   %d events produced and sealed in %.1f s (%.0f events/s end to end), %d segments, %d dead letters\n",
	       n, e - s, n / (e - s), seg, dl }'
echo
echo "== a sample of enriched rows, as ClickHouse reads var/demo/out/**/*.native"
"$CHQ" "SELECT event_time, user_id, device_id, url, country, plan, device_type, os, category, _partition, _offset
        FROM file('$work/out/**/*.native', 'Native') ORDER BY _partition, _offset LIMIT 8 FORMAT PrettyCompactMonoBlock"
echo
echo "== join hit rate per dimension"
"$CHQ" "SELECT count() AS rows, round(100 * countIf(country IS NOT NULL) / count(), 2) AS users_hit_pct,
               round(100 * countIf(device_type IS NOT NULL) / count(), 2) AS devices_hit_pct,
               round(100 * countIf(category IS NOT NULL) / count(), 2) AS urls_hit_pct,
               uniqExact(_partition, _offset) AS distinct_offsets
        FROM file('$work/out/**/*.native', 'Native') FORMAT PrettyCompactMonoBlock"
echo
echo "== events by country and device type (top 10)"
"$CHQ" "SELECT country, device_type, count() AS events, uniqExact(user_id) AS users
        FROM file('$work/out/**/*.native', 'Native') WHERE country IS NOT NULL
        GROUP BY country, device_type ORDER BY events DESC LIMIT 10 FORMAT PrettyCompactMonoBlock"
echo
echo "== dead letters by reason"
"$CHQ" "SELECT error, count() AS messages, any(reason) AS example
        FROM file('$work/dead-letter/*.deadletter.tsv', 'TSV', 'topic String, partition Int32, offset Int64, error String, reason String, raw String')
        GROUP BY error ORDER BY messages DESC FORMAT PrettyCompactMonoBlock" || true
