#!/usr/bin/env bash
# Avro in the Confluent wire format end to end through an input file: 15 declared fields (a
# nested record, arrays, unions with null, an enum, timestamp-millis, date, uuid, boolean,
# float) and every metadata column, written by the independent producer (avsc through
# @kafkajs/confluent-schema-registry) against the test registry. ClickHouse reads the very same
# messages with its AvroConfluent format from the same registry and computes the expected LEFT
# JOIN with the dimension files; the sealed segments must equal it in both directions. An
# unknown schema id and a bad magic byte are dead letters with their reasons. The registry wants
# basic auth: the password comes from the environment, the first URL (dead) holds user info;
# neither credential is shown by --check or logged.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
command -v python3 >/dev/null || lib_skip "python3 is not installed"

lib_registry_start --user test --password s3cret-pw

"$bin/enrichd-gen-dims" --out "$work/dims" --users 2000 --devices 2000 --urls 500 --seed 5

cat >"$work/click.avsc" <<'EOF'
{"type":"record","name":"Click","namespace":"test","fields":[
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"user_id","type":"long"},
 {"name":"device_id","type":"string"},
 {"name":"page","type":{"type":"record","name":"Page","fields":[
   {"name":"url","type":"string"},{"name":"referrer","type":["null","string"],"default":null}]}},
 {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["VIEW","CLICK","BUY"]}},
 {"name":"session","type":{"type":"string","logicalType":"uuid"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"items","type":{"type":"array","items":"long"}},
 {"name":"price","type":["null","double"],"default":null},
 {"name":"qty","type":"int"},
 {"name":"country","type":"string"},
 {"name":"logged_in","type":"boolean"},
 {"name":"duration_ms","type":["null","long"],"default":null},
 {"name":"score","type":"float"}
]}
EOF
python3 - "$work" <<'PY'
import json, random, sys, uuid
work = sys.argv[1]
random.seed(5)
def column(path, name):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        i = head.index(name)
        return [line.rstrip("\n").split("\t")[i] for line in f]
# The producer's records are JSON for JavaScript, whose numbers are exact below 2**53: the users'
# ids are made smaller.
with open(f"{work}/dims/users.tsv") as f:
    lines = f.read().splitlines()
with open(f"{work}/dims/users.tsv", "w") as f:
    f.write(lines[0] + "\n")
    for n, line in enumerate(lines[1:]):
        cells = line.split("\t")
        cells[0] = str(1000 + 7 * n)
        f.write("\t".join(cells) + "\n")
users = column(f"{work}/dims/users.tsv", "user_id")
devices = column(f"{work}/dims/devices.tsv", "device_id")
urls = column(f"{work}/dims/urls.tsv", "url")
base = 1767261600000  # 2026-01-01T10:00:00Z
out = []
for i in range(3000):
    out.append({
        "ts": base + i * 2500,  # about two hours
        "user_id": int(random.choice(users)) if i % 10 else random.randrange(2**40, 2**52),
        "device_id": random.choice(devices) if i % 7 else "dev-missing-%d" % i,
        "page": {"url": random.choice(urls) if i % 9 else "https://nowhere.example/%d" % i,
                 "referrer": None if i % 3 == 0 else "https://ref.example/\u00e9/%d" % i},
        "kind": ["VIEW", "CLICK", "BUY"][i % 3],
        "session": str(uuid.UUID(int=random.getrandbits(128))),
        "day": 20000 + i % 400,
        "tags": random.sample(["new", "sale", "gift", "\u00e9t\u00e9", "a\"b\tc"], i % 4),
        "items": [random.randrange(-2**40, 2**40) for _ in range(i % 5)],
        "price": None if i % 4 == 0 else (i % 1000) / 4,
        "qty": i % 7 - 3,
        "country": random.choice(["FR", "DE", "US", ""]),
        "logged_in": i % 2 == 0,
        "duration_ms": None if i % 5 == 0 else random.randrange(0, 2**32),
        "score": [0.5, 1.25, -3.0][i % 3],
    })
with open(f"{work}/click.json", "w") as f:
    json.dump(out, f)
PY
id=$(node "$src/tests/registry/produce.js" --registry "$REG_URL" --user test --password s3cret-pw \
	--subject clickstream-value \
	--schema "$work/click.avsc" --records "$work/click.json" --bin "$work/click.bin" \
	--framed "$work/click.framed")
total=3000
# The dead letters after the good messages: schema id 999999 is not registered; magic byte 1.
printf '\x00\x00\x00\x06\x00\x00\x0f\x42\x3f\x02\x00\x00\x00\x05\x01\x00\x00\x00\x01' \
	>"$work/bad.framed"
cat "$work/click.framed" "$work/bad.framed" >"$work/input.avro"

ini_extra="[event]
format = avro-confluent
time_field = event_time
metadata = _topic, _partition, _offset, _kafka_time, _ingest_time, _key, _headers
field.event_time = DateTime64(3, 'UTC') from ts
field.user_id = UInt64
field.device_id = String
field.url = String from page.url
field.referrer = Nullable(String) from page.referrer
field.kind = LowCardinality(String)
field.session_id = UUID from session
field.day = Date
field.tags = Array(String)
field.items = Array(Int64)
field.price = Nullable(Float64)
field.qty = Int32
field.geo_country = String from country
field.logged_in = Bool
field.duration_ms = Nullable(UInt32)
field.score = Float32
[registry]
urls = http://someone:url-s3cret@127.0.0.1:1,$REG_URL
username = test
password_env = ENRICHD_TEST_REGISTRY_PASSWORD
backoff_min = 50ms
backoff_max = 200ms"
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:1 0 "$ini_extra"
export ENRICHD_TEST_REGISTRY_PASSWORD=s3cret-pw
"$bin/enrichd" --config "$work/enrichd.ini" --check >"$work/check.txt"
grep -q "^registry:   http://127.0.0.1:1,$REG_URL (basic auth)" "$work/check.txt" ||
	fail "--check does not show the registry: $(grep -i registry "$work/check.txt")"
lib_enrichd_input "$work/enrichd.ini" "$work/input.avro" "$work/enrichd.log"
check "credentials shown or logged" "$(cat "$work/check.txt" "$work/enrichd.log" | grep -c 's3cret')" 0

cat >"$work/check.sql" <<SQL
CREATE TABLE k ENGINE = Memory AS SELECT *, rowNumberInAllBlocks() AS offset FROM file('$work/click.bin', 'AvroConfluent',
  'ts DateTime64(3, \'UTC\'), user_id UInt64, device_id String, page Tuple(url String, referrer Nullable(String)),
   kind String, session UUID, day Date, tags Array(String), items Array(Int64), price Nullable(Float64), qty Int32,
   country String, logged_in Bool, duration_ms Nullable(UInt32), score Float32')
  SETTINGS format_avro_schema_registry_url = '${REG_URL/http:\/\//http://test:s3cret-pw@}', max_threads = 1;
CREATE TABLE users ENGINE = Memory AS SELECT * FROM file('$work/dims/users.tsv', 'TSVWithNames', 'user_id UInt64, country String, plan String, signup_date Date');
CREATE TABLE devices ENGINE = Memory AS SELECT * FROM file('$work/dims/devices.tsv', 'TSVWithNames', 'device_id String, device_type String, os String, browser String');
CREATE TABLE urls ENGINE = Memory AS SELECT * FROM file('$work/dims/urls.tsv', 'TSVWithNames', 'url String, domain String, category String');
CREATE TABLE expected ENGINE = Memory AS
SELECT k.ts AS event_time, k.user_id, k.device_id, k.page.url AS url, k.page.referrer AS referrer, k.kind,
       k.session AS session_id, k.day, k.tags, k.items, k.price, k.qty, k.country AS geo_country, k.logged_in,
       k.duration_ms, k.score,
       u.country AS u_country, u.plan AS plan, u.signup_date AS signup_date,
       d.device_type AS device_type, d.os AS os, d.browser AS browser,
       l.domain AS domain, l.category AS category,
       'input.avro' AS topic, toUInt64(0) AS partition, k.offset AS offset, toDateTime64(0, 3, 'UTC') AS kafka_time,
       '' AS key, CAST([] AS Array(String)) AS header_names, CAST([] AS Array(String)) AS header_values
FROM k
LEFT JOIN users AS u ON k.user_id = u.user_id
LEFT JOIN devices AS d ON k.device_id = d.device_id
LEFT JOIN urls AS l ON k.page.url = l.url
SETTINGS join_use_nulls = 1;
CREATE TABLE actual ENGINE = Memory AS
SELECT event_time, user_id, device_id, url, referrer, toString(kind) AS kind, session_id, day, tags, items,
       price, qty, geo_country, logged_in, duration_ms, score,
       CAST(country AS Nullable(String)) AS u_country, CAST(plan AS Nullable(String)) AS plan, signup_date,
       CAST(device_type AS Nullable(String)) AS device_type, CAST(os AS Nullable(String)) AS os,
       CAST(browser AS Nullable(String)) AS browser, CAST(domain AS Nullable(String)) AS domain,
       CAST(category AS Nullable(String)) AS category,
       toString(_topic) AS topic, _partition AS partition, _offset AS offset, _kafka_time AS kafka_time,
       _key AS key, \`_headers.name\` AS header_names, \`_headers.value\` AS header_values
FROM file('$work/out/**/*.native', 'Native');
SELECT 'rows', (SELECT count() FROM k), (SELECT count() FROM expected), (SELECT count() FROM actual), (SELECT uniqExact(offset) FROM actual);
SELECT 'missing', count() FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual);
SELECT 'unexpected', count() FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected);
SELECT 'coverage', countIf(referrer IS NULL), countIf(price IS NULL), countIf(duration_ms IS NULL), countIf(length(tags) > 0),
       countIf(length(items) > 0), countIf(u_country IS NULL), countIf(u_country IS NOT NULL), countIf(domain IS NULL),
       countIf(device_type IS NULL), uniqExact(toStartOfHour(event_time)), uniqExact(kind) FROM actual;
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'dl', offset, error, reason FROM dl ORDER BY offset;
SQL
ch_results "$work/check.sql" >/dev/null || fail "ClickHouse failed"
check "messages ClickHouse read" "$(val rows 2)" $total
check "expected rows" "$(val rows 3)" $total
check "rows in the segments" "$(val rows 4)" $total
check "each offset once" "$(val rows 5)" $total
check "expected rows missing from the segments" "$(val missing 2)" 0
check "rows in the segments not expected" "$(val unexpected 2)" 0
for c in 2 3 4 5 6 7 8 9 10; do
	[ "$(val coverage $c)" -gt 0 ] || check_fail "coverage column $c is 0: $(grep ^coverage "$work/result.tsv")"
done
[ "$(val coverage 11)" -ge 2 ] || check_fail "the events span one hour only"
check "enum symbols" "$(val coverage 12)" 3
check "dead letters" "$(grep -c '^dl' "$work/result.tsv")" 2
check "unknown id" "$(awk -F'\t' -v o=$total '$1 == "dl" && $2 == o { print $3 "\t" $4 }' "$work/result.tsv")" \
	"$(printf 'schema_unknown\tschema id 999999: schema id not found in the registry')"
check "bad magic byte" "$(awk -F'\t' -v o=$((total + 1)) '$1 == "dl" && $2 == o { print $3 "\t" $4 }' "$work/result.tsv")" \
	"$(printf 'magic\tmagic byte is not 0')"
checks_done tail -20 "$work/enrichd.log"
echo "worker_avro_equals_clickhouse: $total Avro messages equal ClickHouse's AvroConfluent join; 2 dead letters"
