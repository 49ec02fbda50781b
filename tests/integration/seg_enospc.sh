#!/usr/bin/env bash
# The segment writer on a full disk: the output directory sits on a tiny file system (an ext4 image
# on a loop device, and a tmpfs) filled to the last block. enrichd-seg-sample must keep retrying
# (not fail, not seal a partial segment); once space is freed it must finish, and every sealed
# file must be complete: ClickHouse reads back exactly the rows that were written.
# Needs permission to mount; without it the test is skipped with a message.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
tool=$bin/enrichd-seg-sample
mnt=$work/mnt

# fail_case MSG: the writer's last lines, then fail.
fail_case() {
	[ -f "$work/err.txt" ] && tail -5 "$work/err.txt" >&2
	fail "$@"
}

field() { # field NAME LINE
	sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"
}

mount_fs() { # mount_fs ext4|tmpfs
	case $1 in
	ext4)
		truncate -s 8M "$work/img" &&
			mkfs.ext4 -q -F -m 0 "$work/img" >/dev/null 2>&1 &&
			lib_mount "$mnt" -o loop "$work/img"
		;;
	tmpfs)
		lib_mount "$mnt" -t tmpfs -o size=4m tmpfs
		;;
	esac
}

run_case() { # run_case NAME HOURS-TO-CREATE-FIRST EXPECTED-ERROR
	local fs=$1 summary rc
	# Hour directories made before the disk fills take the write path; the others have to be
	# created on the full disk (the create path).
	mkdir -p "$mnt/out"
	for h in $2; do
		[ "$h" = - ] || mkdir -p "$mnt/out/dt=2024-03-05/hour=$h"
	done
	# Fill the file system to the last block.
	dd if=/dev/zero of="$mnt/ballast" bs=64k status=none 2>/dev/null || true
	dd if=/dev/zero of="$mnt/ballast2" bs=1k status=none 2>/dev/null || true
	sync
	echo "-- $fs: $(df -k --output=avail "$mnt" | tail -1 | tr -d ' ') KiB free before writing"

	rm -f "$work/out.txt" "$work/err.txt" "$work/expect.tsv"
	lib_spawn "$tool" --dir "$mnt/out" --instance full --blocks 48 --rows 200 --pad 100 \
		--hours 2 --segment-bytes 300000 --retry-backoff-ms 50 --inflight-writes 16 --verify \
		--expect "$work/expect.tsv" >"$work/out.txt" 2>"$work/err.txt"
	pid=${lib_pids[-1]}
	for _ in $(seq 300); do
		grep -qs "No space left on device" "$work/err.txt" && break
		kill -0 "$pid" 2>/dev/null || fail_case "$fs: the writer exited on a full disk"
		sleep 0.1
	done
	grep -q "No space left on device" "$work/err.txt" || fail_case "$fs: no ENOSPC reported within 30 s"
	sleep 0.5
	kill -0 "$pid" 2>/dev/null || fail_case "$fs: the writer exited on a full disk"
	[ "$(find "$mnt/out" -name '*.native' | wc -l)" -eq 0 ] || fail_case "$fs: a segment was sealed while its writes were failing"
	grep -m1 "No space left on device" "$work/err.txt"
	grep -q "$3.* failed: No space left on device" "$work/err.txt" || fail_case "$fs: no '$3' failure reported"

	rm -f "$mnt/ballast" "$mnt/ballast2"
	rc=0
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail_case "$fs: the writer did not finish within 60 s after space was freed"
	wait "$pid" || rc=$?
	summary=$(cat "$work/out.txt")
	echo "$summary"
	[ "$rc" -eq 0 ] || fail_case "$fs: enrichd-seg-sample exited with $rc"
	[ "$(field write_errors "$summary")" -gt 0 ] || fail_case "$fs: no write errors counted"
	[ "$(field retries "$summary")" -gt 0 ] || fail_case "$fs: no retries counted"
	[ "$(field failed "$summary")" -eq 0 ] || fail_case "$fs: segments discarded"
	[ "$(field verify_bad "$summary")" -eq 0 ] || fail_case "$fs: sealed files differ from their seal records"
	grep -q "disk writes resumed" "$work/err.txt" || fail_case "$fs: no 'resumed' log line"
	[ "$(find "$mnt/out" -name '*.tmp' | wc -l)" -eq 0 ] || fail_case "$fs: .tmp files left"

	local rows sum got
	rows=$(field rows "$summary")
	sum=$(field sum_n "$summary")
	[ "$rows" -eq 9600 ] || fail_case "$fs: $rows rows sealed, expected 9600"
	got=$(ch "SELECT count(), sum(n) FROM file('$mnt/out/**/*.native', 'Native')")
	[ "$got" = "$rows	$sum" ] || fail_case "$fs: ClickHouse count/sum '$got', expected '$rows	$sum'"
	ch "SELECT n, s, extract(_path, 'dt=[0-9-]+/hour=[0-9]+') FROM file('$mnt/out/**/*.native', 'Native') ORDER BY n" >"$work/got.tsv"
	cmp -s "$work/got.tsv" "$work/expect.tsv" || fail_case "$fs: rows differ from what was written"
	echo "ok: $fs: $(field sealed "$summary") segments complete after the disk was full"
}

ran=0
while read -r name fs hours expected; do
	if ! mount_fs "$fs"; then
		echo "-- $name: cannot mount $fs here, skipped"
		continue
	fi
	run_case "$name" "${hours//,/ }" "$expected"
	umount "$mnt"
	rm -f "$work/img"
	ran=$((ran + 1))
done <<'CASES'
ext4-write ext4 07,08 write of
ext4-create ext4 - creating a segment
tmpfs-write tmpfs - write of
CASES
[ "$ran" -gt 0 ] ||
	lib_skip "cannot mount a small file system here (needs root with loop devices or tmpfs)"
echo "PASS"
