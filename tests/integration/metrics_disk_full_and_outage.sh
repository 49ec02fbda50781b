#!/usr/bin/env bash
# The disk-error and Kafka metrics through full disks and a broker outage, scraped every 0.2 s.
# They used to mislead: write_errors went back to 0 (the segment writer's count overwrote the
# dead-letter and manifest failures every loop), paused stayed 0 while the dead-letter file or the
# manifest could not be written and while a worker waited in a seal, and enrichd_kafka_errors_total
# stayed 0 through an outage. Three episodes while events flow: the dead letters' file system
# full (the segments' has room), then the segments' full, then the broker down. Here:
#   - no counter of any scrape is below its value in the scrape before;
#   - from 1 s after a file system filled up until it has room again, every scrape shows a
#     paused worker and write errors;
#   - the outage raises enrichd_kafka_errors_total;
#   - promtool check metrics passes on scrapes taken while each disk is full;
#   - afterwards every event is sealed or dead-lettered exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
events=80000

lib_tmpfs "$work/outdisk" 64m
lib_tmpfs "$work/dldisk" 8m
out=$work/outdisk/out
dl=$work/dldisk/dl
"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 31 2>/dev/null
lib_broker_start clickstream 4
broker_pid=${lib_pids[-1]}
lib_config "$work/enrichd.ini" "$work/dims" "$out" "$dl" "$BROKERS" 0-1 "[output]
inflight_bytes = 1MiB
block_rows = 512
$LIB_INI_METRICS"
mkdir -p "$out" "$dl"
lib_enrichd_start_metrics "$work/enrichd.ini" "$work/enrichd.log"
pid=$lib_enrichd_pid url=$lib_enrichd_url

ms() { date +%s%3N; }
mkdir -p "$work/scrapes"
# shellcheck disable=SC2016 # expanded by the scraper's shell
lib_spawn bash -c 'i=0; while [ ! -e "$1/stop" ]; do
	if curl -sf "$2/metrics" >"$1/s.tmp"; then
		mv "$1/s.tmp" "$1/$(printf %05d $i).txt"; echo "$i $(date +%s%3N)" >>"$1/index"; i=$((i + 1))
	fi
	sleep 0.2; done' scraper "$work/scrapes" "$url"
last_scrape() { ls "$work"/scrapes/0*.txt | tail -n 1; }

lib_produce 4 $events 4000 31 --malformed 0.2 --manifest "$work/manifest.tsv"
producer=$lib_producer_pid
sleep 1

# Fills the file system of DIR but for 64 KiB, waits for enrichd to meet it (its log's line
# matching WHAT), keeps it full 5 s; sets full_from and full_to (ms) and copies a scrape to FILE.
full_episode() {
	local dir=$1 what=$2 file=$3 free
	free=$(df --output=avail -B1 "$dir" | tail -n 1)
	dd if=/dev/zero of="$dir/filler" bs=64K count=$((free / 65536 - 1)) status=none 2>/dev/null || true
	lib_wait_log "$work/enrichd.log" "$what" 60
	sleep 1
	full_from+=" $(ms)"
	sleep 5
	kill -0 "$pid" || fail "enrichd exited while $dir was full"
	cp "$(last_scrape)" "$file"
	full_to+=" $(ms)"
	rm "$dir/filler"
	sleep 2
}
full_from="" full_to=""
full_episode "$work/dldisk" "deadletter: .*No space left on device" "$work/full-dl.txt"
full_episode "$work/outdisk" "seg: .*No space left on device" "$work/full-out.txt"
wait "$producer"
lib_wait_sealed "$out" "$dl" $events 120

outage_from=$(ms)
kill -USR1 "$broker_pid"
sleep 6
kill -USR2 "$broker_pid"
sleep 3
outage_to=$(ms)
touch "$work/scrapes/stop"
sleep 0.5
kill -TERM "$pid"
wait "$pid" || check_fail "enrichd exited non-zero"

for f in full-dl full-out; do
	promtool check metrics <"$work/$f.txt" >"$work/promtool.txt" 2>&1 ||
		check_fail "promtool check metrics ($f): $(cat "$work/promtool.txt")"
done
python3 - "$work/scrapes" "$full_from" "$full_to" "$outage_from" "$outage_to" <<'PY' ||
import os, sys
d = sys.argv[1]
fulls = list(zip(map(int, sys.argv[2].split()), map(int, sys.argv[3].split())))
out_from, out_to = int(sys.argv[4]), int(sys.argv[5])
index = [tuple(map(int, l.split())) for l in open(os.path.join(d, "index"))]
def parse(i):
    series, types = {}, {}
    for line in open(os.path.join(d, "%05d.txt" % i)):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line.strip() and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            series[key] = float(value)
    return series, types
def family(key):
    return key.split("{")[0]
def total(series, name):
    return sum(v for k, v in series.items() if family(k) == name)
failed, prev, full_seen, before, after = [], None, [0] * len(fulls), None, None
for i, at in index:
    s, types = parse(i)
    if prev:
        for key, value in s.items():
            name = family(key)
            base = name[:-7] if name.endswith("_bucket") else name.rsplit("_", 1)[0]
            counter = types.get(name) == "counter" or types.get(base) == "histogram"
            if counter and key in prev and value < prev[key]:
                failed.append(f"scrape {i}: {key} went down {prev[key]} -> {value}")
    for n, (a, b) in enumerate(fulls):
        if a <= at <= b:
            full_seen[n] += 1
            if total(s, "enrichd_worker_paused") < 1:
                failed.append(f"scrape {i} (disk {n + 1} full): no worker paused")
            if total(s, "enrichd_worker_write_errors_total") < 1:
                failed.append(f"scrape {i} (disk {n + 1} full): no write error counted")
    if at <= out_from:
        before = total(s, "enrichd_kafka_errors_total")
    if at <= out_to:
        after = total(s, "enrichd_kafka_errors_total")
    prev = s
if min(full_seen) < 5:
    failed.append(f"only {full_seen} scrapes while the disks were full")
if before is None or after is None or after <= before:
    failed.append(f"enrichd_kafka_errors_total {before} before the outage, {after} after")
for f in failed[:20]:
    print("FAIL:", f)
print(f"{len(index)} scrapes, {full_seen} while each disk was full; kafka errors {before} -> {after}")
sys.exit(1 if failed else 0)
PY
	check_fail "the metrics misled (above)"

cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$work/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS p, _offset AS o FROM file('$out/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0;
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$dl/*.deadletter.tsv', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'rows', count(), uniqExact(p, o) FROM a;
SELECT 'good', count() FROM m WHERE malformed = 0;
SELECT 'dead', count(), uniqExact(partition, offset) FROM dl;
SELECT 'malformed', count() FROM m WHERE malformed = 1;
SQL
ch_results "$work/check.sql"
check "rows" "$(val rows 2)" "$(val good 2)"
check "distinct rows" "$(val rows 3)" "$(val good 2)"
check "dead letters" "$(val dead 2)" "$(val malformed 2)"
check "distinct dead letters" "$(val dead 3)" "$(val malformed 2)"
checks_done tail -n 20 "$work/enrichd.log"
echo "metrics_disk_full_and_outage: counters monotonic, paused and write errors shown while the" \
	"dead letters' and the segments' disks were full, Kafka errors counted in the outage, every" \
	"event exactly once"
