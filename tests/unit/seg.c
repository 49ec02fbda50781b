/* Unit tests of the segment writer: real files in a temporary directory, real io_uring. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "helpers.h"
#include "seg.h"

#define SEALED_MAX 256
#define FILES_MAX 512

/* 2024-03-05T07:00Z and the next hour; 2023-12-31T23:00Z. */
static const int64_t HOUR_A = 474895;
static const int64_t HOUR_B = 474896;
static const int64_t HOUR_C = 473351;

static char tmpdir[256];
static char outdir[512];

struct sealed_copy {
	struct seg_sealed rec;
	char path[PATH_MAX];
};

static struct sealed_copy sealed[SEALED_MAX];
static unsigned sealed_n;

static void on_sealed(void *arg, const struct seg_sealed *s)
{
	(void)arg;
	cr_assert_lt(sealed_n, SEALED_MAX);
	sealed[sealed_n].rec = *s;
	snprintf(sealed[sealed_n].path, PATH_MAX, "%s", s->path);
	sealed[sealed_n].rec.path = sealed[sealed_n].path;
	sealed_n++;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/seg-unit-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(outdir, sizeof(outdir), "%s/out", tmpdir);
	sealed_n = 0;
}

static void teardown(void)
{
	umount2(outdir, MNT_DETACH);
	t_rm_tree(tmpdir);
}

TestSuite(seg, .init = setup, .fini = teardown, .timeout = 30);

static struct seg_writer_cfg cfg_small(void)
{
	struct seg_writer_cfg c;
	seg_writer_cfg_default(&c);
	c.dir = outdir;
	c.instance = "inst";
	c.worker = 3;
	c.pool_bytes = 1 << 20;
	c.inflight_bytes_max = 1 << 20;
	c.inflight_writes_max = 64;
	c.queue_depth = 16;
	c.on_sealed = on_sealed;
	return c;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* Appends n pattern bytes (seed) to hour; copies them to expect (if not NULL). Returns the id. */
static int64_t append_pattern(struct seg_writer *w, int64_t hour, size_t n, uint32_t seed, uint8_t *expect)
{
	struct seg_buf *b;
	int rc = seg_buf_get(w, hour, n, &b);
	cr_assert_eq(rc, 0, "seg_buf_get(%zu): %d", n, rc);
	cr_assert_geq(b->cap, n);
	fill(b->data, n, seed);
	if (expect)
		memcpy(expect, b->data, n);
	int64_t id = seg_append(w, hour, b, n, 1);
	cr_assert_geq(id, 0, "seg_append: %" PRId64, id);
	return id;
}

static struct seg_writer *writer_open(const struct seg_writer_cfg *c)
{
	struct seg_writer *w;
	cr_assert_eq(seg_writer_init(&w, c), 0);
	return w;
}

/* The file at path holds exactly the len bytes of want. */
static void expect_file(const char *path, const void *want, size_t len)
{
	size_t n;
	uint8_t *p = (uint8_t *)t_read_file(path, &n);
	cr_assert_eq(n, len, "%s: %zu bytes, want %zu", path, n, len);
	cr_assert_eq(memcmp(p, want, n), 0, "%s: the bytes appended, in order", path);
	free(p);
}

static char found[FILES_MAX][PATH_MAX];
static unsigned found_n;

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_F && found_n < FILES_MAX)
		snprintf(found[found_n++], PATH_MAX, "%s", path);
	return 0;
}

static void list_files(void)
{
	found_n = 0;
	nftw(outdir, collect, 16, FTW_PHYS);
}

static unsigned count_suffix(const char *suffix)
{
	list_files();
	unsigned n = 0;
	size_t sl = strlen(suffix);
	for (unsigned i = 0; i < found_n; i++) {
		size_t l = strlen(found[i]);
		if (l >= sl && strcmp(found[i] + l - sl, suffix) == 0)
			n++;
	}
	return n;
}

static void check_sealed_file(const struct sealed_copy *s)
{
	cr_assert_eq(s->rec.err, 0, "segment %" PRId64 " err %d", s->rec.id, s->rec.err);
	size_t len;
	uint8_t *p = (uint8_t *)t_read_file(s->path, &len);
	cr_assert_eq(len, s->rec.bytes, "%s: %zu bytes, record says %" PRIu64, s->path, len, s->rec.bytes);
	cr_assert_eq(XXH3_64bits(p, len), s->rec.checksum, "%s: checksum", s->path);
	free(p);
}

/* Ticks until n segments were delivered (bounded by about 5 s). */
static void tick_until_sealed(struct seg_writer *w, unsigned n, uint64_t now_ms)
{
	for (int i = 0; i < 5000 && sealed_n < n; i++) {
		cr_assert_eq(seg_tick(w, now_ms ? now_ms : seg_clock_ms()), 0);
		if (sealed_n < n)
			usleep(1000);
	}
	cr_assert_eq(sealed_n, n, "sealed %u, want %u", sealed_n, n);
}

/* Files of this process may not grow past bytes: writes beyond fail with EFBIG. */
static void limit_file_size(rlim_t bytes)
{
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = {.rlim_cur = bytes, .rlim_max = RLIM_INFINITY};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static int by_id(const void *a, const void *b)
{
	const struct sealed_copy *x = a, *y = b;
	return x->rec.id < y->rec.id ? -1 : x->rec.id > y->rec.id;
}

Test(seg, append_contents_and_seal_record)
{
	struct seg_writer_cfg c = cfg_small();
	struct seg_writer *w = writer_open(&c);
	size_t sizes[] = {1, 63, 64, 65, 1000, 4096, 100000, 7};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	uint8_t *expect = malloc(total);
	size_t off = 0;
	int64_t id = -1;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct seg_buf *b;
		cr_assert_eq(seg_buf_get(w, HOUR_A, sizes[i], &b), 0);
		fill(b->data, sizes[i], (uint32_t)i);
		memcpy(expect + off, b->data, sizes[i]);
		off += sizes[i];
		int64_t got = seg_append(w, HOUR_A, b, sizes[i], 10 + i);
		cr_assert_geq(got, 0);
		if (id >= 0)
			cr_assert_eq(got, id, "all blocks of an hour go to one segment");
		id = got;
	}
	cr_assert_eq(count_suffix(".native.tmp"), 1);
	cr_assert_eq(count_suffix(".native"), 0);
	const struct seg_stats *st = seg_stats(w);
	cr_assert_eq(st->blocks_appended, 8);
	cr_assert_eq(st->bytes_appended, total);
	cr_assert_eq(st->open_segments, 1);

	cr_assert_eq(seg_seal_all(w), 0);
	cr_assert_eq(sealed_n, 1);
	struct seg_sealed *r = &sealed[0].rec;
	cr_assert_eq(r->id, id);
	cr_assert_eq(r->hour_key, HOUR_A);
	cr_assert_eq(r->rows, 10 * 8 + 28);
	cr_assert_eq(r->blocks, 8);
	cr_assert_eq(r->bytes, total);
	cr_assert_eq(r->checksum, XXH3_64bits(expect, total));
	cr_assert_geq(r->sealed_ms, r->first_append_ms);
	cr_assert_gt(r->first_append_ms, INT64_C(1600000000000));
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/dt=2024-03-05/hour=07/inst-w3-%016" PRId64 ".native", outdir, id);
	cr_assert_str_eq(r->path, want);
	expect_file(r->path, expect, total);
	cr_assert_eq(st->bytes_written, total);
	cr_assert_eq(st->segments_sealed, 1);
	cr_assert_eq(st->inflight_writes, 0);
	cr_assert_eq(st->inflight_bytes, 0);
	cr_assert_eq(count_suffix(".native.tmp"), 0);
	cr_assert_eq(count_suffix(".native"), 1);
	cr_assert_eq(seg_writer_close(w), 0);
	free(expect);
}

/* The open .native.tmp files of this process have O_DIRECT set. Returns how many are open. */
static unsigned open_tmp_files_direct(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char link[300], target[PATH_MAX], info[300];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (len < 11 || strcmp(target + len - 11, ".native.tmp") != 0)
			continue;
		snprintf(info, sizeof(info), "/proc/self/fdinfo/%s", e->d_name);
		FILE *f = fopen(info, "r");
		cr_assert_not_null(f);
		unsigned flags = 0;
		char line[128];
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "flags: %o", &flags) == 1)
				break;
		fclose(f);
		cr_assert(flags & O_DIRECT, "%s is open without O_DIRECT (flags %o)", target, flags);
		n++;
	}
	closedir(d);
	return n;
}

/* Pages of path in the page cache. */
static size_t resident_pages(const char *path)
{
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = ((size_t)st.st_size + page - 1) / page;
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	unsigned char *vec = malloc(pages);
	cr_assert_eq(mincore(map, (size_t)st.st_size, vec), 0);
	size_t n = 0;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	return n;
}

Test(seg, direct_writes_skip_the_page_cache_and_keep_every_byte)
{
	struct seg_writer_cfg c = cfg_small();
	struct seg_writer *w = writer_open(&c);
	cr_assert(seg_stats(w)->direct_io);
	/* Ends on and around 4 KiB boundaries, smaller and larger than a page, two hours. */
	size_t sizes[] = {1, 4095, 4096, 4097, 8191, 100000, 3, 12288, 70000, 4093, 5};
	size_t n_sizes = sizeof(sizes) / sizeof(sizes[0]);
	uint8_t *expect[2];
	size_t off[2] = {0, 0};
	for (int h = 0; h < 2; h++)
		expect[h] = malloc(2 * 300000);
	for (size_t i = 0; i < n_sizes; i++)
		for (int h = 0; h < 2; h++) {
			size_t n = sizes[(i + (size_t)h * 3) % n_sizes];
			append_pattern(w, HOUR_A + h, n, (uint32_t)(i * 2 + (size_t)h), expect[h] + off[h]);
			off[h] += n;
		}
	/* Two buffers placed for the same tail: the second lands behind a different one. */
	struct seg_buf *b1, *b2;
	cr_assert_eq(seg_buf_get(w, HOUR_A, 777, &b1), 0);
	cr_assert_eq(seg_buf_get(w, HOUR_A, 5000, &b2), 0);
	fill(b1->data, 777, 1001);
	fill(b2->data, 5000, 1002);
	memcpy(expect[0] + off[0], b1->data, 777);
	memcpy(expect[0] + off[0] + 777, b2->data, 5000);
	off[0] += 777 + 5000;
	cr_assert_geq(seg_append(w, HOUR_A, b1, 777, 1), 0);
	cr_assert_geq(seg_append(w, HOUR_A, b2, 5000, 1), 0);

	cr_assert_eq(open_tmp_files_direct(), 2);
	cr_assert_eq(seg_seal_all(w), 0);
	const struct seg_stats *st = seg_stats(w);
	cr_assert_eq(st->bytes_written, st->bytes_appended);
	cr_assert_eq(sealed_n, 2);
	struct statfs fs;
	cr_assert_eq(statfs(outdir, &fs), 0);
	for (unsigned i = 0; i < sealed_n; i++) {
		int h = (int)(sealed[i].rec.hour_key - HOUR_A);
		cr_assert_eq(sealed[i].rec.bytes, off[h]);
		/* tmpfs keeps every file in the page cache; elsewhere only the tail went there. */
		if (fs.f_type != 0x01021994)
			cr_assert_leq(resident_pages(sealed[i].path), 1, "%s", sealed[i].path);
		check_sealed_file(&sealed[i]);
		expect_file(sealed[i].path, expect[h], off[h]);
	}
	for (int h = 0; h < 2; h++)
		free(expect[h]);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, roll_by_size)
{
	struct seg_writer_cfg c = cfg_small();
	c.segment_bytes_max = 1000;
	struct seg_writer *w = writer_open(&c);
	uint8_t expect[10 * 300 + 5000];
	size_t off = 0;
	/* 300-byte blocks: the fourth would pass 1000, so each segment holds three. */
	for (int i = 0; i < 10; i++, off += 300)
		append_pattern(w, HOUR_A, 300, (uint32_t)i, expect + off);
	/* A block larger than the bound gets a segment of its own. */
	append_pattern(w, HOUR_A, 5000, 99, expect + off);
	off += 5000;
	cr_assert_eq(seg_seal_all(w), 0);
	cr_assert_eq(sealed_n, 5, "segments: %u", sealed_n);
	qsort(sealed, sealed_n, sizeof(sealed[0]), by_id);
	uint64_t want[] = {900, 900, 900, 300, 5000};
	size_t pos = 0;
	for (unsigned i = 0; i < sealed_n; i++) {
		cr_assert_eq(sealed[i].rec.bytes, want[i], "segment %u: %" PRIu64, i, sealed[i].rec.bytes);
		check_sealed_file(&sealed[i]);
		size_t len;
		uint8_t *p = (uint8_t *)t_read_file(sealed[i].path, &len);
		cr_assert_eq(memcmp(p, expect + pos, len), 0);
		pos += len;
		free(p);
		if (i > 0)
			cr_assert_gt(sealed[i].rec.id, sealed[i - 1].rec.id);
	}
	cr_assert_eq(pos, off);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, roll_when_size_reached_exactly)
{
	struct seg_writer_cfg c = cfg_small();
	c.segment_bytes_max = 600;
	struct seg_writer *w = writer_open(&c);
	int64_t a = append_pattern(w, HOUR_A, 300, 1, NULL);
	int64_t b = append_pattern(w, HOUR_A, 300, 2, NULL);
	cr_assert_eq(a, b);
	/* Reaching the bound rolls at once: the segment is sealing, not open. */
	cr_assert_eq(seg_stats(w)->open_segments, 0);
	tick_until_sealed(w, 1, 0);
	cr_assert_eq(sealed[0].rec.bytes, 600);
	check_sealed_file(&sealed[0]);
	int64_t d = append_pattern(w, HOUR_A, 10, 3, NULL);
	cr_assert_gt(d, a);
	cr_assert_eq(seg_writer_close(w), 0);
	cr_assert_eq(sealed_n, 2);
}

Test(seg, roll_by_age)
{
	struct seg_writer_cfg c = cfg_small();
	c.segment_age_ms_max = 1000;
	struct seg_writer *w = writer_open(&c);
	uint64_t t0 = seg_clock_ms();
	append_pattern(w, HOUR_A, 100, 1, NULL);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(seg_tick(w, t0 + 900), 0);
		usleep(500);
	}
	cr_assert_eq(sealed_n, 0, "not old enough yet");
	cr_assert_eq(seg_stats(w)->open_segments, 1);
	tick_until_sealed(w, 1, t0 + 2000);
	check_sealed_file(&sealed[0]);
	cr_assert_eq(count_suffix(".native.tmp"), 0);

	/* And with the real clock and a small bound. */
	cr_assert_eq(seg_writer_close(w), 0);
	c.segment_age_ms_max = 20;
	w = writer_open(&c);
	append_pattern(w, HOUR_B, 100, 2, NULL);
	usleep(30000);
	tick_until_sealed(w, 2, 0);
	check_sealed_file(&sealed[1]);
	cr_assert_eq(sealed[1].rec.hour_key, HOUR_B);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, one_segment_per_hour_key)
{
	struct seg_writer_cfg c = cfg_small();
	struct seg_writer *w = writer_open(&c);
	const int64_t hours[] = {HOUR_A, HOUR_B, HOUR_C};
	uint8_t expect[3][20 * 50];
	size_t len[3] = {0};
	int64_t ids[3] = {-1, -1, -1};
	for (int i = 0; i < 60; i++) {
		int h = i % 3;
		int64_t id = append_pattern(w, hours[h], 50, (uint32_t)i, expect[h] + len[h]);
		len[h] += 50;
		if (ids[h] >= 0)
			cr_assert_eq(id, ids[h]);
		ids[h] = id;
	}
	cr_assert_neq(ids[0], ids[1]);
	cr_assert_neq(ids[1], ids[2]);
	cr_assert_eq(seg_stats(w)->open_segments, 3);
	cr_assert_eq(seg_seal_all(w), 0);
	cr_assert_eq(sealed_n, 3);
	const char *dirs[] = {"dt=2024-03-05/hour=07", "dt=2024-03-05/hour=08", "dt=2023-12-31/hour=23"};
	for (unsigned i = 0; i < sealed_n; i++) {
		int h = sealed[i].rec.hour_key == HOUR_A ? 0 : sealed[i].rec.hour_key == HOUR_B ? 1 : 2;
		cr_assert_eq(sealed[i].rec.hour_key, hours[h]);
		cr_assert_eq(sealed[i].rec.id, ids[h]);
		char want[PATH_MAX];
		snprintf(want, sizeof(want), "%s/%s/inst-w3-%016" PRId64 ".native", outdir, dirs[h], ids[h]);
		cr_assert_str_eq(sealed[i].path, want);
		expect_file(want, expect[h], len[h]);
		check_sealed_file(&sealed[i]);
	}
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, hour_paths_and_keys)
{
	char p[64];
	cr_assert_eq(seg_hour_path(0, p, sizeof(p)), 21);
	cr_assert_str_eq(p, "dt=1970-01-01/hour=00");
	cr_assert_eq(seg_hour_path(HOUR_A, p, sizeof(p)), 21);
	cr_assert_str_eq(p, "dt=2024-03-05/hour=07");
	cr_assert_eq(seg_hour_path(SEG_HOUR_KEY_END - 1, p, sizeof(p)), 21);
	cr_assert_str_eq(p, "dt=9999-12-31/hour=23");
	cr_assert_eq(seg_hour_path(-1, p, sizeof(p)), -ERANGE);
	cr_assert_eq(seg_hour_path(SEG_HOUR_KEY_END, p, sizeof(p)), -ERANGE);
	cr_assert_eq(seg_hour_path(0, p, 10), -ENOSPC);
	cr_assert_eq(seg_hour_key(0), 0);
	cr_assert_eq(seg_hour_key(3599999), 0);
	cr_assert_eq(seg_hour_key(3600000), 1);
	cr_assert_eq(seg_hour_key(-1), -1);
	cr_assert_eq(seg_hour_key(INT64_C(1709622000000)), HOUR_A); /* 2024-03-05T07:00:00Z */
}

Test(seg, open_segments_bound_seals_oldest)
{
	struct seg_writer_cfg c = cfg_small();
	c.open_segments_max = 2;
	struct seg_writer *w = writer_open(&c);
	int64_t a = append_pattern(w, HOUR_A, 100, 1, NULL);
	append_pattern(w, HOUR_B, 100, 2, NULL);
	append_pattern(w, HOUR_C, 100, 3, NULL);
	const struct seg_stats *st = seg_stats(w);
	cr_assert_eq(st->open_segments, 2);
	tick_until_sealed(w, 1, 0);
	cr_assert_eq(sealed[0].rec.id, a, "the oldest open segment is sealed");
	cr_assert_eq(sealed[0].rec.hour_key, HOUR_A);
	check_sealed_file(&sealed[0]);
	/* HOUR_A again opens a new segment (and seals HOUR_B, now the oldest). */
	int64_t a2 = append_pattern(w, HOUR_A, 100, 4, NULL);
	cr_assert_gt(a2, a);
	cr_assert_eq(seg_writer_close(w), 0);
	cr_assert_eq(sealed_n, 4);
}

static char *names_of(const char *suffix, unsigned *n)
{
	list_files();
	char *all = calloc(FILES_MAX, NAME_MAX + 1);
	*n = 0;
	size_t sl = strlen(suffix);
	for (unsigned i = 0; i < found_n; i++) {
		size_t l = strlen(found[i]);
		if (l >= sl && strcmp(found[i] + l - sl, suffix) == 0)
			snprintf(all + (size_t)(*n)++ * (NAME_MAX + 1), NAME_MAX + 1, "%s", strrchr(found[i], '/') + 1);
	}
	return all;
}

Test(seg, seq_unique_across_runs)
{
	struct seg_writer_cfg c = cfg_small();
	c.segment_bytes_max = 200;
	int64_t max_first = -1;
	for (int run = 0; run < 2; run++) {
		struct seg_writer *w = writer_open(&c);
		for (int i = 0; i < 6; i++) {
			int64_t id = append_pattern(w, i % 2 ? HOUR_A : HOUR_B, 150, (uint32_t)i, NULL);
			if (run == 1)
				cr_assert_gt(id, max_first, "a later run starts above every earlier seq");
			else if (id > max_first)
				max_first = id;
		}
		cr_assert_eq(seg_writer_close(w), 0);
	}
	cr_assert_eq(sealed_n, 12);
	unsigned n;
	char *names = names_of(".native", &n);
	cr_assert_eq(n, 12);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			cr_assert_str_neq(names + i * (NAME_MAX + 1), names + j * (NAME_MAX + 1));
	free(names);
	for (unsigned i = 0; i < sealed_n; i++)
		check_sealed_file(&sealed[i]);
}

Test(seg, seq_skips_names_already_taken)
{
	struct seg_writer_cfg c = cfg_small();
	struct seg_writer *w = writer_open(&c);
	int64_t id = append_pattern(w, HOUR_A, 100, 1, NULL);
	/* Files from elsewhere (a clock stepped back) hold the next two sequence numbers. */
	char p1[PATH_MAX], p2[PATH_MAX];
	snprintf(p1, sizeof(p1), "%s/dt=2024-03-05/hour=07/inst-w3-%016" PRId64 ".native", outdir, id + 1);
	snprintf(p2, sizeof(p2), "%s/dt=2024-03-05/hour=07/inst-w3-%016" PRId64 ".native.tmp", outdir, id + 2);
	t_write_file(p1, "earlier", 7);
	t_write_file(p2, "", 0);
	cr_assert_eq(seg_seal_all(w), 0);
	int64_t id2 = append_pattern(w, HOUR_A, 100, 2, NULL);
	cr_assert_eq(id2, id + 3, "id %" PRId64 " after %" PRId64, id2, id);
	cr_assert_eq(seg_writer_close(w), 0);
	expect_file(p1, "earlier", 7); /* an existing sealed file is never touched */
	cr_assert_eq(sealed_n, 2);
	check_sealed_file(&sealed[1]);
}

Test(seg, many_appends_small_inflight_bounds)
{
	struct seg_writer_cfg c = cfg_small();
	c.inflight_writes_max = 4;
	c.inflight_bytes_max = 8192;
	c.pool_bytes = 16384;
	c.queue_depth = 2;
	c.segment_bytes_max = 100000;
	struct seg_writer *w = writer_open(&c);
	const int64_t hours[] = {HOUR_A, HOUR_B, HOUR_C};
	size_t cap = 2000 * 4000;
	uint8_t *expect[3];
	size_t len[3] = {0};
	for (int h = 0; h < 3; h++)
		expect[h] = malloc(cap);
	const struct seg_stats *st = seg_stats(w);
	uint32_t x = 7;
	for (int i = 0; i < 3000; i++) {
		x = x * 1103515245u + 12345u;
		int h = (int)((x >> 8) % 3);
		size_t n = 1 + (x >> 12) % 4000;
		append_pattern(w, hours[h], n, (uint32_t)i, expect[h] + len[h]);
		len[h] += n;
		cr_assert_leq(st->inflight_writes, 4);
		cr_assert_leq(st->inflight_bytes, 8192);
		if (i % 64 == 0)
			cr_assert_eq(seg_tick(w, seg_clock_ms()), 0);
	}
	cr_assert_eq(seg_seal_all(w), 0);
	cr_assert_gt(st->waits, 0, "the bounds made appends wait");
	qsort(sealed, sealed_n, sizeof(sealed[0]), by_id);
	size_t pos[3] = {0};
	for (unsigned i = 0; i < sealed_n; i++) {
		int h = sealed[i].rec.hour_key == HOUR_A ? 0 : sealed[i].rec.hour_key == HOUR_B ? 1 : 2;
		check_sealed_file(&sealed[i]);
		cr_assert_leq(sealed[i].rec.bytes, 100000);
		size_t n;
		uint8_t *p = (uint8_t *)t_read_file(sealed[i].path, &n);
		cr_assert_leq(pos[h] + n, len[h]);
		cr_assert_eq(memcmp(p, expect[h] + pos[h], n), 0, "segment %u content", i);
		pos[h] += n;
		free(p);
	}
	for (int h = 0; h < 3; h++) {
		cr_assert_eq(pos[h], len[h], "hour %d: %zu of %zu bytes", h, pos[h], len[h]);
		free(expect[h]);
	}
	cr_assert_eq(st->bytes_written, st->bytes_appended);
	cr_assert_eq(count_suffix(".native.tmp"), 0);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, buffer_pool_exhaustion)
{
	struct seg_writer_cfg c = cfg_small();
	c.pool_bytes = 65536;
	c.inflight_writes_max = 8;
	c.direct_io = false; /* exact pool arithmetic: no alignment slack */
	struct seg_writer *w = writer_open(&c);
	struct seg_buf *b[5];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(seg_buf_get(w, HOUR_A, 16384, &b[i]), 0);
	/* Everything is held by the caller: waiting could not help. */
	cr_assert_eq(seg_buf_get(w, HOUR_A, 64, &b[4]), -ENOBUFS);
	cr_assert_eq(seg_buf_get(w, HOUR_A, 0, &b[4]), -EMSGSIZE);
	cr_assert_eq(seg_buf_get(w, HOUR_A, 65537, &b[4]), -EMSGSIZE);
	seg_buf_put(w, b[3]);
	cr_assert_eq(seg_buf_get(w, HOUR_A, 16384, &b[3]), 0);
	for (int i = 0; i < 4; i++) {
		memset(b[i]->data, 'a' + i, 16384);
		cr_assert_geq(seg_append(w, HOUR_A, b[i], 16384, 1), 0);
	}
	/* Every byte is in flight now: a whole-pool buffer waits for the writes, then succeeds. */
	cr_assert_eq(seg_buf_get(w, HOUR_A, 65536, &b[0]), 0);
	cr_assert_eq(seg_stats(w)->inflight_writes, 0);
	/* Misuse is refused and leaves the buffer with the caller. */
	cr_assert_eq(seg_append(w, HOUR_A, b[0], 65537, 1), -EINVAL);
	cr_assert_eq(seg_append(w, HOUR_A, b[0], 0, 1), -EINVAL);
	cr_assert_eq(seg_append(w, -1, b[0], 10, 1), -ERANGE);
	cr_assert_eq(seg_append(w, SEG_HOUR_KEY_END, b[0], 10, 1), -ERANGE);
	memset(b[0]->data, 'z', 10);
	cr_assert_geq(seg_append(w, HOUR_A, b[0], 10, 1), 0);
	cr_assert_eq(seg_append(w, HOUR_A, b[0], 10, 1), -EINVAL, "not held any more");
	struct seg_buf fake = {0};
	cr_assert_eq(seg_append(w, HOUR_A, &fake, 10, 1), -EINVAL);
	cr_assert_eq(seg_seal_all(w), 0);
	cr_assert_eq(sealed_n, 1);
	cr_assert_eq(sealed[0].rec.bytes, 4 * 16384 + 10);
	check_sealed_file(&sealed[0]);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, inflight_count_bound)
{
	struct seg_writer_cfg c = cfg_small();
	c.inflight_writes_max = 3;
	struct seg_writer *w = writer_open(&c);
	struct seg_buf *b[4];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(seg_buf_get(w, HOUR_A, 100, &b[i]), 0);
	cr_assert_eq(seg_buf_get(w, HOUR_A, 100, &b[3]), -ENOBUFS);
	for (int i = 0; i < 3; i++)
		cr_assert_geq(seg_append(w, HOUR_A, b[i], 100, 1), 0);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(seg_buf_get(w, HOUR_A, 100, &b[0]), 0);
		cr_assert_geq(seg_append(w, HOUR_A, b[0], 100, 1), 0);
		cr_assert_leq(seg_stats(w)->inflight_writes, 3);
	}
	cr_assert_eq(seg_writer_close(w), 0);
	cr_assert_eq(sealed[0].rec.bytes, 103 * 100);
}

static struct seg_writer *reentry_writer;
static int reentry_rc;

static void on_sealed_reenter(void *arg, const struct seg_sealed *s)
{
	(void)arg;
	(void)s;
	struct seg_buf *b;
	reentry_rc = seg_buf_get(reentry_writer, HOUR_A, 10, &b);
	sealed_n++;
}

Test(seg, callback_may_not_reenter)
{
	struct seg_writer_cfg c = cfg_small();
	c.on_sealed = on_sealed_reenter;
	reentry_writer = writer_open(&c);
	append_pattern(reentry_writer, HOUR_A, 10, 1, NULL);
	cr_assert_eq(seg_seal_all(reentry_writer), 0);
	cr_assert_eq(sealed_n, 1);
	cr_assert_eq(reentry_rc, -EDEADLK);
	cr_assert_eq(seg_writer_close(reentry_writer), 0);
}

Test(seg, invalid_config)
{
	struct seg_writer *w;
	struct seg_writer_cfg c = cfg_small();
	c.instance = "bad/name";
	cr_assert_eq(seg_writer_init(&w, &c), -EINVAL);
	c = cfg_small();
	c.instance = ".hidden";
	cr_assert_eq(seg_writer_init(&w, &c), -EINVAL);
	c = cfg_small();
	c.queue_depth = 0;
	cr_assert_eq(seg_writer_init(&w, &c), -EINVAL);
	c = cfg_small();
	c.dir = NULL;
	cr_assert_eq(seg_writer_init(&w, &c), -EINVAL);
	c = cfg_small();
	c.pool_bytes = 0;
	cr_assert_eq(seg_writer_init(&w, &c), -EINVAL);
}

static void touch(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", outdir, rel);
	t_write_file(p, "", 0);
}

static bool exists(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", outdir, rel);
	return access(p, F_OK) == 0;
}

Test(seg, clean_tmp)
{
	unsigned removed = 99;
	cr_assert_eq(seg_dir_clean_tmp(outdir, "inst", &removed), 0, "a missing dir is fine");
	cr_assert_eq(removed, 0);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "mkdir -p '%s/dt=2024-03-05/hour=07' '%s/dt=2024-03-06/hour=00/inst-w0-9.native.tmp'", outdir, outdir);
	cr_assert_eq(system(p), 0);
	touch("inst-w0-1.native.tmp");
	touch("dt=2024-03-05/hour=07/inst-w0-0000000000000123.native.tmp");
	touch("dt=2024-03-05/hour=07/inst-w12-5.native.tmp");
	touch("dt=2024-03-05/hour=07/inst-w0-0000000000000123.native");
	touch("dt=2024-03-05/hour=07/other-w0-1.native.tmp");
	touch("dt=2024-03-05/hour=07/inst-w0-1.native.tmp.bak");
	touch("dt=2024-03-05/hour=07/inst-wx-1.native.tmp");
	touch("dt=2024-03-05/hour=07/inst-w1.native.tmp");
	touch("dt=2024-03-05/hour=07/inst2-w0-1.native.tmp");
	cr_assert_eq(seg_dir_clean_tmp(outdir, "inst", &removed), 0);
	cr_assert_eq(removed, 3);
	cr_assert(!exists("inst-w0-1.native.tmp"));
	cr_assert(!exists("dt=2024-03-05/hour=07/inst-w0-0000000000000123.native.tmp"));
	cr_assert(!exists("dt=2024-03-05/hour=07/inst-w12-5.native.tmp"));
	cr_assert(exists("dt=2024-03-05/hour=07/inst-w0-0000000000000123.native"));
	cr_assert(exists("dt=2024-03-05/hour=07/other-w0-1.native.tmp"));
	cr_assert(exists("dt=2024-03-05/hour=07/inst-w0-1.native.tmp.bak"));
	cr_assert(exists("dt=2024-03-05/hour=07/inst-wx-1.native.tmp"));
	cr_assert(exists("dt=2024-03-05/hour=07/inst-w1.native.tmp"));
	cr_assert(exists("dt=2024-03-05/hour=07/inst2-w0-1.native.tmp"));
	cr_assert(exists("dt=2024-03-06/hour=00/inst-w0-9.native.tmp"), "directories are not removed");
	cr_assert_eq(seg_dir_clean_tmp(outdir, "bad/inst", &removed), -EINVAL);
}

Test(seg, crashed_writer_leaves_only_tmp)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct seg_writer_cfg c = cfg_small();
		c.on_sealed = NULL;
		struct seg_writer *w;
		if (seg_writer_init(&w, &c) != 0)
			_exit(1);
		struct seg_buf *b;
		for (int i = 0; i < 3; i++) {
			if (seg_buf_get(w, HOUR_A + i, 100, &b) != 0)
				_exit(2);
			memset(b->data, 'x', 100);
			if (seg_append(w, HOUR_A + i, b, 100, 1) < 0)
				_exit(3);
		}
		seg_tick(w, seg_clock_ms());
		_exit(0); /* no seal: as if the process died */
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(count_suffix(".native.tmp"), 3);
	cr_assert_eq(count_suffix(".native"), 0);
	unsigned removed;
	cr_assert_eq(seg_dir_clean_tmp(outdir, "inst", &removed), 0);
	cr_assert_eq(removed, 3);
	cr_assert_eq(count_suffix(".native.tmp"), 0);
}

/*
 * ENOSPC on a real (tiny tmpfs) file system: the writer retries, never seals a segment whose
 * writes are missing, and completes it once space is freed. Needs permission to mount.
 */
Test(seg, enospc_retries_then_seals_complete_file)
{
	cr_assert_eq(mkdir(outdir, 0755), 0);
	if (mount("tmpfs", outdir, "tmpfs", 0, "size=256k") != 0)
		cr_skip_test("cannot mount a tmpfs here (%s); tests/integration/seg_enospc.sh covers it when it can", strerror(errno));
	char ballast[PATH_MAX];
	snprintf(ballast, sizeof(ballast), "%s/ballast", outdir);
	int fd = open(ballast, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	static uint8_t page[4096];
	while (write(fd, page, sizeof(page)) > 0)
		;
	close(fd);

	struct seg_writer_cfg c = cfg_small();
	c.retry_backoff_ms_max = 10;
	struct seg_writer *w = writer_open(&c);
	enum { BLOCKS = 8, BLOCK = 16384 };
	static uint8_t expect[BLOCKS * BLOCK];
	for (int i = 0; i < BLOCKS; i++)
		append_pattern(w, HOUR_A, BLOCK, (uint32_t)i, expect + i * BLOCK);
	const struct seg_stats *st = seg_stats(w);
	for (int i = 0; i < 500 && st->write_retries < 8; i++) {
		cr_assert_eq(seg_tick(w, seg_clock_ms()), 0);
		usleep(1000);
	}
	cr_assert_geq(st->write_errors, 3, "writes fail and are retried (errors %" PRIu64 ")", st->write_errors);
	cr_assert_geq(st->write_retries, 8);
	cr_assert_gt(st->inflight_writes, 0);
	/* Rolled (by age) while the disk is full: sealing waits for the missing bytes. */
	uint64_t later = seg_clock_ms() + 1000000;
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(seg_tick(w, later), 0);
		usleep(1000);
	}
	cr_assert_eq(sealed_n, 0);
	cr_assert_eq(st->sealing_segments, 1);
	cr_assert_eq(count_suffix(".native"), 0, "no partial segment is ever sealed");

	cr_assert_eq(unlink(ballast), 0);
	tick_until_sealed(w, 1, later);
	cr_assert_eq(sealed[0].rec.err, 0);
	cr_assert_eq(sealed[0].rec.bytes, sizeof(expect));
	expect_file(sealed[0].path, expect, sizeof(expect)); /* complete and in order */
	check_sealed_file(&sealed[0]);
	cr_assert_eq(st->inflight_writes, 0);
	cr_assert_eq(st->segments_failed, 0);
	cr_assert_eq(seg_writer_close(w), 0);
}

/*
 * A write error that retrying cannot fix (EFBIG past RLIMIT_FSIZE) discards the segment: the
 * callback reports the error, no .native and no .tmp is left, and the hour goes on in a new segment.
 */
Test(seg, unfixable_write_error_discards_segment)
{
	limit_file_size(100000);
	struct seg_writer_cfg c = cfg_small();
	struct seg_writer *w = writer_open(&c);
	int64_t id = append_pattern(w, HOUR_A, 65536, 1, NULL);
	cr_assert_eq(append_pattern(w, HOUR_A, 65536, 2, NULL), id);
	tick_until_sealed(w, 1, 0);
	cr_assert_eq(sealed[0].rec.id, id);
	cr_assert_eq(sealed[0].rec.err, -EFBIG, "err %d", sealed[0].rec.err);
	const struct seg_stats *st = seg_stats(w);
	cr_assert_eq(st->segments_failed, 1);
	cr_assert_eq(st->segments_sealed, 0);
	cr_assert_eq(st->inflight_writes, 0);
	cr_assert_eq(count_suffix(".native.tmp"), 0, "the discarded segment is removed");
	cr_assert_eq(count_suffix(".native"), 0);
	uint8_t expect[1000];
	int64_t id2 = append_pattern(w, HOUR_A, sizeof(expect), 3, expect);
	cr_assert_gt(id2, id);
	cr_assert_eq(seg_seal_all(w), 0);
	cr_assert_eq(sealed_n, 2);
	cr_assert_eq(sealed[1].rec.err, 0);
	cr_assert_eq(sealed[1].rec.bytes, sizeof(expect));
	check_sealed_file(&sealed[1]);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, publish_hold_keeps_synced_segments_tmp_until_published)
{
	struct seg_writer_cfg c = cfg_small();
	c.publish_hold = true;
	struct seg_writer *w = writer_open(&c);
	static uint8_t expect_a[3000], expect_b[500];
	int64_t id_a = append_pattern(w, HOUR_A, sizeof(expect_a), 1, expect_a);
	int64_t id_b = append_pattern(w, HOUR_B, sizeof(expect_b), 2, expect_b);
	cr_assert_eq(seg_seal_all(w), 0);
	cr_expect_eq(sealed_n, 0, "no seal callback before publishing");
	cr_assert_eq(seg_synced_count(w), 2);
	struct seg_synced_info info[4];
	cr_assert_eq(seg_synced(w, info, 4), 2);
	/* Segments finish syncing in completion order: match them by id. */
	if (info[0].id != id_a) {
		struct seg_synced_info t = info[0];
		info[0] = info[1];
		info[1] = t;
	}
	for (unsigned i = 0; i < 2; i++) {
		const uint8_t *expect = i == 0 ? expect_a : expect_b;
		size_t n = i == 0 ? sizeof(expect_a) : sizeof(expect_b);
		cr_expect_eq(info[i].id, i == 0 ? id_a : id_b);
		cr_expect_eq(info[i].bytes, n);
		cr_expect_eq(info[i].checksum, XXH3_64bits(expect, n));
		char path[PATH_MAX], tmp[PATH_MAX + 8];
		snprintf(path, sizeof(path), "%s/%s", outdir, info[i].rel_path);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		cr_expect_neq(access(path, F_OK), 0, "%s exists before publishing", path);
		size_t len;
		uint8_t *got = (uint8_t *)t_read_file(tmp, &len);
		cr_expect_eq(len, n);
		cr_expect_eq(memcmp(got, expect, n), 0, "synced .tmp holds every byte");
		free(got);
	}
	cr_assert_eq(seg_publish_all(w), 0);
	cr_expect_eq(seg_synced_count(w), 0);
	cr_assert_eq(sealed_n, 2);
	for (unsigned i = 0; i < 2; i++) {
		unsigned j = sealed[0].rec.id == info[i].id ? 0 : 1;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", outdir, info[i].rel_path);
		cr_expect_eq(sealed[j].rec.id, info[i].id);
		cr_expect_str_eq(sealed[j].path, path);
		cr_expect_eq(access(path, F_OK), 0, "%s not published", path);
		cr_expect_eq(sealed[j].rec.checksum, info[i].checksum);
	}
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, cut_publishes_only_its_generation_while_the_next_fills)
{
	struct seg_writer_cfg c = cfg_small();
	c.publish_hold = true;
	c.segment_bytes_max = 4096;
	struct seg_writer *w = writer_open(&c);
	/* Generation 0: two hours, one of them rolled by size before the cut. */
	int64_t a0 = append_pattern(w, HOUR_A, 4096, 1, NULL);
	int64_t a1 = append_pattern(w, HOUR_A, 1000, 2, NULL);
	int64_t b0 = append_pattern(w, HOUR_B, 500, 3, NULL);
	uint64_t cut0 = seg_cut(w);
	/* Generation 1 fills while generation 0 seals: one segment rolled by size, one open. */
	int64_t c0 = append_pattern(w, HOUR_C, 4096, 4, NULL);
	int64_t a2 = append_pattern(w, HOUR_A, 700, 5, NULL);
	cr_assert_eq(seg_cut_wait(w, cut0), 0);
	cr_expect_eq(seg_cut_synced(w, cut0), 1);
	/* Let generation 1's full segment sync too: it must not join generation 0's. */
	for (int i = 0; i < 2000 && seg_synced_count(w) < 4; i++) {
		cr_assert_eq(seg_tick(w, seg_clock_ms()), 0);
		usleep(1000);
	}
	cr_assert_eq(seg_synced_count(w), 4, "3 of generation 0 and 1 of generation 1 synced");
	struct seg_synced_info info[8];
	size_t total;
	size_t n = seg_cut_segments(w, cut0, info, 8, &total);
	cr_assert_eq(n, 3);
	cr_assert_eq(total, 3);
	bool seen[3] = {false, false, false};
	for (size_t i = 0; i < n; i++) {
		cr_expect(info[i].id == a0 || info[i].id == a1 || info[i].id == b0,
			  "segment %" PRId64 " is not of generation 0", info[i].id);
		seen[info[i].id == a0 ? 0 : info[i].id == a1 ? 1 : 2] = true;
	}
	cr_expect(seen[0] && seen[1] && seen[2]);
	cr_assert_eq(seg_cut_segments(w, cut0, info, 1, &total), 1, "bounded by max");
	cr_expect_eq(total, 3);

	cr_assert_eq(seg_cut_publish(w, cut0), 0);
	cr_assert_eq(sealed_n, 3, "generation 0 published");
	for (unsigned i = 0; i < sealed_n; i++)
		check_sealed_file(&sealed[i]);
	cr_expect_eq(seg_synced_count(w), 1, "generation 1's synced segment still held");
	cr_expect_eq(count_suffix(".native"), 3);
	cr_expect_eq(count_suffix(".native.tmp"), 2, "generation 1: one synced, one open");

	uint64_t cut1 = seg_cut(w);
	cr_expect_eq(cut1, cut0 + 1);
	cr_assert_eq(seg_cut_wait(w, cut1), 0);
	n = seg_cut_segments(w, cut1, info, 8, &total);
	cr_assert_eq(n, 2);
	cr_expect((info[0].id == c0 && info[1].id == a2) || (info[0].id == a2 && info[1].id == c0));
	cr_assert_eq(seg_cut_publish(w, cut1), 0);
	cr_assert_eq(sealed_n, 5);
	for (unsigned i = 3; i < sealed_n; i++)
		check_sealed_file(&sealed[i]);
	cr_expect_eq(count_suffix(".native"), 5);
	cr_expect_eq(count_suffix(".tmp"), 0);
	cr_expect_eq(seg_cut_synced(w, cut1), 1, "nothing left of generation 1");
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, cut_with_nothing_open_is_synced_at_once)
{
	struct seg_writer_cfg c = cfg_small();
	c.publish_hold = true;
	struct seg_writer *w = writer_open(&c);
	uint64_t cut = seg_cut(w);
	cr_expect_eq(seg_cut_synced(w, cut), 1);
	size_t total;
	struct seg_synced_info info[1];
	cr_expect_eq(seg_cut_segments(w, cut, info, 1, &total), 0);
	cr_expect_eq(total, 0);
	cr_expect_eq(seg_cut_publish(w, cut), 0);
	cr_expect_eq(sealed_n, 0);
	cr_assert_eq(seg_writer_close(w), 0);
}

Test(seg, cut_with_a_discarded_segment_reports_its_error)
{
	limit_file_size(100000);
	struct seg_writer_cfg c = cfg_small();
	c.publish_hold = true;
	struct seg_writer *w = writer_open(&c);
	int64_t bad = append_pattern(w, HOUR_A, 65536, 1, NULL);
	cr_assert_eq(append_pattern(w, HOUR_A, 65536, 2, NULL), bad);
	append_pattern(w, HOUR_B, 1000, 3, NULL);
	uint64_t cut = seg_cut(w);
	cr_assert_eq(seg_cut_wait(w, cut), -EFBIG);
	cr_expect_eq(seg_cut_synced(w, cut), -EFBIG);
	cr_expect_eq(seg_cut_publish(w, cut), -EFBIG, "a cut with a lost segment is not published");
	cr_expect_eq(count_suffix(".native"), 0);
	cr_expect_eq(count_suffix(".native.tmp"), 1, "the discarded segment is removed, the other "
		     "stays synced and unpublished");
	cr_assert_eq(seg_writer_close(w), 0);
}
