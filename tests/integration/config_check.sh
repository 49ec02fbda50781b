#!/usr/bin/env bash
# `enrichd --check` refuses what the start would refuse, and accepts what the start takes:
# empty paths and values, a section or key given twice, refused or unknown librdkafka
# properties and a reload interval below its floor are errors naming the file, the line and the
# key; lines far longer than inih's 200-byte default (six fully qualified brokers, a 236-byte
# source path, a PATH_MAX-long one) keep their values whole.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

"$bin/enrichd-gen-dims" --out "$work/dims" --users 1000 --devices 1000 --urls 500 --seed 3 \
	2>/dev/null
ini=$work/enrichd.ini

# refused NAME WANT EXTRA-INI: --check exits 2 with WANT in its message.
refused() {
	lib_config "$ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:9 0 "$3"
	local rc=0
	"$bin/enrichd" --config "$ini" --check >"$work/check.out" 2>"$work/check.err" || rc=$?
	check "$1: exit status" "$rc" 2
	grep -qF -- "$2" "$work/check.err" ||
		check_fail "$1: no '$2' in: $(grep -v ' info ' "$work/check.err")"
}

refused "empty dead-letter dir" "enrichd.ini:41: [dead_letter]: dir: empty" "[dead_letter]
dir ="
refused "empty output dir" "enrichd.ini:36: [output]: dir: empty" "[output]
dir ="
refused "empty brokers" "enrichd.ini:2: [kafka]: brokers: empty" "[kafka]
brokers ="
refused "empty group id" "enrichd.ini:4: [kafka]: group_id: empty" "[kafka]
group_id ="
refused "output dir that is a file" "[output]: dir: '$work/dims/users.tsv' is not a directory" \
	"[output]
dir = $work/dims/users.tsv"
refused "missing source" "enrichd.ini:13: [dimension users]: source: '$work/none.tsv'" \
	"[dimension users]
source = $work/none.tsv"

# A key and a section given twice (lib_config merges, so these are written by hand).
lib_config "$ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:9 0
sed -i '38a segment_age_ms = 3s' "$ini"
rc=0
"$bin/enrichd" --config "$ini" --check >/dev/null 2>"$work/check.err" || rc=$?
check "duplicate key: exit status" "$rc" 2
grep -qF "enrichd.ini:39: [output]: segment_age_ms: set twice, at lines 38 and 39" \
	"$work/check.err" || check_fail "duplicate key: $(cat "$work/check.err")"
lib_config "$ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:9 0
cat >>"$ini" <<INI
[dimension users]
source = $work/dims/users.tsv
key = user_id
attr.plan = String
INI
rc=0
"$bin/enrichd" --config "$ini" --check >/dev/null 2>"$work/check.err" || rc=$?
check "duplicate section: exit status" "$rc" 2
grep -qF "[dimension users]: section given twice, at lines 12 and 45" "$work/check.err" ||
	check_fail "duplicate section: $(cat "$work/check.err")"
refused "unknown property" 'No such configuration property: "no.such.property"' "[kafka]
property.no.such.property = 1"
refused "bad property value" 'Invalid value for configuration property "fetch.max.bytes"' \
	"[kafka]
property.fetch.max.bytes = lots"
refused "managed property" "property 'group.id': set by enrichd" "[kafka]
property.group.id = other"
refused "properties librdkafka refuses together" '`fetch.max.bytes` must be >= `message.max.bytes`' \
	"[kafka]
property.fetch.max.bytes = 1000
property.message.max.bytes = 2000"
refused "reload every millisecond" "[dimensions]: reload_interval: 1ms is outside [10000," \
	"[dimensions]
reload_interval = 1ms"

# Long lines: six fully qualified brokers, a 229-byte source path, a 4000-byte one.
brokers=$(for i in 1 2 3 4 5 6; do
	printf 'kafka-broker-%02d.streaming.eu-west-1.internal.example.com:9092,' "$i"
done)
brokers=${brokers%,}
deep=$work/$(printf 'd%.0s' $(seq 100))/$(printf 'e%.0s' $(seq 100))
mkdir -p "$deep"
cp "$work/dims/users.tsv" "$deep/users.tsv"
deeper=$work
while [ ${#deeper} -lt 3900 ]; do deeper=$deeper/$(printf 'f%.0s' $(seq 200)); done
mkdir -p "$deeper"
cp "$work/dims/urls.tsv" "$deeper/urls.tsv"
lib_config "$ini" "$work/dims" "$work/out" "$work/dl" "$brokers" 0 "[dimension users]
source = $deep/users.tsv
[dimension urls]
source = $deeper/urls.tsv"
"$bin/enrichd" --config "$ini" --check >"$work/check.out" 2>"$work/check.err" ||
	fail "long lines refused: $(grep -v ' info ' "$work/check.err")"
grep -qF "brokers=$brokers " "$work/check.out" || check_fail "brokers not kept whole"
grep -qF "from $deep/users.tsv " "$work/check.out" || check_fail "the 229-byte path not kept whole"
grep -qF "from $deeper/urls.tsv " "$work/check.out" || check_fail "the long path not kept whole"
echo "-- brokers line of $((${#brokers} + 10)) bytes, source paths of ${#deep} and ${#deeper} bytes"
checks_done
echo "config_check: every trap refused with its file, line and key; long lines kept whole"
