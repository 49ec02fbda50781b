#!/usr/bin/env bash
# Writer schema evolution on one topic, the declared fields being the reader. Four writer
# versions interleaved across three partitions: v2 adds a field with a default and promotes
# user_id from int to long, v3 removes a field, v4 makes user_id a string (incompatible). Proves:
# every v1-v3 message is a row with the right values (the declared defaults where the writer lacks
# a field), every v4 message a dead letter naming the field and why, none lost; each writer
# schema resolved once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
command -v kcat >/dev/null || lib_skip "kcat is not installed"
command -v python3 >/dev/null || lib_skip "python3 is not installed"

lib_registry_start
"$bin/enrichd-gen-dims" --out "$work/dims" --users 100 --devices 100 --urls 100 --seed 3
lib_broker_start clickstream 3

cat >"$work/v1.avsc" <<'EOF'
{"type":"record","name":"Click","namespace":"test","fields":[
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"user_id","type":"int"},
 {"name":"url","type":"string"},
 {"name":"device_id","type":"string"},
 {"name":"legacy","type":"string"}
]}
EOF
sed -e 's/"name":"user_id","type":"int"/"name":"user_id","type":"long"/' \
	-e 's/^\]}$/,{"name":"plan","type":"string","default":"free"}]}/' "$work/v1.avsc" >"$work/v2.avsc"
cat >"$work/v3.avsc" <<'EOF'
{"type":"record","name":"Click","namespace":"test","fields":[
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"user_id","type":"long"},
 {"name":"url","type":"string"},
 {"name":"device_id","type":"string"},
 {"name":"plan","type":"string","default":"free"}
]}
EOF
sed -e 's/"name":"user_id","type":"long"/"name":"user_id","type":"string"/' "$work/v3.avsc" >"$work/v4.avsc"

# The records of each version (v2 and v3 with user ids past 2^31), and the rows they must give.
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
expected = []
for v in (1, 2, 3, 4):
    recs = []
    for i in range(120):
        n = v * 1000 + i
        r = {"ts": 1767261600000 + n * 1000, "url": "https://v%d.example/%d" % (v, i),
             "device_id": "d%d" % n}
        r["user_id"] = str(n) if v == 4 else (n if v == 1 else 5000000000 + n)
        if v <= 2:
            r["legacy"] = "old-%d" % n
        if v >= 2:
            r["plan"] = "p%d" % (i % 3)
        recs.append(r)
        if v < 4:
            expected.append("\t".join([str(r["ts"]), str(r["user_id"]), r["url"],
                                       r.get("plan", "none"), r.get("legacy", "gone")]))
    json.dump(recs, open(f"{work}/v{v}.json", "w"))
open(f"{work}/expected.tsv", "w").write("\n".join(sorted(expected)) + "\n")
PY
ids=()
for v in 1 2 3 4; do
	ids+=("$(node "$src/tests/registry/produce.js" --registry "$REG_URL" --subject "v$v-value" \
		--schema "$work/v$v.avsc" --records "$work/v$v.json" --hex "$work/v$v.hex")")
done
# The four versions interleaved message by message, round-robin over the three partitions.
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
vers = [open(f"{work}/v{v}.hex").read().split() for v in (1, 2, 3, 4)]
for p in range(3):
    os.makedirs(f"{work}/msg/{p}", exist_ok=True)
k = 0
for i in range(120):
    for v in range(4):
        with open(f"{work}/msg/{k % 3}/{k:06d}", "wb") as f:
            f.write(bytes.fromhex(vers[v][i]))
        k += 1
PY
for p in 0 1 2; do
	timeout 60 kcat -P -b "$BROKERS" -t clickstream -p $p "$work/msg/$p"/* 2>>"$work/kcat.err" ||
		fail "kcat: $(tail -n3 "$work/kcat.err")"
done

ini_extra="[event]
format = avro-confluent
time_field = event_time
metadata = _partition, _offset
field.event_time = DateTime64(3, 'UTC') from ts
field.user_id = UInt64
field.url = String
field.device_id = String
field.tier = String from plan default=none
field.legacy = String default=gone
[registry]
urls = $REG_URL"
lib_config "$work/enrichd.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "$ini_extra"
lib_spawn "$bin/enrichd" --config "$work/enrichd.ini" 2>"$work/enrichd.log"
enrichd_pid=${lib_pids[-1]}
lib_wait_sealed "$work/out" "$work/dl" 480 120
kill -TERM "$enrichd_pid"
wait "$enrichd_pid" || fail "enrichd exited non-zero: $(tail -20 "$work/enrichd.log")"

ch "SELECT toUnixTimestamp64Milli(event_time), user_id, url, tier, legacy
	FROM file('$work/out/**/*.native', 'Native') ORDER BY 1, 2, 3, 4, 5
	SETTINGS use_hive_partitioning = 0" | sort >"$work/actual.tsv"
diff "$work/expected.tsv" "$work/actual.tsv" >"$work/diff.txt" ||
	check_fail "rows differ from v1-v3's records: $(head -5 "$work/diff.txt")"
check "rows" "$(wc -l <"$work/actual.tsv")" 360
check "each (partition, offset) once" "$(ch "SELECT uniqExact(_partition, _offset) FROM file('$work/out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0")" 360
cat "$work"/dl/*.deadletter.tsv >"$work/dl.tsv" 2>/dev/null || true
check "dead letters" "$(wc -l <"$work/dl.tsv")" 120
check "dead letters' reason" "$(cut -f4,5 "$work/dl.tsv" | sort -u)" \
	"$(printf 'schema_unresolvable\tschema id %s: user_id: writer type string cannot be read as UInt64' "${ids[3]}")"
check "offsets covered" "$(ch "SELECT count() FROM (SELECT _partition AS p, _offset AS o FROM file('$work/out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0)")" 360
check "schemas resolved once each" "$(grep -cE 'registry: schema id [0-9]+:? (ready|unresolvable)' "$work/enrichd.log")" 4
checks_done tail -20 "$work/enrichd.log"
echo "worker_avro_schema_evolution: 360 rows of v1-v3 as declared, 120 v4 dead letters, none lost"
