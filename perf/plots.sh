#!/usr/bin/env bash
# Draws every figure of the documentation from the benchmarks' raw results:
#
#   perf/plots.sh [--run RUN] [--out DIR]
#
#   --run   which run's rows to draw (default "10m thp": the 10m scale, tables on transparent
#           huge pages, as perf/run.sh measures without set-up); the latency figure takes that
#           run's histogram, or any 10m run's when it has none
#   --out   where the SVG files go (default docs/img)
#
# Reads perf/results/*.tsv ($PERF_RESULTS if set; written by perf/report.sh, see perf/tsv.sh) and
# writes with gnuplot:
#   events_per_core.svg   enrichd against ClickHouse, events/s: one core, per CPU-second, all cores
#   stage_split.svg       the one-worker event path per event, stage by stage, against the time
#                         per event that 20x ClickHouse's one-core rate leaves
#   latency.svg           event-to-seal latency at 100K events/s: rows per 10 ms, p50 and p99,
#                         and the engine's own histogram (/metrics) as a cumulative share
#   dimension_bytes.svg   memory per dimension row, enrichd against ClickHouse's dictionaries
# Each figure names the date of the measurement it shows.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
results=${PERF_RESULTS:-$top/perf/results}
out=$top/docs/img
run="10m thp"
while [ $# -gt 0 ]; do
	case "$1" in
	--run) run=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "perf/plots.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
command -v gnuplot >/dev/null || { echo "perf/plots.sh: needs gnuplot (tools/setup.sh installs gnuplot-nox)" >&2; exit 1; }
# The data of the run's scale (perf/run.sh --scale).
case "${run%% *}" in
small) data="1M users, 1M devices, 100K urls" ;;
10m) data="10M users, 10M devices, 1M urls" ;;
50m) data="50M users, 50M devices, 10M urls" ;;
*) data="${run%% *} scale" ;;
esac
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# day FILE [RUN]: the latest date of RUN's (default: --run) rows in perf/results/FILE.
day() { awk -F'\t' -v run="${2:-$run}" 'NR > 1 && $2 == run { print $1 }' "$results/$1" | sort | tail -n1; }
# rows FILE [RUN [DATE]]: the rows of RUN measured at DATE (default: its latest), tab-separated.
rows() {
	local r=${2:-$run} d=${3:-}
	[ -n "$d" ] || d=$(day "$1" "$r")
	awk -F'\t' -v run="$r" -v day="$d" 'NR > 1 && $2 == run && $1 == day' "$results/$1"
}

# Shared look: SVG, white background, one font, light grid, no top/right border.
style() {
	cat <<'GP'
set terminal svg size 760,420 dynamic noenhanced font "Helvetica,11" background rgb "white"
set datafile separator "\t"
set border 3
set xtics nomirror
set ytics nomirror
set grid ytics lc rgb "#dddddd" lt 1
set key top left reverse Left noautotitle samplen 1.5
set style fill solid 1.0 noborder
GP
}

# Bars side by side, enrichd's (column 2 of DATA) then its PEER's (column 3), from 0 with ROOM
# above the highest for labels: the set-up and the start of the plot, which the caller goes on.
clustered() { # ROOM DATA PEER
	printf '%s\n' "set yrange [0:*]" "set offsets 0, 0, $1, 0" "set style data histogram" \
		"set style histogram clustered gap 1" "set boxwidth 0.9" \
		"plot \"$2\" using 2:xtic(1) lc rgb \"#1f77b4\" title \"enrichd\", \\" \
		"     \"\" using 3 lc rgb \"#f2a900\" title \"$3\", \\"
}

# A clustered-bars chart up to its plot's first two series: chart SVG TITLE YLABEL ROOM DATA
# PEER (SVG a file name under --out; the rest as for clustered). The caller adds its label series.
chart() {
	style
	cat <<GP
set output "$out/$1"
set title "$2"
set ylabel "$3"
$(clustered "$4" "$5" "$6")
GP
}

# ---- events/s per core ----
rows events_per_core.tsv | awk -F'\t' '{
	e = $4; c = $5
	printf "%s\t%.3f\t%.3f\t%.2fM\t%.0fK\t%.1fx\n", $3, e / 1e6, c / 1e6, e / 1e6, c / 1e3, e / c
}' >"$tmp/epc.dat"
[ -s "$tmp/epc.dat" ] || { echo "perf/plots.sh: no rows of run '$run' in events_per_core.tsv" >&2; exit 1; }
{
	chart events_per_core.svg "Enrichment throughput, $data (run $run, $(day events_per_core.tsv))" \
		"million events/s" 1.2 "$tmp/epc.dat" "ClickHouse (hashed dictionaries)"
	cat <<GP
     "" using (\$0 - 1.0/6):2:4 with labels offset 0,0.7 notitle, \\
     "" using (\$0 + 1.0/6):3:5 with labels offset 0,0.7 notitle, \\
     "" using 0:2:(sprintf("%s ClickHouse", stringcolumn(6))) with labels offset 0,2.3 tc rgb "#555555" notitle
GP
} | gnuplot

# ---- stage split ----
ch1=$(rows events_per_core.tsv | awk -F'\t' '$3 == "1 worker, 1 core" { print $5 }')
budget=$(awk -v c="$ch1" 'BEGIN { if (c > 0) printf "%.0f", 1e9 / (20 * c) }')
stages="poll decode probe append encode write seal"
rows stage_split.tsv | awk -F'\t' -v stages="$stages" '
	{ v[$3, $4] = $5; if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 } }
	END {
		ns = split(stages, st, " ")
		for (i = 1; i <= n; i++) {
			line = order[i]; total = 0
			for (j = 1; j <= ns; j++) { line = line "\t" (v[order[i], st[j]] + 0); total += v[order[i], st[j]] }
			print line "\t" total
		}
	}' >"$tmp/stages.dat"
# The stages' names at the middle of their segments, where a segment is tall enough.
awk -F'\t' -v stages="$stages" '{
	ns = split(stages, st, " "); y = 0
	for (j = 1; j <= ns; j++) {
		v = $(j + 1)
		if (v >= 14) printf "%d\t%.1f\t%s %d\n", NR - 1, y + v / 2, st[j], v
		y += v
	}
}' "$tmp/stages.dat" >"$tmp/stage-labels.dat"
colors=("#4c78a8" "#f58518" "#e45756" "#72b7b2" "#54a24b" "#b279a2" "#9d755d")
plot="plot "
i=0
xtic=":xtic(1)"
for st in $stages; do
	plot+="\"$tmp/stages.dat\" using $((i + 2))$xtic lc rgb \"${colors[$i]}\" title \"$st\", "
	xtic=""
	i=$((i + 1))
done
plot+="\"\" using 0:9:(sprintf(\"%d ns\", \$9)) with labels offset 0,0.7 notitle, "
plot+="\"$tmp/stage-labels.dat\" using 1:2:3 with labels tc rgb \"white\" font \",11\" notitle"
{
	style
	cat <<GP
set output "$out/stage_split.svg"
set title "One worker's event path per event, by stage (run $run, $(day stage_split.tsv))"
set ylabel "ns per event"
set yrange [0:*]
set offsets 0, 0, 60, 0
set key outside right center noreverse Right
set style data histogram
set style histogram rowstacked
set boxwidth 0.6
GP
	if [ -n "$budget" ]; then
		cat <<GP
set arrow from graph 0, first $budget to graph 1, first $budget nohead dt 2 lw 1.5 lc rgb "#d62728"
set label "20x ClickHouse on one core: $budget ns/event" at graph 0.02, first $budget offset 0,0.8 tc rgb "#d62728"
GP
	fi
	echo "$plot"
} | gnuplot

# ---- latency distribution ----
hist_run=""
if [ -e "$results/latency_hist.tsv" ]; then
	hist_run=$run
	[ -n "$(rows latency_hist.tsv "$hist_run")" ] ||
		hist_run=$(awk -F'\t' 'NR > 1 && $2 ~ /^10m / { r = $2 } END { print r }' "$results/latency_hist.tsv")
fi
if [ -n "$hist_run" ]; then
	total=$(rows latency_hist.tsv "$hist_run" | awk -F'\t' '{ s += $4 } END { print s }')
	rows latency_hist.tsv "$hist_run" | awk -F'\t' -v t="$total" '{ printf "%s\t%.4f\n", $3 - 5, 100 * $4 / t }' \
		>"$tmp/hist.dat"
	rows latency_metrics.tsv "$hist_run" | awk -F'\t' '$3 != "+Inf" { print $3 * 1000 "\t" $4 }' |
		awk -F'\t' -v t="$(rows latency_metrics.tsv "$hist_run" | awk -F'\t' '$3 == "+Inf" { print $4 }')" \
			't > 0 { printf "%s\t%.2f\n", $1, 100 * $2 / t }' >"$tmp/metrics.dat"
	hist_day=$(day latency_hist.tsv "$hist_run")
	read -r p50 p99 load busy <<<"$(rows latency.tsv "$hist_run" "$hist_day" | cut -f4,5,7,8 | tr '\t' ' ')"
	machine=""
	[ -z "$load" ] || machine="other work on the machine: load average $load before the run; its CPUs ${busy}% busy during it"
	{
		style
		cat <<GP
set output "$out/latency.svg"
set title "Event to sealed segment at 100K events/s, 500 ms epochs (run $hist_run, $hist_day)"
set xlabel "latency, ms (Kafka producer timestamp to the rename that seals the row's segment)"
set ylabel "share of rows per 10 ms, %"
set y2label "rows sealed within, % (the engine's histogram)"
set xrange [0:$(awk -F'\t' 'BEGIN { m = 1100 } $1 + 50 > m { m = $1 + 50 } END { print m }' "$tmp/hist.dat")]
set yrange [0:*]
set y2range [0:100]
set y2tics 20 nomirror
set border 11
set key at graph 0.98, graph 0.66 right noreverse Right
set boxwidth 9
set arrow from $p50, graph 0 to $p50, graph 1 nohead dt 2 lc rgb "#333333"
set label "p50 $p50 ms" at $p50, graph 0.96 offset 0.5,0
set arrow from $p99, graph 0 to $p99, graph 1 nohead dt 2 lc rgb "#333333"
set label "p99 $p99 ms" at $p99, graph 0.88 offset 0.5,0
set arrow from 1000, graph 0 to 1000, graph 1 nohead lw 1.5 lc rgb "#d62728"
set label "target: p99 <= 1 s" at 1000, graph 0.96 right offset -0.5,0 tc rgb "#d62728"
set label "$machine" at graph 0.98, graph 0.74 right tc rgb "#555555"
plot "$tmp/hist.dat" using 1:2 with boxes lc rgb "#1f77b4" title "rows, from the segments", \\
     "$tmp/metrics.dat" using 1:2 axes x1y2 with linespoints pt 7 ps 0.6 lc rgb "#f58518" title "enrichd_event_seal_latency_seconds"
GP
	} | gnuplot
else
	echo "perf/plots.sh: no latency histogram in perf/results/latency_hist.tsv; latency.svg not drawn" >&2
fi

# ---- memory per dimension row ----
rows dimension_bytes.tsv | awk -F'\t' '{
	top = ($6 != "" && $6 > $4) ? $6 : $4
	printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $3, $4, $5, ($6 == "" ? "NaN" : $6), $4 "", $5 "", top
}' >"$tmp/bytes.dat"
{
	chart dimension_bytes.svg "Memory per dimension row, $data (run $run, $(day dimension_bytes.tsv))" \
		"bytes per row" 60 "$tmp/bytes.dat" "ClickHouse (hashed dictionary)"
	cat <<GP
     "" using (\$0 - 1.0/6):7:5 with labels offset 0,0.7 notitle, \\
     "" using (\$0 + 1.0/6):3:6 with labels offset 0,0.7 notitle, \\
     "" using (\$0 - 1.0/3):4:(1.0/3):(0) with vectors nohead lw 3 lc rgb "#d62728" title "enrichd's target"
GP
} | gnuplot

ls -1 "$out"/*.svg
