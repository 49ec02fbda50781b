#!/usr/bin/env bash
# A schema id the registry cannot answer yet holds only its own partitions. One worker reads the
# four partitions of the topic; the registry goes down (503, SIGUSR1) just after a new writer
# version is registered; messages of the new id go to partitions 0 and 1, of the known id to 2
# and 3. Proves: rows of partitions 2 and 3 are sealed during the outage (the worker goes on)
# while nothing of 0 and 1 past the new id is; nothing is dead-lettered for the outage; once the
# registry is back every message is a row exactly once, and the rows equal ClickHouse's
# AvroConfluent reading of each partition's messages (the key and the header included).
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
command -v kcat >/dev/null || lib_skip "kcat is not installed"
command -v python3 >/dev/null || lib_skip "python3 is not installed"

lib_registry_start
reg_pid=$REG_PID

"$bin/enrichd-gen-dims" --out "$work/dims" --users 500 --devices 500 --urls 200 --seed 9
lib_broker_start clickstream 4

cat >"$work/v1.avsc" <<'EOF'
{"type":"record","name":"Click","namespace":"test","fields":[
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"user_id","type":"int"},
 {"name":"device_id","type":"string"},
 {"name":"page","type":{"type":"record","name":"Page","fields":[{"name":"url","type":"string"}]}},
 {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["VIEW","CLICK"]}}
]}
EOF
# v2: user_id promoted to long, a field added with a default
sed -e 's/"name":"user_id","type":"int"/"name":"user_id","type":"long"/' \
	-e 's/^\]}$/,{"name":"plan","type":"string","default":"free"}]}/' "$work/v1.avsc" >"$work/v2.avsc"
# records NAME FIRST COUNT [plan]: a JSON array of COUNT records from index FIRST
records() {
	python3 - "$work" "$@" <<'PY'
import json, random, sys
work, name, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
random.seed(first)
def column(path, col):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [line.rstrip("\n").split("\t")[head.index(col)] for line in f]
devices = column(f"{work}/dims/devices.tsv", "device_id")
urls = column(f"{work}/dims/urls.tsv", "url")
out = []
for i in range(first, first + count):
    r = {"ts": 1767261600000 + i * 1000, "user_id": i % 50000,
         "device_id": random.choice(devices) if i % 5 else "nope-%d" % i,
         "page": {"url": random.choice(urls)}, "kind": ["VIEW", "CLICK"][i % 2]}
    if len(sys.argv) > 5:
        r["plan"] = sys.argv[5]
    out.append(r)
with open(f"{work}/{name}.json", "w") as f:
    json.dump(out, f)
PY
}
# produce NAME SCHEMA: encodes NAME.json into NAME.hex, prints the schema id
produce() {
	node "$src/tests/registry/produce.js" --registry "$REG_URL" --subject clickstream-value \
		--schema "$2" --records "$work/$1.json" --hex "$work/$1.hex"
}
# send NAME PARTITION...: NAME.hex's messages round-robin to the partitions, key k<partition>,
# header src=test (kcat sends each file as one binary message, in the order given)
send() {
	local name=$1
	shift
	python3 - "$work" "$name" "$@" <<'PY'
import os, sys
work, name, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(f"{work}/{name}.hex").read().split()
for p in parts:
    os.makedirs(f"{work}/msg/{name}/{p}", exist_ok=True)
for i, h in enumerate(lines):
    p = parts[i % len(parts)]
    with open(f"{work}/msg/{name}/{p}/{i:06d}", "wb") as f:
        f.write(bytes.fromhex(h))
PY
	local p
	for p in "$@"; do
		timeout 60 kcat -P -b "$BROKERS" -t clickstream -p "$p" -k "k$p" -H src=test \
			"$work/msg/$name/$p"/* 2>>"$work/kcat.err" || fail "kcat: $(tail -n3 "$work/kcat.err")"
	done
}
# rows_of PARTITIONS: sealed rows of those partitions ("0,1")
rows_of() {
	compgen -G "$work/out/dt=*/hour=*/*.native" >/dev/null || { echo 0; return; }
	ch "SELECT count() FROM file('$work/out/**/*.native', 'Native') WHERE _partition IN ($1)
		SETTINGS use_hive_partitioning = 0"
}

records a 0 400
id1=$(produce a "$work/v1.avsc")

ini_extra="[event]
format = avro-confluent
time_field = event_time
metadata = _topic, _partition, _offset, _key, _headers
field.event_time = DateTime64(3, 'UTC') from ts
field.user_id = UInt64
field.device_id = String
field.url = String from page.url
field.kind = LowCardinality(String)
[registry]
urls = $REG_URL
backoff_min = 100ms
backoff_max = 500ms
[metrics]
listen = 127.0.0.1:0"
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0 "$ini_extra"
lib_spawn "$bin/enrichd" --config "$work/enrichd.ini" 2>"$work/enrichd.log"
enrichd_pid=${lib_pids[-1]}
lib_wait_log "$work/enrichd.log" "partitions assigned" 60

send a 0 1 2 3
lib_wait_sealed "$work/out" "$work/dl" 400 120

# A new writer version registered; then the registry goes down before enrichd asks for it.
records b 400 200 pro
id2=$(produce b "$work/v2.avsc")
[ "$id1" != "$id2" ] || fail "v2 got v1's schema id"
records c 600 200
produce c "$work/v1.avsc" >/dev/null
kill -USR1 "$reg_pid"
sleep 0.5
send b 0 1
send c 2 3
# The known id's partitions go on while the new id's wait.
lib_wait_sealed "$work/out" "$work/dl" 600 120
sleep 3
during_01=$(rows_of 0,1)
during_23=$(rows_of 2,3)
check "rows of partitions 2 and 3 sealed during the outage" "$during_23" 400
check "rows of partitions 0 and 1 during the outage (the new id waits)" "$during_01" 200
[ -z "$(compgen -G "$work/dl/*.deadletter.tsv")" ] || [ ! -s "$(compgen -G "$work/dl/*.deadletter.tsv" | head -1)" ] ||
	check_fail "dead letters during the outage: $(cat "$work"/dl/*.deadletter.tsv | head -3)"
grep -q "partition [01] waits at offset 100 for schema id $id2" "$work/enrichd.log" ||
	check_fail "no partition waited for schema id $id2: $(grep -i waits "$work/enrichd.log" | head -3)"
murl=$(lib_metrics_url "$work/enrichd.log")
curl -sf "$murl/metrics" >"$work/metrics.txt" || fail "no metrics"
grep -q '^enrichd_worker_partitions_waiting{worker="0"} 2$' "$work/metrics.txt" ||
	check_fail "the waiting partitions' gauge: $(grep partitions_waiting "$work/metrics.txt")"

grep -q '^enrichd_registry_unavailable 1$' "$work/metrics.txt" ||
	check_fail "the registry's outage gauge: $(grep registry_unavailable "$work/metrics.txt")"
grep -q '^enrichd_registry_schema_ids{state="pending"} 1$' "$work/metrics.txt" ||
	check_fail "the pending ids: $(grep registry_schema_ids "$work/metrics.txt")"
if command -v promtool >/dev/null; then
	promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 ||
		check_fail "promtool check metrics failed: $(cat "$work/promtool.txt")"
	[ ! -s "$work/promtool.txt" ] || check_fail "promtool lint: $(cat "$work/promtool.txt")"
fi

kill -USR1 "$reg_pid" # back
lib_wait_sealed "$work/out" "$work/dl" 800 120
curl -sf "$murl/metrics" >"$work/metrics-after.txt" || fail "no metrics"
check "messages of schema id $id1" "$(awk -v s="enrichd_registry_schema_messages_total{schema_id=\"$id1\",state=\"ready\"}" '$1 == s { print $2 }' "$work/metrics-after.txt")" 600
check "messages of schema id $id2" "$(awk -v s="enrichd_registry_schema_messages_total{schema_id=\"$id2\",state=\"ready\"}" '$1 == s { print $2 }' "$work/metrics-after.txt")" 200
grep -q '^enrichd_worker_partitions_waiting{worker="0"} 0$' "$work/metrics-after.txt" ||
	check_fail "partitions still waiting: $(grep partitions_waiting "$work/metrics-after.txt")"
kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || fail "enrichd exited non-zero: $(tail -20 "$work/enrichd.log")"

for p in 0 1 2 3; do
	timeout 60 kcat -C -b "$BROKERS" -t clickstream -p $p -o beginning -e -q -f '%s' >"$work/p$p.bin"
	timeout 60 kcat -C -b "$BROKERS" -t clickstream -p $p -o beginning -e -q -f '%k\n' >"$work/p$p.keys"
done
structure="ts DateTime64(3, ''UTC''), user_id UInt64, device_id String, page Tuple(url String), kind String"
{
	for p in 0 1 2 3; do
		echo "CREATE TABLE m$p ENGINE = Memory AS SELECT *, $p AS partition, rowNumberInAllBlocks() AS offset
			FROM file('$work/p$p.bin', 'AvroConfluent', '$structure')
			SETTINGS format_avro_schema_registry_url = '$REG_URL', max_threads = 1;"
	done
	cat <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM m0 UNION ALL SELECT * FROM m1 UNION ALL SELECT * FROM m2 UNION ALL SELECT * FROM m3;
CREATE TABLE devices ENGINE = Memory AS SELECT * FROM file('$work/dims/devices.tsv', 'TSVWithNames', 'device_id String, device_type String, os String, browser String');
CREATE TABLE urls ENGINE = Memory AS SELECT * FROM file('$work/dims/urls.tsv', 'TSVWithNames', 'url String, domain String, category String');
CREATE TABLE expected ENGINE = Memory AS
SELECT m.ts AS event_time, m.user_id, m.device_id, m.page.url AS url, m.kind,
       d.device_type AS device_type, l.domain AS domain, toUInt64(m.partition) AS partition,
       toUInt64(m.offset) AS offset, concat('k', toString(m.partition)) AS key, ['src'] AS hn, ['test'] AS hv
FROM m LEFT JOIN devices AS d ON m.device_id = d.device_id LEFT JOIN urls AS l ON m.page.url = l.url
SETTINGS join_use_nulls = 1;
CREATE TABLE actual ENGINE = Memory AS
SELECT event_time, user_id, device_id, url, toString(kind) AS kind, CAST(device_type AS Nullable(String)) AS device_type,
       CAST(domain AS Nullable(String)) AS domain, _partition AS partition, _offset AS offset, _key AS key,
       \`_headers.name\` AS hn, \`_headers.value\` AS hv
FROM file('$work/out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0;
SELECT 'rows', (SELECT count() FROM m), (SELECT count() FROM actual), (SELECT uniqExact(partition, offset) FROM actual);
SELECT 'missing', count() FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual);
SELECT 'unexpected', count() FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected);
SQL
} >"$work/check.sql"
ch_results "$work/check.sql" >/dev/null || fail "ClickHouse failed"
check "messages" "$(val rows 2)" 800
check "rows" "$(val rows 3)" 800
check "each (partition, offset) once" "$(val rows 4)" 800
check "expected rows missing from the segments" "$(val missing 2)" 0
check "rows in the segments not expected" "$(val unexpected 2)" 0
check "dead letters" "$(cat "$work"/dl/*.deadletter.tsv 2>/dev/null | wc -l)" 0
checks_done tail -20 "$work/enrichd.log"
echo "worker_avro_partition_waits: $during_23 rows of the known id's partitions sealed during the outage; 800 rows once each after it"
