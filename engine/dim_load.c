/*
 * dim_load: loads a dimension table from a ClickHouse TSVWithNames, CSVWithNames or Native
 * source -- the orchestration. The source is opened and mapped, its header or blocks read
 * (dim_text.h, dim_native.h), split at row boundaries (blocks for Native) into one chunk per
 * thread, parsed in parallel into parts (dim_part.h) whose LowCardinality dictionaries are then
 * merged in source order, and dim_build (dim_build.h) fills the table. Contract in dim.h.
 *
 * A source file rewritten or truncated while it is read must fail the load, never the process:
 * the mapping is guarded (map_guard.h: a read past a new end gives zeros, not SIGBUS), and the
 * file's identity (device, inode, size and modification time) is taken when it is
 * opened and compared once the table is built, when nothing reads the mapping any more.
 */
#include "dim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dim_build.h"
#include "dim_errf.h"
#include "dim_native.h"
#include "dim_part.h"
#include "dim_rows.h"
#include "dim_text.h"
#include "log.h"
#include "map_guard.h"

#define DIM_CHUNK_BYTES_MIN 4096                  /* smaller chunks are not worth a thread */
#define DIM_PROGRESS_BYTES_MIN ((size_t)64 << 20) /* sources this large log their progress */

struct dim_chunk;

struct dim_loader {
	const struct dim_spec *spec;
	struct dim_layout_spec ls;
	const char *name; /* of the dimension, for messages */
	const char *path; /* names the source in messages */
	const char *data;
	size_t len;
	bool mapped;
	int fd;                  /* the source file, open until the table is built; -1: none */
	struct stat opened;      /* its identity when opened */
	struct map_guard guard;  /* of the mapping */
	enum dim_format format;
	struct dim_text text;            /* TSV, CSV */
	struct dim_native_source native; /* Native */
	const struct dim_row_source *rows; /* neither: a source the caller reads (dim_rows.h) */
	bool progress;           /* log progress while parsing */
	struct timespec started; /* of the load */
	unsigned chunk_count;
	struct dim_chunk *chunks;  /* DIM_THREADS_MAX */
	struct dim_part *parts;    /* DIM_THREADS_MAX */
	struct dim_lc_map *dicts;  /* DIM_ATTR_MAX: the merged dictionaries */
	/* The chunks' dim_parse_ctl: 1 + the lowest failed chunk, or 1 + chunk_count while none
	 * failed (a chunk's ctl index is 1 + its index); 0 stops every chunk: a cancel. */
	_Atomic unsigned first_failed;
	_Atomic uint64_t progress_rows;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned done;
};

struct dim_chunk {
	struct dim_loader *L;
	unsigned index;
	size_t begin, end; /* text: bytes whose rows start here; Native: blocks */
	size_t stop;       /* text: end of the last row parsed */
	size_t rows_hint;  /* rows expected, to size the part's arrays once */
	int rc;
	size_t err_pos;     /* text: offset of the failing row */
	uint64_t err_block; /* Native: 1-based block of the failure */
	char err[DIM_ERR_MAX];
	pthread_t thread;
};

static double dim_elapsed(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* ---- parsing in chunks ---- */

/* Parses the chunk's rows (text) or blocks (Native) into its part. */
static void dim_chunk_parse(struct dim_chunk *c)
{
	struct dim_loader *L = c->L;
	struct dim_part *part = &L->parts[c->index];
	if (c->rows_hint && dim_part_reserve(part, &L->ls, c->rows_hint) != 0)
		c->rows_hint = 0; /* grow as needed instead */
	struct dim_parse_ctl ctl = {&L->progress_rows, &L->first_failed, c->index + 1};
	if (L->rows)
		c->rc = L->rows->parse(L->rows->ctx, c->index, &L->ls, part, &ctl, c->err,
				       sizeof(c->err));
	else if (L->format == DIM_FORMAT_NATIVE)
		c->rc = dim_native_parse(&L->native, &L->ls, c->begin, c->end, part, &ctl, c->err,
					 sizeof(c->err), &c->err_block);
	else
		c->rc = dim_text_parse(&L->text, &L->ls, c->begin, c->end, part, &ctl, &c->stop,
				       &c->err_pos, c->err);
}

static void *dim_chunk_thread(void *arg)
{
	struct dim_chunk *c = arg;
	struct dim_loader *L = c->L;
	dim_chunk_parse(c);
	pthread_mutex_lock(&L->mu);
	L->done++;
	pthread_cond_signal(&L->cv);
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

/* Whether the caller cancelled the load (dim_spec.cancel). */
static bool dim_cancelled(const struct dim_loader *L)
{
	return L->spec->cancel && atomic_load_explicit(L->spec->cancel, memory_order_acquire);
}

/*
 * Waits for running chunk threads, logging progress each second on large sources; looks at the
 * cancel flag every DIM_CANCEL_CHECK_MS and, once it is set, stops every chunk at its next row.
 */
static void dim_wait_chunks(struct dim_loader *L, unsigned running)
{
	double logged_s = 0;
	pthread_mutex_lock(&L->mu);
	while (L->done < running) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += DIM_CANCEL_CHECK_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		int rc = pthread_cond_timedwait(&L->cv, &L->mu, &until);
		if (rc != ETIMEDOUT)
			continue;
		if (dim_cancelled(L))
			atomic_store(&L->first_failed, 0);
		double secs = dim_elapsed(&L->started);
		if (L->progress && secs - logged_s >= 1.0) {
			uint64_t rows = atomic_load_explicit(&L->progress_rows, memory_order_relaxed);
			log_info("dim", "%s: %" PRIu64 " rows parsed (%.2fM rows/s)", L->name,
				 rows, secs > 0 ? (double)rows / secs / 1e6 : 0.0);
			logged_s = secs;
		}
	}
	pthread_mutex_unlock(&L->mu);
}

/* Runs every chunk on its own thread. */
static void dim_run_chunks(struct dim_loader *L)
{
	bool started[DIM_THREADS_MAX] = {false};
	L->done = 0;
	atomic_store(&L->progress_rows, 0);
	atomic_store(&L->first_failed, L->chunk_count + 1);
	unsigned running = 0;
	for (unsigned i = 0; i < L->chunk_count; i++) {
		started[i] = pthread_create(&L->chunks[i].thread, NULL, dim_chunk_thread,
					    &L->chunks[i]) == 0;
		running += started[i];
	}
	dim_wait_chunks(L, running);
	/* A chunk whose thread could not start is parsed here. */
	for (unsigned i = 0; i < L->chunk_count; i++) {
		if (started[i])
			pthread_join(L->chunks[i].thread, NULL);
		else
			dim_chunk_thread(&L->chunks[i]);
	}
}

static void dim_free_parts(struct dim_loader *L, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dim_part_free(&L->parts[i], &L->ls);
}

static int dim_init_parts(struct dim_loader *L, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = dim_part_init(&L->parts[i], &L->ls);
		if (rc) {
			dim_free_parts(L, i + 1);
			return rc;
		}
	}
	return 0;
}

/* Block bounds of n chunks of a Native source, balanced by rows. */
static void dim_native_split(const struct dim_native_source *src, unsigned n, size_t *bounds)
{
	size_t b = 0, seen = 0;
	bounds[0] = 0;
	for (unsigned k = 1; k < n; k++) {
		size_t want = src->rows / n * k + src->rows % n * k / n;
		while (b < src->block_count && seen + src->blocks[b].rows <= want)
			seen += src->blocks[b++].rows;
		bounds[k] = b;
	}
	bounds[n] = src->block_count;
}

/* Sets up n chunks over the source: byte ranges (text) or block ranges balanced by rows. */
static void dim_plan_chunks(struct dim_loader *L, unsigned n)
{
	size_t bounds[DIM_THREADS_MAX + 1];
	bool native = L->format == DIM_FORMAT_NATIVE;
	if (L->rows) {
		L->chunk_count = n;
		for (unsigned i = 0; i < n; i++)
			L->chunks[i] = (struct dim_chunk){.L = L, .index = i,
							  .rows_hint = L->rows->rows_hint / n};
		return;
	}
	if (native)
		dim_native_split(&L->native, n, bounds);
	else
		dim_text_split(&L->text, n, bounds);
	/* Text: rows per byte from the first MiB of rows (a generous guess costs only address
	 * space: the arrays' pages are touched as rows arrive). */
	double rows_per_byte = native ? 0 : dim_text_rows_per_byte(&L->text);
	L->chunk_count = n;
	for (unsigned i = 0; i < n; i++) {
		struct dim_chunk *c = &L->chunks[i];
		*c = (struct dim_chunk){.L = L, .index = i, .begin = bounds[i], .end = bounds[i + 1]};
		if (native) {
			for (size_t b = c->begin; b < c->end; b++)
				c->rows_hint += L->native.blocks[b].rows;
		} else {
			c->rows_hint = (size_t)((double)(c->end - c->begin) * rows_per_byte * 1.1) + 64;
		}
	}
}

/* True when every text chunk before the first failed one ended where the next one starts. */
static bool dim_text_chunks_agree(const struct dim_loader *L)
{
	unsigned failed = atomic_load(&L->first_failed) - 1; /* a cancel is seen after */
	for (unsigned i = 0; i + 1 < L->chunk_count && i < failed; i++) {
		if (L->chunks[i].stop != L->chunks[i + 1].begin)
			return false;
	}
	return true;
}

/* "path: block N: reason" (Native) or "path:line: reason" (text) of the first failed chunk. */
static int dim_parse_error(const struct dim_loader *L, const struct dim_chunk *c, char *err,
			   size_t err_len, uint64_t *err_line)
{
	if (L->rows) {
		snprintf(err, err_len, "%s: %s", L->path, c->err);
	} else if (L->format == DIM_FORMAT_NATIVE) {
		*err_line = c->err_block;
		snprintf(err, err_len, "%s: block %" PRIu64 ": %s", L->path, c->err_block, c->err);
	} else {
		*err_line = dim_text_line(&L->text, c->err_pos);
		snprintf(err, err_len, "%s:%" PRIu64 ": %s", L->path, *err_line, c->err);
	}
	return c->rc;
}

/*
 * Parses the source into n parts. On failure writes "path:line: reason" to err (the first
 * failing row in source order) and sets *err_line. Returns 0 or -errno.
 */
static int dim_parse(struct dim_loader *L, unsigned n, char *err, size_t err_len,
		     uint64_t *err_line)
{
	int rc = dim_init_parts(L, n);
	if (rc)
		return rc;
	dim_plan_chunks(L, n);
	dim_run_chunks(L);
	if (atomic_load(&L->first_failed) == 0 || dim_cancelled(L)) {
		snprintf(err, err_len, "%s: load cancelled", L->path);
		return -ECANCELED;
	}
	if (!L->rows && L->format != DIM_FORMAT_NATIVE && !dim_text_chunks_agree(L)) {
		log_warn("dim", "%s: quotes in %s do not split evenly; parsing in one piece",
			 L->name, L->path);
		dim_free_parts(L, n);
		return dim_parse(L, 1, err, err_len, err_line);
	}
	unsigned failed = atomic_load(&L->first_failed) - 1;
	return failed == n ? 0 : dim_parse_error(L, &L->chunks[failed], err, err_len, err_line);
}

/* Merges the parts' dictionaries in part order into L->dicts and fills the parts' remaps. */
static int dim_merge_dicts(struct dim_loader *L, char *err, size_t err_len)
{
	for (unsigned a = 0; a < L->ls.attr_count; a++) {
		if (L->ls.type[a] != DIM_TYPE_LC_STRING)
			continue;
		struct dim_lc_map *dict = &L->dicts[a];
		int rc = dim_lc_map_init(dict);
		if (rc)
			return rc;
		for (unsigned i = 0; i < L->chunk_count; i++) {
			struct dim_part *p = &L->parts[i];
			const struct dim_lc_map *m = &p->lc[a];
			p->remap[a] = malloc(m->count * sizeof(*p->remap[a]));
			if (!p->remap[a])
				return -ENOMEM;
			p->remap[a][0] = 0;
			for (uint32_t c = 1; c < m->count && !rc; c++)
				rc = dim_lc_map_intern(dict, m->vals[c].ptr, m->vals[c].len,
						       &p->remap[a][c]);
			if (rc) {
				snprintf(err, err_len, "column '%s': dictionary too large",
					 L->ls.name[a]);
				return rc;
			}
		}
	}
	return 0;
}

/* ---- the source ---- */

static int dim_check_spec(const struct dim_spec *spec, struct dim_layout_spec *ls, char *err,
			  size_t err_len)
{
	int rc = dim_layout_spec_init(ls, spec, err, err_len);
	if (rc)
		return rc;
	if (spec->load_factor_pct && (spec->load_factor_pct < 50 || spec->load_factor_pct > 90)) {
		snprintf(err, err_len, "load factor %u%% is outside 50..90", spec->load_factor_pct);
		return -EINVAL;
	}
	if (!spec->data && !spec->path) {
		snprintf(err, err_len, "no source: neither a path nor data");
		return -EINVAL;
	}
	if ((unsigned)spec->huge_mode > HUGE_MODE_4K || (unsigned)spec->format > DIM_FORMAT_NATIVE) {
		snprintf(err, err_len, "unknown page mode or format");
		return -EINVAL;
	}
	return 0;
}

static int dim_format_of(const struct dim_spec *spec, enum dim_format *out, char *err,
			 size_t err_len)
{
	if (spec->format != DIM_FORMAT_AUTO) {
		*out = spec->format;
		return 0;
	}
	const char *dot = spec->path ? strrchr(spec->path, '.') : NULL;
	static const char *const ext[] = {NULL, ".tsv", ".csv", ".native"};
	for (int f = DIM_FORMAT_TSV; dot && f <= DIM_FORMAT_NATIVE; f++) {
		if (strcasecmp(dot, ext[f]) == 0) {
			*out = (enum dim_format)f;
			return 0;
		}
	}
	snprintf(err, err_len, "%s: cannot tell the format from the extension (.tsv, .csv, .native)",
		 spec->path ? spec->path : "source");
	return -EINVAL;
}

static const char *const dim_format_names[] = {"auto", "tsv", "csv", "native"};

int dim_format_parse(const char *name, enum dim_format *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, dim_format_names[i]) == 0) {
			*out = (enum dim_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *dim_format_name(enum dim_format format)
{
	return (unsigned)format < 4 ? dim_format_names[format] : "?";
}

/*
 * Maps spec->path (read-only, read-ahead advised) into L->data. Only a regular file is read: the
 * path may have been replaced since the configuration was checked, and a FIFO, a device or a
 * directory would block the open or the read, or never end. O_NONBLOCK makes the open of a FIFO
 * return at once, so the check can refuse it; it changes nothing for a regular file.
 */
static int dim_map_file(struct dim_loader *L, char *err, size_t err_len)
{
	const char *path = L->spec->path;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, err_len, "cannot stat %s: %s", path, strerror(-rc));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, err_len, "%s is not a regular file (a %s): refused, it could block "
			 "the load or never end", path, S_ISFIFO(st.st_mode) ? "FIFO"
			 : S_ISDIR(st.st_mode) ? "directory" : S_ISSOCK(st.st_mode) ? "socket"
			 : "device");
		goto out_close;
	}
	L->len = (size_t)st.st_size;
	if (L->len > 0) {
		void *m = mmap(NULL, L->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			rc = -errno;
			snprintf(err, err_len, "cannot map %s: %s", path, strerror(-rc));
			goto out_close;
		}
		rc = map_guard_add(&L->guard, m, L->len);
		if (rc < 0) {
			snprintf(err, err_len, "cannot guard the mapping of %s: %s", path,
				 strerror(-rc));
			munmap(m, L->len);
			goto out_close;
		}
		madvise(m, L->len, MADV_WILLNEED);
		L->data = m;
		L->mapped = true;
	}
	L->fd = fd;
	L->opened = st;
	return 0;

out_close:
	close(fd);
	return rc;
}

/* The source file changed since it was opened: a read of its mapping faulted, or its size or
 * modification time moved. */
static bool dim_source_changed(const struct dim_loader *L)
{
	if (L->fd < 0)
		return false;
	struct stat now;
	if (map_guard_faulted(&L->guard) || fstat(L->fd, &now) != 0)
		return true;
	const struct stat *was = &L->opened;
	/* Not the change time: a rename over the path unlinks the file being read, which moves
	 * its ctime although its bytes stay as they were. */
	return now.st_size != was->st_size || now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
	       now.st_mtim.tv_nsec != was->st_mtim.tv_nsec;
}

static int dim_open_source(struct dim_loader *L, char *err, size_t err_len)
{
	if (L->spec->data) {
		L->data = L->spec->data;
		L->len = L->spec->data_len;
	} else {
		int rc = dim_map_file(L, err, err_len);
		if (rc)
			return rc;
	}
	if (L->len == 0) {
		snprintf(err, err_len, "%s: empty source (no header)", L->path);
		return -EINVAL;
	}
	return 0;
}

static void dim_close_source(struct dim_loader *L)
{
	dim_native_source_free(&L->native);
	map_guard_remove(&L->guard);
	if (L->mapped)
		munmap((void *)(uintptr_t)L->data, L->len);
	L->mapped = false;
	if (L->fd >= 0)
		close(L->fd);
	L->fd = -1;
}

static unsigned dim_thread_count(const struct dim_spec *spec)
{
	long n = spec->threads ? (long)spec->threads : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > DIM_THREADS_MAX)
		n = DIM_THREADS_MAX;
	return (unsigned)n;
}

/*
 * Reads the source's structure -- a Native source's blocks, a text source's header -- and sets
 * *chunks, the number of chunks to parse it in with up to threads threads. Errors name the
 * source and the block or line.
 */
static int dim_read_structure(struct dim_loader *L, unsigned threads, unsigned *chunks,
			      struct dim_load_stats *stats)
{
	char reason[sizeof(stats->error)] = "";
	size_t n;
	if (L->format == DIM_FORMAT_NATIVE) {
		int rc = dim_native_scan(L->spec, (const uint8_t *)L->data, L->len, &L->native,
					 reason, sizeof(reason), &stats->error_line);
		if (rc) {
			dim_errf(stats->error, sizeof(stats->error), "%s: block %" PRIu64 ": %s",
				 L->path, stats->error_line, reason);
			return rc;
		}
		n = L->native.block_count;
	} else {
		L->text = (struct dim_text){.data = L->data, .len = L->len,
					    .csv = L->format == DIM_FORMAT_CSV};
		int rc = dim_text_header(&L->text, L->spec, reason, sizeof(reason),
					 &stats->error_line);
		if (rc) {
			dim_errf(stats->error, sizeof(stats->error), "%s:%s%s", L->path,
				 stats->error_line ? "1: " : " ", reason);
			return rc;
		}
		n = (L->len - L->text.body) / DIM_CHUNK_BYTES_MIN;
	}
	*chunks = n == 0 ? 1 : n < threads ? (unsigned)n : threads;
	return 0;
}

/* ---- the load ---- */

/* Logs the first duplicate key (the build reports where it is). */
static void dim_log_duplicates(const struct dim_loader *L, const struct dim_build_stats *bs)
{
	if (!bs->duplicates || bs->first_dup_part >= L->chunk_count)
		return;
	uint64_t row = bs->first_dup_row + 1;
	for (unsigned i = 0; i < bs->first_dup_part; i++)
		row += L->parts[i].rows;
	const struct dim_part *p = &L->parts[bs->first_dup_part];
	char key[64];
	if (L->ls.key_type == DIM_TYPE_UINT64) {
		snprintf(key, sizeof(key), "%" PRIu64, p->key_u64[bs->first_dup_row]);
	} else {
		struct dim_str k = p->key_str[bs->first_dup_row];
		dim_quote(key, sizeof(key), k.ptr, k.len);
	}
	log_warn("dim", "%s: %" PRIu64 " duplicate keys in %s (the later row wins); the first is "
		 "key '%s' at data row %" PRIu64, L->name, bs->duplicates, L->path, key, row);
}

/* Fills stats from the new table and logs the load's one summary line. */
static void dim_load_summary(const struct dim_loader *L, const struct dim *d, double parsed_s,
			     struct dim_load_stats *stats)
{
	stats->rows = dim_rows(d);
	stats->bytes = dim_bytes(d);
	stats->huge_mode = dim_huge_mode(d);
	stats->seconds = dim_elapsed(&L->started);
	stats->rows_per_s = stats->seconds > 0 ? (double)stats->source_rows / stats->seconds : 0;
	log_info("dim", "%s: %zu rows from %s in %.2f s (parse %.2f s, build %.2f s; %.2fM rows/s, "
		 "%u threads): %zu MiB (%.1f B/row), %zu slots of %zu B (%s)", L->name, dim_rows(d),
		 L->path, stats->seconds, parsed_s, stats->seconds - parsed_s,
		 stats->rows_per_s / 1e6, stats->threads, dim_bytes(d) >> 20,
		 dim_rows(d) ? (double)dim_bytes(d) / (double)dim_rows(d) : 0.0, dim_capacity(d),
		 dim_slot_bytes(d), huge_mode_name(dim_huge_mode(d)));
}

/* Builds the table from the parsed parts (dictionaries merged) and reports it. */
static int dim_load_build(struct dim_loader *L, unsigned threads, double parsed_s,
			  struct dim **out, struct dim_load_stats *stats)
{
	for (unsigned i = 0; i < L->chunk_count; i++)
		stats->source_rows += L->parts[i].rows;
	if (stats->source_rows == 0)
		log_warn("dim", "%s: %s has no row (a header only): the table is empty, every "
			 "lookup misses", L->name, L->path);
	struct dim_build_input in = {.spec = L->spec, .ls = &L->ls, .parts = L->parts,
		.part_count = L->chunk_count, .dicts = L->dicts, .threads = threads};
	struct dim_build_stats bs;
	int rc = dim_build(&in, out, &bs, stats->error, sizeof(stats->error));
	if (rc)
		return rc;
	dim_log_duplicates(L, &bs);
	stats->duplicates = bs.duplicates;
	dim_load_summary(L, *out, parsed_s, stats);
	return 0;
}

/* -ECANCELED (the error said) once the caller cancelled the load, else 0: between the steps. */
static int dim_cancel_check(const struct dim_loader *L, struct dim_load_stats *stats)
{
	if (!dim_cancelled(L))
		return 0;
	snprintf(stats->error, sizeof(stats->error), "%s: load cancelled", L->path);
	return -ECANCELED;
}

/* Parses the source in n chunks and builds the table from it. */
static int dim_load_chunks(struct dim_loader *L, unsigned n, unsigned threads,
			   struct dim **out, struct dim_load_stats *stats)
{
	stats->threads = n;
	int rc = dim_parse(L, n, stats->error, sizeof(stats->error), &stats->error_line);
	stats->threads = L->chunk_count;
	if (rc)
		goto out_parts;
	double parsed_s = dim_elapsed(&L->started);
	rc = dim_merge_dicts(L, stats->error, sizeof(stats->error));
	if (!rc)
		rc = dim_cancel_check(L, stats);
	if (!rc)
		rc = dim_load_build(L, threads, parsed_s, out, stats);
	for (unsigned a = 0; a < DIM_ATTR_MAX; a++)
		dim_lc_map_free(&L->dicts[a]);
out_parts:
	dim_free_parts(L, L->chunk_count);
	return rc;
}

/* Parses the open source with up to threads threads and builds the table from it. */
static int dim_load_source(struct dim_loader *L, unsigned threads, struct dim **out,
			   struct dim_load_stats *stats)
{
	unsigned n;
	int rc = dim_cancel_check(L, stats);
	if (!rc)
		rc = dim_read_structure(L, threads, &n, stats);
	if (rc)
		return rc;
	return dim_load_chunks(L, n, threads, out, stats);
}

/* The loader's state and its arrays (zeroed). NULL when out of memory. */
static struct dim_loader *dim_loader_new(const struct dim_spec *spec)
{
	struct dim_loader *L = calloc(1, sizeof(*L));
	if (!L)
		return NULL;
	L->dicts = calloc(DIM_ATTR_MAX, sizeof(*L->dicts));
	L->chunks = calloc(DIM_THREADS_MAX, sizeof(*L->chunks));
	L->parts = calloc(DIM_THREADS_MAX, sizeof(*L->parts));
	if (!L->dicts || !L->chunks || !L->parts) {
		free(L->dicts);
		free(L->chunks);
		free(L->parts);
		free(L);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &L->started);
	L->spec = spec;
	L->fd = -1;
	L->guard.slot = -1;
	L->name = spec->name ? spec->name : "dim";
	L->path = spec->path ? spec->path : "<memory>";
	pthread_mutex_init(&L->mu, NULL);
	pthread_cond_init(&L->cv, NULL);
	return L;
}

static void dim_loader_free(struct dim_loader *L)
{
	pthread_cond_destroy(&L->cv);
	pthread_mutex_destroy(&L->mu);
	free(L->parts);
	free(L->chunks);
	free(L->dicts);
	free(L);
}

/* The identity of the source file as opened, for the caller to see a later change. */
static void dim_source_identity(const struct dim_loader *L, struct dim_load_stats *stats)
{
	if (L->fd < 0)
		return;
	stats->source_dev = (uint64_t)L->opened.st_dev;
	stats->source_ino = (uint64_t)L->opened.st_ino;
	stats->source_mtime_ns = (int64_t)L->opened.st_mtim.tv_sec * 1000000000 +
				 L->opened.st_mtim.tv_nsec;
}

int dim_load(const struct dim_spec *spec, struct dim **out, struct dim_load_stats *stats)
{
	struct dim_load_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!spec || !out)
		return -EINVAL;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct dim_loader *L = dim_loader_new(spec);
	if (!L) {
		snprintf(stats->error, sizeof(stats->error), "out of memory");
		log_error("dim", "%s: load failed: %s", spec->name ? spec->name : "dim",
			  stats->error);
		return -ENOMEM;
	}
	struct dim *d = NULL;
	int rc = dim_check_spec(spec, &L->ls, stats->error, sizeof(stats->error));
	if (!rc)
		rc = dim_format_of(spec, &L->format, stats->error, sizeof(stats->error));
	if (!rc)
		rc = dim_open_source(L, stats->error, sizeof(stats->error));
	if (!rc) {
		stats->source_bytes = L->len;
		dim_source_identity(L, stats);
		L->progress = L->len >= DIM_PROGRESS_BYTES_MIN;
		rc = dim_load_source(L, dim_thread_count(spec), &d, stats);
	}
	/* Whatever the parse made of a file that changed under it (a parse error included) is
	 * not the file: say so instead. */
	if (dim_source_changed(L)) {
		dim_free(d);
		d = NULL;
		rc = -ESTALE;
		dim_errf(stats->error, sizeof(stats->error), "%s changed while it was read (it "
			 "shrank, or its size or times moved): load abandoned; replace a source "
			 "with rename(2), not in place", L->path);
	}
	dim_close_source(L);
	if (rc) {
		stats->seconds = dim_elapsed(&t0);
		if (!stats->error[0])
			dim_errf(stats->error, sizeof(stats->error), "%s: %s", L->path,
				 strerror(-rc));
		if (rc == -ECANCELED)
			log_info("dim", "%s: %s", L->name, stats->error);
		else
			log_error("dim", "%s: load failed: %s", L->name, stats->error);
	} else {
		*out = d;
	}
	dim_loader_free(L);
	return rc;
}

int dim_load_rows(const struct dim_spec *spec, const struct dim_row_source *src,
		  struct dim **out, struct dim_load_stats *stats)
{
	struct dim_load_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!spec || !src || !out || !src->parse || src->chunks == 0 ||
	    src->chunks > DIM_THREADS_MAX)
		return -EINVAL;
	/* The checks of a file load want a source: the row source's name stands for it. */
	struct dim_spec named = *spec;
	named.path = src->name;
	named.data = NULL;
	struct dim_loader *L = dim_loader_new(&named);
	if (!L) {
		snprintf(stats->error, sizeof(stats->error), "out of memory");
		log_error("dim", "%s: load failed: %s", named.name ? named.name : "dim",
			  stats->error);
		return -ENOMEM;
	}
	L->rows = src;
	L->progress = true; /* a line per second of parsing: the size is not known up front */
	int rc = dim_check_spec(&named, &L->ls, stats->error, sizeof(stats->error));
	if (!rc)
		rc = dim_cancel_check(L, stats);
	if (!rc)
		rc = dim_load_chunks(L, src->chunks, dim_thread_count(spec), out, stats);
	if (rc) {
		stats->seconds = dim_elapsed(&L->started);
		if (!stats->error[0])
			dim_errf(stats->error, sizeof(stats->error), "%s: %s", L->path,
				 strerror(-rc));
		log_error("dim", "%s: load failed: %s", L->name, stats->error);
	}
	dim_loader_free(L);
	return rc;
}
