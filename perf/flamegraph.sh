#!/usr/bin/env bash
# Profiles enrichd's event path and renders a flame graph viewable offline.
#
#   perf/flamegraph.sh [--scale small|10m|50m] [--workers 1|2] [--freq HZ]
#
# Runs `enrichd --input` over the benchmark data of perf/run.sh (generated if missing) under
# `perf record -e cpu-clock` (the hardware counters are not available on this machine; the
# cpu-clock software event is), with DWARF call graphs: the Release build keeps no frame
# pointers, so `-g` alone would give broken stacks. The flame graph and top.txt hold the worker
# threads alone (named enrichd-w<k>): the event path. The process's other threads, the
# dimension load above all, which at the small scale takes most of the run, are in top-all.txt.
# Writes under var/flamegraph/:
#   perf.data, enrichd.perf.txt   the recording and the workers' `perf script` text
#   top.txt, top-all.txt          the hottest functions (perf report, self time) of the
#                                 workers, and of the whole process
#   speedscope/                   the speedscope viewer (npm package, pinned in
#                                 perf/speedscope/package.json, installed here if missing)
#   enrichd.js                    the profile as the viewer loads it
#   enrichd.html                  open this in a browser: the flame graph (speedscope's
#                                 "Left Heavy" view), no network needed
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scale=small
workers=1
freq=999
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--freq) freq=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "perf/flamegraph.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$workers" in 1) cpus=0 ;; 2) cpus=0-1 ;; *) echo "--workers is 1 or 2" >&2; exit 2 ;; esac
[[ "$freq" =~ ^[1-9][0-9]{0,4}$ ]] || { echo "--freq is 1..99999 Hz" >&2; exit 2; }

# The data (and the build) of perf/run.sh.
perf/run.sh --scale "$scale" --only data
# shellcheck source=../tools/lib.sh
source tools/lib.sh
bench=$top/var/bench/$scale
out=$top/var/flamegraph
viewer=$top/perf/speedscope
if [ ! -e "$viewer/node_modules/speedscope/package.json" ]; then
	echo "== installing the speedscope viewer under perf/speedscope" >&2
	(cd "$viewer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
rm -rf "$out"
mkdir -p "$out"

lib_config "$out/enrichd.ini" "$bench/dims" "$out/segments" "$out/dead-letter" 127.0.0.1:9 "$cpus"
echo "== perf record: enrichd --input ($scale, $workers worker(s), $freq Hz)" >&2
perf record -e cpu-clock -F "$freq" --call-graph dwarf,16384 -o "$out/perf.data" -- \
	"$ENRICHD_BUILD_DIR/enrichd" --config "$out/enrichd.ini" --input "$bench/events.jsonl" \
	2>"$out/enrichd.log"
grep "summary:" "$out/enrichd.log" | sed 's/^.*summary: /   /' >&2
rm -rf "$out/segments" "$out/dead-letter"

# The workers' thread names: enrichd-w0,enrichd-w1,...
workers_comm=$(seq -s, -f 'enrichd-w%g' 0 $((workers - 1)))
top_functions() { # FILE [perf report options]
	local file=$1
	shift
	perf report -i "$out/perf.data" --no-children --stdio --percent-limit 0.5 -g none "$@" 2>/dev/null |
		grep -v '^#' | grep -v '^$' >"$file" || true
}
top_functions "$out/top.txt" --comms "$workers_comm"
top_functions "$out/top-all.txt"
perf script -i "$out/perf.data" --comms "$workers_comm" >"$out/enrichd.perf.txt" 2>/dev/null
[ -s "$out/enrichd.perf.txt" ] || { echo "perf/flamegraph.sh: no samples of $workers_comm" >&2; exit 1; }

# speedscope's own command line writes the profile next to TMPDIR and opens a browser; here
# there is none to open (BROWSER=true makes that step a no-op), only the file is kept.
cp -r "$viewer/node_modules/speedscope/dist/release" "$out/speedscope"
TMPDIR=$out BROWSER=true node "$viewer/node_modules/speedscope/bin/cli.mjs" "$out/enrichd.perf.txt" >/dev/null
mv "$(ls -t "$out"/speedscope-*.js | head -n1)" "$out/enrichd.js"
url="file://$out/speedscope/index.html#localProfilePath=$out/enrichd.js&title=enrichd%20workers"
printf '<!doctype html><meta charset="utf-8"><title>enrichd workers, flame graph</title><script>window.location=%s</script>\n' \
	"\"$url\"" >"$out/enrichd.html"
echo "== hottest functions of the workers ($workers_comm; self time):" >&2
head -n 15 "$out/top.txt" >&2
echo "flame graph of the workers: $out/enrichd.html (speedscope: \"Left Heavy\" is the flame graph)"
