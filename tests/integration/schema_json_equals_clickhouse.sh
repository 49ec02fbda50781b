#!/usr/bin/env bash
# A declared JSON schema end to end through the embedded Kafka broker: 20 fields (nested objects,
# arrays, optional fields, a string field taking integers, times as text and as epoch numbers,
# UUID, IPv4/IPv6, FixedString, Bool, floats, dates), the catch-all column and every metadata
# column (_key and _headers included), messages produced by kcat with keys and headers in three
# batches. ClickHouse computes the expected rows independently from the same messages, read back
# with their keys and headers (kcat -J): JSONExtract over each payload and a LEFT JOIN with the
# dimension files. The sealed segments must equal them row for row in both directions, with the
# declared column types; the malformed messages are dead letters whose reasons name the field.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
command -v kcat >/dev/null || lib_skip "kcat is not installed"
command -v python3 >/dev/null || lib_skip "python3 is not installed"

"$bin/enrichd-gen-dims" --out "$work/dims" --users 3000 --devices 3000 --urls 1000 --seed 11
lib_broker_start clickstream 4

# The messages: three batches of "key<TAB>payload" lines (a line without a tab has no key), and
# the malformed ones with the reason each must get.
python3 - "$work" <<'PY'
import json, random, sys, uuid
work = sys.argv[1]
random.seed(11)
def column(path, name):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        i = head.index(name)
        return [line.rstrip("\n").split("\t")[i] for line in f]
users = column(f"{work}/dims/users.tsv", "user_id")
devices = column(f"{work}/dims/devices.tsv", "device_id")
urls = column(f"{work}/dims/urls.tsv", "url")
base_ms = 1767261600000  # 2026-01-01T10:00:00Z
def event(i):
    t = base_ms + i * 3700  # about two hours of events
    e = {}
    if i % 3 == 0:
        e["ts"] = t
    else:
        s = t // 1000
        import datetime
        d = datetime.datetime.fromtimestamp(s, datetime.timezone.utc)
        e["ts"] = d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (t % 1000)
    e["type"] = random.choice(["view", "click", "add_to_cart", "purchase"])
    uid = int(random.choice(users)) if i % 10 else random.randrange(1, 2**63)
    e["user"] = {"id": uid, "logged_in": i % 2 == 0}
    e["session"] = str(uuid.UUID(int=random.getrandbits(128)))
    dev = random.choice(devices) if i % 7 else "dev-missing-%d" % i
    e["device"] = {"id": int(dev) if dev.isdigit() else dev}
    if i % 5:
        e["device"]["os"] = random.choice(["ios", "android", "linux"])
    url = random.choice(urls) if i % 9 else "https://nowhere.example/%d" % i
    e["page"] = {"url": url + ("?utm=%d" % i if i % 4 == 0 and "#" not in url else "")}
    if i % 6 == 1:
        e["page"]["referrer"] = None
    elif i % 6 == 2:
        e["page"]["referrer"] = "https://ref.example/\u00e9/%d" % i
    e["geo"] = {"country": random.choice(["FR", "DE", "US", "J"]),
                "ip": "10.%d.%d.%d" % (i % 256, (i >> 8) % 256, 7)}
    if i % 3 == 1:
        e["geo"]["ip6"] = random.choice(["2001:db8::%x" % i, "::ffff:192.0.2.%d" % (i % 256), "fe80::1"])
    if i % 4 != 3:
        e["cart"] = {"price": (i % 1000) / 4 if i % 8 else None, "qty": i % 7 - 3,
                     "items": [random.randrange(-2**40, 2**40) for _ in range(i % 4)]}
    if i % 2:
        e["tags"] = random.sample(["new", "sale", "gift", "\u00e9t\u00e9", "a\"b"], i % 4)
    if i % 5 != 4:
        e["duration_ms"] = random.randrange(0, 2**32)
    e["day"] = "2026-%02d-%02d" % (1 + i % 12, 1 + i % 28)
    if i % 4 == 0:
        e["seen_at"] = "2025-12-31T23:%02d:00Z" % (i % 60)
    e["score"] = [0.5, 1.25, -3.0][i % 3]
    if i % 3 == 0:  # undeclared members, kept in the catch-all
        e["campaign"] = "c%d" % (i % 5)
        e["ab"] = {"arm": i % 2, "tags": ["x", 1, None]}
    if i % 11 == 0:
        e["flag"] = True
    return json.dumps(e, separators=(",", ":"), ensure_ascii=i % 2 == 0)
bad = [
    ('{"ts":"2026-01-01T10:00:00Z","type":"v","user":{"id":-5,"logged_in":true},"session":"00000000-0000-0000-0000-000000000001","device":{"id":"d"},"page":{"url":"u"},"geo":{"country":"FR","ip":"10.0.0.1"},"day":"2026-01-01","score":1}', "range", "user.id: negative"),
    ('{"ts":"2026-01-01T10:00:00Z","type":"v","user":{"id":5,"logged_in":true},"session":"00000000-0000-0000-0000-000000000001","device":{"id":"d"},"page":{"url":"u"},"geo":{"country":"FR","ip":"999.0.0.1"},"day":"2026-01-01","score":1}', "type", "geo.ip: not an IPv4 address"),
    ('{"ts":"2026-01-01T10:00:00Z","type":"v","user":{"id":5,"logged_in":true},"session":"00000000-0000-0000-0000-000000000001","device":{"id":"d"},"page":{},"geo":{"country":"FR","ip":"10.0.0.1"},"day":"2026-01-01","score":1}', "missing", "page.url: missing"),
    ('{"ts":"2026-01-01T10:00:00Z","type":"v","user":{"id":5,"logged_in":true},"session":"00000000-0000-0000-0000-000000000001","device":{"id":"d"},"page":"u","geo":{"country":"FR","ip":"10.0.0.1"},"day":"2026-01-01","score":1}', "type", "page: not an object"),
    ('{"ts":"2026-13-01T10:00:00Z","type":"v","user":{"id":5,"logged_in":true},"session":"00000000-0000-0000-0000-000000000001","device":{"id":"d"},"page":{"url":"u"},"geo":{"country":"FR","ip":"10.0.0.1"},"day":"2026-01-01","score":1}', "timestamp", "ts: invalid date"),
    ('{"ts":"2026-01-01T10:00:00Z","type":"v","user":{"id":5,"logged_in":true},"session":"00000000-0000-0000-0000-000000000001","device":{"id":"d"},"page":{"url":"u"},"geo":{"country":"FRA","ip":"10.0.0.1"},"day":"2026-01-01","score":1}', "range", "geo.country: longer than FixedString(2)"),
]
n = 0
for b in range(3):
    with open(f"{work}/batch{b}.txt", "w") as f:
        for k in range(700):
            i = b * 700 + k
            line = event(i)
            if i % 13 == 0:
                f.write(line + "\n")                  # no key
            elif i % 17 == 0:
                f.write("\t" + line + "\n")           # an empty key
            else:
                f.write("key-%d\t%s\n" % (i, line))
            n += 1
        for p, code, why in bad[b * 2:b * 2 + 2]:
            f.write("bad-%d\t%s\n" % (n, p))
            n += 1
with open(f"{work}/bad.tsv", "w") as f:
    for p, code, why in bad:
        f.write("%s\t%s\n" % (code, why))
print(n)
PY
total=$((3 * 702))

ini_extra='[event]
time_field = event_time
catch_all = extra
metadata = _topic, _partition, _offset, _kafka_time, _ingest_time, _key, _headers
field.event_time = DateTime64(3, '"'"'UTC'"'"') from ts unit=ms
field.event_type = LowCardinality(String) from type
field.user_id = UInt64 from user.id
field.logged_in = Bool from user.logged_in
field.session_id = UUID from session
field.device_id = String from device.id integers=text
field.client_os = LowCardinality(Nullable(String)) from device.os
field.url = String from page.url
field.referrer = Nullable(String) from page.referrer
field.geo_country = FixedString(2) from geo.country
field.ip = IPv4 from geo.ip
field.ip6 = Nullable(IPv6) from geo.ip6
field.price = Nullable(Float64) from cart.price
field.qty = Nullable(Int32) from cart.qty
field.items = Array(Int64) from cart.items default=[]
field.tags = Array(String) from tags default=[]
field.duration_ms = Nullable(UInt32) from duration_ms
field.day = Date from day
field.seen_at = Nullable(DateTime) from seen_at
field.score = Float32 from score
[dimension urls]
key_normalize = strip-query'
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "$ini_extra"
"$bin/enrichd" --config "$work/enrichd.ini" --check >"$work/check.txt"
grep -q "event:      format json, 20 fields, time field event_time, undeclared members into extra" \
	"$work/check.txt" || fail "--check does not show the event: $(grep -A3 '^event' "$work/check.txt")"
grep -q "field referrer  *Nullable(String)  *from page.referrer" "$work/check.txt" ||
	fail "--check does not show where a field comes from"

lib_enrichd_start "$work/enrichd.ini" "$work/enrichd.log"
enrichd_pid=$lib_enrichd_pid
produce() { # batch headers...
	local b=$1
	shift
	timeout 60 kcat -P -b "$BROKERS" -t clickstream -K$'\t' "$@" -X delivery.timeout.ms=20000 \
		<"$work/batch$b.txt" 2>"$work/produce.err" || { cat "$work/produce.err" >&2; fail "kcat"; }
}
produce 0 -H trace=abc -H tenant=acme -H trace=second
produce 1
produce 2 -H "empty=" -H novalue -H "k=v=w" -H "utf8=h$(printf '\xc3\xa9')llo"

lib_wait_sealed "$work/out" "$work/dl" $total 120
kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || fail "enrichd exited non-zero: $(tail -20 "$work/enrichd.log")"
timeout 60 kcat -C -b "$BROKERS" -t clickstream -o beginning -e -q -J >"$work/consumed.json" ||
	fail "kcat could not read the messages back"
[ "$(wc -l <"$work/consumed.json")" -eq $total ] || fail "kcat read $(wc -l <"$work/consumed.json") messages"

declared="'ts','type','user','session','device','page','geo','cart','tags','duration_ms','day','seen_at','score'"
cat >"$work/check.sql" <<SQL
CREATE TABLE k ENGINE = Memory AS SELECT * FROM file('$work/consumed.json', 'JSONEachRow',
  'topic String, partition UInt64, offset UInt64, ts Int64, headers Array(Nullable(String)), key Nullable(String), payload String');
CREATE TABLE users ENGINE = Memory AS SELECT * FROM file('$work/dims/users.tsv', 'TSVWithNames', 'user_id UInt64, country String, plan String, signup_date Date');
CREATE TABLE devices ENGINE = Memory AS SELECT * FROM file('$work/dims/devices.tsv', 'TSVWithNames', 'device_id String, device_type String, os String, browser String');
CREATE TABLE urls ENGINE = Memory AS SELECT url, argMax(domain, n) AS domain, argMax(category, n) AS category
  FROM (SELECT cutQueryStringAndFragment(url) AS url, domain, category, rowNumberInAllBlocks() AS n
        FROM file('$work/dims/urls.tsv', 'TSVWithNames', 'url String, domain String, category String'))
  GROUP BY url; -- a key the normalisation makes twice: the later row wins, as in enrichd
CREATE TABLE bad ENGINE = Memory AS SELECT * FROM file('$work/bad.tsv', 'TSV', 'error String, reason String');
CREATE TABLE good ENGINE = Memory AS SELECT * FROM k WHERE key IS NULL OR NOT startsWith(key, 'bad-');
CREATE TABLE e ENGINE = Memory AS SELECT
  if(JSONType(payload, 'ts') = 'String',
     parseDateTime64BestEffort(JSONExtractString(payload, 'ts'), 3, 'UTC'),
     fromUnixTimestamp64Milli(JSONExtractInt(payload, 'ts'), 'UTC')) AS event_time,
  JSONExtractString(payload, 'type') AS event_type,
  JSONExtractUInt(payload, 'user', 'id') AS user_id,
  JSONExtractBool(payload, 'user', 'logged_in') AS logged_in,
  toUUID(JSONExtractString(payload, 'session')) AS session_id,
  if(JSONType(payload, 'device', 'id') = 'String', JSONExtractString(payload, 'device', 'id'),
     JSONExtractRaw(payload, 'device', 'id')) AS device_id,
  JSONExtract(payload, 'device', 'os', 'Nullable(String)') AS client_os,
  JSONExtractString(payload, 'page', 'url') AS url,
  JSONExtract(payload, 'page', 'referrer', 'Nullable(String)') AS referrer,
  toFixedString(JSONExtractString(payload, 'geo', 'country'), 2) AS geo_country,
  toIPv4(JSONExtractString(payload, 'geo', 'ip')) AS ip,
  if(JSONHas(payload, 'geo', 'ip6'), toIPv6(JSONExtractString(payload, 'geo', 'ip6')), NULL) AS ip6,
  JSONExtract(payload, 'cart', 'price', 'Nullable(Float64)') AS price,
  JSONExtract(payload, 'cart', 'qty', 'Nullable(Int32)') AS qty,
  JSONExtract(payload, 'cart', 'items', 'Array(Int64)') AS items,
  JSONExtract(payload, 'tags', 'Array(String)') AS tags,
  JSONExtract(payload, 'duration_ms', 'Nullable(UInt32)') AS duration_ms,
  toDate(JSONExtractString(payload, 'day')) AS day,
  if(JSONHas(payload, 'seen_at'), parseDateTimeBestEffort(JSONExtractString(payload, 'seen_at'), 'UTC'), NULL) AS seen_at,
  toFloat32(JSONExtractFloat(payload, 'score')) AS score,
  concat('{', arrayStringConcat(arrayMap(x -> concat('"', x.1, '":', x.2),
    arrayFilter(x -> x.1 NOT IN ($declared), JSONExtractKeysAndValuesRaw(payload))), ','), '}') AS extra,
  topic, partition, offset, fromUnixTimestamp64Milli(ts, 'UTC') AS kafka_time, ifNull(key, '') AS k,
  arrayMap(i -> assumeNotNull(headers[2 * i - 1]), range(1, intDiv(length(headers), 2) + 1)) AS header_names,
  arrayMap(i -> ifNull(headers[2 * i], ''), range(1, intDiv(length(headers), 2) + 1)) AS header_values
FROM good;
CREATE TABLE expected ENGINE = Memory AS
SELECT e.event_time, e.event_type, e.user_id, e.logged_in, e.session_id, e.device_id, e.client_os,
       e.url, e.referrer, e.geo_country, e.ip, e.ip6, e.price, e.qty, e.items, e.tags, e.duration_ms, e.day,
       e.seen_at, e.score, e.extra,
       u.country AS country, u.plan AS plan, u.signup_date AS signup_date,
       d.device_type AS device_type, d.os AS os, d.browser AS browser,
       l.domain AS domain, l.category AS category,
       e.topic, e.partition, e.offset, e.kafka_time, e.k, e.header_names, e.header_values
FROM e
LEFT JOIN users AS u ON e.user_id = u.user_id
LEFT JOIN devices AS d ON e.device_id = d.device_id
LEFT JOIN urls AS l ON cutQueryStringAndFragment(e.url) = l.url
SETTINGS join_use_nulls = 1;
CREATE TABLE actual ENGINE = Memory AS
SELECT event_time, toString(event_type) AS event_type, user_id, logged_in, session_id, device_id,
       CAST(client_os AS Nullable(String)) AS client_os, url, referrer, geo_country, ip, ip6, price,
       qty, items, tags, duration_ms, day, seen_at, score, extra,
       CAST(country AS Nullable(String)) AS country, CAST(plan AS Nullable(String)) AS plan,
       signup_date, CAST(device_type AS Nullable(String)) AS device_type,
       CAST(os AS Nullable(String)) AS os, CAST(browser AS Nullable(String)) AS browser,
       CAST(domain AS Nullable(String)) AS domain, CAST(category AS Nullable(String)) AS category,
       toString(_topic) AS topic, _partition AS partition, _offset AS offset,
       _kafka_time AS kafka_time, _key AS k, \`_headers.name\` AS header_names,
       \`_headers.value\` AS header_values
FROM file('$work/out/**/*.native', 'Native', 'event_time DateTime64(3, \'UTC\'), event_type LowCardinality(String), user_id UInt64, logged_in Bool, session_id UUID, device_id String, client_os LowCardinality(Nullable(String)), url String, referrer Nullable(String), geo_country FixedString(2), ip IPv4, ip6 Nullable(IPv6), price Nullable(Float64), qty Nullable(Int32), items Array(Int64), tags Array(String), duration_ms Nullable(UInt32), day Date, seen_at Nullable(DateTime), score Float32, extra String, country LowCardinality(Nullable(String)), plan LowCardinality(Nullable(String)), signup_date Nullable(Date), device_type LowCardinality(Nullable(String)), os LowCardinality(Nullable(String)), browser LowCardinality(Nullable(String)), domain LowCardinality(Nullable(String)), category LowCardinality(Nullable(String)), _topic LowCardinality(String), _partition UInt64, _offset UInt64, _kafka_time DateTime64(3, \'UTC\'), _ingest_time DateTime64(3, \'UTC\'), _key String, \`_headers.name\` Array(String), \`_headers.value\` Array(String)');
SELECT 'rows', (SELECT count() FROM good), (SELECT count() FROM expected), (SELECT count() FROM actual), (SELECT uniqExact(partition, offset) FROM actual);
SELECT 'missing', count() FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual);
SELECT 'unexpected', count() FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected);
SELECT 'coverage', countIf(k = ''), countIf(length(header_names) > 0), countIf(length(header_values) > 0 AND has(header_values, '')),
       countIf(extra != '{}'), countIf(ip6 IS NOT NULL), countIf(referrer IS NULL), countIf(client_os IS NULL),
       countIf(length(items) > 0), countIf(length(tags) > 0), countIf(country IS NULL), countIf(domain IS NOT NULL),
       uniqExact(toStartOfHour(event_time)) FROM actual;
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'dead_letters', count(), (SELECT count() FROM k WHERE startsWith(key, 'bad-')) FROM dl;
SELECT 'dl_wrong', count() FROM (SELECT error, replaceRegexpOne(reason, ' \\\\(byte [0-9]+\\\\)\$', '') FROM dl EXCEPT ALL SELECT error, reason FROM bad);
SELECT 'dl_raw', count() FROM (SELECT partition, offset, raw FROM dl EXCEPT ALL SELECT toInt32(partition), toInt64(offset), payload FROM k WHERE startsWith(key, 'bad-'));
SQL
ch_results "$work/check.sql"

check "good messages read back" "$(val rows 2)" $((total - 6))
check "expected rows" "$(val rows 3)" $((total - 6))
check "rows in the segments" "$(val rows 4)" $((total - 6))
check "each (partition, offset) once" "$(val rows 5)" $((total - 6))
check "expected rows missing from the segments" "$(val missing 2)" 0
check "rows in the segments not expected" "$(val unexpected 2)" 0
check "dead letters" "$(val dead_letters 2)" 6
check "dead letters produced" "$(val dead_letters 3)" 6
check "dead letters with another error or reason" "$(val dl_wrong 2)" 0
check "dead letters that are not the malformed messages" "$(val dl_raw 2)" 0
# The messages exercise what the test is about: every column takes both kinds of value.
for c in 2 3 4 5 6 7 8 9 10 11 12; do
	[ "$(val coverage $c)" -gt 0 ] || check_fail "coverage column $c is 0: $(grep ^coverage "$work/result.tsv")"
done
[ "$(val coverage 13)" -ge 2 ] || check_fail "the events span one hour only"

# The same schema over --input: no Kafka message, so _key is empty and the headers empty arrays.
cut -f2- "$work/batch1.txt" | grep -v '"id":-5' | awk 'NR <= 100' >"$work/input.jsonl"
sed -e "s|^dir = $work/out|dir = $work/out-input|" -e "s|^dir = $work/dl|dir = $work/dl-input|" \
	"$work/enrichd.ini" >"$work/input.ini"
lib_enrichd_input "$work/input.ini" "$work/input.jsonl" "$work/input.log"
cat >"$work/input.sql" <<SQL
SELECT 'input', count(), countIf(_key = ''), countIf(empty(\`_headers.name\`) AND empty(\`_headers.value\`)),
       countIf(toString(_topic) = 'input.jsonl')
FROM file('$work/out-input/**/*.native', 'Native');
SQL
ch_results "$work/input.sql"
check "--input rows" "$(val input 2)" "$(wc -l <"$work/input.jsonl")"
check "--input rows with an empty _key" "$(val input 3)" "$(val input 2)"
check "--input rows without headers" "$(val input 4)" "$(val input 2)"
check "--input rows of the file's topic" "$(val input 5)" "$(val input 2)"
checks_done tail -30 "$work/enrichd.log"
echo "schema_json_equals_clickhouse: $((total - 6)) rows of 20 declared fields, 8 metadata columns and a catch-all equal ClickHouse's; 6 dead letters name their field"
