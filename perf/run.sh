#!/usr/bin/env bash
# The event-path benchmark suite: enrichd against its peer and the machine's limits, side by
# side in one run, every figure the median of --runs runs. Prints a table and writes it, with
# every raw result, under var/bench/<scale>/.
#
#   perf/run.sh [--scale small|10m|50m] [--runs N] [--only PARTS] [--hugetlb]
#
#   --scale  data size (default 10m):
#              small  1M users, 1M devices, 100K urls, 1M events    (a quick check)
#              10m    10M users, 10M devices, 1M urls, 10M events
#              50m    50M users, 50M devices, 10M urls, 10M events  (no ClickHouse peer: its
#                     dictionaries of this size do not fit in this machine's memory)
#            Dimensions and events are generated once and kept under var/bench/<scale>/.
#   --runs   runs of each measurement (default 3); the table shows medians
#   --only   comma-separated subset of: enrich, peer, randload, kafka, latency, schema15, avro15
#            (default all).
#            The table is built from the results on disk, so parts may be run separately.
#            `--only data` only builds and generates the data.
#   --hugetlb  (root) reserve 2 MiB pages for the dimension tables in /proc/sys/vm/nr_hugepages
#            for the run (restored at exit), as OPERATIONS.md advises: enrichd and bench-randload
#            then map them with MAP_HUGETLB instead of transparent huge pages. Without it THP.
#
# Parts (one after the other; nothing else of the suite runs at the same time):
#   enrich    enrichd --input events.jsonl with 1 worker on one core (cpus = 0, io_cpus = 0: the
#             kernel's io_uring write threads on the worker's core too), 1 worker with those
#             threads on the other core (io_cpus = auto) and 2 workers (cpus = 0-1): event-path wall
#             time (the longest worker loop: dimension load and worker setup excluded), CPU
#             time, the per-stage split, peak RSS, dimension B/row and load rows/s; and 1 worker
#             on one core over events-hot.jsonl (the first 1,000 events repeated): the probe
#             stage with every key's lines in the cache, its own work without memory waits
#   peer      ClickHouse (embedded, chdb) doing the same enrichment with hashed dictionaries on
#             the same files (perf/ch_enrich.js), with max_threads = 1 and with all cores
#   randload  bench-randload: random cache-line loads over a region as large as enrichd's
#             dimensions, with huge pages and with 4 KiB pages
#   kafka     embedded broker, one 48-partition topic filled first; a counting librdkafka
#             consumer (bench-kafka-count) and enrichd to sealed segments (segment_age_ms of
#             500 ms, without and with segment_idle_ms = 50 ms, and of 50 ms), each a fresh
#             group
#   schema15  a declared JSON schema of 16 fields (nested objects, arrays, Nullable, UUID, IPv4,
#             ...: the events rewritten by perf/schema15_events.js with the same keys): enrichd
#             --input with 1 worker on one core, and ClickHouse doing the same enrichment from
#             JSONEachRow with the same dictionaries, max_threads = 1 (perf/ch_enrich.js --schema
#             schema15), and the same with ClickHouse bound to CPU 0 (taskset): on one core
#   avro15    the schema15 events in Avro, Confluent wire format (perf/avro15_events.js, the writer
#             schema registered with the test registry, tests/registry/registry.js): enrichd
#             --input of the length-prefixed messages with 1 worker on one core, and ClickHouse
#             doing the same enrichment from AvroConfluent (the same registry) with the same
#             dictionaries, max_threads = 1 (perf/ch_enrich.js --schema avro15), and bound to CPU 0
#   latency   enrichd consuming 100K events/s for 25 s; event-to-seal latency of every row
#             (seal time = ctime of its segment, set by the rename that seals it; event time
#             = its Kafka producer timestamp), computed by ClickHouse over the segments: the
#             percentiles and the rows per 10 ms; and the engine's own histogram from /metrics
#
# perf/report.sh prints the table from the raw results and writes the figures the plots show to
# perf/results/*.tsv (perf/plots.sh draws docs/img/*.svg from them).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scale=10m
runs=3
only=enrich,peer,randload,kafka,latency,schema15,avro15
hugetlb=0
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--hugetlb) hugetlb=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "perf/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$scale" in
small) users=1000000 devices=1000000 urls=100000 events=1000000 ;;
10m) users=10000000 devices=10000000 urls=1000000 events=10000000 ;;
50m) users=50000000 devices=50000000 urls=10000000 events=10000000 ;;
*) echo "perf/run.sh: --scale is small, 10m or 50m" >&2; exit 2 ;;
esac
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || { echo "perf/run.sh: --runs is 1..99" >&2; exit 2; }
want() { [[ ",$only," == *",$1,"* ]]; }

# Kafka part: events in the topic before consuming. The embedded broker keeps ~5 MB per
# partition; 1,056,000 events of ~165 B over 48 partitions are ~3.6 MB each (~1 s to consume).
kafka_events=1056000
kafka_partitions=48
# Latency part: 100K events/s for 25 s.
latency_rate=100000
latency_events=2500000
segment_age=500ms
# The Kafka part's run is short (~1 s): its last epoch closes up to segment_age_ms after the
# last message, so enrichd also runs with segment_idle_ms (the epoch closes once the topic is
# drained) and with short epochs. Variants: AGE:IDLE:CPUS, CPUS the [workers] cpus: auto is a
# worker per core; 1 is one worker on CPU 1, leaving CPU 0 to librdkafka's fetch thread and the
# broker.
kafka_variants="500ms:0:auto 500ms:50ms:auto 50ms:0:auto 500ms:50ms:1"

tools/setup.sh
tools/build.sh build
# shellcheck source=../tools/lib.sh
source tools/lib.sh

trap 'lib_cleanup; lib_hugetlb_restore >&2' EXIT
if [ "$hugetlb" = 1 ]; then
	lib_hugetlb_reserve "$users" "$devices" "$urls" >&2 || exit 1
fi
bin=$ENRICHD_BUILD_DIR
bench=$top/var/bench/$scale
res=$bench/results
scratch=$bench/scratch
mkdir -p "$res" "$scratch"

log() { echo "== $*" >&2; }

# ---- data, generated once per scale ----

dims_stamp="users=$users devices=$devices urls=$urls seed=42"
if [ "$(cat "$bench/dims/.stamp" 2>/dev/null)" != "$dims_stamp" ]; then
	log "generating dimensions ($dims_stamp)"
	rm -rf "$bench/dims"
	"$bin/enrichd-gen-dims" --out "$bench/dims" --users "$users" --devices "$devices" \
		--urls "$urls" --seed 42
	echo "$dims_stamp" >"$bench/dims/.stamp"
fi
# Well-formed events only (both sides read the same file; nothing is dead-lettered), 2% of the
# keys of each dimension missing (left join: NULL attributes).
events_stamp="$dims_stamp events=$events miss=0.02"
if [ "$(cat "$bench/events.stamp" 2>/dev/null)" != "$events_stamp" ]; then
	log "generating $events events"
	"$bin/enrichd-gen-events" --out "$bench/events.jsonl" --count "$events" --seed 42 \
		--users "$users" --devices "$devices" --urls "$urls" \
		--miss-users 0.02 --miss-devices 0.02 --miss-urls 0.02
	echo "$events_stamp" >"$bench/events.stamp"
fi

# The probe's own work: the first 1,000 events repeated (at most 2M events), so every key's lines
# stay in the cache and the probe stage runs without waiting for memory.
hot_events=$((events < 2000000 ? events : 2000000))
hot_stamp="$events_stamp hot=$hot_events"
if [ "$(cat "$bench/events-hot.stamp" 2>/dev/null)" != "$hot_stamp" ]; then
	log "writing $hot_events events of 1,000 distinct ones"
	head -n 1000 "$bench/events.jsonl" | awk -v n="$((hot_events / 1000))" '
		{ line[NR] = $0 } END { for (r = 0; r < n; r++) for (i = 1; i <= NR; i++) print line[i] }' \
		>"$bench/events-hot.jsonl"
	echo "$hot_stamp" >"$bench/events-hot.stamp"
fi

# The embedded broker (librdkafka's mock) answers a fetch that finds no new data only after
# fetch.wait.max.ms (default 500 ms), even when data arrives meanwhile; a real broker answers
# as soon as fetch.min.bytes (1) is there. Every consumer of the suite waits at most 20 ms.
fetch_wait_ms=20

# config FILE OUTDIR CPUS [BROKERS GROUP AGE IDLE]: an enrichd configuration for this scale's
# data.
config() {
	lib_config "$1" "$bench/dims" "$2" "$2.dead-letter" "${4:-127.0.0.1:9}" "$3"
	sed -i -e "s/^group_id = .*/group_id = ${5:-enrichd}\nproperty.fetch.wait.max.ms = $fetch_wait_ms/" \
		-e "s/^segment_age_ms = .*/segment_age_ms = ${6:-$segment_age}\nsegment_idle_ms = ${7:-0}/" "$1"
}

# Every run reads the dimension sources and the events from the page cache: this machine trims
# the page cache while memory is free (a quarter of a dimension file was found evicted with 10 GB free),
# and a run that reads part of a file from disk measures the disk.
warm() {
	cat "$bench/dims/users.tsv" "$bench/dims/devices.tsv" "$bench/dims/urls.tsv" "$bench/events.jsonl" \
		"$bench/events-hot.jsonl" >/dev/null
}

# ---- enrich: enrichd --input ----

if want enrich; then
	rm -f "$res"/enrich-w1-* "$res"/enrich-w1io-* "$res"/enrich-w2-* "$res"/enrich-w1hot-*
	for r in $(seq "$runs"); do
		for w in 1 1io 2 1hot; do
			cpus=0 io=0 input=$bench/events.jsonl
			[ "$w" = 1io ] && io=auto
			[ "$w" = 2 ] && cpus=0-1 io=auto
			[ "$w" = 1hot ] && input=$bench/events-hot.jsonl
			log "enrichd --input $(basename "$input"), ${w%%[a-z]*} worker(s) (cpus = $cpus, io_cpus = $io), run $r of $runs"
			rm -rf "$scratch/out" "$scratch/out.dead-letter"
			config "$scratch/enrich.ini" "$scratch/out" "$cpus"
			sed -i "s/^\[output\]$/[output]\nio_cpus = $io/" "$scratch/enrich.ini"
			warm
			/usr/bin/time -f "maxrss_kb=%M" -o "$res/enrich-w$w-r$r.time" \
				"$bin/enrichd" --config "$scratch/enrich.ini" --input "$input" \
				2>"$res/enrich-w$w-r$r.log"
			grep -E "summary:" "$res/enrich-w$w-r$r.log" | sed 's/^.*summary: /   /' >&2
		done
	done
	rm -rf "$scratch/out" "$scratch/out.dead-letter"
fi

# ---- peer: ClickHouse with dictionaries ----

if want peer; then
	rm -f "$res/peer.txt"
	if [ "$scale" = 50m ]; then
		log "peer: skipped at 50m (ClickHouse's dictionaries of 50M users and 50M devices do not fit in this machine's memory)"
	else
		log "ClickHouse: dictionaries and the same enrichment, max_threads = 1 and all cores, $runs runs each"
		warm
		node perf/ch_enrich.js --dims "$bench/dims" --events "$bench/events.jsonl" \
			--out "$scratch/ch.native" --runs "$runs" --threads 1,0 | tee "$res/peer.txt" >&2
	fi
fi

# ---- schema15: a declared 16-field JSON schema, enrichd and ClickHouse ----

# The [event] section of the schema15 part: the fields bench-event-bench --schema15 declares.
schema15_event='[event]
time_field = event_time
field.event_time = DateTime64(3, '"'"'UTC'"'"') from ts unit=ms
field.event_type = LowCardinality(String) from type
field.user_id = UInt64 from user.id
field.logged_in = Bool from user.logged_in
field.session_id = UUID from session
field.device_id = String from device.id integers=text
field.client_os = LowCardinality(String) from device.os
field.url = String from page.url
field.referrer = Nullable(String) from page.referrer
field.geo_country = FixedString(2) from geo.country
field.ip = IPv4 from geo.ip
field.price = Nullable(Float64) from cart.price
field.items = Array(Int64) from cart.items
field.tags = Array(String) from tags
field.duration_ms = Nullable(UInt32) from duration_ms
field.day = Date from day'

# enrich_declared NAME EVENT_INI INPUT: the runs of enrichd --input INPUT with one worker on one
# core and the configuration's [event] (and more) from EVENT_INI; logs as enrich-wNAME-rR.*.
enrich_declared() {
	local r ini=$scratch/$1.ini
	for r in $(seq "$runs"); do
		log "enrichd --input $(basename "$3"), 1 worker (cpus = 0, io_cpus = 0), run $r of $runs"
		rm -rf "$scratch/out" "$scratch/out.dead-letter"
		config "$ini" "$scratch/out" 0
		LIB_INI_EXTRA="$2
[output]
io_cpus = 0" awk -f <(lib_ini_merge_awk) "$ini" >"$ini.new"
		mv "$ini.new" "$ini"
		cat "$bench/dims/users.tsv" "$bench/dims/devices.tsv" "$bench/dims/urls.tsv" "$3" \
			>/dev/null
		/usr/bin/time -f "maxrss_kb=%M" -o "$res/enrich-w$1-r$r.time" \
			"$bin/enrichd" --config "$ini" --input "$3" 2>"$res/enrich-w$1-r$r.log"
		grep -E "summary:" "$res/enrich-w$1-r$r.log" | sed 's/^.*summary: /   /' >&2
	done
}

# peer_declared NAME EVENTS [ARGS...]: ClickHouse's runs of the same enrichment
# (perf/ch_enrich.js --schema NAME ARGS, max_threads = 1) into peer-NAME.txt, and the same runs
# with the process bound to CPU 0 (taskset) into peer-NAME-core.txt: with max_threads = 1 its
# parallel input parsing still keeps a second core busy, so the bound run is ClickHouse on one
# core, as enrichd's runs are; none at 50m.
peer_declared() {
	rm -rf "$scratch/out" "$scratch/out.dead-letter"
	if [ "$scale" = 50m ]; then
		log "$1 peer: skipped at 50m (the dictionaries do not fit in this machine's memory)"
		return
	fi
	log "ClickHouse: the $1 enrichment, max_threads = 1, $runs runs"
	node perf/ch_enrich.js --dims "$bench/dims" --events "$2" --out "$scratch/ch-$1.native" \
		--runs "$runs" --threads 1 --schema "$1" "${@:3}" | tee "$res/peer-$1.txt" >&2
	log "ClickHouse: the $1 enrichment, max_threads = 1, bound to CPU 0, $runs runs"
	taskset -c 0 node perf/ch_enrich.js --dims "$bench/dims" --events "$2" \
		--out "$scratch/ch-$1.native" --runs "$runs" --threads 1 --schema "$1" "${@:3}" |
		tee "$res/peer-$1-core.txt" >&2
	rm -f "$scratch/ch-$1.native"
}

if want schema15; then
	if [ "$(cat "$bench/events15.stamp" 2>/dev/null)" != "$events_stamp" ]; then
		log "rewriting the events as the declared 16-field schema's"
		node perf/schema15_events.js "$bench/events.jsonl" "$bench/events15.jsonl"
		echo "$events_stamp" >"$bench/events15.stamp"
	fi
	rm -f "$res"/enrich-wschema15-r* "$res"/peer-schema15*.txt
	enrich_declared schema15 "$schema15_event" "$bench/events15.jsonl"
	peer_declared schema15 "$bench/events15.jsonl"
fi

# ---- avro15: the same events in Avro (Confluent wire format), enrichd and ClickHouse ----

# The schema15 part's fields from the Avro writer schema of perf/avro15_events.js (the IP a
# String: Avro has no IPv4).
avro15_event=$(printf '%s\n' "$schema15_event" | sed -e 's/^time_field = event_time$/format = avro-confluent\ntime_field = event_time/' \
	-e 's/ from ts unit=ms$/ from ts/' -e 's/^field.ip = IPv4 /field.ip = String /' \
	-e 's/ integers=text$//')

if want avro15; then
	# The writer schema's id is the test registry's first: the same at every start, so the
	# messages written once stay valid.
	lib_spawn node tests/registry/registry.js --port-file "$scratch/registry.port" \
		>"$scratch/registry.log" 2>&1
	for _ in $(seq 100); do
		[ -s "$scratch/registry.port" ] && break
		sleep 0.1
	done
	reg_url=$(cat "$scratch/registry.port")
	rm -f "$scratch/registry.port"
	[ -n "$reg_url" ] || { log "the test registry did not start"; exit 1; }
	if [ "$(cat "$bench/events-avro15.stamp" 2>/dev/null)" != "$events_stamp" ]; then
		[ "$(cat "$bench/events15.stamp" 2>/dev/null)" = "$events_stamp" ] ||
			node perf/schema15_events.js "$bench/events.jsonl" "$bench/events15.jsonl"
		echo "$events_stamp" >"$bench/events15.stamp"
		log "writing the declared schema's events in Avro"
		node perf/avro15_events.js "$reg_url" "$bench/events15.jsonl" \
			"$bench/events-avro15.framed" "$bench/events-avro15.bin" >/dev/null
		echo "$events_stamp" >"$bench/events-avro15.stamp"
	else
		node perf/avro15_events.js "$reg_url" >/dev/null
	fi
	rm -f "$res"/enrich-wavro15-r* "$res"/peer-avro15*.txt
	enrich_declared avro15 "$avro15_event
[registry]
urls = $reg_url" "$bench/events-avro15.framed"
	peer_declared avro15 "$bench/events-avro15.bin" --registry "$reg_url"
fi

# ---- randload: the machine's random-load limit ----

dims_mib() {
	local f
	f=$(ls "$res"/enrich-w1-r*.log 2>/dev/null | head -n1)
	[ -n "$f" ] && sed -n 's/.* dimensions (\([0-9.]*\) MiB.*/\1/p' "$f" | head -n1
}

if want randload; then
	rm -f "$res/randload.txt"
	mib=$(dims_mib)
	mib=${mib%.*}
	[ -n "$mib" ] || mib=1024
	for r in $(seq "$runs"); do
		for mode in auto 4k; do
			log "bench-randload over ${mib} MiB, pages $mode, run $r of $runs"
			"$bin/bench-randload" --bytes "${mib}M" --huge "$mode" --seconds 2 2>/dev/null |
				tee -a "$res/randload.txt" >&2
		done
	done
fi

# ---- kafka: counting consumer vs enrichd to sealed segments ----

# Epoch ms of an enrichd log line's timestamp (2026-01-01T00:00:00.000Z ...).
log_ms() {
	local ts
	ts=$(grep -m1 "$2" "$1" | cut -d' ' -f1)
	[ -n "$ts" ] && echo $(($(date -d "$ts" +%s%N) / 1000000))
}

# Epoch ms of the newest ctime of DIR's sealed segments (the rename that sealed the last one).
last_seal_ms() {
	find "$1" -name '*.native' -printf '%C@\n' | sort -n | tail -n1 | awk '{ printf "%.0f", $1 * 1000 }'
}

# Waits until enrichd's /metrics at URL counts N rows sealed: wait_rows_sealed URL N TIMEOUT_S.
# A scrape costs ~1 ms of CPU, where a ClickHouse count of the segments would take a good part of
# a core from the run it measures.
wait_rows_sealed() {
	local got=0
	for _ in $(seq $(($3 * 50))); do
		got=$(curl -sf "$1/metrics" | awk 'index($1, "enrichd_worker_rows_sealed_total{") == 1 { s += $2 }
			END { printf "%d", s }')
		[ "$got" -ge "$2" ] && return 0
		sleep 0.02
	done
	echo "timed out: $got of $2 rows sealed" >&2
	return 1
}

# CPU seconds (user + system) PID has taken so far.
proc_cpu_s() {
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"
}

if want kafka; then
	rm -f "$res/kafka.txt"
	log "embedded broker, topic clickstream of $kafka_partitions partitions, $kafka_events events"
	lib_broker_start clickstream "$kafka_partitions"
	# shellcheck disable=SC2154 # set by tools/lib.sh
	broker_pid=${lib_pids[-1]}
	"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --count "$kafka_events" \
		--seed 42 --users "$users" --devices "$devices" --urls "$urls" \
		--partitions "$kafka_partitions" 2>&1 | tail -n1 >&2
	kprops=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500
		-X "fetch.wait.max.ms=$fetch_wait_ms")
	for r in $(seq "$runs"); do
		log "bench-kafka-count, run $r of $runs"
		b0=$(proc_cpu_s "$broker_pid")
		line=$("$bin/bench-kafka-count" --brokers "$BROKERS" --topic clickstream \
			--group "count-$r" --count "$kafka_events" "${kprops[@]}")
		echo "$line broker_cpu_s=$(awk -v a="$b0" -v b="$(proc_cpu_s "$broker_pid")" \
			'BEGIN { printf "%.2f", b - a }')" | tee -a "$res/kafka.txt" >&2
		for variant in $kafka_variants; do
			IFS=: read -r age idle kcpus <<<"$variant"
			log "enrichd to sealed segments, segment_age_ms = $age, segment_idle_ms = $idle, cpus = $kcpus, run $r of $runs"
			rm -rf "$scratch/kout" "$scratch/kout.dead-letter"
			config "$scratch/kafka.ini" "$scratch/kout" "$kcpus" "$BROKERS" \
				"enrichd-$r-$age-$idle-$kcpus" "$age" "$idle"
			sed -i "s/^listen =.*/listen = 127.0.0.1:0/" "$scratch/kafka.ini"
			klog=$res/kafka-enrichd-$age-$idle-$kcpus-r$r.log
			lib_spawn "$bin/enrichd" --config "$scratch/kafka.ini" 2>"$klog"
			# shellcheck disable=SC2154 # set by tools/lib.sh
			pid=${lib_pids[-1]}
			lib_wait_log "$klog" "partitions assigned" 60
			b0=$(proc_cpu_s "$broker_pid")
			e0=$(proc_cpu_s "$pid")
			wait_rows_sealed "$(lib_metrics_url "$klog")" "$kafka_events" 120
			b1=$(proc_cpu_s "$broker_pid")
			e1=$(proc_cpu_s "$pid")
			kill -TERM "$pid"
			wait "$pid" || true
			assigned=$(log_ms "$klog" "partitions assigned")
			sealed=$(last_seal_ms "$scratch/kout")
			read -r rows ingest < <("$CHQ" "SELECT count(), toUnixTimestamp64Milli(max(_ingest_time))
				FROM file('$scratch/kout/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0")
			echo "kafka_enrichd: variant=$variant age=$age idle=$idle cpus=$kcpus messages=$rows assigned_ms=$assigned sealed_ms=$sealed" \
				"last_ingest_ms=$ingest" \
				"cpu_s=$(awk -v a="$e0" -v b="$e1" 'BEGIN { printf "%.2f", b - a }')" \
				"broker_cpu_s=$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')" \
				"seconds=$(awk -v a="$assigned" -v s="$sealed" 'BEGIN { printf "%.3f", (s - a) / 1000 }')" \
				"ingest_seconds=$(awk -v a="$assigned" -v s="$ingest" 'BEGIN { printf "%.3f", (s - a) / 1000 }')" |
				tee -a "$res/kafka.txt" >&2
		done
	done
	lib_cleanup
	rm -rf "$scratch/kout" "$scratch/kout.dead-letter"
fi

# ---- latency: 100K events/s, event to sealed ----

if want latency; then
	rm -f "$res/latency.txt" "$res"/latency-hist-r*.tsv "$res"/latency-metrics-r*.txt
	for r in $(seq "$runs"); do
		log "latency: $latency_rate events/s for $((latency_events / latency_rate)) s, run $r of $runs"
		# What else the machine does: the load average before this run starts anything, and the
		# share of the machine's CPU time that was busy while it ran (this run's own included).
		load_before=$(cut -d' ' -f1 /proc/loadavg)
		stat0=$(head -n1 /proc/stat)
		lib_broker_start clickstream "$kafka_partitions"
		rm -rf "$scratch/lout" "$scratch/lout.dead-letter"
		config "$scratch/latency.ini" "$scratch/lout" auto "$BROKERS" "latency-$r"
		sed -i "s/^listen =.*/listen = 127.0.0.1:0/" "$scratch/latency.ini"
		lib_spawn "$bin/enrichd" --config "$scratch/latency.ini" 2>"$res/latency-enrichd-r$r.log"
		pid=${lib_pids[-1]}
		lib_wait_log "$res/latency-enrichd-r$r.log" "partitions assigned" 60
		"$bin/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream --count "$latency_events" \
			--rate "$latency_rate" --seed 42 --users "$users" --devices "$devices" --urls "$urls" \
			--start-ms "$(($(date +%s) * 1000))" 2>&1 | tail -n1 >&2
		lib_wait_sealed "$scratch/lout" "$scratch/lout.dead-letter" "$latency_events" 120
		busy_pct=$(printf '%s\n%s\n' "$stat0" "$(head -n1 /proc/stat)" | awk '
			{ t[NR] = 0; for (i = 2; i <= NF; i++) t[NR] += $i; idle[NR] = $5 + $6 }
			END { d = t[2] - t[1]; printf "%.0f", (d > 0 ? 100 * (1 - (idle[2] - idle[1]) / d) : 0) }')
		# The engine's own event-to-seal histogram (Kafka timestamp to seal, every row), complete
		# once every row is sealed.
		curl -sf "$(lib_metrics_url "$res/latency-enrichd-r$r.log")/metrics" |
			grep '^enrichd_event_seal_latency_seconds' >"$res/latency-metrics-r$r.txt" || true
		kill -TERM "$pid"
		wait "$pid" || true
		lib_cleanup
		find "$scratch/lout" -name '*.native' -printf '%f\t%C@\n' >"$scratch/seals.tsv"
		"$CHQ" "SELECT 'latency:', 'rows=' || toString(count()),
			'p50_ms=' || toString(round(quantileExact(0.5)(lat))),
			'p99_ms=' || toString(round(quantileExact(0.99)(lat))),
			'max_ms=' || toString(round(max(lat))), 'segments=' || toString(uniqExact(_file)),
			'taken_p50_ms=' || toString(round(quantileExact(0.5)(taken))),
			'taken_p99_ms=' || toString(round(quantileExact(0.99)(taken)))
			FROM (SELECT _file, s.seal * 1000 - toUnixTimestamp64Milli(_kafka_time) AS lat,
			             toUnixTimestamp64Milli(_ingest_time) - toUnixTimestamp64Milli(_kafka_time) AS taken
			      FROM file('$scratch/lout/**/*.native', 'Native') AS r
			      JOIN file('$scratch/seals.tsv', 'TSV', 'file String, seal Float64') AS s
			      ON r._file = s.file)
			SETTINGS use_hive_partitioning = 0" | tr '\t' ' ' |
			sed "s/^latency: .*/& load_before=$load_before busy_pct=$busy_pct/" |
			tee -a "$res/latency.txt" >&2
		# The distribution behind those figures: rows per 10 ms of latency (upper bound of the bin).
		"$CHQ" "SELECT intDiv(toUInt64(greatest(s.seal * 1000 - toUnixTimestamp64Milli(_kafka_time), 0)), 10) * 10 + 10 AS le_ms,
			count() FROM file('$scratch/lout/**/*.native', 'Native') AS r
			JOIN file('$scratch/seals.tsv', 'TSV', 'file String, seal Float64') AS s ON r._file = s.file
			GROUP BY le_ms ORDER BY le_ms SETTINGS use_hive_partitioning = 0" >"$res/latency-hist-r$r.tsv"
	done
	rm -rf "$scratch/lout" "$scratch/lout.dead-letter" "$scratch/seals.tsv"
fi

# ---- the table ----

[ "$only" = data ] && exit 0
perf/report.sh "$bench" | tee "$bench/report.txt"
