#!/usr/bin/env bash
# NUMA placement through the real binary on injected topologies: a sysfs-style directory and an
# override string put the two workers on two nodes; --check shows each partition dealt across the
# nodes then across the node's workers; with numa = replicate each node gets its own dimension
# replica, and the enriched rows equal those of a run without replicas, row for row.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 17 2>/dev/null
"$bin/enrichd-gen-events" --out "$work/events.jsonl" --count 200000 --seed 17 --users 20000 \
	--devices 20000 --urls 5000 --miss-users 0.05 2>/dev/null
mkdir -p "$work/sys/node0" "$work/sys/node1" "$work/sys/node2"
echo 0 >"$work/sys/node0/cpulist"
echo 1 >"$work/sys/node1/cpulist"
echo >"$work/sys/node2/cpulist" # a memory-only node

for topo in "$work/sys" "0:0;1:1"; do
	lib_config "$work/t.ini" "$work/dims" "$work/out-t" "$work/dl-t" none 0-1 "[workers]
numa = replicate
numa_topology = $topo"
	"$bin/enrichd" --config "$work/t.ini" --check >"$work/check.txt"
	grep -q "2 NUMA node(s) with workers" "$work/check.txt" || check_fail "$topo: not 2 nodes"
	grep -q "worker 0: CPU 0, node 0, dimension replica 0" "$work/check.txt" ||
		check_fail "$topo: worker 0's placement"
	grep -q "worker 1: CPU 1, node 1, dimension replica 1" "$work/check.txt" ||
		check_fail "$topo: worker 1's placement"
	# Even partitions on node 0's worker, odd on node 1's.
	grep -q "partitions 0-23: 0->w0 1->w1 2->w0 3->w1 .* 22->w0 23->w1$" "$work/check.txt" ||
		check_fail "$topo: placement: $(cat "$work/check.txt")"
done

lib_config "$work/plain.ini" "$work/dims" "$work/out-plain" "$work/dl-plain" none 0-1 "[workers]
numa = off"
"$bin/enrichd" --config "$work/t.ini" --input "$work/events.jsonl" 2>"$work/replicated.log"
"$bin/enrichd" --config "$work/plain.ini" --input "$work/events.jsonl" 2>"$work/plain.log"
grep -q "x 2 replica(s)" "$work/replicated.log" || check_fail "no replicas built"
grep -q "x 1 replica(s)" "$work/plain.log" || check_fail "replicas without replicate"
cols="event_time, user_id, device_id, url, country, plan, signup_date, device_type, os, browser, domain, category, _offset"
diff=$(ch "SELECT count() FROM (SELECT $cols FROM file('$work/out-t/**/*.native', 'Native') EXCEPT ALL SELECT $cols FROM file('$work/out-plain/**/*.native', 'Native'))")
rows=$(ch "SELECT count() FROM file('$work/out-t/**/*.native', 'Native') SETTINGS use_hive_partitioning = 0")
[ "$diff" = 0 ] && [ "$rows" = 200000 ] || check_fail "replicated run differs ($diff rows) or lost rows ($rows)"
checks_done
echo "numa_place_topology: 2-node placement from a directory and an override; replicas give identical rows"
