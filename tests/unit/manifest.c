#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "helpers.h"
#include "manifest.h"

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/manifest-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	t_rm_tree(dir);
}

TestSuite(manifest, .init = setup, .fini = teardown, .timeout = 30);

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void append_epoch(struct manifest *m, const char *topic, int32_t p, int64_t first,
			 int64_t next, const struct manifest_segment *segs, size_t nsegs,
			 uint64_t dl_bytes)
{
	struct manifest_range r = {p, first, next};
	struct manifest_record rec = {
		.sealed_ms = 1700000000000,
		.deadletter_bytes = dl_bytes,
		.topic = topic,
		.segment_count = nsegs,
		.segments = segs,
		.range_count = 1,
		.ranges = &r,
	};
	cr_assert_eq(manifest_append(m, &rec), 0);
}

Test(manifest, records_give_next_offsets_and_seq_survives_reopen)
{
	struct manifest m;
	cr_assert_eq(manifest_open(&m, dir, "inst", 0, 8, 8), 0);
	append_epoch(&m, "clicks", 3, 0, 100, NULL, 0, 0);
	append_epoch(&m, "clicks", 3, 100, 250, NULL, 0, 0);
	append_epoch(&m, "other", 3, 0, 999, NULL, 0, 0);
	cr_expect_eq(m.seq, 3);
	manifest_close(&m);
	cr_assert_eq(manifest_open(&m, dir, "inst", 0, 8, 8), 0);
	cr_expect_eq(m.seq, 3, "the sequence continues after a reopen");
	append_epoch(&m, "clicks", 5, 7, 8, NULL, 0, 0);
	manifest_close(&m);

	int64_t next[16];
	for (int i = 0; i < 16; i++)
		next[i] = -1;
	struct manifest_recovery rec;
	cr_assert_eq(manifest_recover(dir, "inst", "clicks", NULL, next, 16, &rec), 0);
	cr_expect_eq(rec.files, 1);
	cr_expect_eq(rec.records, 4);
	cr_expect_eq(next[3], 250, "records of another topic do not count");
	cr_expect_eq(next[5], 8);
	cr_expect_eq(next[4], -1);
}

Test(manifest, torn_tail_is_cut_off)
{
	struct manifest m;
	cr_assert_eq(manifest_open(&m, dir, "inst", 1, 8, 8), 0);
	append_epoch(&m, "clicks", 0, 0, 10, NULL, 0, 0);
	manifest_close(&m);
	char path[512];
	snprintf(path, sizeof(path), "%s/_manifest/inst-w1.manifest", dir);
	off_t good = file_size(path);
	/* A record cut before its end line, as a crash mid-write leaves it. */
	FILE *f = fopen(path, "a");
	fputs("epoch 2 1700000000000 0 clicks\npartition 0 10 20\n", f);
	fclose(f);
	cr_assert_eq(manifest_open(&m, dir, "inst", 1, 8, 8), 0);
	cr_expect_eq(file_size(path), good);
	cr_expect_eq(m.seq, 1);
	manifest_close(&m);

	/* A complete record whose checksum does not match is torn too. */
	f = fopen(path, "a");
	fputs("epoch 2 1700000000000 0 clicks\npartition 0 10 20\nend 2 0000000000000001\n", f);
	fclose(f);
	int64_t next[4] = {-1, -1, -1, -1};
	struct manifest_recovery rec;
	cr_assert_eq(manifest_recover(dir, "inst", "clicks", NULL, next, 4, &rec), 0);
	cr_expect_eq(next[0], 10);
	cr_expect_eq(rec.torn, 1);
	cr_expect_eq(file_size(path), good);
}

Test(manifest, last_record_segments_roll_forward_and_dead_letters_are_cut)
{
	char hour[512], seg_tmp[600], seg_final[600], bad_tmp[600], dl_dir[512], dl[600];
	snprintf(hour, sizeof(hour), "%s/dt=2026-01-01/hour=00", dir);
	mkdir(dir, 0755);
	char sub[512];
	snprintf(sub, sizeof(sub), "%s/dt=2026-01-01", dir);
	mkdir(sub, 0755);
	mkdir(hour, 0755);
	const char data[] = "native block bytes";
	snprintf(seg_final, sizeof(seg_final), "%s/a.native", hour);
	snprintf(seg_tmp, sizeof(seg_tmp), "%s/a.native.tmp", hour);
	snprintf(bad_tmp, sizeof(bad_tmp), "%s/b.native.tmp", hour);
	t_write_file(seg_tmp, data, sizeof(data) - 1);
	t_write_file(bad_tmp, "short", 5);
	struct manifest_segment segs[2] = {
		{"dt=2026-01-01/hour=00/a.native", 3, sizeof(data) - 1, XXH3_64bits(data, sizeof(data) - 1)},
		{"dt=2026-01-01/hour=00/b.native", 1, 100, 0},
	};
	snprintf(dl_dir, sizeof(dl_dir), "%s/dl", dir);
	mkdir(dl_dir, 0755);
	snprintf(dl, sizeof(dl), "%s/inst-w2.deadletter.tsv", dl_dir);
	t_write_file(dl, "line one\nline two of a lost epoch\n", 34);

	struct manifest m;
	cr_assert_eq(manifest_open(&m, dir, "inst", 2, 8, 8), 0);
	append_epoch(&m, "clicks", 1, 0, 50, segs, 2, 9);
	manifest_close(&m);

	int64_t next[4] = {-1, -1, -1, -1};
	struct manifest_recovery rec;
	cr_assert_eq(manifest_recover(dir, "inst", "clicks", dl_dir, next, 4, &rec), 0);
	cr_expect_eq(next[1], 50);
	cr_expect_eq(rec.segments_renamed, 1);
	cr_expect_eq(rec.segments_missing, 1, "a .tmp of the wrong size is not made visible");
	cr_expect_eq(access(seg_final, F_OK), 0, "the synced segment is visible");
	cr_expect_neq(access(seg_tmp, F_OK), 0);
	cr_expect_eq(file_size(dl), 9, "dead letters past the recorded size are cut");
	cr_expect_eq(rec.deadletter_cut, 25);

	/* Recovery is idempotent. */
	cr_assert_eq(manifest_recover(dir, "inst", "clicks", dl_dir, next, 4, &rec), 0);
	cr_expect_eq(rec.segments_renamed, 0);
	cr_expect_eq(file_size(dl), 9);
}
