#!/usr/bin/env bash
# The generators as ClickHouse sees them: dimension files read with TSVWithNames/CSVWithNames
# have the sizes asked for and unique keys, well-formed events read with JSONEachRow give
# exactly the values of the manifest, their keys miss each dimension (LEFT JOIN) in the share
# asked for, the malformed share matches, and the same seed gives the same bytes.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
dims="$bin/enrichd-gen-dims"
events="$bin/enrichd-gen-events"

users=20000 devices=20000 urls=5000 count=50000
size_args=(--users $users --devices $devices --urls $urls)
ev_args=(--count $count "${size_args[@]}" --miss-users 0.1 --miss-devices 0.2 --miss-urls 0.05
	--malformed 0.02 --variety)

echo "-- generate"
"$dims" --out "$work/a" --seed 7 "${size_args[@]}" 2>/dev/null
"$dims" --out "$work/b" --seed 7 "${size_args[@]}" 2>/dev/null
"$dims" --out "$work/c" --seed 8 "${size_args[@]}" 2>/dev/null
"$dims" --out "$work/csv" --seed 7 --format csv "${size_args[@]}" 2>/dev/null
"$events" --seed 7 "${ev_args[@]}" --out "$work/ev.jsonl" --manifest "$work/m.tsv" 2>/dev/null
"$events" --seed 7 "${ev_args[@]}" --out "$work/ev2.jsonl" 2>/dev/null
"$events" --seed 8 "${ev_args[@]}" --out "$work/ev3.jsonl" 2>/dev/null

echo "-- determinism"
for f in users devices urls; do
	cmp -s "$work/a/$f.tsv" "$work/b/$f.tsv" || fail "$f.tsv differs for the same seed"
	cmp -s "$work/a/$f.tsv" "$work/c/$f.tsv" && fail "$f.tsv identical for different seeds"
done
cmp -s "$work/ev.jsonl" "$work/ev2.jsonl" || fail "events differ for the same seed"
cmp -s "$work/ev.jsonl" "$work/ev3.jsonl" && fail "events identical for different seeds"
[ "$(wc -l <"$work/ev.jsonl")" -eq $count ] || fail "events file does not have $count lines"
"$events" --seed 7 "${ev_args[@]}" --out - 2>/dev/null | cmp -s - "$work/ev.jsonl" ||
	fail "standard output differs from the file output"

echo "-- pacing"
# 1000 events at 2000/s: the last one is due after 0.4995 s; allow a loaded machine 3 s.
t0=$EPOCHREALTIME
"$events" --count 1000 --rate 2000 --out /dev/null 2>/dev/null
elapsed_ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
[ "$elapsed_ms" -ge 495 ] && [ "$elapsed_ms" -le 3000 ] ||
	fail "1000 events at 2000/s took $elapsed_ms ms"
[ "$(wc -l <"$work/m.tsv")" -eq $((count + 2)) ] || fail "manifest does not have $count rows"

# Well-formed lines only, picked with the manifest's malformed column (lines may hold tabs).
paste <(tail -n +3 "$work/m.tsv" | cut -f4) "$work/ev.jsonl" | awk -F'\t' '$1 == "0"' |
	cut -f2- >"$work/good.jsonl"

U="'user_id UInt64, country String, plan String, signup_date Date'"
D="'device_id String, device_type String, os String, browser String'"
L="'url String, domain String, category String'"
M="'TSVWithNamesAndTypes'"
users_f="file('$work/a/users.tsv', 'TSVWithNames', $U)"
devices_f="file('$work/a/devices.tsv', 'TSVWithNames', $D)"
urls_f="file('$work/a/urls.tsv', 'TSVWithNames', $L)"
manifest_f="file('$work/m.tsv', $M)"
good_f="file('$work/good.jsonl', 'JSONEachRow',
	'timestamp String, user_id String, url String, device_id String')"

echo "-- dimension files"
ch - >/dev/null <<SQL
SELECT throwIf(count() != $users OR uniqExact(user_id) != count(), 'users: rows or unique keys')
FROM $users_f;
SELECT throwIf(uniqExact(country) < 100 OR uniqExact(plan) != 4, 'users: attribute variety')
FROM $users_f;
SELECT throwIf(min(signup_date) < '2012-01-01' OR max(signup_date) > '2025-12-31', 'users: dates')
FROM $users_f;
SELECT throwIf(count() != $devices OR uniqExact(device_id) != count(), 'devices: rows or keys')
FROM $devices_f;
SELECT throwIf(countIf(length(device_id) = 21 AND startsWith(device_id, 'dev-'))
	+ countIf(match(device_id, '^[0-9]{20}\$')) != count(), 'devices: id shape')
FROM $devices_f;
SELECT throwIf(count() != $urls OR uniqExact(url) != count(), 'urls: rows or unique keys')
FROM $urls_f;
SELECT throwIf(countIf(domain(url) != domain) > 0, 'urls: domain is not the host of url')
FROM $urls_f;
SELECT throwIf(max(c) != 1, 'urls: a domain with two categories')
FROM (SELECT domain, uniqExact(category) AS c FROM $urls_f GROUP BY domain);
SELECT throwIf(uniqExact(category) > 30 OR uniqExact(domain) < 500, 'urls: categories/domains')
FROM $urls_f;
SELECT throwIf(countIf(url LIKE '%"%') = 0 OR countIf(position(url, '\\\\') > 0) = 0
	OR countIf(NOT isValidUTF8(url)) > 0 OR countIf(url != toValidUTF8(url)) > 0,
	'urls: escaping cases missing or invalid UTF-8')
FROM $urls_f;
SELECT throwIf((SELECT count() FROM (
	SELECT * FROM $urls_f EXCEPT SELECT * FROM file('$work/csv/urls.csv', 'CSVWithNames', $L))) != 0,
	'urls: CSV and TSV differ');
SELECT throwIf((SELECT count() FROM (
	SELECT * FROM $users_f EXCEPT SELECT * FROM file('$work/csv/users.csv', 'CSVWithNames', $U))) != 0,
	'users: CSV and TSV differ');
SELECT throwIf((SELECT count() FROM (
	SELECT * FROM $devices_f
	EXCEPT SELECT * FROM file('$work/csv/devices.csv', 'CSVWithNames', $D))) != 0,
	'devices: CSV and TSV differ')
SQL

echo "-- events"
ch - >/dev/null <<SQL
SET input_format_skip_unknown_fields = 1, input_format_json_read_numbers_as_strings = 1,
	join_use_nulls = 1;
SELECT throwIf(count() != $count OR countIf(seq = offset AND partition = 0) != count(),
	'manifest: rows or file offsets')
FROM $manifest_f;
SELECT throwIf(abs(countIf(malformed = 1) - $count * 0.02) > 5 * sqrt($count * 0.02 * 0.98),
	'malformed share is not 0.02')
FROM $manifest_f;
SELECT throwIf(uniqExactIf(kind, malformed = 1) != 6 OR countIf(malformed = 0 AND kind != 'ok') > 0,
	'malformed kinds')
FROM $manifest_f;
CREATE TEMPORARY TABLE good AS
SELECT if(match(timestamp, '^[0-9]+\$'), toInt64(timestamp),
	intDiv(toUnixTimestamp64Nano(parseDateTime64BestEffort(timestamp, 9, 'UTC')), 1000000)) AS t,
	toUInt64(user_id) AS u, device_id AS d, url
FROM $good_f;
CREATE TEMPORARY TABLE expected AS
SELECT event_time_ms AS t, user_id AS u, device_id AS d, url, user_present, device_present,
	url_present
FROM $manifest_f WHERE malformed = 0;
SELECT throwIf((SELECT count() FROM good) != (SELECT count() FROM expected),
	'JSONEachRow rows != well-formed manifest rows');
SELECT throwIf((SELECT sum(cityHash64(t, u, d, url)) FROM good)
	!= (SELECT sum(cityHash64(t, u, d, url)) FROM expected),
	'decoded events differ from the manifest');
SELECT throwIf((SELECT countIf(users.country IS NULL) FROM good AS g
		LEFT JOIN $users_f AS users ON g.u = users.user_id)
	!= (SELECT countIf(user_present = 0) FROM expected), 'user misses != manifest');
SELECT throwIf((SELECT countIf(devices.os IS NULL) FROM good AS g
		LEFT JOIN $devices_f AS devices ON g.d = devices.device_id)
	!= (SELECT countIf(device_present = 0) FROM expected), 'device misses != manifest');
SELECT throwIf((SELECT countIf(urls.category IS NULL) FROM good AS g
		LEFT JOIN $urls_f AS urls ON g.url = urls.url)
	!= (SELECT countIf(url_present = 0) FROM expected), 'url misses != manifest');
SELECT throwIf(abs(countIf(user_present = 0) / count() - 0.1) > 0.01
	OR abs(countIf(device_present = 0) / count() - 0.2) > 0.015
	OR abs(countIf(url_present = 0) / count() - 0.05) > 0.008, 'miss shares')
FROM expected
SQL
echo "1 passed, 0 failed"
