# Shell helpers shared by the demo, the integration tests and the benchmarks. Source it.
#   ENRICHD_BUILD_DIR   where the programs are (default: build/ beside tools/)
#   ENRICHD_SOURCE_DIR  the source tree (default: the parent of tools/)
#
# An integration test (tests/integration/<module>_<what it proves>.sh) starts with
#
#   source "$(dirname "$0")/../../tools/lib.sh"
#   lib_test_init
#
# and uses:
#   lib_test_init         set -euo pipefail; $work (a new temp dir), $bin (the build's programs),
#                         $src (the source tree); on exit, lib_cleanup, then $work is removed,
#                         except after a failure: then its path is printed ("work directory kept:")
#                         for a look at the logs (ENRICHD_KEEP_WORK=0 removes it anyway)
#   fail MSG...           prints "FAIL: MSG" and ends the test (status 1)
#   check WHAT GOT WANT   compares GOT with WANT; on a difference prints "FAIL: WHAT: got ..., want
#                         ..." and goes on: the test fails at checks_done, or at exit
#   check_fail MSG...     records a failed check with its message and goes on
#   checks_done [CMD...]  if a check failed: runs CMD (diagnostics, e.g. tail of a log), exits 1
#   lib_skip REASON       prints "SKIP: REASON" and exits 77, which ctest counts as skipped
#   ch SQL | -f FILE | -  one ClickHouse (chdb) session over tools/ch/chq.js: the rows on stdout
#   ch_results FILE       runs FILE's queries, keeps their rows in $work/result.tsv and shows them
#   val KEY COLUMN        from $work/result.tsv, COLUMN of the row whose first column is KEY
#   lib_enrichd_input CONFIG INPUT LOG
#                         runs enrichd --input (stdin when INPUT is -); fails the test with the
#                         log's tail if enrichd fails
#   lib_enrichd_start CONFIG LOG [TIMEOUT_S]
#                         starts enrichd (lib_spawn) on CONFIG, its log in LOG; sets
#                         lib_enrichd_pid and waits until the group assigned it partitions
#                         (TIMEOUT_S, default 60)
#   lib_enrichd_start_metrics CONFIG LOG [TIMEOUT_S]
#                         lib_enrichd_start on a CONFIG made with LIB_INI_METRICS among its extra
#                         lines; also sets lib_enrichd_url to the metrics endpoint's URL
#   lib_gen_input SEED USERS DEVICES URLS COUNT FILE [GEN-EVENTS-ARGS...]
#                         the generator's users, devices and urls files in $work/dims, and COUNT
#                         events drawn from them (with the extra arguments) in FILE, both of SEED
#   lib_produce PARTITIONS COUNT RATE SEED [GEN-EVENTS-ARGS...]
#                         starts enrichd-gen-events (lib_spawn) producing COUNT events of SEED at
#                         RATE a second to the broker's clickstream topic over PARTITIONS
#                         partitions, their keys those of 20000 users, 20000 devices and 5000 urls
#                         (enrichd-gen-dims of the same sizes); sets lib_producer_pid
#   lib_check_exactly_once MANIFEST SEGMENTS DEAD-LETTERS [LABEL]
#                         checks the sealed rows (SEGMENTS, a file() glob of .native files) and
#                         dead letters (a glob of .deadletter.tsv files) against the generator's
#                         MANIFEST: every well-formed message one row, every malformed one dead
#                         letter; sets good and malformed, and leaves the counts to val
#                         (rows, good, missing, unexpected, dead, malformed, dl_unexpected)
#   lib_enrichd_inner_devices CPUS OUT INPUT LOG
#                         runs enrichd --input on INPUT (lib_enrichd_input) on CPUS with the
#                         devices join inner, its segments in OUT and dead letters in OUT.dl
#                         (configuration $work/e.ini); sets lib_inner_misses to the dead letters
#                         of events whose device is missing (inner_join_miss)
#   LIB_DL_STRUCTURE      the dead-letter file's columns, for ClickHouse's file(..., 'TSV', ...)
#   lib_pg_start          a PostgreSQL cluster of its own: initdb in $work/pg as an unprivileged
#                         user (enrichd-test, made if missing; tests run as root), started with
#                         pg_ctl on 127.0.0.1 and a free port; sets PGHOST, PGPORT, PGUSER
#                         (postgres), PGDATABASE (postgres), PGPASSWORD (a random password, as
#                         the cluster wants: scram-sha-256), PG_URL (postgresql://postgres@HOST:
#                         PORT/postgres, no password) and exports them for psql; skips (77) when
#                         PostgreSQL 15 is not installed. Stopped by lib_pg_stop, and at exit
#   lib_pg_stop           stops the cluster (fast shutdown); its files go with $work
#   lib_pg_restart        starts the stopped cluster again on the same port
#   pg SQL                psql -v ON_ERROR_STOP=1 -qAt -c SQL against it
#   lib_registry_start [ARGS...]
#                         the test Schema Registry (tests/registry/registry.js ARGS, e.g. --user U
#                         --password P) on 127.0.0.1; sets REG_URL and REG_PID (SIGUSR1 toggles an
#                         outage); skips (77) when node or tests/registry's packages are missing
#   lib_pg_dims DIR       tables users and devices in it, filled from the generator's
#                         DIR/users.tsv and DIR/devices.tsv (enrichd-gen-dims)
# and the helpers below for processes (lib_spawn, lib_cleanup), the broker (lib_broker_start),
# configurations (lib_config), logs (lib_wait_log, lib_metrics_url), sealed rows
# (lib_wait_sealed, lib_sealed_count), file systems (lib_mount, lib_tmpfs) and huge pages.

ENRICHD_SOURCE_DIR=${ENRICHD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
ENRICHD_BUILD_DIR=${ENRICHD_BUILD_DIR:-$ENRICHD_SOURCE_DIR/build}
CHQ="$ENRICHD_SOURCE_DIR/tools/ch/chq.js"
# The columns of a dead-letter file (include/deadletter.h, DEADLETTER_STRUCTURE).
# shellcheck disable=SC2034 # for the tests that source this file
LIB_DL_STRUCTURE='topic String, partition Int32, offset Int64, error String, reason String, raw String'
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
	lib_pg_stop
	local m
	for m in "${lib_mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	lib_mounts=()
}

# Mounts a file system on DIR (created), unmounted by lib_cleanup: lib_mount DIR MOUNT-ARGS...
# (e.g. lib_mount "$dir" -t tmpfs -o size=4m tmpfs). Returns mount's status, quietly.
lib_mount() {
	local dir=$1
	shift
	mkdir -p "$dir"
	mount "$@" "$dir" 2>/dev/null || return 1
	lib_mounts+=("$dir")
}

# Mounts a tmpfs of SIZE on DIR (created), unmounted by lib_cleanup: lib_tmpfs DIR SIZE.
# Where mounting is not allowed (not root), ends the calling test as skipped.
lib_tmpfs() {
	lib_mount "$1" -t tmpfs -o "size=$2" tmpfs ||
		lib_skip "cannot mount a small file system here (needs root)"
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

# ---- PostgreSQL (see the top of this file) ----

LIB_PG_BIN=${LIB_PG_BIN:-/usr/lib/postgresql/15/bin}
LIB_PG_USER=enrichd-test
lib_pg_dir=""

# Runs a PostgreSQL program as the cluster's owner: initdb and postgres refuse root.
lib_pg_as() {
	runuser -u "$LIB_PG_USER" -- "$@"
}

lib_pg_start() {
	[ -x "$LIB_PG_BIN/initdb" ] || lib_skip "PostgreSQL 15 is not installed ($LIB_PG_BIN)"
	id -u "$LIB_PG_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin "$LIB_PG_USER"
	lib_pg_dir=$work/pg
	mkdir -p "$lib_pg_dir"
	chmod 755 "$work"
	chown "$LIB_PG_USER" "$lib_pg_dir"
	PGPASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	echo "$PGPASSWORD" >"$lib_pg_dir/pw"
	chown "$LIB_PG_USER" "$lib_pg_dir/pw"
	(cd / && lib_pg_as "$LIB_PG_BIN/initdb" -D "$lib_pg_dir/data" -U postgres \
		--auth=scram-sha-256 --pwfile="$lib_pg_dir/pw" --no-sync >"$lib_pg_dir/initdb.log")
	rm -f "$lib_pg_dir/pw"
	PGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export PGHOST=127.0.0.1 PGPORT PGUSER=postgres PGDATABASE=postgres PGPASSWORD
	PG_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
	lib_pg_restart
}

lib_pg_restart() {
	(cd / && lib_pg_as "$LIB_PG_BIN/pg_ctl" -D "$lib_pg_dir/data" -l "$lib_pg_dir/log" -w -t 60 \
		-o "-h 127.0.0.1 -p $PGPORT -k $lib_pg_dir -c fsync=off -c max_connections=50" \
		start >/dev/null) || { cat "$lib_pg_dir/log" >&2; return 1; }
}

# The test Schema Registry (documented at the top).
lib_registry_start() {
	command -v node >/dev/null || lib_skip "node is not installed"
	(cd "$ENRICHD_SOURCE_DIR/tests/registry" &&
		node -e 'require("@kafkajs/confluent-schema-registry")' 2>/dev/null) ||
		lib_skip "tests/registry has no node_modules (tools/setup.sh installs them)"
	local portfile=$work/registry.port
	rm -f "$portfile"
	lib_spawn node "$ENRICHD_SOURCE_DIR/tests/registry/registry.js" --port-file "$portfile" "$@" \
		>>"$work/registry.log" 2>&1
	REG_PID=${lib_pids[-1]}
	for _ in $(seq 100); do
		[ -s "$portfile" ] && break
		sleep 0.1
	done
	REG_URL=$(cat "$portfile" 2>/dev/null || true)
	[ -n "$REG_URL" ] || fail "the registry did not start: $(tail -n3 "$work/registry.log")"
}

lib_pg_stop() {
	[ -n "$lib_pg_dir" ] && [ -f "$lib_pg_dir/data/postmaster.pid" ] || return 0
	(cd / && lib_pg_as "$LIB_PG_BIN/pg_ctl" -D "$lib_pg_dir/data" -m fast -w -t 60 stop \
		>/dev/null 2>&1) || true
}

pg() {
	psql -v ON_ERROR_STOP=1 -qAt -c "$1"
}

# The generator's users and devices (DIR/users.tsv, DIR/devices.tsv) as PostgreSQL tables of the
# same names; user_id is a UInt64, which numeric(20) holds and bigint does not.
lib_pg_dims() {
	pg "CREATE TABLE users (user_id numeric(20) PRIMARY KEY, country text, plan text, signup_date date);
	    CREATE TABLE devices (device_id text PRIMARY KEY, device_type text, os text, browser text)"
	psql -qc "\\copy users FROM '$1/users.tsv' WITH (FORMAT text, HEADER true)"
	psql -qc "\\copy devices FROM '$1/devices.tsv' WITH (FORMAT text, HEADER true)"
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
# EXTRA-INI's keys replace those of the same section, or join it; its new sections are added
# (enrichd refuses a section or a key given twice); a line `~key` removes that key from its
# section (e.g. `~source` for a dimension read from PostgreSQL).
lib_config() {
	LIB_INI_EXTRA=${7:-} awk -f <(lib_ini_merge_awk) >"$1" <<INI
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
INI
}

# The awk program of lib_config: the INI on stdin, with ENVIRON["LIB_INI_EXTRA"] merged in.
lib_ini_merge_awk() {
	cat <<'AWK'
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
function section_of(line) { return trim(substr(line, index(line, "[") + 1, index(line, "]") - index(line, "[") - 1)) }
function flush(sec,   i, k) {
	for (i = 1; i <= n_keys[sec]; i++) {
		k = keys[sec, i]
		if (!((sec, k) in used)) { print extra[sec, k]; used[sec, k] = 1 }
	}
}
BEGIN {
	n = split(ENVIRON["LIB_INI_EXTRA"], lines, "\n")
	sec = ""
	for (i = 1; i <= n; i++) {
		line = lines[i]
		if (line ~ /^[ \t]*\[/) {
			sec = section_of(line)
			if (!(sec in seen_extra)) { seen_extra[sec] = 1; order[++n_sec] = sec }
		} else if (line ~ /^[ \t]*~/) {
			removed[sec, trim(substr(trim(line), 2))] = 1
		} else if (line ~ /=/ && line !~ /^[ \t]*[;#]/) {
			k = trim(substr(line, 1, index(line, "=") - 1))
			if (!((sec, k) in extra)) keys[sec, ++n_keys[sec]] = k
			extra[sec, k] = line
		}
	}
	sec = ""
}
/^[ \t]*\[/ { flush(sec); sec = section_of($0); in_base[sec] = 1; print; next }
/=/ && !/^[ \t]*[;#]/ {
	k = trim(substr($0, 1, index($0, "=") - 1))
	if ((sec, k) in removed) next
	if ((sec, k) in extra) { print extra[sec, k]; used[sec, k] = 1; next }
}
{ print }
END {
	flush(sec)
	for (i = 1; i <= n_sec; i++) {
		if (order[i] in in_base) continue
		print "[" order[i] "]"
		flush(order[i])
	}
}
AWK
}

# ---- the integration-test preamble (see the top of this file) ----

lib_checks_failed=0
lib_fail_line=""

# Makes $work, sets $bin and $src, strict mode, and the exit trap.
lib_test_init() {
	set -euo pipefail
	set -E
	# shellcheck disable=SC2034 # for the test that calls this
	bin=$ENRICHD_BUILD_DIR
	# shellcheck disable=SC2034
	src=$ENRICHD_SOURCE_DIR
	work=$(mktemp -d "${TMPDIR:-/tmp}/enrichd-test.XXXXXX")
	trap 'lib_fail_line="line $LINENO: $BASH_COMMAND"' ERR
	trap lib_test_exit EXIT
}

# The exit trap: stops what the test started, removes $work unless the test failed.
lib_test_exit() {
	local status=$?
	set +e
	trap - ERR
	lib_cleanup
	if [ "$status" -eq 0 ] && [ "$lib_checks_failed" -gt 0 ]; then
		echo "FAIL: $lib_checks_failed check(s) failed" >&2
		status=1
	fi
	if [ "$status" -eq 0 ] || [ "$status" -eq 77 ] || [ "${ENRICHD_KEEP_WORK:-1}" = 0 ]; then
		rm -rf "$work"
	else
		[ -z "$lib_fail_line" ] || echo "exit status $status after $lib_fail_line" >&2
		echo "work directory kept: $work" >&2
	fi
	exit "$status"
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

check() {
	if [ "$2" != "$3" ]; then
		echo "FAIL: $1: got '$2', want '$3'" >&2
		lib_checks_failed=$((lib_checks_failed + 1))
	fi
	return 0
}

check_fail() {
	echo "FAIL: $*" >&2
	lib_checks_failed=$((lib_checks_failed + 1))
}

checks_done() {
	[ "$lib_checks_failed" -eq 0 ] && return 0
	[ $# -eq 0 ] || "$@" >&2 || true
	exit 1
}

lib_skip() {
	echo "SKIP: $*"
	exit 77
}

ch() {
	"$CHQ" "$@"
}

ch_results() {
	"$CHQ" -f "$1" | tee "$work/result.tsv"
}

val() {
	awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$work/result.tsv"
}

lib_enrichd_input() {
	local config=$1 input=$2 log=$3
	"$ENRICHD_BUILD_DIR/enrichd" --config "$config" --input "$input" 2>"$log" ||
		fail "enrichd --input $input failed: $(tail -n3 "$log")"
}

lib_enrichd_inner_devices() {
	local cpus=$1 out=$2 input=$3 log=$4
	lib_config "$work/e.ini" "$work/dims" "$out" "$out.dl" 127.0.0.1:9 "$cpus"
	sed -i '/^\[dimension devices\]/a join = inner' "$work/e.ini"
	lib_enrichd_input "$work/e.ini" "$input" "$log"
	# shellcheck disable=SC2034 # read by the test
	lib_inner_misses=$(grep -c $'\tinner_join_miss\t' "$out.dl"/*.deadletter.tsv |
		awk -F: '{ s += $NF } END { print s + 0 }')
}

lib_enrichd_start() {
	lib_spawn "$ENRICHD_BUILD_DIR/enrichd" --config "$1" 2>"$2"
	# shellcheck disable=SC2034 # read by the test
	lib_enrichd_pid=${lib_pids[-1]}
	lib_wait_log "$2" "partitions assigned" "${3:-60}"
}

# The [metrics] section that serves the endpoint on a free port of 127.0.0.1, for lib_config's
# EXTRA-INI; lib_enrichd_start_metrics reads the port from the log.
# shellcheck disable=SC2034 # for the tests that source this file
LIB_INI_METRICS='[metrics]
listen = 127.0.0.1:0'

lib_enrichd_start_metrics() {
	lib_enrichd_start "$@"
	# shellcheck disable=SC2034 # read by the test
	lib_enrichd_url=$(lib_metrics_url "$2") || fail "no metrics address in $2"
}

lib_gen_input() {
	local seed=$1 users=$2 devices=$3 urls=$4 count=$5 file=$6
	shift 6
	"$ENRICHD_BUILD_DIR/enrichd-gen-dims" --out "$work/dims" --seed "$seed" --users "$users" \
		--devices "$devices" --urls "$urls" 2>/dev/null
	"$ENRICHD_BUILD_DIR/enrichd-gen-events" --seed "$seed" --count "$count" --users "$users" \
		--devices "$devices" --urls "$urls" --out "$file" "$@" 2>/dev/null
}

lib_produce() {
	local partitions=$1 count=$2 rate=$3 seed=$4
	shift 4
	lib_spawn "$ENRICHD_BUILD_DIR/enrichd-gen-events" --brokers "$BROKERS" --topic clickstream \
		--partitions "$partitions" --count "$count" --rate "$rate" --seed "$seed" --users 20000 \
		--devices 20000 --urls 5000 "$@"
	# shellcheck disable=SC2034 # read by the test
	lib_producer_pid=${lib_pids[-1]}
}

lib_check_exactly_once() {
	local manifest=$1 segments=$2 dead_letters=$3 label=${4:+$4: }
	local good_rows="SELECT toUInt64(partition), toUInt64(offset), user_id, url FROM m WHERE malformed = 0"
	cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$manifest', 'TSVWithNamesAndTypes');
CREATE TABLE a ENGINE = Memory AS SELECT _partition AS partition, _offset AS offset, user_id, url FROM file('$segments', 'Native') SETTINGS use_hive_partitioning = 0;
CREATE TABLE dl ENGINE = Memory AS SELECT * FROM file('$dead_letters', 'TSV', '$LIB_DL_STRUCTURE');
SELECT 'rows', count(), uniqExact(partition, offset) FROM a;
SELECT 'good', count() FROM m WHERE malformed = 0;
SELECT 'missing', count() FROM ($good_rows EXCEPT ALL SELECT partition, offset, user_id, url FROM a);
SELECT 'unexpected', count() FROM (SELECT partition, offset, user_id, url FROM a EXCEPT ALL $good_rows);
SELECT 'dead', count(), uniqExact(partition, offset) FROM dl;
SELECT 'malformed', count() FROM m WHERE malformed = 1;
SELECT 'dl_unexpected', count() FROM (SELECT partition, offset, raw FROM dl EXCEPT ALL SELECT partition, offset, payload FROM m WHERE malformed = 1);
SQL
	ch_results "$work/check.sql"
	good=$(val good 2)
	malformed=$(val malformed 2)
	check "${label}rows in the segments" "$(val rows 2)" "$good"
	check "${label}distinct (partition, offset) in the segments" "$(val rows 3)" "$good"
	check "${label}produced rows missing" "$(val missing 2)" 0
	check "${label}dead letters" "$(val dead 2)" "$malformed"
	check "${label}distinct dead letters" "$(val dead 3)" "$malformed"
}
