/*
 * worker: the event loop through its narrow environment, with the real modules around it: a
 * JSON-lines source (a mapped file, or a pipe), dimension tables loaded from small TSV files and
 * published with dimpub, the segment writer and manifest in a temporary directory. The tests
 * read back what the worker sealed (the Native files) and what it handed to its sink.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dim_live.h"
#include "dimpub.h"
#include "dimset.h"
#include "native_read.h"
#include "source_file.h"
#include "worker.h"

#define ROWS_MAX 4096
#define RANGES_MAX 256
#define WAIT_MS 20000
/* 2025-01-01T00:00:00Z: every event of a test falls in that hour. */
#define T0_MS INT64_C(1735689600000)

static char dir[64];
static char path_buf[PATH_MAX];
static struct config *cfg;
static struct dimpub pub;
static _Atomic bool stop_flag;
static _Atomic uint64_t flush_req;
static struct worker w;

/* What the sink received, in order. */
static struct manifest_range handed[RANGES_MAX];
static uint32_t handed_n;

/* The rows read back from the sealed segments. */
struct row {
	uint64_t offset;
	uint64_t user_id;
	char country[16]; /* "" for NULL */
};
static struct row rows[ROWS_MAX];
static size_t rows_n;

static const char *in_dir(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(in_dir(name), "w");
	cr_assert_not_null(f, "%s", path_buf);
	fputs(text, f);
	fclose(f);
}

static bool malformed(uint32_t i)
{
	return i % 50 == 49;
}

/* Event i: users 1..3 (3 is not in the table), device d1 except every 10th (d2: an inner miss),
 * every 50th malformed. */
static int event_line(uint32_t i, char *buf, size_t cap)
{
	if (malformed(i))
		return snprintf(buf, cap, "{\"timestamp\": oops}\n");
	return snprintf(buf, cap,
			"{\"timestamp\":%" PRId64 ",\"user_id\":%u,\"url\":\"https://a.example/x\","
			"\"device_id\":\"%s\"}\n",
			T0_MS + i, i % 3 + 1, i % 10 == 9 ? "d2" : "d1");
}

/* How many of events [from, to) become rows (not malformed, not an inner miss). */
static uint32_t rows_of(uint32_t from, uint32_t to)
{
	uint32_t n = 0;
	for (uint32_t i = from; i < to; i++)
		n += !malformed(i) && i % 10 != 9;
	return n;
}

static void on_sealed(void *ctx, const struct manifest_range *ranges, uint32_t count)
{
	(void)ctx;
	for (uint32_t i = 0; i < count && handed_n < RANGES_MAX; i++)
		handed[handed_n++] = ranges[i];
}

static void load_dims(void)
{
	struct dimset *set;
	cr_assert_eq(dimset_load(cfg, NULL, 1, -1, NULL, &set, NULL), 0);
	dimpub_init(&pub, &set, 1);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/worker-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	write_file("users.tsv", "user_id\tcountry\tplan\n1\tDE\tpro\n2\tUS\tfree\n");
	write_file("devices.tsv", "device_id\tos\nd1\tios\n");
	write_file("urls.tsv", "url\tcategory\nhttps://a.example/x\tnews\n");
	char ini[4096];
	snprintf(ini, sizeof(ini),
		 "[workers]\ncpus = 0\nbatch_events = 64\npoll_timeout_ms = 10ms\n"
		 "[dimension users]\nsource = %s/users.tsv\nkey = user_id\nkey_type = UInt64\n"
		 "attr.country = LowCardinality(String)\nattr.plan = LowCardinality(String)\n"
		 "[dimension devices]\nsource = %s/devices.tsv\nkey = device_id\nkey_type = String\n"
		 "join = inner\nattr.os = LowCardinality(String)\n"
		 "[dimension urls]\nsource = %s/urls.tsv\nkey = url\nkey_type = String\n"
		 "attr.category = LowCardinality(String)\n"
		 "[output]\ndir = %s/out\ninstance = t\nsegment_age_ms = 1h\nblock_rows = 100\n"
		 "[dead_letter]\ndir = %s/dl\n[metrics]\nlisten =\n[log]\nlevel = warn\n",
		 dir, dir, dir, dir, dir);
	cfg = calloc(1, sizeof(*cfg));
	cr_assert_not_null(cfg);
	char err[CONFIG_ERR_MAX];
	cr_assert_eq(config_parse_string(ini, cfg, err, sizeof(err)), 0, "%s", err);
	log_level_set(cfg->log_level);
	load_dims();
	memset(&w, 0, sizeof(w));
	atomic_store(&stop_flag, false);
	atomic_store(&flush_req, 0);
	handed_n = 0;
	rows_n = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	dimpub_destroy(&pub);
	free(cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(worker, .init = setup, .fini = teardown, .timeout = 60);

/* Starts the worker on source with the test's flags, sink and dimension slot. */
static void start(struct source *src)
{
	w.env = (struct worker_env){
		.index = 0,
		.cpu = -1,
		.cfg = cfg,
		.source = src,
		.dims = &pub,
		.dims_slot = 0,
		.stop = &stop_flag,
		.flush_req = &flush_req,
		.sealed = {on_sealed, NULL},
	};
	cr_assert_eq(worker_start(&w), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Asks for a flush and waits until the worker completed it. */
static void flush(void)
{
	uint64_t req = atomic_fetch_add(&flush_req, 1) + 1;
	int64_t deadline = now_ms() + WAIT_MS;
	while (atomic_load(&w.flush_ack) < req && now_ms() < deadline)
		sleep_ms(1);
	cr_assert_geq(atomic_load(&w.flush_ack), req, "flush %" PRIu64 " not completed", req);
}

static void wait_events(uint64_t n)
{
	int64_t deadline = now_ms() + WAIT_MS;
	while (atomic_load(&w.stats.events_in) < n && now_ms() < deadline)
		sleep_ms(1);
	cr_assert_eq(atomic_load(&w.stats.events_in), n);
}

/* ---- reading back ---- */

static const struct native_rd_col *column(const struct native_rd_block *b, const char *name)
{
	for (uint32_t c = 0; c < b->ncols; c++)
		if (b->cols[c].name_len == strlen(name) &&
		    memcmp(b->cols[c].name, name, b->cols[c].name_len) == 0)
			return &b->cols[c];
	cr_assert_fail("no column %s", name);
	return NULL;
}

static void read_block(const struct native_rd_block *b)
{
	const struct native_rd_col *off = column(b, "_offset"), *user = column(b, "user_id");
	const struct native_rd_col *country = column(b, "country");
	for (uint64_t r = 0; r < b->rows; r++) {
		cr_assert_lt(rows_n, ROWS_MAX);
		struct row *row = &rows[rows_n++];
		cr_assert_eq(native_rd_u64(off, r, &row->offset), 0);
		cr_assert_eq(native_rd_u64(user, r, &row->user_id), 0);
		row->country[0] = '\0';
		const uint8_t *p;
		size_t len;
		if (!native_rd_is_null(country, r) && native_rd_str(country, r, &p, &len) == 0)
			snprintf(row->country, sizeof(row->country), "%.*s", (int)len, p);
	}
}

static int read_segment(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	size_t n = strlen(path);
	if (flag != FTW_F || n < 7 || strcmp(path + n - 7, ".native") != 0 || st->st_size == 0)
		return 0;
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	void *map = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	struct native_reader *rd;
	cr_assert_eq(native_reader_init(&rd), 0);
	struct native_rd_block b;
	size_t off = 0;
	int rc;
	while ((rc = native_reader_next(rd, map, (size_t)st->st_size, &off, &b)) == 1)
		read_block(&b);
	cr_assert_eq(rc, 0, "%s: %s", path, native_reader_error(rd, NULL));
	native_reader_destroy(rd);
	munmap(map, (size_t)st->st_size);
	close(fd);
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Every row of the visible (sealed) segments, by offset. */
static void read_sealed(void)
{
	rows_n = 0;
	nftw(in_dir("out"), read_segment, 16, FTW_PHYS);
	qsort(rows, rows_n, sizeof(rows[0]), by_offset);
}

static size_t dead_letter_lines(void)
{
	FILE *f = fopen(in_dir("dl/t-w0.deadletter.tsv"), "r");
	if (!f)
		return 0;
	size_t n = 0;
	for (int c; (c = fgetc(f)) != EOF;)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Rows [from, to) of the events are exactly the rows read, each once, joined as expected. */
static void expect_rows(uint32_t from, uint32_t to, const char *country_of_user1)
{
	cr_assert_eq(rows_n, rows_of(from, to));
	size_t k = 0;
	for (uint32_t i = from; i < to; i++) {
		if (malformed(i) || i % 10 == 9)
			continue;
		const struct row *r = &rows[k++];
		cr_assert_eq(r->offset, i);
		cr_assert_eq(r->user_id, i % 3 + 1);
		const char *want = r->user_id == 1 ? country_of_user1 : r->user_id == 2 ? "US" : "";
		cr_assert_str_eq(r->country, want, "offset %u", i);
	}
}

/* The offsets handed off so far cover [0, upto) of partition 0 once, in order. */
static void expect_handed(int64_t upto)
{
	cr_assert_geq(handed_n, 1);
	int64_t next = 0;
	for (uint32_t i = 0; i < handed_n; i++) {
		cr_expect_eq(handed[i].partition, 0);
		cr_expect_eq(handed[i].first, next, "range %u", i);
		next = handed[i].next;
	}
	cr_expect_eq(next, upto);
}

/* ---- tests ---- */

Test(worker, file_source_to_sealed_rows_and_dead_letters)
{
	const uint32_t events = 1000;
	FILE *f = fopen(in_dir("events.jsonl"), "w");
	cr_assert_not_null(f);
	char line[256];
	for (uint32_t i = 0; i < events; i++) {
		event_line(i, line, sizeof(line));
		fputs(line, f);
	}
	fclose(f);
	int fd = open(in_dir("events.jsonl"), O_RDONLY);
	cr_assert_geq(fd, 0);
	struct source_file_range range;
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LINES, &range), 1);
	struct source *src;
	cr_assert_eq(source_file_new(fd, "events.jsonl", &range, &src), 0);

	start(src);
	cr_assert_eq(worker_join(&w), 0);
	source_destroy(src);
	close(fd);

	uint64_t bad = 0, decoded = 0, user_misses = 0;
	for (uint32_t i = 0; i < events; i++) {
		bad += malformed(i);
		decoded += !malformed(i);
		user_misses += !malformed(i) && i % 3 == 2;
	}
	struct worker_stats *st = &w.stats;
	cr_expect_eq(atomic_load(&st->events_in), events);
	cr_expect_eq(atomic_load(&st->rows_out), decoded);
	cr_expect_eq(atomic_load(&st->rows_sealed), rows_of(0, events));
	/* Every tenth event is a dead letter: malformed, or else a miss of the inner join. */
	cr_expect_eq(atomic_load(&st->dead_letters), events / 10);
	cr_expect_eq(atomic_load(&st->decode_errors[-EVENT_ERR_SYNTAX]), bad);
	cr_expect_eq(atomic_load(&st->lookups[0]), decoded);
	cr_expect_eq(atomic_load(&st->misses[0]), user_misses);
	cr_expect_geq(atomic_load(&st->epochs), 1);
	cr_expect_eq(atomic_load(&st->latency_count), rows_of(0, events));
	cr_expect_eq(dead_letter_lines(), atomic_load(&st->dead_letters));

	read_sealed();
	expect_rows(0, events, "DE");
	expect_handed(events);
}

/* A pipe source: the worker is alive between the test's writes. */
static struct source *pipe_source(int *wfd)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	struct source_file_range range;
	cr_assert_eq(source_file_split(fds[0], 4, SOURCE_FILE_LINES, &range), 1);
	struct source *src;
	cr_assert_eq(source_file_new(fds[0], "stdin", &range, &src), 0);
	*wfd = fds[1];
	return src;
}

static void write_events(int fd, uint32_t from, uint32_t to)
{
	char line[256];
	for (uint32_t i = from; i < to; i++) {
		int n = event_line(i, line, sizeof(line));
		cr_assert_eq(write(fd, line, (size_t)n), n);
	}
}

Test(worker, flush_closes_an_epoch_and_hands_offsets_in_order)
{
	int wfd;
	struct source *src = pipe_source(&wfd);
	start(src);

	/* An epoch with dead letters may also close by itself once the pipe is quiet: either
	 * way, after the flush everything taken is sealed and handed off. */
	write_events(wfd, 0, 100);
	wait_events(100);
	flush();
	read_sealed();
	expect_rows(0, 100, "DE");
	expect_handed(100);

	write_events(wfd, 100, 250);
	wait_events(250);
	flush();
	read_sealed();
	expect_rows(0, 250, "DE");
	expect_handed(250);

	/* Nothing new: a flush seals nothing and hands nothing. */
	uint32_t before = handed_n;
	uint64_t epochs = atomic_load(&w.stats.epochs);
	flush();
	cr_expect_eq(handed_n, before);
	cr_expect_eq(atomic_load(&w.stats.epochs), epochs);

	atomic_store(&stop_flag, true);
	cr_assert_eq(worker_join(&w), 0);
	source_destroy(src);
	close(wfd);
}

Test(worker, stop_seals_what_was_taken)
{
	int wfd;
	struct source *src = pipe_source(&wfd);
	start(src);
	write_events(wfd, 0, 120);
	wait_events(120);
	/* The pipe stays open: the worker must see the stop within its poll timeout. */
	atomic_store(&stop_flag, true);
	cr_assert_eq(worker_join(&w), 0);
	read_sealed();
	expect_rows(0, 120, "DE");
	expect_handed(120);
	source_destroy(src);
	close(wfd);
}

Test(worker, the_end_of_the_input_seals_it_all)
{
	int wfd;
	struct source *src = pipe_source(&wfd);
	start(src);
	write_events(wfd, 0, 77);
	close(wfd);
	cr_assert_eq(worker_join(&w), 0);
	read_sealed();
	expect_rows(0, 77, "DE");
	source_destroy(src);
}

Test(worker, a_published_set_is_joined_from_the_next_batch)
{
	int wfd;
	struct source *src = pipe_source(&wfd);
	start(src);
	write_events(wfd, 0, 90);
	wait_events(90);
	flush();

	/* user 1 moves to FR: a new table for users, the others shared; published while the
	 * worker runs, the old set freed two grace periods later. */
	write_file("users.tsv", "user_id\tcountry\tplan\n1\tFR\tpro\n2\tUS\tfree\n3\tJP\tteam\n");
	struct dimset *next, *old;
	unsigned reloaded = 0;
	cr_assert_eq(dimset_load(cfg, dimpub_get(&pub, 0), 1, -1, NULL, &next, &reloaded), 0);
	cr_assert_eq(reloaded, 1);
	dimpub_publish(&pub, &next, &old);
	dimpub_retire(&old, 1);

	write_events(wfd, 90, 180);
	wait_events(180);
	atomic_store(&stop_flag, true);
	cr_assert_eq(worker_join(&w), 0);
	source_destroy(src);
	close(wfd);

	read_sealed();
	cr_assert_eq(rows_n, rows_of(0, 180));
	for (size_t k = 0; k < rows_n; k++) {
		const struct row *r = &rows[k];
		const char *want = r->user_id == 2 ? "US"
				   : r->offset < 90 ? (r->user_id == 1 ? "DE" : "")
				   : (r->user_id == 1 ? "FR" : "JP");
		cr_expect_str_eq(r->country, want, "offset %" PRIu64 " user %" PRIu64, r->offset,
				 r->user_id);
	}
	cr_expect_gt(atomic_load(&w.stats.reload_stall_ns_max), 0);
}

/*
 * A dead letter whose write fails with an error retrying cannot fix (EFBIG here: a file-size
 * limit below the 3 MB line) stops the worker without sealing anything of its epoch: the message
 * is in neither a segment nor the dead-letter file, so its offset must not be handed off. It used
 * to be logged and lost while the epoch sealed.
 */
Test(worker, a_dead_letter_that_cannot_be_written_stops_without_sealing)
{
	FILE *f = fopen(in_dir("events.jsonl"), "w");
	cr_assert_not_null(f);
	char line[256];
	for (uint32_t i = 0; i < 40; i++) {
		if (i == 20) {
			for (size_t k = 0; k < ((size_t)3 << 20); k++)
				fputc('x', f);
			fputc('\n', f);
			continue;
		}
		event_line(i, line, sizeof(line));
		fputs(line, f);
	}
	fclose(f);
	int fd = open(in_dir("events.jsonl"), O_RDONLY);
	cr_assert_geq(fd, 0);
	struct source_file_range range;
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LINES, &range), 1);
	struct source *src;
	cr_assert_eq(source_file_new(fd, "events.jsonl", &range, &src), 0);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	lim.rlim_cur = (rlim_t)2 << 20;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

	start(src);
	cr_expect_eq(worker_join(&w), -EFBIG);
	source_destroy(src);
	close(fd);
	cr_expect_eq(handed_n, 0, "nothing handed off");
	cr_expect_eq(atomic_load(&w.stats.rows_sealed), 0);
	cr_expect_eq(atomic_load(&w.stats.epochs), 0);
}

/*
 * A live users table changes while the worker runs: a new country value (appended to the
 * dictionary after the load) and a new key. The block that already holds rows takes the new
 * codes (its dictionary's count grows under it), and every row is joined with the version of
 * its time.
 */
Test(worker, a_live_table_changes_under_open_blocks)
{
	/* The users table of the set, loaded again live. */
	struct dimset *set = (struct dimset *)dimpub_get(&pub, 0);
	static const struct dim_attr_spec attrs[] = {
		{"country", DIM_TYPE_LC_STRING, false},
		{"plan", DIM_TYPE_LC_STRING, false},
	};
	struct dim_spec spec = {.name = "users", .path = set->dims[0].cfg->source,
				.key_column = "user_id", .key_type = DIM_TYPE_UINT64,
				.attrs = attrs, .attr_count = 2, .threads = 1, .live = true};
	struct dim *live;
	cr_assert_eq(dim_load(&spec, &live, NULL), 0);
	dim_free(set->dims[0].table->dim);
	set->dims[0].table->dim = live;
	for (unsigned a = 0; a < 2; a++)
		set->dims[0].cols[a] = dim_col(live, a);

	int wfd;
	struct source *src = pipe_source(&wfd);
	start(src);
	write_events(wfd, 0, 60);
	wait_events(60);
	const struct dim_str nz[] = {{"NZ", 2}, {"pro", 3}}, jp[] = {{"JP", 2}, {"team", 4}};
	char err[128];
	cr_assert_eq(dim_upsert_u64(live, 1, nz, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dim_upsert_u64(live, 3, jp, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dim_changes_publish(live), 0);
	write_events(wfd, 60, 110);
	wait_events(110);
	atomic_store(&stop_flag, true);
	cr_assert_eq(worker_join(&w), 0);
	source_destroy(src);
	close(wfd);

	read_sealed();
	cr_assert_eq(rows_n, rows_of(0, 110));
	cr_assert_lt(rows_n, 100, "the rows fit one block");
	for (size_t k = 0; k < rows_n; k++) {
		const struct row *r = &rows[k];
		const char *want = r->user_id == 2 ? "US"
				   : r->offset < 60 ? (r->user_id == 1 ? "DE" : "")
				   : (r->user_id == 1 ? "NZ" : "JP");
		cr_expect_str_eq(r->country, want, "offset %" PRIu64 " user %" PRIu64, r->offset,
				 r->user_id);
	}
	cr_expect_eq(atomic_load(&w.stats.blocks), 1, "one block held the rows of both versions");
}
