#!/usr/bin/env bash
# The output file system fills up mid-run: enrichd logs and counts the write errors, seals no
# partial segment, retries, and once space is freed finishes with every row exactly once.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
out=$work/out
events=60000

lib_tmpfs "$out" 24m
"$bin/enrichd-gen-dims" --out "$work/dims" --users 20000 --devices 20000 --urls 5000 --seed 13 2>/dev/null
"$bin/enrichd-gen-events" --out "$work/events.jsonl" --count $events --seed 13 --users 20000 \
	--devices 20000 --urls 5000 --malformed 0.01 --manifest "$work/manifest.tsv" 2>/dev/null
lib_config "$work/enrichd.ini" "$work/dims" "$out" "$work/dl" none 0-1
# Leave about 2 MiB: the run needs several times that.
dd if=/dev/zero of="$out/filler" bs=1M count=22 status=none
lib_spawn "$bin/enrichd" --config "$work/enrichd.ini" --input "$work/events.jsonl" 2>"$work/enrichd.log"
pid=${lib_pids[-1]}
lib_wait_log "$work/enrichd.log" "No space left on device" 60
sleep 2
kill -0 "$pid" || fail "enrichd exited while the disk was full: $(tail "$work/enrichd.log")"
grep -h "No space" "$work/enrichd.log" | head -2 | sed 's/^/   /'
rm "$out/filler"
wait "$pid" || fail "enrichd exited non-zero: $(tail "$work/enrichd.log")"
[ -z "$(find "$out" -name '*.tmp')" ] || fail "open segments left"

cat >"$work/check.sql" <<SQL
CREATE TABLE m ENGINE = Memory AS SELECT * FROM file('$work/manifest.tsv', 'TSVWithNamesAndTypes');
CREATE TABLE a ENGINE = Memory AS SELECT _offset AS offset, user_id, url FROM file('$out/**/*.native', 'Native');
SELECT 'rows', count(), uniqExact(offset) FROM a;
SELECT 'good', count() FROM m WHERE malformed = 0;
SELECT 'missing', count() FROM (SELECT toUInt64(offset), user_id, url FROM m WHERE malformed = 0 EXCEPT ALL SELECT offset, user_id, url FROM a);
SQL
ch_results "$work/check.sql"
good=$(val good 2)
[ "$(val rows 2)" = "$good" ] && [ "$(val rows 3)" = "$good" ] && [ "$(val missing 2)" = 0 ] ||
	fail "rows $(val rows 2) (distinct $(val rows 3), missing $(val missing 2)), want $good"
echo "seg_disk_full: $good rows exactly once after the disk filled up and was freed"
