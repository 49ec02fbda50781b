#!/usr/bin/env bash
# The Native encoder and enrichd-native-cat against real ClickHouse (embedded, chdb):
#  (a) ClickHouse reads enrichd-native-sample's file and gets the expected values, value for value;
#  (b) ClickHouse, given the same values independently (TSV), writes every block with
#      FORMAT Native byte-identical to the encoder's output;
#  (c) enrichd-native-cat prints the file exactly as ClickHouse's TSVWithNamesAndTypes does;
#  plus: a block of 0 rows is read by ClickHouse, and the tool reports truncated and corrupt
#  files with their byte offset and a non-zero exit status.
source "$(dirname "$0")/../../tools/lib.sh"
lib_test_init
sample="$bin/enrichd-native-sample"
cat_tool="$bin/enrichd-native-cat"

# Shows where two TSV files differ: line, column and both values (cut to a readable width).
show_diff() {
	echo "lines: $(wc -l <"$1") vs $(wc -l <"$2")" >&2
	awk -F'\t' 'NR == FNR { a[FNR] = $0; next }
		a[FNR] != $0 {
			n = split(a[FNR], x, "\t"); m = split($0, y, "\t")
			if (n != m) printf "line %d: %d vs %d columns\n", FNR, n, m
			for (i = 1; i <= n; i++) {
				if (x[i] == y[i])
					continue
				p = 1
				while (p <= length(x[i]) && substr(x[i], p, 1) == substr(y[i], p, 1))
					p++
				s = p > 40 ? p - 40 : 1
				printf "line %d column %d, from character %d:\n  < %s\n  > %s\n", FNR, i,
					s, substr(x[i], s, 120), substr(y[i], s, 120)
			}
			if (++shown >= 10) exit
		}' "$1" "$2" >&2 || true
}

d="$work/sample"
"$sample" --out "$d"
blocks=$(cat "$d/blocks.txt")
structure=$(cat "$d/structure.txt")
select=$(cat "$d/select.txt")
echo "sample: $blocks blocks, $(stat -c %s "$d/sample.native") bytes"
# The sample must exercise every LowCardinality index width ClickHouse picks.
"$cat_tool" --blocks "$d/sample.native" >"$work/blocks.txt"
for w in UInt8 UInt16 UInt32; do
	grep -q "keys, $w indexes" "$work/blocks.txt" || fail "the sample has no $w LowCardinality indexes"
done

# One ClickHouse session: every output goes to a file (chq.js would re-encode binary stdout).
# One block per query keeps ClickHouse from splitting or merging blocks.
cat "$d"/block-*.tsv >"$work/all.tsv"
sql="$work/queries.sql"
{
	echo "SET max_block_size = 1000000;"
	echo "SET input_format_parallel_parsing = 0;"
	echo "SET max_threads = 1;"
	for ((i = 0; i < blocks; i++)); do
		n=$(printf %04d "$i")
		echo "SELECT $select FROM file('$d/block-$n.tsv', 'TSV', '$structure')" \
			"INTO OUTFILE '$work/ch-$n.native' FORMAT Native;"
	done
	echo "SELECT * FROM file('$d/sample.native', 'Native')" \
		"INTO OUTFILE '$work/read.tsv' FORMAT TSV;"
	echo "SELECT $select FROM file('$work/all.tsv', 'TSV', '$structure')" \
		"INTO OUTFILE '$work/expected.tsv' FORMAT TSV;"
	echo "SELECT * FROM file('$d/sample.native', 'Native')" \
		"INTO OUTFILE '$work/ch-names-types.tsv' FORMAT TSVWithNamesAndTypes;"
	echo "SELECT count() FROM file('$d/empty.native', 'Native')" \
		"INTO OUTFILE '$work/empty-count.txt' FORMAT TSV;"
	echo "SELECT count() FROM file('$d/block-0000.tsv', 'TSV', '$structure')" \
		"INTO OUTFILE '$work/block0-count.txt' FORMAT TSV;"
} >"$sql"
ch -f "$sql" || fail "ClickHouse could not run the queries (see above)"

# (a) values: ClickHouse reading the encoder's file equals ClickHouse reading the raw values.
rows_read=$(wc -l <"$work/read.tsv")
rows_want=$(wc -l <"$work/expected.tsv")
if ! cmp -s "$work/read.tsv" "$work/expected.tsv"; then
	echo "ClickHouse read $rows_read rows from the encoder's file, expected $rows_want;" \
		"first differences (< read, > expected):" >&2
	show_diff "$work/read.tsv" "$work/expected.tsv"
	fail "(a) values read by ClickHouse differ from the expected values"
fi
echo "ok (a): ClickHouse reads all $rows_read rows value for value"

# (b) bytes: ClickHouse's own Native output, block by block, equals the encoder's.
cat "$work"/ch-*.native >"$work/ch.native"
if ! cmp -s "$work/ch.native" "$d/sample.native"; then
	off=0
	for ((i = 0; i < blocks; i++)); do
		n=$(printf %04d "$i")
		size=$(stat -c %s "$work/ch-$n.native")
		tail -c +$((off + 1)) "$d/sample.native" | head -c "$size" >"$work/ours-$n.native" || true
		if ! cmp -s "$work/ch-$n.native" "$work/ours-$n.native"; then
			at=$(cmp "$work/ch-$n.native" "$work/ours-$n.native" 2>&1 |
				sed -n 's/.*byte \([0-9]*\).*/\1/p' || true)
			at=${at:-1}
			from=$(((at - 1) / 16 * 16 - 32))
			((from < 0)) && from=0
			echo "block $i (file offset $off) differs from byte $at of the block on:" >&2
			echo "ClickHouse:" >&2
			xxd -s "$from" -l 96 "$work/ch-$n.native" >&2 || true
			echo "encoder:" >&2
			xxd -s "$from" -l 96 "$work/ours-$n.native" >&2 || true
			break
		fi
		off=$((off + size))
	done
	fail "(b) the encoder's bytes differ from ClickHouse's FORMAT Native output"
fi
echo "ok (b): $blocks blocks byte-identical to ClickHouse's FORMAT Native ($(stat -c %s "$work/ch.native") bytes)"

# (c) enrichd-native-cat equals ClickHouse's TSVWithNamesAndTypes of the same file.
"$cat_tool" "$d/sample.native" >"$work/cat.tsv"
if ! cmp -s "$work/cat.tsv" "$work/ch-names-types.tsv"; then
	echo "first differences (< enrichd-native-cat, > ClickHouse):" >&2
	show_diff "$work/cat.tsv" "$work/ch-names-types.tsv"
	fail "(c) enrichd-native-cat output differs from ClickHouse's TSVWithNamesAndTypes"
fi
echo "ok (c): enrichd-native-cat prints what ClickHouse prints ($(wc -l <"$work/cat.tsv") lines)"

# A block of 0 rows (header only) followed by block 0 reads as block 0's rows.
[ "$(cat "$work/empty-count.txt")" = "$(cat "$work/block0-count.txt")" ] ||
	fail "ClickHouse read $(cat "$work/empty-count.txt") rows from a 0-row block + block 0"
"$cat_tool" "$d/empty.native" >"$work/empty.tsv"
[ "$(wc -l <"$work/empty.tsv")" -eq $((2 + $(cat "$work/block0-count.txt"))) ] ||
	fail "enrichd-native-cat: wrong row count for a 0-row block + block 0"
echo "ok: a 0-row block is read by ClickHouse and enrichd-native-cat"

# Truncated and corrupt files: non-zero exit, file name and byte offset in the message.
size=$(stat -c %s "$d/sample.native")
head -c $((size - 7)) "$d/sample.native" >"$work/truncated.native"
if "$cat_tool" "$work/truncated.native" >/dev/null 2>"$work/err.txt"; then
	fail "enrichd-native-cat accepted a truncated file"
fi
grep -q "truncated.native: byte [0-9]*: truncated" "$work/err.txt" ||
	fail "unclear error for a truncated file: $(cat "$work/err.txt")"
printf '\x01\x01\x01x\x07Uiant32\x00' >"$work/corrupt.native"
if "$cat_tool" "$work/corrupt.native" >/dev/null 2>"$work/err.txt"; then
	fail "enrichd-native-cat accepted an unknown type"
fi
grep -q "corrupt.native: byte 5: .*unsupported type 'Uiant32'" "$work/err.txt" ||
	fail "unclear error for a corrupt file: $(cat "$work/err.txt")"
echo "ok: truncated and corrupt files are reported with their byte offset"
echo "PASS"
