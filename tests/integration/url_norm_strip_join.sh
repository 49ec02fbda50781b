#!/usr/bin/env bash
# Joins on a normalised url: events whose urls carry an upper-case scheme and a fragment are
# joined with the catalogue under `key_normalize = strip-query`: every row has the attributes
# ClickHouse finds for the url cut at its query and fragment, with one and with two workers,
# and the other dimensions still join; with exact keys no url joins.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init

users=5000 devices=5000 urls=3000 count=20000
lib_gen_input 5 $users $devices $urls $count "$work/raw.jsonl" --miss-users 0 --miss-devices 0 \
	--miss-urls 0.1
# HTTPS:// and a fragment on every url; some catalogue urls have a query of their own, which
# strip-query drops as well (so those events miss).
sed -e 's|"url":"https://|"url":"HTTPS://|' -e 's|","device_id":|#part-2","device_id":|' \
	"$work/raw.jsonl" >"$work/ev.jsonl"
[ "$(grep -c '"url":"HTTPS://.*#part-2","device_id":' "$work/ev.jsonl")" = $count ] ||
	fail "the events' urls were not rewritten"

# The catalogue as enrichd keeps it: keys normalised, the later of two rows with one key wins.
catalogue="SELECT cutQueryStringAndFragment(url) AS key, argMax(domain, n) AS domain,
		argMax(category, n) AS category
	FROM (SELECT *, rowNumberInAllBlocks() AS n FROM file('$work/dims/urls.tsv', 'TSVWithNames',
		'url String, domain String, category String'))
	GROUP BY key SETTINGS input_format_parallel_parsing = 0"
stripped="cutQueryStringAndFragment(replaceOne(url, 'HTTPS://', 'https://'))"
expected=$(ch "
	SELECT count() FROM file('$work/ev.jsonl', 'JSONEachRow', 'url String')
	WHERE $stripped IN (SELECT key FROM ($catalogue))")
[ "$expected" -gt $((count / 2)) ] || fail "only $expected of $count events have a url in the catalogue"
[ "$expected" -lt $count ] || fail "no event misses the catalogue"

for run in strip-query:0 strip-query:0-1 exact:0; do
	IFS=: read -r normalize cpus <<<"$run"
	echo "-- key_normalize $normalize, cpus $cpus"
	out=$work/out-$normalize-$cpus
	lib_config "$work/e.ini" "$work/dims" "$out" "$out.dl" 127.0.0.1:9 "$cpus"
	sed -i "/^\[dimension urls\]/a key_normalize = $normalize" "$work/e.ini"
	lib_enrichd_input "$work/e.ini" "$work/ev.jsonl" "$work/log"
	read -r rows joined users_j devices_j wrong < <(ch "
		SELECT count(), countIf(o.domain IS NOT NULL), countIf(o.country IS NOT NULL),
		       countIf(o.device_type IS NOT NULL),
		       countIf(o.domain IS DISTINCT FROM c.domain OR o.category IS DISTINCT FROM c.category)
		FROM file('$out/**/*.native', 'Native') o
		LEFT JOIN ($catalogue) c ON $stripped = c.key
		SETTINGS use_hive_partitioning = 0, join_use_nulls = 1")
	[ "$rows" = $count ] || fail "$rows rows sealed, expected $count"
	[ "$users_j" = $count ] && [ "$devices_j" = $count ] ||
		fail "users joined $users_j, devices $devices_j of $count"
	if [ "$normalize" = exact ]; then
		[ "$joined" = 0 ] || fail "$joined rows joined exact keys on a url with a fragment"
		continue
	fi
	[ "$joined" = "$expected" ] || fail "$joined rows joined urls, ClickHouse finds $expected"
	[ "$wrong" = 0 ] || fail "$wrong rows with other attributes than ClickHouse's join"
done
echo "ok"
