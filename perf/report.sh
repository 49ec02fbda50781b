#!/usr/bin/env bash
# Builds the table of perf/run.sh from the raw results under BENCH/results (what run.sh wrote):
#
#   perf/report.sh var/bench/<scale>
#
# Every figure is the median over the runs found; a part without results shows "-". The figures
# the plots show go to perf/results/*.tsv (perf/tsv.sh), as the run "<scale> <pages>" dated by
# its raw results; a part without results leaves its file as it was. perf/plots.sh draws them.
# No pipefail: a part without results is a grep that finds nothing, shown as "-".
set -eu
# shellcheck source=perf/tsv.sh
source "$(dirname "$0")/tsv.sh"
bench=${1:?usage: perf/report.sh var/bench/<scale>}
res=$bench/results
[ -d "$res" ] || { echo "perf/report.sh: no results under $res" >&2; exit 1; }

# Median of the numbers on stdin ("" if none).
median() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) print "";
		else if (NR % 2) print a[(NR + 1) / 2];
		else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Value of KEY in the first line of FILE matching PATTERN.
kv() {
	grep -m1 -e "$2" "$1" 2>/dev/null | grep -o "[[:space:]]$3=[^ ]*" | head -n1 | cut -d= -f2
}

# Per-run figure of the enrich part: enrich_runs WORKERS EXPR (awk over the run's values:
# events, wall, cpu, st[poll|decode|probe|append|encode|write|seal] (ms), rss_kb). cpu is the
# CPU time of the event path (event_path_cpu_s: the process's, over the workers' loops; time
# waiting for the disk is not in it), or for logs before it the process's CPU time from the
# workers' start (workers_cpu_s: setup and the last seal in it too).
enrich_runs() {
	local w=$1 expr=$2 f
	for f in "$res"/enrich-w"$w"-r*.log; do
		[ -e "$f" ] || continue
		local line events rss
		line=$(grep -m1 "summary: event_path_s=" "$f") || continue
		events=$(kv "$f" "summary: events=" events)
		rss=$(sed -n 's/^maxrss_kb=//p' "${f%.log}.time" 2>/dev/null)
		echo "$line" | awk -v events="$events" -v rss="${rss:-0}" "{
			for (i = 1; i <= NF; i++) {
				split(\$i, kvp, \"=\")
				if (kvp[1] == \"event_path_s\") wall = kvp[2]
				else if (kvp[1] == \"event_path_cpu_s\") pcpu = kvp[2]
				else if (kvp[1] == \"workers_cpu_s\") wcpu = kvp[2]
				else if (kvp[2] != \"\") st[kvp[1]] = kvp[2]
			}
			rss_kb = rss
			cpu = pcpu != \"\" ? pcpu : wcpu
			print $expr
		}"
	done | median
}

# Per-dimension load figure from the enrich logs: dim_runs NAME FIELD (rows_per_s | b_per_row).
dim_runs() {
	grep -h " dim: $1: .* rows from " "$res"/enrich-w*-r*.log 2>/dev/null | awk -v f="$2" '{
		for (i = 1; i <= NF; i++) {
			if ($i == "rows" && rows == "") rows = $(i - 1)
			if ($i == "s" && $(i - 2) == "in") secs = $(i - 1)
			if ($i == "B/row),") bpr = substr($(i - 1), 2)
		}
		if (f == "rows_per_s") print rows / secs; else print bpr
		rows = ""
	}' | median
}

# Median over the key=value lines of FILE that match PATTERN: kv_median FILE PATTERN EXPR [GUARD]
# (awk over v[key]; lines where GUARD is false are left out).
kv_median() {
	grep -h -e "$2" "$1" 2>/dev/null | awk "{
		delete v
		for (i = 1; i <= NF; i++) { split(\$i, kvp, \"=\"); if (kvp[2] != \"\") v[kvp[1]] = kvp[2] }
		if (${4:-1}) print $3
	}" | median
}

peer_runs() { # THREADS EXPR over v[seconds|cpu_s|rows]
	kv_median "$res/peer.txt" "^ch_enrich: threads=$1 " "$2"
}

peer_dict() { # NAME EXPR over v[rows|bytes|load_s]
	kv_median "$res/peer.txt" "^ch_dict: name=$1 " "$2"
}

lines_median() { # FILE PATTERN KEY
	kv_median "$1" "$2" "v[\"$3\"]" "(\"$3\" in v)"
}

e1=$(enrich_runs 1 "events / wall")
e1cpu=$(enrich_runs 1 "events / cpu")
e2=$(enrich_runs 2 "events / wall")
e1io=$(enrich_runs 1io "events / wall")
e1iocpu=$(enrich_runs 1io "events / cpu")
probe1=$(enrich_runs 1 "events * 3 / (st[\"probe\"] / 1000)")
probehot=$(enrich_runs 1hot "events * 3 / (st[\"probe\"] / 1000)")
rss1=$(enrich_runs 1 "rss_kb / 1024")
rss2=$(enrich_runs 2 "rss_kb / 1024")
s15=$(enrich_runs schema15 "events / wall")
s15cpu=$(enrich_runs schema15 "events / cpu")
a15cpu=$(enrich_runs avro15 "events / cpu")
s15peer=$(kv_median "$res/peer-schema15.txt" "^ch_enrich: threads=1 " 'v["rows"] / v["seconds"]')
a15=$(enrich_runs avro15 "events / wall")
a15peer=$(kv_median "$res/peer-avro15.txt" "^ch_enrich: threads=1 " 'v["rows"] / v["seconds"]')
s15core=$(kv_median "$res/peer-schema15-core.txt" "^ch_enrich: threads=1 " 'v["rows"] / v["seconds"]')
a15core=$(kv_median "$res/peer-avro15-core.txt" "^ch_enrich: threads=1 " 'v["rows"] / v["seconds"]')
s15corecpu=$(kv_median "$res/peer-schema15-core.txt" "^ch_enrich: threads=1 " 'v["rows"] / v["cpu_s"]')
a15corecpu=$(kv_median "$res/peer-avro15-core.txt" "^ch_enrich: threads=1 " 'v["rows"] / v["cpu_s"]')
c1=$(peer_runs 1 'v["rows"] / v["seconds"]')
c1cpu=$(peer_runs 1 'v["rows"] / v["cpu_s"]')
call=$(peer_runs 0 'v["rows"] / v["seconds"]')
huge=$(lines_median "$res/randload.txt" "^best: mode=\(thp\|hugetlb\)" loads_per_s)
small=$(lines_median "$res/randload.txt" "^best: mode=4k" loads_per_s)
huge_mode=$(grep -m1 -o "^best: mode=[a-z0-9]*" "$res/randload.txt" 2>/dev/null | cut -d= -f2 || true)
kraw=$(lines_median "$res/kafka.txt" "^kafka_count:" msgs_per_s)
# Median of a kafka_enrichd figure for one variant: ken AGE:IDLE:CPUS EXPR (over v[...]).
ken() {
	kv_median "$res/kafka.txt" "^kafka_enrichd: variant=$1 " "$2" \
		'v["seconds"] > 0 && v["ingest_seconds"] > 0'
}
ken500=$(ken 500ms:0:auto 'v["messages"] / v["seconds"]')
kenidle=$(ken 500ms:50ms:auto 'v["messages"] / v["seconds"]')
ken50=$(ken 50ms:0:auto 'v["messages"] / v["seconds"]')
ken1w=$(ken 500ms:50ms:1 'v["messages"] / v["seconds"]')
keningest=$(ken 500ms:0:auto 'v["messages"] / v["ingest_seconds"]')
p50=$(lines_median "$res/latency.txt" "^latency:" p50_ms)
p99=$(lines_median "$res/latency.txt" "^latency:" p99_ms)
pmax=$(grep -h -o "[[:space:]]max_ms=[^ ]*" "$res/latency.txt" 2>/dev/null | cut -d= -f2 | sort -g | tail -n1)

# row WHAT ENRICHD PEER RATIO TARGET MET
row() { printf "| %-44s | %16s | %26s | %9s | %9s | %-4s |\n" "$@"; }
fmt_rate() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { if (x >= 1e6) printf "%.2fM/s", x / 1e6; else printf "%.0fK/s", x / 1e3 }' || echo -; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }' || echo -; }
pct() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }' || echo -; }
met() { # VALUE OP LIMIT
	[ -n "$1" ] && [ -n "$3" ] || { echo -; return; }
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = op == ">=" ? a >= b : a <= b; print ok ? "yes" : "NO" }'
}
div() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) print a / b }' || true; }
# A row of the Kafka path's rate against the counting consumer's, which it must reach 90% of.
kafka_row() { # WHAT RATE
	row "$1" "$(fmt_rate "$2")" "counting consumer $(fmt_rate "$kraw")" "$(pct "$2" "$kraw")" ">= 90%" \
		"$(met "$(div "$2" "$kraw")" ">=" 0.9)"
}

runs_found=$(ls "$res"/enrich-w1-r*.log 2>/dev/null | wc -l)
pages=$(grep -h -m1 -o "B/row, [a-z0-9]* pages" "$res"/enrich-w1-r*.log 2>/dev/null | head -n1 | cut -d' ' -f2)
echo "enrichd event path, $(basename "$bench") scale, medians of $runs_found run(s); $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); dimension tables in ${pages:-?} pages"
echo
row "what" "enrichd" "peer / limit" "ratio" "target" "met?"
row "--------------------------------------------" "----------------" "--------------------------" "---------" "---------" "----"
r=$(div "$e1" "$c1")
row "events/s, 1 worker on 1 core (wall)" "$(fmt_rate "$e1")" "ClickHouse 1 thread $(fmt_rate "$c1")" "$(ratio "$e1" "$c1")" ">= 20x" "$(met "$r" ">=" 20)"
r=$(div "$e1cpu" "$c1cpu")
row "events per CPU-second, 1 worker" "$(fmt_rate "$e1cpu")" "ClickHouse 1 thread $(fmt_rate "$c1cpu")" "$(ratio "$e1cpu" "$c1cpu")" "(>= 20x)" "$(met "$r" ">=" 20)"
row "events/s, 1 worker, io_uring writes on CPU 1" "$(fmt_rate "$e1io")" "ClickHouse 1 thread $(fmt_rate "$c1")" "$(ratio "$e1io" "$c1")" "-" "-"
row "  the same, per CPU-second" "$(fmt_rate "$e1iocpu")" "ClickHouse 1 thread $(fmt_rate "$c1cpu")" "$(ratio "$e1iocpu" "$c1cpu")" "-" "-"
row "events/s, all cores (2 workers)" "$(fmt_rate "$e2")" "ClickHouse all $(fmt_rate "$call")" "$(ratio "$e2" "$call")" "-" "-"
r=$(div "$s15" "$s15peer")
row "declared JSON schema (16 fields), 1 worker" "$(fmt_rate "$s15")" "ClickHouse 1 thread $(fmt_rate "$s15peer")" "$(ratio "$s15" "$s15peer")" ">= 20x" "$(met "$r" ">=" 20)"
r=$(div "$s15" "$s15core")
row "  the same, ClickHouse on one core (taskset)" "$(fmt_rate "$s15")" "ClickHouse 1 core $(fmt_rate "$s15core")" "$(ratio "$s15" "$s15core")" ">= 20x" "$(met "$r" ">=" 20)"
r=$(div "$s15cpu" "$s15corecpu")
row "  the same, per CPU-second" "$(fmt_rate "$s15cpu")" "ClickHouse 1 core $(fmt_rate "$s15corecpu")" "$(ratio "$s15cpu" "$s15corecpu")" "(>= 20x)" "$(met "$r" ">=" 20)"
r=$(div "$a15" "$a15peer")
row "Avro, Confluent wire format (16 fields), 1 worker" "$(fmt_rate "$a15")" "ClickHouse 1 thread $(fmt_rate "$a15peer")" "$(ratio "$a15" "$a15peer")" ">= 20x" "$(met "$r" ">=" 20)"
r=$(div "$a15" "$a15core")
row "  the same, ClickHouse on one core (taskset)" "$(fmt_rate "$a15")" "ClickHouse 1 core $(fmt_rate "$a15core")" "$(ratio "$a15" "$a15core")" ">= 20x" "$(met "$r" ">=" 20)"
r=$(div "$a15cpu" "$a15corecpu")
row "  the same, per CPU-second" "$(fmt_rate "$a15cpu")" "ClickHouse 1 core $(fmt_rate "$a15corecpu")" "$(ratio "$a15cpu" "$a15corecpu")" "(>= 20x)" "$(met "$r" ">=" 20)"
r=$(div "$e2" "$e1")
row "scaling, 2 workers vs 1" "$(fmt_rate "$e2")" "1 worker $(fmt_rate "$e1")" "$(ratio "$e2" "$e1")" ">= 1.8x" "$(met "$r" ">=" 1.8)"
r=$(div "$probe1" "$huge")
row "probe stage, lookups/s (1 worker)" "$(fmt_rate "$probe1")" "random loads ${huge_mode:-huge} $(fmt_rate "$huge")" "$(pct "$probe1" "$huge")" ">= 40%" "$(met "$r" ">=" 0.4)"
row "  the same, every key's lines in cache" "$(fmt_rate "$probehot")" "random loads ${huge_mode:-huge} $(fmt_rate "$huge")" "$(pct "$probehot" "$huge")" "-" "-"
row "random loads, huge vs 4 KiB pages" "$(fmt_rate "$huge")" "4k $(fmt_rate "$small")" "$(ratio "$huge" "$small")" "-" "-"
kafka_row "Kafka path, to sealed (500 ms epochs)" "$ken500"
kafka_row "Kafka path, to sealed (500 ms, idle 50 ms)" "$kenidle"
kafka_row "Kafka path, to sealed (50 ms epochs)" "$ken50"
kafka_row "Kafka path, to sealed (1 worker on CPU 1)" "$ken1w"
row "Kafka path, to last message taken" "$(fmt_rate "$keningest")" "counting consumer $(fmt_rate "$kraw")" "$(pct "$keningest" "$kraw")" "-" "-"
row "latency event to sealed, p50 / p99 / max" "${p50:--} / ${p99:--} / ${pmax:--} ms" "at 100K events/s" "-" "p99<=1000" "$(met "$p99" "<=" 1000)"
for d in users devices urls; do
	eb=$(dim_runs "$d" b_per_row)
	cb=$(peer_dict "$d" 'v["bytes"] / v["rows"]')
	row "dimension $d, bytes/row" "${eb:--}" "ClickHouse $([ -n "$cb" ] && printf %.1f "$cb" || echo -)" "$(ratio "$cb" "$eb")" "$(case $d in users) echo '<= 40' ;; devices) echo '<= 64' ;; *) echo - ;; esac)" \
		"$(case $d in users) met "$eb" "<=" 40 ;; devices) met "$eb" "<=" 64 ;; *) echo - ;; esac)"
done
for d in users devices urls; do
	el=$(dim_runs "$d" rows_per_s)
	cl=$(peer_dict "$d" 'v["rows"] / v["load_s"]')
	row "dimension $d, load rows/s" "$(fmt_rate "$el")" "ClickHouse $(fmt_rate "$cl")" "$(ratio "$el" "$cl")" ">= 5M/s" "$(met "$el" ">=" 5000000)"
done
row "peak RSS, 1 / 2 workers" "${rss1:+$(printf %.0f "$rss1")} / ${rss2:+$(printf %.0f "$rss2")} MiB" "-" "-" "-" "-"
if [ -n "$kraw" ]; then
	echo
	echo "CPU-seconds of the Kafka part while consuming (medians; the broker shares the same cores):"
	kc=$(lines_median "$res/kafka.txt" "^kafka_count:" cpu_s)
	kb=$(lines_median "$res/kafka.txt" "^kafka_count:" broker_cpu_s)
	ks=$(lines_median "$res/kafka.txt" "^kafka_count:" seconds)
	echo "  counting consumer ${kc:--} + broker ${kb:--} in ${ks:--} s"
	for v in 500ms:0:auto 500ms:50ms:auto 50ms:0:auto 500ms:50ms:1; do
		ec=$(ken "$v" 'v["cpu_s"]')
		eb=$(ken "$v" 'v["broker_cpu_s"]')
		es=$(ken "$v" 'v["seconds"]')
		echo "  enrichd, segment_age_ms:segment_idle_ms:cpus $v: ${ec:--} + broker ${eb:--} in ${es:--} s (to sealed)"
	done
fi
echo
echo "Stage split of the event path (1 worker; ms summed over the run, ns per event, share):"
total=$(enrich_runs 1 "st[\"poll\"] + st[\"decode\"] + st[\"probe\"] + st[\"append\"] + st[\"encode\"] + st[\"write\"] + st[\"seal\"]")
wall=$(enrich_runs 1 "wall * 1000")
ev=$(enrich_runs 1 "events")
for st in poll decode probe append encode write seal; do
	v=$(enrich_runs 1 "st[\"$st\"]")
	[ -n "$v" ] && awk -v s="$st" -v v="$v" -v t="$total" -v n="$ev" \
		'BEGIN { printf "  %-7s %9.1f ms %7.1f ns/event %5.1f%%\n", s, v, v * 1e6 / n, 100 * v / t }'
done
[ -n "$total" ] && awk -v t="$total" -v w="$wall" -v n="$ev" \
	'BEGIN { printf "  stages  %9.1f ms %7.1f ns/event; event-path wall time %.1f ms\n", t, t * 1e6 / n, w }'
hot=$(enrich_runs 1hot "st[\"probe\"] * 1e6 / events")
[ -n "$hot" ] && [ -n "$huge" ] && awk -v h="$hot" -v l="$huge" \
	'BEGIN { printf "  probe with every key'"'"'s lines in cache (1,000 distinct events): %.1f ns/event; one random load at the limit: %.1f ns\n", h, 1e9 / l }'

# ---- the plotted figures, as TSV (perf/tsv.sh) ----

run="$(basename "$bench") ${pages:-$(grep -h -m1 -o "B/row, [a-z0-9]* pages" "$res"/latency-enrichd-r*.log 2>/dev/null |
	head -n1 | cut -d' ' -f2)}"
enrich_logs=$(ls "$res"/enrich-w*-r*.log 2>/dev/null || true)
if [ -n "$enrich_logs" ] && [ -n "$c1" ]; then
	# shellcheck disable=SC2086 # log paths without spaces
	day=$(perf_date $enrich_logs "$res/peer.txt")
	{
		printf '%s\t%s\t%s\t%.0f\t%.0f\n' "$day" "$run" "1 worker, 1 core" "$e1" "$c1"
		printf '%s\t%s\t%s\t%.0f\t%.0f\n' "$day" "$run" "1 worker, per CPU-second" "$e1cpu" "$c1cpu"
		[ -z "$e2" ] || [ -z "$call" ] ||
			printf '%s\t%s\t%s\t%.0f\t%.0f\n' "$day" "$run" "2 workers, all cores" "$e2" "$call"
	} | perf_tsv_put events_per_core.tsv \
		"$(printf 'date\trun\tconfig\tenrichd_events_per_s\tclickhouse_events_per_s')" "$day" "$run"
	for d in users devices urls; do
		eb=$(dim_runs "$d" b_per_row)
		cb=$(peer_dict "$d" 'v["bytes"] / v["rows"]')
		t=$(case $d in users) echo 40 ;; devices) echo 64 ;; *) echo ;; esac)
		[ -z "$eb" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$day" "$run" "$d" "$eb" \
			"$([ -n "$cb" ] && printf %.1f "$cb")" "$t"
	done | perf_tsv_put dimension_bytes.tsv "$(printf 'date\trun\tdimension\tenrichd_bytes_per_row\tclickhouse_bytes_per_row\ttarget_bytes_per_row')" "$day" "$run"
	for d in users devices urls; do
		el=$(dim_runs "$d" rows_per_s)
		cl=$(peer_dict "$d" 'v["rows"] / v["load_s"]')
		[ -z "$el" ] || printf '%s\t%s\t%s\t%.0f\t%s\n' "$day" "$run" "$d" "$el" \
			"$([ -n "$cl" ] && printf %.0f "$cl")"
	done | perf_tsv_put dimension_load.tsv "$(printf 'date\trun\tdimension\tenrichd_rows_per_s\tclickhouse_rows_per_s')" "$day" "$run"
fi
if [ -n "$enrich_logs" ]; then
	# shellcheck disable=SC2086 # log paths without spaces
	day=$(perf_date $enrich_logs)
	for w in 1 1io; do
		ev=$(enrich_runs "$w" "events")
		[ -n "$ev" ] || continue
		config=$([ "$w" = 1 ] && echo "1 core" || echo "writes on CPU 1")
		for st in poll decode probe append encode write seal; do
			v=$(enrich_runs "$w" "st[\"$st\"]")
			[ -z "$v" ] || awk -v d="$day" -v r="$run" -v c="$config" -v s="$st" -v v="$v" -v n="$ev" \
				'BEGIN { printf "%s\t%s\t%s\t%s\t%.1f\n", d, r, c, s, v * 1e6 / n }'
		done
	done | perf_tsv_put stage_split.tsv "$(printf 'date\trun\tconfig\tstage\tns_per_event')" "$day" "$run"
fi
if [ -e "$res/latency.txt" ] && [ -n "$p99" ]; then
	day=$(perf_date "$res/latency.txt")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$day" "$run" 100000 "$p50" "$p99" "$pmax" \
		"$(lines_median "$res/latency.txt" "^latency:" load_before)" \
		"$(lines_median "$res/latency.txt" "^latency:" busy_pct)" |
		perf_tsv_put latency.tsv "$(printf 'date\trun\tevents_per_s\tp50_ms\tp99_ms\tmax_ms\tload_before\tmachine_busy_pct')" "$day" "$run"
	# Rows per 10 ms bin and the engine's cumulative buckets, summed over the runs.
	cat "$res"/latency-hist-r*.tsv 2>/dev/null | awk -F'\t' -v d="$day" -v r="$run" '
		{ n[$1] += $2 } END { for (b in n) printf "%s\t%s\t%s\t%s\n", d, r, b, n[b] }' | sort -t$'\t' -k3,3n |
		perf_tsv_put latency_hist.tsv "$(printf 'date\trun\tle_ms\trows')" "$day" "$run"
	cat "$res"/latency-metrics-r*.txt 2>/dev/null | sed -n 's/^enrichd_event_seal_latency_seconds_bucket{le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p' |
		awk -v d="$day" -v r="$run" '{ n[$1] += $2 } END {
			for (b in n) printf "%s\t%s\t%s\t%s\n", d, r, b, n[b] }' | sort -t$'\t' -k3,3g |
		perf_tsv_put latency_metrics.tsv "$(printf 'date\trun\tle_seconds\tcumulative_rows')" "$day" "$run"
fi
true
