#!/usr/bin/env bash
# The Schema Registry client and the Avro decoder against independent parts: the test registry
# (tests/registry), messages written by avsc with @kafkajs/confluent-schema-registry, and
# ClickHouse's AvroConfluent format reading the same messages from the same registry as the
# oracle. Proves: values equal to ClickHouse's; basic auth; the next URL tried when one fails;
# schema evolution (a field added with a default, one removed, a promotion, an enum symbol);
# an unknown id, an unresolvable schema and a bad magic byte as dead-letter answers; and an
# outage that waits (never a dead letter) and resumes when the registry is back.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

produce() { # produce SCHEMA RECORDS NAME: writes $work/NAME.hex and NAME.bin, prints the id
	node "$src/tests/registry/produce.js" --registry "$REG_URL" --user test --password s3cret \
		--subject clicks-value --schema "$1" --records "$2" --hex "$work/$3.hex" \
		--bin "$work/$3.bin"
}

lib_registry_start --user test --password s3cret
auth_url=${REG_URL/http:\/\//http:\/\/test:s3cret@}

cat >"$work/v1.avsc" <<'EOF'
{"type":"record","name":"Click","namespace":"test","fields":[
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"user_id","type":"int"},
 {"name":"url","type":"string"},
 {"name":"device","type":["null","string"],"default":null},
 {"name":"page","type":["null",{"type":"record","name":"Page","fields":[
   {"name":"referrer","type":["null","string"]},{"name":"depth","type":"int"}]}]},
 {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["VIEW","CLICK"]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"score","type":"double"},
 {"name":"id","type":{"type":"string","logicalType":"uuid"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}}
 ,{"name":"legacy","type":"string"}
]}
EOF
cat >"$work/v1.json" <<'EOF'
[{"ts":1714557600123,"user_id":42,"url":"https://a.test/x","device":"d1",
  "page":{"referrer":"https://r.test/","depth":3},"kind":"CLICK","tags":["a","b'c"],
  "attrs":{"k":1},"score":1.5,"id":"0123abcd-4567-89ab-cdef-0123456789ab","day":19844,"legacy":"x"},
 {"ts":0,"user_id":7,"url":"tab\there","device":null,"page":null,"kind":"VIEW","tags":[],
  "attrs":{},"score":-0.25,"id":"00000000-0000-0000-0000-000000000000","day":0,"legacy":""},
 {"ts":1714557600999,"user_id":2147483647,"url":"","device":"","page":{"referrer":null,"depth":0},
  "kind":"VIEW","tags":["x","y","z"],"attrs":{"a":-1,"b":2},"score":1e-300,
  "id":"ffffffff-ffff-ffff-ffff-ffffffffffff","day":-1,"legacy":"y"}]
EOF
# v2: user_id promoted to long, legacy removed, plan added with a default, a new enum symbol
sed -e 's/"name":"user_id","type":"int"/"name":"user_id","type":"long"/' \
	-e '/"name":"legacy"/d' \
	-e 's/"symbols":\["VIEW","CLICK"\]/"symbols":["VIEW","CLICK","BUY"]/' \
	-e 's/^\]}$/,{"name":"plan","type":"string","default":"free"}]}/' "$work/v1.avsc" >"$work/v2.avsc"
cat >"$work/v2.json" <<'EOF'
[{"ts":1714557601000,"user_id":5000000000,"url":"https://a.test/v2","device":null,"page":null,
  "kind":"BUY","tags":[],"attrs":{},"score":0,"id":"0123abcd-4567-89ab-cdef-0123456789ab",
  "day":1,"plan":"pro"}]
EOF
id1=$(produce "$work/v1.avsc" "$work/v1.json" v1)
id2=$(produce "$work/v2.avsc" "$work/v2.json" v2)
check "v2 is a new schema id" "$([ "$id1" != "$id2" ] && echo yes)" yes
check "registering v1 again keeps its id" "$(produce "$work/v1.avsc" "$work/v1.json" again)" "$id1"

fields=(--field 'ts DateTime64(3)' --field 'user_id UInt64' --field 'url String'
	--field 'device Nullable(String)' --field 'page.referrer Nullable(String)'
	--field 'page.depth Nullable(UInt32)' --field 'kind String' --field 'tags Array(String)'
	--field 'score Float64' --field 'id UUID' --field 'day Date32')
cat_avro() { # cat_avro HEXFILE [ARGS...]: enrichd's decode of the messages
	local in=$1
	shift
	"$bin/enrichd-avro-cat" "${fields[@]}" "$@" <"$in"
}

# 1. the same values as ClickHouse's AvroConfluent, through basic auth and a dead first URL
# (a record in a union with null is a Nullable(Tuple) in ClickHouse; its elements are then NULL)
structure="ts DateTime64(3, ''UTC''), user_id UInt64, url String, device Nullable(String),
	page Nullable(Tuple(referrer Nullable(String), depth UInt32)), kind String,
	tags Array(String), score Float64, id UUID, day Date32"
cat_avro "$work/v1.hex" --registry "http://127.0.0.1:1,$REG_URL" --user test --password s3cret \
	>"$work/ours.tsv" 2>"$work/cat.log" || fail "avro-cat failed: $(cat "$work/cat.log")"
ch "SELECT ts, user_id, url, device, page.referrer, page.depth, kind, tags, score, id, day
	FROM file('$work/v1.bin', 'AvroConfluent', '$structure')
	SETTINGS format_avro_schema_registry_url = '$auth_url', enable_nullable_tuple_type = 1" \
	>"$work/clickhouse.tsv"
diff "$work/clickhouse.tsv" "$work/ours.tsv" >"$work/diff.txt" ||
	check_fail "enrichd and ClickHouse differ: $(cat "$work/diff.txt")"
check "rows decoded" "$(wc -l <"$work/ours.tsv")" 3

# 2. schema evolution: v2 read by the same declared fields, plus the added field and its default
cat_avro "$work/v2.hex" --registry "$REG_URL" --user test --password s3cret \
	--field 'plan String=none' --field 'legacy String=gone' >"$work/v2.tsv"
check "v2 through v1's fields" "$(cat "$work/v2.tsv")" \
	"$(printf '2024-05-01 10:00:01.000\t5000000000\thttps://a.test/v2\t\\N\t\\N\t\\N\tBUY\t[]\t0\t0123abcd-4567-89ab-cdef-0123456789ab\t1970-01-02\tpro\tgone')"
cat_avro "$work/v1.hex" --registry "$REG_URL" --user test --password s3cret \
	--field 'plan String=none' | cut -f12 | sort -u >"$work/v1-plan.tsv"
check "v1 takes plan's default" "$(cat "$work/v1-plan.tsv")" none

# 3. dead-letter answers: an unknown id, a bad magic byte, an unresolvable schema
printf '00000003e70200\n0100000001\n' >"$work/bad.hex"
cat_avro "$work/bad.hex" --registry "$REG_URL" --user test --password s3cret >"$work/bad.tsv"
check "unknown id" "$(sed -n 1p "$work/bad.tsv")" \
	"$(printf 'schema\tunknown\tschema id not found in the registry')"
check "bad magic" "$(sed -n 2p "$work/bad.tsv" | cut -f1,2)" "$(printf 'error\tmagic')"
"$bin/enrichd-avro-cat" --registry "$REG_URL" --user test --password s3cret \
	--field 'url UInt64' <"$work/v1.hex" | head -n1 >"$work/unres.tsv"
check "unresolvable" "$(cat "$work/unres.tsv")" \
	"$(printf 'schema\tunresolvable\turl: writer type string cannot be read as UInt64')"

# 4. wrong credentials are not a dead letter: the id stays pending (status 2)
status=0
cat_avro "$work/v1.hex" --registry "$REG_URL" --user test --password wrong --wait-ms 500 \
	>/dev/null 2>"$work/auth.log" || status=$?
check "wrong password leaves the id pending" "$status" 2

# 5. an outage: the client waits, backs off, and resumes when the registry is back
kill -USR1 "$REG_PID"
lib_wait_log "$work/registry.log" "outage on" 10 || fail "no outage"
cat_avro "$work/v1.hex" --registry "$REG_URL" --user test --password s3cret --wait-ms 60000 \
	>"$work/outage.tsv" 2>"$work/outage.log" &
cat_pid=$!
lib_wait_log "$work/outage.log" "registry unavailable" 30 ||
	check_fail "the client did not report the outage"
sleep 1
kill -USR1 "$REG_PID"
status=0
wait "$cat_pid" || status=$?
check "decoding after the outage" "$status" 0
diff "$work/ours.tsv" "$work/outage.tsv" >/dev/null || check_fail "values differ after the outage"
grep -q "registry available again" "$work/outage.log" || check_fail "no recovery logged"

checks_done tail -n 20 "$work/registry.log" "$work/outage.log"
echo "registry_client: ok"
