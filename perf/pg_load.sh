#!/usr/bin/env bash
# Dimension loads from PostgreSQL, enrichd against ClickHouse's PostgreSQL dictionary source on
# the same tables, in one run: rows/s and bytes/row of users (UInt64 key) and devices (String
# key); and what the server pays to produce COPY's text and binary formats, which is why
# enrichd reads text (docs/PERFORMANCE.md).
#
#   perf/pg_load.sh [--rows N] [--repeat R] [--no-clickhouse]
#
#   --rows N        rows of each table (default 10000000; 200000 checks the script quickly)
#   --repeat R      loads per side, the best kept (default 3)
#   --no-clickhouse only enrichd and the COPY figures
#
# A PostgreSQL 15 cluster is made in a temporary directory (tools/lib.sh, lib_pg_start) and
# removed at the end. enrichd loads both tables with `--input /dev/null` (the load, then an
# empty run), its figures from its summary lines; ClickHouse (chdb) loads
# `SOURCE(POSTGRESQL(...)) LAYOUT(HASHED())` / `COMPLEX_KEY_HASHED()` dictionaries and reports
# system.dictionaries' loading_duration and bytes_allocated. Figures go to stdout and
# perf/results/pg_load.tsv. Use a quiet machine: PostgreSQL's backends, enrichd's load threads
# and ClickHouse share the cores.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ENRICHD_BUILD_DIR:-$top/build}
rows=10000000 repeat=3 clickhouse=1
while [ $# -gt 0 ]; do
	case "$1" in
	--rows) rows=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--no-clickhouse) clickhouse=0; shift ;;
	-h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
# shellcheck source=perf/lib.sh
source "$top/perf/lib.sh" pg-load
lib_skip() { echo "pg_load: $*" >&2; exit 0; }

echo "== $rows rows per table"
"$build/enrichd-gen-dims" --out "$work/dims" --users "$rows" --devices "$rows" --urls 10 \
	--seed 1 2>/dev/null
lib_pg_start
lib_pg_dims "$work/dims"
pg "VACUUM ANALYZE users"
pg "VACUUM ANALYZE devices"
pg "CHECKPOINT"

now_ms() { date +%s%3N; }
best() { sort -n | head -n1; }

# What the server pays to write each COPY format (to /dev/null on its side: no transfer).
declare -A copy_ms
for fmt in text binary; do
	copy_ms[$fmt]=$(for _ in $(seq "$repeat"); do
		t0=$(now_ms)
		pg "COPY (SELECT user_id, country, plan, signup_date FROM users) TO '/dev/null' (FORMAT $fmt)"
		pg "COPY (SELECT device_id, device_type, os, browser FROM devices) TO '/dev/null' (FORMAT $fmt)"
		echo $(($(now_ms) - t0))
	done | best)
	echo "COPY $fmt of both tables, server side: ${copy_ms[$fmt]} ms"
done

lib_config "$work/e.ini" "$work/dims" "$work/out" "$work/dl" 127.0.0.1:9 0 "
[dimension users]
~source
postgresql = $PG_URL
table = users
[dimension devices]
~source
postgresql = $PG_URL
table = devices"
# enrichd: the summary line of each table's load, the best of the runs.
for _ in $(seq "$repeat"); do
	"$build/enrichd" --config "$work/e.ini" --input /dev/null 2>>"$work/enrichd.log"
done
enrichd_fig() { # DIMENSION -> rows/s B/row of its fastest load
	sed -n "s/.*dim: $1: [0-9]* rows from postgresql .*; \([0-9.]*\)M rows\/s.*(\([0-9.]*\) B\/row).*/\1 \2/p" \
		"$work/enrichd.log" | awk '{ printf "%.0f %s\n", $1 * 1e6, $2 }' | sort -rn | head -n1
}
read -r e_users_rps e_users_bpr < <(enrichd_fig users)
read -r e_devices_rps e_devices_bpr < <(enrichd_fig devices)
echo "enrichd: users $e_users_rps rows/s, $e_users_bpr B/row; devices $e_devices_rps rows/s, $e_devices_bpr B/row"

c_users_rps=0 c_users_bpr=0 c_devices_rps=0 c_devices_bpr=0
if [ "$clickhouse" = 1 ]; then
	src="host '127.0.0.1' port $PGPORT user 'postgres' password '$PGPASSWORD' db 'postgres'"
	for r in $(seq "$repeat"); do
		"$CHQ" "CREATE DICTIONARY du$r (user_id UInt64, country String, plan String, signup_date Date)
			PRIMARY KEY user_id SOURCE(POSTGRESQL($src table 'users')) LIFETIME(0) LAYOUT(HASHED());
		CREATE DICTIONARY dd$r (device_id String, device_type String, os String, browser String)
			PRIMARY KEY device_id SOURCE(POSTGRESQL($src table 'devices')) LIFETIME(0)
			LAYOUT(COMPLEX_KEY_HASHED());
		SYSTEM RELOAD DICTIONARY du$r;
		SYSTEM RELOAD DICTIONARY dd$r;
		SELECT name, element_count, loading_duration, bytes_allocated FROM system.dictionaries
			WHERE name IN ('du$r', 'dd$r')"
	done >"$work/clickhouse.tsv"
	ch_fig() { # PREFIX -> rows/s B/row of the fastest load
		awk -F'\t' -v p="$1" 'substr($1, 1, 2) == p && $3 > 0 { printf "%.0f %.1f\n", $2 / $3, $4 / $2 }' \
			"$work/clickhouse.tsv" | sort -rn | head -n1
	}
	read -r c_users_rps c_users_bpr < <(ch_fig du)
	read -r c_devices_rps c_devices_bpr < <(ch_fig dd)
	echo "ClickHouse: users $c_users_rps rows/s, $c_users_bpr B/row; devices $c_devices_rps rows/s, $c_devices_bpr B/row"
fi

results=$top/perf/results/pg_load.tsv
[ -s "$results" ] || printf 'date\trows\tdimension\tenrichd_rows_per_s\tclickhouse_rows_per_s\tenrichd_bytes_per_row\tclickhouse_bytes_per_row\tcopy_text_ms\tcopy_binary_ms\n' >"$results"
for d in users devices; do
	eval "er=\$e_${d}_rps eb=\$e_${d}_bpr cr=\$c_${d}_rps cb=\$c_${d}_bpr"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date +%F)" "$rows" "$d" "$er" "$cr" "$eb" "$cb" \
		"${copy_ms[text]}" "${copy_ms[binary]}" >>"$results"
	awk -v d="$d" -v er="$er" -v cr="$cr" -v eb="$eb" -v cb="$cb" 'BEGIN {
		printf "%-8s load rate %.1fx ClickHouse (target >= 5x), bytes/row %.2fx (target <= 0.2x)\n",
		d, (cr > 0 ? er / cr : 0), (cb > 0 ? eb / cb : 0) }'
done
