#!/usr/bin/env bash
# The dimension-store benchmark, enrichd against ClickHouse on the same machine and files:
# memory per row and load rate of users, devices and urls, and the total at seed scale.
#
#   perf/dims.sh [--scale 1m|10m|50m] [--hugetlb] [--repeat N] [--no-clickhouse] [--cache DIR]
#
#   --scale 1m    1M users, 1M devices, 100K urls: a quick check of the script, 3 loads each.
#   --scale 10m   10M users, 10M devices, 1M urls (default): enrichd median of 3 loads,
#                 ClickHouse median of 3 loads of all three dictionaries.
#   --scale 50m   50M users, 50M devices, 1M urls: enrichd 1 load; ClickHouse tries users alone,
#                 capped by max_server_memory_usage at the memory available minus 3 GiB, and
#                 reports when it does not fit.
#   --hugetlb     (root) reserve 2 MiB pages for the enrichd tables in /proc/sys/vm/nr_hugepages
#                 for the enrichd run, the old value restored right after it and at exit; without
#                 it the tables use transparent huge pages when the kernel allows them.
#   --repeat N    loads per dimension on both sides (default 3 at 10m, 1 at 50m).
#   --no-clickhouse  only the enrichd side.
#   --cache DIR   where the generated files are kept (default var/bench): DIR/dims-<scale>, reused
#                 when present with the same sizes and seed.
#
# Programs come from $ENRICHD_BUILD_DIR (default build/, built with tools/build.sh if missing).
# Logs of both sides go to DIR/results-<scale>-<date>-<time>/, the table's figures to
# perf/results/dim_store.tsv (perf/tsv.sh). Timings depend on what else runs:
# use a quiet machine (the load average is printed before and after, and the CPU time other
# processes took during each side). The two sides run one after the other.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ENRICHD_BUILD_DIR:-$top/build}

scale=10m
hugetlb=0
repeat=""
clickhouse=1
cache=$top/var/bench
seed=1

usage() {
	sed -n '4,25p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=${2:?--scale needs 10m or 50m}; shift 2 ;;
	--hugetlb) hugetlb=1; shift ;;
	--repeat) repeat=${2:?--repeat needs a number}; shift 2 ;;
	--no-clickhouse) clickhouse=0; shift ;;
	--cache) cache=${2:?--cache needs a directory}; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "dims.sh: unknown argument '$1'" >&2; usage 2 ;;
	esac
done

case "$scale" in
1m) users=1000000 devices=1000000 urls=100000 default_repeat=3 ;;
10m) users=10000000 devices=10000000 urls=1000000 default_repeat=3 ;;
50m) users=50000000 devices=50000000 urls=1000000 default_repeat=1 ;;
*) echo "dims.sh: --scale is 1m, 10m or 50m, not '$scale'" >&2; exit 2 ;;
esac
repeat=${repeat:-$default_repeat}
case "$repeat" in
'' | *[!0-9]* | 0) echo "dims.sh: --repeat needs a positive integer" >&2; exit 2 ;;
esac

dir=$cache/dims-$scale
results=$cache/results-$scale-$(date +%Y%m%d-%H%M%S)
mkdir -p "$dir" "$results"

gib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1073741824 }'; }
mem_available() { awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

# ---- programs ----
if [ ! -x "$build/bench-dim-load" ] || [ ! -x "$build/enrichd-gen-dims" ]; then
	echo "dims.sh: building into $build"
	"$top/tools/build.sh" "$build"
fi

# ---- machine ----
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_total=$(awk '/^MemTotal:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
echo "machine: $(nproc) CPUs ($cpu), $(gib "$mem_total") GiB memory, kernel $(uname -r), THP $thp"
echo "before: load average $(cut -d' ' -f1-3 /proc/loadavg)," \
	"$(gib "$(mem_available)") GiB available"

# ---- files ----
params="users=$users devices=$devices urls=$urls seed=$seed"
if [ "$(cat "$dir/params" 2>/dev/null)" != "$params" ] || [ ! -f "$dir/users.tsv" ] ||
	[ ! -f "$dir/devices.tsv" ] || [ ! -f "$dir/urls.tsv" ]; then
	echo "generating $params into $dir"
	rm -f "$dir/params"
	"$build/enrichd-gen-dims" --out "$dir" --users "$users" --devices "$devices" --urls "$urls" \
		--seed "$seed"
	echo "$params" >"$dir/params"
else
	echo "reusing $dir ($params)"
fi
ls -l "$dir"/*.tsv | awk '{ printf "  %s %.1f MiB\n", $NF, $5 / 1048576 }'

# Other load while a side runs: machine busy time (/proc/stat) minus the CPU time of this
# script's finished children (bash's times, so it runs in this shell, not in a $(...) subshell),
# over the wall time. snap sets snap_now to "wall busy children", all in seconds.
snap() {
	local busy children
	busy=$(awk -v hz="$(getconf CLK_TCK)" \
		'$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat)
	times >"$results/.times"
	children=$(sed -n 2p "$results/.times" | awk '{
		n = split($1 " " $2, f, " "); s = 0
		for (i = 1; i <= n; i++) { split(f[i], p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
		print s }')
	snap_now="$(date +%s.%N) $busy $children"
}
other_load() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
		w = y[1] - x[1]; o = (y[2] - x[2]) - (y[3] - x[3]); if (o < 0) o = 0
		printf "%.2f", (w > 0 ? o / w : 0) }'
}

# Both sides read the files from the page cache.
warm() { cat "$dir/users.tsv" "$dir/devices.tsv" "$dir/urls.tsv" >/dev/null; }

# ---- huge pages ----
# shellcheck source=../tools/lib.sh
source "$top/tools/lib.sh"
trap lib_hugetlb_restore EXIT
trap 'exit 130' INT TERM
if [ "$hugetlb" = 1 ]; then
	lib_hugetlb_reserve "$users" "$devices" "$urls" || exit 1
fi

# ---- enrichd ----
echo
echo "== enrichd: bench-dim-load --dir $dir --repeat $repeat"
warm
snap
s0=$snap_now
"$build/bench-dim-load" --dir "$dir" --repeat "$repeat" | tee "$results/enrichd.txt"
snap
enrichd_other=$(other_load "$s0" "$snap_now")
echo "other processes used $enrichd_other CPUs on average during the enrichd run"
lib_hugetlb_restore

# ---- ClickHouse ----
ch_status=skipped
ch_note="not run (--no-clickhouse)"
ch_other=-
if [ "$clickhouse" = 1 ]; then
	avail=$(mem_available)
	limit=$((avail - 3 * 1073741824))
	if [ "$scale" = 50m ]; then
		ch_dims=users
		ch_note="users alone, max_server_memory_usage $(gib "$limit") GiB"
	else
		ch_dims=users,devices,urls
		ch_note="max_server_memory_usage $(gib "$limit") GiB"
	fi
	echo
	echo "== ClickHouse: node perf/dim_clickhouse.js --dir $dir --dims $ch_dims --repeat $repeat" \
		"--max-memory $limit"
	warm
	snap
	s0=$snap_now
	set +e
	node "$top/perf/dim_clickhouse.js" --dir "$dir" --dims "$ch_dims" --repeat "$repeat" \
		--max-memory "$limit" | tee "$results/clickhouse.txt"
	rc=${PIPESTATUS[0]}
	set -e
	snap
	ch_other=$(other_load "$s0" "$snap_now")
	echo "other processes used $ch_other CPUs on average during the ClickHouse run"
	case "$rc" in
	0) ch_status=ok ;;
	3) ch_status=memory_limit ;;
	*) echo "dims.sh: the ClickHouse side failed ($rc)" >&2; exit 1 ;;
	esac
else
	: >"$results/clickhouse.txt"
fi
echo
echo "after: load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- table ----
# field FILE PREFIX NAME KEY: the value of KEY= on the line "PREFIX<TAB>name=NAME..." of FILE.
field() {
	awk -F'\t' -v p="$2" -v n="name=$3" -v k="$4=" '
		$1 == p && ($2 == n || n == "name=") {
			for (i = 2; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit }
		}' "$1"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else print "-" }'
}
mrows() { awk -v r="$1" 'BEGIN { if (r > 0) printf "%.2fM", r / 1e6; else print "-" }'; }
num() { awk -v x="$1" 'BEGIN { if (x != "") printf "%.1f", x; else print "-" }'; }

e=$results/enrichd.txt
c=$results/clickhouse.txt
echo
echo "Dimension store, scale $scale (enrichd: median of $repeat loads; ClickHouse: $ch_note)"
echo "other load: $enrichd_other CPUs during the enrichd run, $ch_other during the ClickHouse run" \
	"(of $(nproc))"
printf '%-8s %10s | %9s %10s %6s | %10s %10s %6s | %7s %7s | %10s\n' dimension rows \
	"enrichd" "ClickHouse" "ratio" "enrichd" "ClickHouse" "ratio" pages threads "lookups/s"
printf '%-8s %10s | %9s %10s %6s | %10s %10s %6s | %7s %7s | %10s\n' "" "" \
	"B/row" "B/row" "" "rows/s" "rows/s" "" "" "" "1 thread"
for d in users devices urls; do
	rows=$(field "$e" dim "$d" rows)
	[ -n "$rows" ] || continue
	ebr=$(field "$e" dim "$d" bytes_per_row)
	erate=$(field "$e" dim "$d" rows_per_s)
	cbr=$(field "$c" ch "$d" bytes_per_row)
	crate=$(field "$c" ch "$d" rows_per_s)
	cstat=$(field "$c" ch "$d" status)
	if [ "$cstat" = memory_limit ]; then
		cbr="over limit"
		crate=""
	fi
	printf '%-8s %10s | %9s %10s %6s | %10s %10s %6s | %7s %7s | %10s\n' "$d" "$rows" \
		"$(num "$ebr")" "$( [ "$cstat" = memory_limit ] && echo "$cbr" || num "$cbr")" \
		"$(ratio "$cbr" "$ebr")" "$(mrows "$erate")" "$(mrows "$crate")" \
		"$(ratio "$erate" "$crate")" "$(field "$e" dim "$d" huge_mode)" \
		"$(field "$e" dim "$d" threads)" "$(mrows "$(field "$e" dim "$d" lookups_per_s)")"
done
echo "load CPU time (user + system of the process, median; less sensitive to other load):"
for d in users devices urls; do
	erc=$(field "$e" dim "$d" rows_per_cpu_s)
	[ -n "$erc" ] || continue
	crc=$(field "$c" ch "$d" rows_per_cpu_s)
	printf '  %-8s enrichd %s rows per CPU-second (%s s)' "$d" "$(mrows "$erc")" \
		"$(field "$e" dim "$d" cpu_s)"
	if [ -n "$crc" ]; then
		printf ', ClickHouse %s (%s s), ratio %s' "$(mrows "$crc")" \
			"$(field "$c" ch "$d" cpu_s)" "$(ratio "$erc" "$crc")"
	fi
	echo
done
ebytes=$(field "$e" total "" bytes)
epeak=$(field "$e" total "" peak_rss_bytes)
ehuge=$(field "$e" total "" hugetlb_bytes)
ethp=$(field "$e" total "" thp_bytes)
echo "enrichd total: $(gib "$ebytes") GiB in the tables held at once (process peak RSS" \
	"$(gib "$epeak") GiB; at the end THP $(gib "$ethp") GiB, hugetlb $(gib "$ehuge") GiB, the" \
	"latter not counted in RSS)"
if [ "$scale" = 50m ]; then
	verdict=$(awk -v b="$ebytes" 'BEGIN { print (b <= 8 * 1073741824) ? "met" : "NOT met" }')
	echo "seed-scale target: all three dimensions in <= 8 GiB: $(gib "$ebytes") GiB, $verdict"
fi
if [ "$ch_status" = ok ]; then
	echo "ClickHouse total: $(gib "$(field "$c" ch_total "" bytes)") GiB bytes_allocated" \
		"(process peak RSS $(gib "$(field "$c" ch_total "" peak_rss_bytes)") GiB)"
elif [ "$ch_status" = memory_limit ]; then
	echo "ClickHouse: users at $scale did not fit in max_server_memory_usage $(gib "$limit") GiB"
fi
# The figures as perf/results/dim_store.tsv (perf/tsv.sh): one row per dimension of this run.
# shellcheck source=perf/tsv.sh
source "$top/perf/tsv.sh"
run="$scale $(field "$e" dim users huge_mode)"
day=$(date -u +%F)
for d in users devices urls; do
	rows=$(field "$e" dim "$d" rows)
	[ -n "$rows" ] || continue
	cbr="" crate=""
	if [ "$(field "$c" ch "$d" status)" != memory_limit ]; then
		cbr=$(field "$c" ch "$d" bytes_per_row)
		crate=$(field "$c" ch "$d" rows_per_s)
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$day" "$run" "$d" "$rows" \
		"$(num "$(field "$e" dim "$d" bytes_per_row)")" "$([ -z "$cbr" ] || num "$cbr")" \
		"$(field "$e" dim "$d" rows_per_s)" "$crate" "$(field "$e" dim "$d" lookups_per_s)"
done | perf_tsv_put dim_store.tsv "$(printf 'date\trun\tdimension\trows\tenrichd_bytes_per_row\tclickhouse_bytes_per_row\tenrichd_rows_per_s\tclickhouse_rows_per_s\tenrichd_lookups_per_s')" "$day" "$run"
echo "logs: $results"
