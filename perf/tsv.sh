# shellcheck shell=bash
# The benchmarks' raw results as small TSV files under perf/results/, from which perf/plots.sh
# draws docs/img/*.svg. Sourced by perf/report.sh and perf/dims.sh.
#
# Every file has a header line and then rows whose first two columns are the date of the
# measurement (YYYY-MM-DD, UTC) and the run it belongs to (e.g. "10m thp": scale and the pages of
# the dimension tables). A run's rows replace the rows of the same date and run; earlier dates
# stay, so a file keeps the history of its measurements and the plots show each run's latest.

PERF_RESULTS=${PERF_RESULTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/results}

# perf_tsv_put FILE HEADER DATE RUN: replaces the rows of DATE and RUN in $PERF_RESULTS/FILE with
# the rows on stdin (tab-separated, without the header). Nothing on stdin leaves the file as it was.
perf_tsv_put() {
	local file=$PERF_RESULTS/$1 header=$2 day=$3 run=$4 rows
	rows=$(cat)
	[ -n "$rows" ] || return 0
	mkdir -p "$PERF_RESULTS"
	{
		printf '%s\n' "$header"
		if [ -e "$file" ]; then
			awk -F'\t' -v day="$day" -v run="$run" 'NR > 1 && !($1 == day && $2 == run)' "$file"
		fi
		printf '%s\n' "$rows"
	} >"$file.new"
	mv "$file.new" "$file"
	echo "results: $file ($day, $run)" >&2
}

# perf_date FILE...: the UTC date of the newest of FILEs (when the measurement was made).
perf_date() {
	date -u -d "@$(stat -c %Y "$@" | sort -n | tail -n1)" +%F
}
