#!/usr/bin/env bash
# Dead letters keep every byte of large messages, with their reason. A 10 MB malformed message
# from Kafka, and a well-formed 10 MB event from --input that no block can hold (too_large), used
# to become a 524,152-byte head with the reason "raw bytes truncated" while their offsets were
# committed. Here both must come back from the dead-letter file whole (same length and SHA-256),
# with their own reason, and every other message exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
command -v kcat >/dev/null || lib_skip "kcat is not installed"
events=300

"$bin/enrichd-gen-dims" --out "$work/dims" --users 2000 --devices 2000 --urls 500 --seed 4 2>/dev/null
# Every byte value, newlines and tabs included: not JSON (it starts with a NUL).
python3 -c "
import sys
sys.stdout.buffer.write(bytes((i * 7 + i // 4096) % 256 for i in range(10 * 1000 * 1000)))" \
	>"$work/malformed.bin"

# Kafka: well-formed events on partition 0, the large message alone on partition 1 (the broker
# keeps about 5 MB per partition, and a message set over it only while it is the last one).
lib_broker_start clickstream 2
"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --partitions 1 --count $events \
	--seed 4 --users 2000 --devices 2000 --urls 500 2>/dev/null
kcat -P -b "$BROKERS" -t clickstream -p 1 -X message.max.bytes=20000000 "$work/malformed.bin"
lib_config "$work/kafka.ini" "$work/dims" "$work/out" "$work/dl" "$BROKERS" 0-1 "[metrics]
listen = 127.0.0.1:0"
lib_spawn "$bin/enrichd" --config "$work/kafka.ini" 2>"$work/kafka.log"
pid=${lib_pids[-1]}
url=$(lib_metrics_url "$work/kafka.log")
lib_wait_sealed "$work/out" "$work/dl" $((events + 1)) 120
# Its offset is committed once its dead letter is synced: the lag goes to 0.
lag=x
for _ in $(seq 100); do
	lag=$(curl -sf "$url/metrics" | awk '/^enrichd_kafka_consumer_lag_messages\{/ { s += $2; n++ }
		END { print n ? s : "none" }')
	[ "$lag" = 0 ] && break
	sleep 0.1
done
check "Kafka: lag once the large message is dead-lettered" "$lag" 0
kill -TERM "$pid"
wait "$pid" || check_fail "enrichd (Kafka) exited non-zero"

# --input: a well-formed event whose url is 10 MB, between two small ones.
python3 -c "
import json
small = {'timestamp': 1735689600000, 'user_id': 1, 'url': 'https://a.example/', 'device_id': 'd'}
print(json.dumps(small))
print(json.dumps(dict(small, url='https://a.example/' + 'x' * (10 * 1000 * 1000))))
print(json.dumps(small))" >"$work/input.jsonl"
sed -n 2p "$work/input.jsonl" | tr -d '\n' >"$work/large_event.bin"
lib_config "$work/input.ini" "$work/dims" "$work/out-input" "$work/dl-input" 127.0.0.1:9 0
lib_enrichd_input "$work/input.ini" "$work/input.jsonl" "$work/input.log"

sha() { sha256sum "$1" | awk '{ print toupper($1) }'; }
cat >"$work/check.sql" <<SQL
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$work/dl/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
CREATE TABLE dli ENGINE = Memory AS SELECT * FROM file('$work/dl-input/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'kafka', count(), any(partition), any(offset), any(error), any(reason), any(length(raw)), any(hex(SHA256(raw))) FROM dl;
SELECT 'rows', count(), uniqExact(_offset), min(_offset) FROM file('$work/out/**/*.native', 'Native');
SELECT 'input', count(), any(offset), any(error), any(reason), any(length(raw)), any(hex(SHA256(raw))) FROM dli;
SELECT 'input_rows', count() FROM file('$work/out-input/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0;
SQL
ch_results "$work/check.sql" | cut -c1-160
check "Kafka: dead letters" "$(val kafka 2)" 1
check "Kafka: its partition and offset" "$(val kafka 3) $(val kafka 4)" "1 0"
check "Kafka: its error" "$(val kafka 5)" syntax
case "$(val kafka 6)" in *truncated*) check_fail "Kafka: the reason was replaced: $(val kafka 6)" ;; esac
check "Kafka: raw length" "$(val kafka 7)" "$(stat -c %s "$work/malformed.bin")"
check "Kafka: raw SHA-256" "$(val kafka 8)" "$(sha "$work/malformed.bin")"
check "Kafka: rows" "$(val rows 2)" $events
check "Kafka: distinct offsets" "$(val rows 3)" $events
check "Kafka: first row offset" "$(val rows 4)" 0
check "--input: dead letters" "$(val input 2)" 1
check "--input: its line" "$(val input 3)" 1
check "--input: its error" "$(val input 4)" too_large
check "--input: its reason" "$(val input 5)" "the row does not fit in an empty block"
check "--input: raw length" "$(val input 6)" "$(stat -c %s "$work/large_event.bin")"
check "--input: raw SHA-256" "$(val input 7)" "$(sha "$work/large_event.bin")"
check "--input: rows" "$(val input_rows 2)" 2
checks_done tail -n 5 "$work/kafka.log" "$work/input.log"
echo "deadletter_large_messages: a 10 MB malformed Kafka message and a 10 MB --input event" \
	"dead-lettered whole, with their reasons"
