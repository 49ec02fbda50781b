#!/usr/bin/env bash
# The commands of README.md and docs/OPERATIONS.md, as a newcomer meets them. Every fenced block
# is taken from the documents (the order of the blocks does not matter, only their contents):
#   - shell blocks: every program they name exists (a path of the tree, a program of the build,
#     or one on PATH unless listed below as a production machine's), and every --flag given to a
#     program of the tree is in its --help. The safe ones are run as written, in a temporary
#     directory standing in for /etc/enrichd and /var/lib/enrichd, against enrichd's build and
#     the HTTP interface of tests/integration/ch_http.js standing in for http://clickhouse:8123/;
#     the others are listed in `disposition` with the reason they are not run;
#   - configurations: README's is valid (`enrichd --check`), OPERATIONS.md's Kafka section too,
#     with librdkafka properties only; the systemd units pass `systemd-analyze verify`, and
#     README's unit lines are lines of OPERATIONS.md's unit;
#   - SQL, Prometheus configuration and Python: run, checked with promtool, compiled;
#   - links of README.md, OPERATIONS.md and PERFORMANCE*.md: every file and heading exists.
# tests/integration/load_clickhouse.sh runs OPERATIONS.md's CREATE TABLE statements;
# tests/integration/metrics_endpoint.sh its alert rules; tests/integration/config_docs.sh
# CONFIGURATION.md's example.
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
src=$ENRICHD_SOURCE_DIR
build=$ENRICHD_BUILD_DIR

# ---- the blocks ----

# Every fenced block of DOC into $work/blocks/NAME-NN.LANG (LANG "txt" when none).
mkdir -p "$work/blocks"
for doc in README.md docs/OPERATIONS.md; do
	awk -v out="$work/blocks" -v name="$(basename "$doc" .md)" '
		/^```/ && !inb { inb = 1; n++; lang = substr($0, 4); if (lang == "") lang = "txt"
			f = sprintf("%s/%s-%02d.%s", out, name, n, lang); printf "" > f; next }
		/^```$/ && inb { inb = 0; close(f); next }
		inb { print > f }' "$src/$doc"
done

# ---- the stand-ins: /etc/enrichd, /var/lib/enrichd, programs as installed, ClickHouse ----

root=$work/root
mkdir -p "$root/etc/enrichd" "$root/var/lib/enrichd/out" "$root/var/lib/enrichd/dead-letter" \
	"$root/var/lib/enrichd/load" "$root/usr/local/bin" "$root/srv/dimensions" "$work/bin"
ln -s "$build/enrichd" "$work/bin/enrichd"
ln -s "$src/tools/enrichd-load" "$work/bin/enrichd-load"
# A block as run here: the paths of a production host moved under $root, ClickHouse's address
# the stand-in's, installed programs the tree's.
localize() {
	sed -e "s|/etc/enrichd/|$root/etc/enrichd/|g" -e "s|/var/lib/enrichd|$root/var/lib/enrichd|g" \
		-e "s|/usr/local/bin/|$root/usr/local/bin/|g" -e "s|http://clickhouse:8123/|$url|g" "$1"
}

# README's configuration, with the dimension sources of a small generated set: enrichd --check
# needs none of them, the run below does.
readme_ini=$(grep -l '^\[dimension users\]' "$work"/blocks/README-*.ini)
"$build/enrichd-gen-dims" --out "$root/srv/dimensions" --users 2000 --devices 2000 --urls 500 \
	--seed 5 2>/dev/null
# A configuration's paths of a production host, under $root.
localize_ini() {
	sed -e "s|/srv/dimensions/|$root/srv/dimensions/|g" -e "s|/etc/enrichd/|$root/etc/enrichd/|g" \
		-e "s|/var/lib/enrichd|$root/var/lib/enrichd|g" "$1"
}
localize_ini "$readme_ini" >"$root/etc/enrichd/enrichd.ini"
printf '\n[workers]\ncpus = 0\n\n[metrics]\nlisten =\n' >>"$root/etc/enrichd/enrichd.ini"
# The CA the configurations name: librdkafka reads it when --check creates the consumer.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=enrichd docs test CA" -keyout "$work/ca.key" -out "$root/etc/enrichd/kafka-ca.pem" \
	2>/dev/null

# Segments and dead letters to load and query: README's configuration over generated events of
# 2025-01-01 00:00 (OPERATIONS.md's example segment is of that hour) with malformed lines.
"$build/enrichd-gen-events" --out "$work/events.jsonl" --count 3000 --seed 5 --users 2000 \
	--devices 2000 --urls 500 --malformed 0.01 --spread-ms 600000 --jitter-ms 0 2>/dev/null
"$build/enrichd" --config "$root/etc/enrichd/enrichd.ini" --input "$work/events.jsonl" \
	2>"$work/enrichd.log" || { tail -n 5 "$work/enrichd.log"; check_fail "README's configuration does not run"; }
# OPERATIONS.md's example segment name, for its curl line.
example=$(sed -n 's/^seg=//p' "$work"/blocks/OPERATIONS-*.sh | head -n1)
first=$(find "$root/var/lib/enrichd/out" -name '*.native' | head -n1)
if [ -z "$example" ] || [ -z "$first" ]; then
	echo "FAIL: no example segment name in OPERATIONS.md, or no segment sealed" >&2
	exit 1
fi
mkdir -p "$(dirname "$root/var/lib/enrichd/out/$example")"
mv "$first" "$root/var/lib/enrichd/out/$example"
segment_rows=$("$CHQ" "SELECT count() FROM file('$root/var/lib/enrichd/out/dt=*/hour=*/*.native', 'Native')
	SETTINGS use_hive_partitioning = 0")

lib_spawn node "$src/tests/integration/ch_http.js" --path "$work/ch" --port-file "$work/http.port"
for _ in $(seq 100); do
	[ -s "$work/http.port" ] && break
	sleep 0.1
done
[ -s "$work/http.port" ] || { echo "FAIL: ch_http.js did not start" >&2; exit 1; }
url=http://127.0.0.1:$(cat "$work/http.port")/
hq() { curl -sS --fail-with-body --data-binary "$1" "$url"; }
# OPERATIONS.md's CREATE TABLE statements, so the loading commands have their table.
awk '/^## Loading into ClickHouse/ { on = 1; next } /^## / { on = 0 }
	on && /^```sql$/ { sql = 1; next } sql && /^```$/ { sql = 0; next } sql' "$src/docs/OPERATIONS.md" |
	tr '\n' ' ' | sed 's/; */;\n/g' | while IFS= read -r statement; do
	[ -z "$statement" ] || hq "${statement%;}" >/dev/null
done

# ---- shell blocks ----

# Programs a production host has and this one need not: named, not run.
production_only="clickhouse-client systemctl journalctl useradd update-grub sysctl
	kafka-consumer-groups.sh"

# disposition BLOCK: "run" or "skip: <reason>", from the block's first command.
disposition() {
	local first
	first=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1" | head -n1 || true)
	case "$first" in
	"tools/demo.sh" | "tools/test.sh") echo "skip: minutes long, and tools/test.sh runs this test" ;;
	"tools/setup.sh && tools/build.sh build") echo "skip: installs packages and a system user (root)" ;;
	"sysctl -w vm.nr_hugepages="*) echo "skip: reserves huge pages of this machine (root)" ;;
	"echo madvise > /sys/kernel/mm/"*) echo "skip: changes the kernel's THP mode (root)" ;;
	"for t in /proc/\$(pidof enrichd)/task/"*) echo "skip: needs the one enrichd of a production host" ;;
	"kcat -L "*) echo "skip: needs the example's Kafka cluster and credentials" ;;
	"useradd "*) echo "skip: creates a system user (root)" ;;
	"systemctl daemon-reload") echo "skip: needs systemd as init (units: systemd-analyze verify below)" ;;
	"clickhouse-client "*) echo "skip: clickhouse-client is not installed here (load_clickhouse.sh runs this command line through a stand-in)" ;;
	"install -m 0755 tools/enrichd-load /usr/local/bin/enrichd-load") echo "skip: installs into /usr/local and starts a unit (root, systemd)" ;;
	"seg="* | "tools/enrichd-load "* | "enrichd-load "* | "enrichd --config "* | "find /var/lib/enrichd/out "*)
		echo run ;;
	*) echo "skip: not known to this test: only its programs and flags are checked" ;;
	esac
}

# BLOCK's simple commands, one per line, their environment assignments dropped: continuation
# lines joined, comments, quoted text and $(...) dropped, split at && || ; and |.
simple_commands() {
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | { grep -v '^[[:space:]]*#' || true; } | sed -e 's/#.*$//' \
		-e "s/'[^']*'//g" -e 's/"[^"]*"//g' -e 's/\$([^)]*)//g' |
		sed -e 's/&&/\n/g' -e 's/||/\n/g' -e 's/[;|]/\n/g' |
		awk '{ i = 1; while (i <= NF && ($i ~ /^[A-Za-z_][A-Za-z0-9_]*=/ || $i ~ /^(do|then|else|!)$/)) i++
			line = ""; for (; i <= NF; i++) line = line (line == "" ? "" : " ") $i
			if (line != "") print line }'
}

# The programs BLOCK runs, one per line.
commands_of() {
	simple_commands "$1" | awk '{ print $1 }' | grep -Ev '^(for|done|fi|if|while|in|[<>].*)$' || true
}

# The --flags BLOCK gives PROGRAM (as written), up to a bare -- (what follows is another's).
flags_of() {
	simple_commands "$1" | awk -v prog="$2" '$1 == prog {
		for (i = 2; i <= NF && $i != "--"; i++) if ($i ~ /^--[a-z]/) { sub(/=.*/, "", $i); print $i } }' |
		sort -u || true
}

for block in "$work"/blocks/*.sh; do
	name=$(basename "$block")
	while IFS= read -r cmd; do
		case "$cmd" in
		tools/* | perf/* | tests/*)
			[ -x "$src/$cmd" ] || check_fail "$name: $cmd is not an executable file of the tree" ;;
		build/*)
			[ -x "$build/${cmd#build/}" ] || check_fail "$name: $cmd is not a program of the build" ;;
		enrichd | enrichd-load | /usr/local/bin/*) ;;
		*)
			if ! command -v "$cmd" >/dev/null && ! grep -qw -- "$cmd" <<<"$production_only"; then
				check_fail "$name: $cmd is neither installed here nor a production host's program"
			fi
			;;
		esac
	done < <(commands_of "$block")
	# Flags of the tree's programs (as installed or by path) against their --help.
	for prog in enrichd tools/enrichd-load enrichd-load perf/run.sh perf/plots.sh perf/dims.sh \
		perf/flamegraph.sh; do
		flags=$(flags_of "$block" "$prog")
		[ -n "$flags" ] || continue
		case "$prog" in
		enrichd) help=$("$build/enrichd" --help 2>&1) ;;
		enrichd-load) help=$("$src/tools/enrichd-load" --help) ;;
		*) help=$("$src/$prog" --help) ;;
		esac
		for flag in $flags; do
			grep -q -- "$flag" <<<"$help" || check_fail "$name: $prog $flag is not in its --help"
		done
	done
	what=$(disposition "$block")
	if [ "$what" != run ]; then
		echo "$name: ${what#skip: }" | sed 's/^/not run: /'
		continue
	fi
	localize "$block" >"$work/run.sh"
	echo "run: $name"
	if ! (cd "$src" && PATH=$work/bin:$PATH bash -euo pipefail "$work/run.sh") >"$work/run.log" 2>&1; then
		cat "$work/run.log" >&2
		check_fail "$name did not run"
	fi
done

# What the runs did: every segment loaded once (README's and OPERATIONS.md's loader commands and
# OPERATIONS.md's curl line all sent theirs; the deduplication token made them one).
loaded=$(hq "SELECT count() FROM clickstream.events")
[ "$loaded" = "$segment_rows" ] || check_fail "the documents' loads left $loaded rows, the segments hold $segment_rows"
[ -e "$root/var/lib/enrichd/load/state" ] || check_fail "enrichd-load --state wrote no state file"
[ -e "$root/var/lib/enrichd/out/$example" ] || check_fail "the removal of loaded segments removed a new one"

# ---- configurations ----

"$build/enrichd" --config "$root/etc/enrichd/enrichd.ini" --check >/dev/null ||
	check_fail "README's configuration does not pass enrichd --check"
kafka_ini=$(grep -l 'property.sasl.mechanisms' "$work"/blocks/OPERATIONS-*.ini | head -n1)
{
	localize_ini "$kafka_ini"
	sed -n '/^\[dimension users\]/,$p' "$root/etc/enrichd/enrichd.ini"
} >"$work/kafka.ini"
"$build/enrichd" --config "$work/kafka.ini" --check >/dev/null ||
	check_fail "OPERATIONS.md's Kafka section does not pass enrichd --check"
known=$(kcat -X list 2>/dev/null | awk '{ print $1 }')
for prop in $(cat "$readme_ini" "$kafka_ini" | sed -n 's/^property\.\([^ =]*\) *=.*/\1/p' | sort -u); do
	grep -qx -- "$prop" <<<"$known" || check_fail "property.$prop is not a librdkafka property"
done
# The Kafka check's -X properties are the configuration's.
for prop in $(grep -ho -- '-X [a-z.]*=' "$work"/blocks/OPERATIONS-*.sh | sed 's/-X \(.*\)=/\1/' | sort -u); do
	grep -q "^property\.$prop = " "$kafka_ini" || check_fail "kcat -X $prop is not in the Kafka section"
done

# Units: with their programs at the paths of this tree.
units=0
for block in "$work"/blocks/*.ini; do
	grep -q '^\[Service\]\|^\[Timer\]' "$block" || continue
	if grep -q '^\[Unit\]' "$block"; then
		file=$(sed -n 's|^# /etc/systemd/system/||p' "$block" | head -n1)
		file=${file:-enrichd.service}
		mkdir -p "$work/units"
		sed -e "s|/usr/local/bin/enrichd-load|$src/tools/enrichd-load|g" \
			-e "s|/usr/local/bin/enrichd|$build/enrichd|g" "$block" >"$work/units/$file"
		units=$((units + 1))
	else
		# README's core of the unit: each of its lines is a line of OPERATIONS.md's unit.
		operations_unit=$(grep -l '^ExecStart=/usr/local/bin/enrichd ' "$work"/blocks/OPERATIONS-*.ini)
		while IFS= read -r line; do
			grep -qxF -- "$line" "$operations_unit" || check_fail "README's unit line '$line' is not OPERATIONS.md's"
		done <"$block"
	fi
done
[ "$units" -ge 3 ] || check_fail "expected the enrichd and enrichd-load units and the timer, found $units"
# verify exits 0 on an unknown key too, and says nothing about units it finds right.
if ! (cd "$work/units" && systemd-analyze verify --man=no ./*) >"$work/verify.log" 2>&1 ||
	[ -s "$work/verify.log" ]; then
	cat "$work/verify.log" >&2
	check_fail "systemd-analyze verify"
fi

# ---- SQL, Prometheus, Python ----

for block in "$work"/blocks/OPERATIONS-*.sql; do
	grep -q "deadletter.tsv" "$block" || continue # the CREATE TABLEs are run above
	localize "$block" | "$CHQ" - >"$work/sql.out" || check_fail "$(basename "$block") failed"
	[ "$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$work/sql.out")" = \
		"$(cat "$root"/var/lib/enrichd/dead-letter/*.deadletter.tsv | wc -l)" ] ||
		check_fail "$(basename "$block") did not count every dead letter"
done
for block in "$work"/blocks/OPERATIONS-*.yaml; do
	grep -q '^scrape_configs:' "$block" || continue # the alert rules: tests/integration/metrics_endpoint.sh
	promtool check config "$block" >/dev/null || check_fail "$(basename "$block"): promtool check config"
done
for block in "$work"/blocks/OPERATIONS-*.python; do
	! command -v python3 >/dev/null || python3 -m py_compile "$block" || check_fail "$(basename "$block") does not compile"
done

# ---- links ----

# GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes.
anchors() {
	grep '^#\{1,6\} ' "$1" | sed 's/^#* //' | tr 'A-Z' 'a-z' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}
for doc in README.md docs/OPERATIONS.md docs/PERFORMANCE.md docs/PERFORMANCE-HISTORY.md; do
	dir=$(dirname "$src/$doc")
	while IFS= read -r link; do
		case "$link" in
		http://* | https://* | mailto:* | file://*) continue ;;
		esac
		target=${link%%#*}
		anchor=${link#"$target"}
		anchor=${anchor#\#}
		file=$src/$doc
		[ -z "$target" ] || file=$dir/$target
		[ -e "$file" ] || { check_fail "$doc: link to $link: no such file"; continue; }
		if [ -n "$anchor" ] && [[ "$file" == *.md ]]; then
			anchors "$file" | grep -qx -- "$anchor" || check_fail "$doc: link to $link: no such heading"
		fi
	done < <(grep -o '\]([^)]*)' "$src/$doc" | sed 's/^](\(.*\))$/\1/')
done

checks_done
echo "docs_commands: README.md and OPERATIONS.md: commands, configurations, units and links hold"
