# Shell helpers shared by the demo, the integration tests and the benchmarks. Source it.
#   ENRICHD_BUILD_DIR   where the programs are (default: build/ beside tools/)
#   ENRICHD_SOURCE_DIR  the source tree (default: the parent of tools/)

ENRICHD_SOURCE_DIR=${ENRICHD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
ENRICHD_BUILD_DIR=${ENRICHD_BUILD_DIR:-$ENRICHD_SOURCE_DIR/build}
CHQ="$ENRICHD_SOURCE_DIR/tools/ch/chq.js"
lib_pids=()
lib_mounts=()

# Reserves 2 MiB pages in /proc/sys/vm/nr_hugepages (root) for the dimension tables of USERS,
# DEVICES and URLS rows: the design targets' bytes per row (40, 64; urls 160) plus 16 pages, more
# than the tables take. lib_hugetlb_restore puts the old value back. lib_hugetlb_reserve U D L.
lib_hugetlb_old=""
lib_hugetlb_reserve() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "--hugetlb needs root (it writes /proc/sys/vm/nr_hugepages)" >&2
		return 1
	fi
	local want
	want=$(awk -v u="$1" -v d="$2" -v l="$3" \
		'BEGIN { printf "%d", (u * 40 + d * 64 + l * 160) / 2097152 + 16 }')
	lib_hugetlb_old=$(cat /proc/sys/vm/nr_hugepages)
	echo "$want" >/proc/sys/vm/nr_hugepages
	echo "hugetlb: nr_hugepages $lib_hugetlb_old -> $(cat /proc/sys/vm/nr_hugepages) (asked $want)"
}

lib_hugetlb_restore() {
	if [ -n "$lib_hugetlb_old" ]; then
		echo "$lib_hugetlb_old" >/proc/sys/vm/nr_hugepages
		echo "hugetlb: nr_hugepages restored to $lib_hugetlb_old"
		lib_hugetlb_old=""
	fi
}

# Runs a program of the build in the background, remembering it for lib_cleanup.
lib_spawn() {
	"$@" &
	lib_pids+=($!)
}

# Stops every process lib_spawn started (TERM, then KILL after 10 s).
lib_cleanup() {
	local pid
	for pid in "${lib_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${lib_pids[@]}"; do
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	lib_pids=()
	local m
	for m in "${lib_mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	lib_mounts=()
}

# Mounts a tmpfs of SIZE on DIR (created), unmounted by lib_cleanup: lib_tmpfs DIR SIZE.
# Where mounting is not allowed (not root), says so and ends the calling test as skipped.
lib_tmpfs() {
	mkdir -p "$1"
	if ! mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null; then
		echo "SKIP: cannot mount a small file system here (needs root)"
		exit 0
	fi
	lib_mounts+=("$1")
}

# Waits for enrichd's log FILE to name its metrics address and prints the URL
# (http://127.0.0.1:PORT); returns 1 if it does not within 60 s.
lib_metrics_url() {
	lib_wait_log "$1" "serving /metrics" 60 || return 1
	local port
	port=$(sed -n 's|.*serving /metrics.* on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$1")
	[ -n "$port" ] || return 1
	echo "http://127.0.0.1:$port"
}

# Starts the embedded Kafka broker: lib_broker_start TOPIC PARTITIONS; sets BROKERS.
lib_broker_start() {
	local portfile
	portfile=$(mktemp)
	lib_spawn "$ENRICHD_BUILD_DIR/enrichd-broker" --topic "$1" --partitions "$2" --brokers 1 \
		--port-file "$portfile" >/dev/null
	for _ in $(seq 100); do
		[ -s "$portfile" ] && break
		sleep 0.1
	done
	BROKERS=$(head -n1 "$portfile")
	rm -f "$portfile"
	[ -n "$BROKERS" ] || { echo "broker did not start" >&2; return 1; }
}

# Waits until ClickHouse sees N rows in the sealed segments of DIR plus the dead letters of
# DLDIR: lib_wait_sealed DIR DLDIR N TIMEOUT_S.
lib_wait_sealed() {
	local dir=$1 dldir=$2 want=$3 timeout=$4 got=0
	for _ in $(seq "$timeout"); do
		got=$(lib_sealed_count "$dir" "$dldir")
		[ "$got" -ge "$want" ] && return 0
		sleep 1
	done
	echo "timed out: $got of $want events sealed or dead-lettered" >&2
	return 1
}

lib_sealed_count() {
	local dir=$1 dldir=$2 rows=0 dead=0
	if compgen -G "$dir/dt=*/hour=*/*.native" >/dev/null; then
		rows=$("$CHQ" "SELECT count() FROM file('$dir/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0")
	fi
	if compgen -G "$dldir/*.deadletter.tsv" >/dev/null; then
		dead=$(cat "$dldir"/*.deadletter.tsv | wc -l)
	fi
	echo $((rows + dead))
}

# Waits until FILE has a line matching PATTERN: lib_wait_log FILE PATTERN TIMEOUT_S.
lib_wait_log() {
	for _ in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1" >&2
	return 1
}

# Writes an enrichd configuration for the generator's dimension files:
#   lib_config FILE DIMDIR OUTDIR DLDIR BROKERS CPUS [EXTRA-INI]
lib_config() {
	cat >"$1" <<INI
[kafka]
brokers = $5
topic = clickstream
group_id = enrichd
property.auto.offset.reset = earliest
property.session.timeout.ms = 6000
property.heartbeat.interval.ms = 500

[workers]
cpus = $6

[dimension users]
source = $2/users.tsv
key = user_id
key_type = UInt64
attr.country = LowCardinality(String)
attr.plan = LowCardinality(String)
attr.signup_date = Date

[dimension devices]
source = $2/devices.tsv
key = device_id
key_type = String
attr.device_type = LowCardinality(String)
attr.os = LowCardinality(String)
attr.browser = LowCardinality(String)

[dimension urls]
source = $2/urls.tsv
key = url
key_type = String
attr.domain = LowCardinality(String)
attr.category = LowCardinality(String)

[output]
dir = $3
instance = enrichd-1
segment_age_ms = 500ms

[dead_letter]
dir = $4

[metrics]
listen =

${7:-}
INI
}
