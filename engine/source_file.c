/*
 * source_file: an input file as a message source (contract in include/source_file.h).
 *
 * The reader keeps one window of input, buf[pos, len): a regular file's whole range, mapped, or
 * what the last reads of a pipe brought into the read buffer. A poll frames the complete
 * messages of the window (lines, or length-prefixed) into messages that point into it; the
 * buffer is moved and refilled only when no complete message is left, so the messages of the
 * batch stay where they are until the next poll, and pausing at one of them moves pos back to
 * it.
 */
#include "source_file.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "map_guard.h"

/* Mapped bytes already taken are given back to the page cache in steps of this size. */
#define SOURCE_FILE_DROP_BYTES ((size_t)64 << 20)
/*
 * How far ahead of the line being framed a mapped input is prefetched. The page cache's pages
 * are 4 KiB and the hardware prefetcher stops at each page's end, so without this every page
 * starts with misses.
 */
#define SOURCE_FILE_AHEAD 4096
/* Bytes read at once while counting lines and finding cut points. */
#define SOURCE_FILE_SCAN_BYTES ((size_t)1 << 20)

struct source_file {
	struct source base;
	int fd;
	struct source_file_range range;
	char *buf;             /* the window: into map, or the read buffer */
	void *map;             /* a regular file's mapped range, or NULL */
	size_t map_len;
	struct map_guard guard; /* of the map: a file truncated under it gives zeros, not SIGBUS */
	size_t map_dropped;    /* bytes at the map's start already given back */
	size_t prefetched;     /* mapped input: buf offset up to which lines were prefetched */
	size_t len, pos;       /* buf[pos, len) is not yet taken */
	int64_t file_pos;      /* where the next read of a pipe or unmapped range starts */
	int64_t line;          /* messages taken (the next one's index in the range) */
	uint64_t skip;         /* a pipe: bytes of a rejected message still to be read and dropped */
	bool eof;
	bool paused;
	bool held;             /* paused at a message (source_pause_partition) */
	bool broken;           /* a bad length prefix: nothing after it can be framed */
	struct source_reject rejects[SOURCE_REJECTS_MAX];
	char heads[SOURCE_REJECTS_MAX][SOURCE_FILE_REJECT_BYTES];
};

/* ---- reading ---- */

/* Fills the read buffer (a pipe); sets eof at the end. Returns 0 or -errno (logged). */
static int file_fill(struct source_file *f)
{
	if (f->map)
		return 0; /* the whole range is mapped */
	if (f->pos > 0) {
		memmove(f->buf, f->buf + f->pos, f->len - f->pos);
		f->len -= f->pos;
		f->pos = 0;
	}
	while (!f->eof && f->len < SOURCE_MSG_BYTES_MAX) {
		size_t want = SOURCE_MSG_BYTES_MAX - f->len;
		ssize_t n;
		if (f->range.end >= 0) {
			int64_t left = f->range.end - f->file_pos;
			if (left <= 0) {
				f->eof = true;
				break;
			}
			if ((int64_t)want > left)
				want = (size_t)left;
			n = pread(f->fd, f->buf + f->len, want, f->file_pos);
		} else {
			n = read(f->fd, f->buf + f->len, want);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			log_error("source", "reading %s: %s", f->base.topic, strerror(-rc));
			return rc;
		}
		if (n == 0) {
			f->eof = true;
			break;
		}
		f->len += (size_t)n;
		f->file_pos += n;
		if (f->range.end < 0)
			break; /* a pipe: take what is there */
	}
	return 0;
}

/* Rejects the message at start by its head (at most head bytes of it are in the window). */
static void file_reject(struct source_file *f, const char *start, size_t head, const char *error,
			const char *reason)
{
	uint32_t k = f->base.reject_count++;
	if (head > SOURCE_FILE_REJECT_BYTES)
		head = SOURCE_FILE_REJECT_BYTES;
	memcpy(f->heads[k], start, head);
	f->rejects[k] = (struct source_reject){
		.msg = {.data = f->heads[k], .len = (uint32_t)head,
			.offset = f->range.first_line + f->line},
		.error = error,
		.reason = reason,
	};
	f->line++;
}

/* Skips the rest of a line that filled the whole read buffer: reads on to its newline. */
static int file_skip_line(struct source_file *f)
{
	f->pos = f->len;
	while (!f->eof) {
		f->len = f->pos = 0;
		int rc = file_fill(f);
		if (rc < 0)
			return rc;
		char *e = memchr(f->buf, '\n', f->len);
		if (e) {
			f->pos = (size_t)(e - f->buf) + 1;
			break;
		}
	}
	return 0;
}

/* Gives mapped bytes already taken back to the page cache, every SOURCE_FILE_DROP_BYTES. */
static void file_drop_taken(struct source_file *f)
{
	size_t taken = (size_t)(f->buf - (char *)f->map) + f->pos;
	if (taken - f->map_dropped < SOURCE_FILE_DROP_BYTES)
		return;
	size_t upto = taken & ~(SOURCE_FILE_DROP_BYTES - 1);
	(void)madvise((char *)f->map + f->map_dropped, upto - f->map_dropped, MADV_DONTNEED);
	f->map_dropped = upto;
}

static inline void file_prefetch(struct source_file *f)
{
	size_t upto = f->pos + SOURCE_FILE_AHEAD;
	upto = upto < f->len ? upto : f->len;
	if (f->prefetched < f->pos)
		f->prefetched = f->pos;
	for (; f->prefetched < upto; f->prefetched += 64)
		__builtin_prefetch(f->buf + f->prefetched);
}

/*
 * Takes the complete lines of the window into msgs[*n..max) (and the too long ones into the
 * rejects) until it has no complete line left, msgs is full or the rejects are. A reject ends
 * the batch when messages were taken before it: it comes first in the next one.
 */
static int file_take_lines(struct source_file *f, struct source_msg *msgs, uint32_t max,
			   uint32_t *n)
{
	while (*n < max && f->base.reject_count < SOURCE_REJECTS_MAX) {
		char *start = f->buf + f->pos;
		size_t avail = f->len - f->pos;
		if (f->map)
			file_prefetch(f);
		char *nl = memchr(start, '\n', avail);
		size_t len;
		if (nl) {
			len = (size_t)(nl - start);
		} else if (f->eof && avail > 0) {
			len = avail; /* the last line has no newline */
		} else if (!f->eof && f->pos == 0 && avail == SOURCE_MSG_BYTES_MAX) {
			/* A line longer than the buffer: reject its head, skip it (no message was
			 * taken before it: the window starts with it). */
			file_reject(f, start, avail, "too_long", "line longer than the input buffer");
			int rc = file_skip_line(f);
			if (rc < 0)
				return rc;
			continue;
		} else {
			break;
		}
		if (len >= SOURCE_MSG_BYTES_MAX && *n > 0)
			break;
		f->pos += len + (nl != NULL);
		if (len >= SOURCE_MSG_BYTES_MAX) {
			/* Mapped input has no buffer, but keeps the same limit. */
			file_reject(f, start, len, "too_long", "line longer than the input buffer");
			continue;
		}
		msgs[(*n)++] = (struct source_msg){
			.data = start,
			.len = (uint32_t)len,
			.offset = f->range.first_line + f->line++,
		};
	}
	return 0;
}

/* The longest message after a length prefix (the prefix and the message fit the buffer). */
#define SOURCE_FILE_LENGTH32_MAX (SOURCE_MSG_BYTES_MAX - 4)

/*
 * Drops the rest of a rejected message: from the window, and for a pipe what is still to come
 * (f->skip, read and dropped by file_skip_bytes).
 */
static void file_drop(struct source_file *f, uint64_t bytes)
{
	uint64_t avail = f->len - f->pos;
	if (bytes <= avail) {
		f->pos += bytes;
		return;
	}
	f->pos = f->len;
	if (!f->map && !f->eof)
		f->skip = bytes - avail;
}

/* A pipe: reads and drops f->skip bytes (the end of a message too long to keep). */
static int file_skip_bytes(struct source_file *f)
{
	while (f->skip > 0 && !f->eof) {
		f->len = f->pos = 0;
		int rc = file_fill(f);
		if (rc < 0)
			return rc;
		size_t drop = f->len < f->skip ? f->len : (size_t)f->skip;
		f->pos = drop;
		f->skip -= drop;
	}
	f->skip = 0;
	return 0;
}

/*
 * One length-prefixed message at the window's start into msgs[*n], or a reject. Returns 1 when
 * it took one (message or reject), 0 when the window holds no complete message (or a reject
 * must wait for the next batch), or -errno.
 */
static int file_take_one_length32(struct source_file *f, struct source_msg *msgs, uint32_t *n)
{
	const char *start = f->buf + f->pos;
	size_t avail = f->len - f->pos;
	if (avail == 0 || (avail < 4 && !f->eof))
		return 0;
	if (avail < 4) {
		if (*n > 0)
			return 0;
		file_reject(f, start, avail, "truncated", "the input ends inside a length prefix");
		f->pos = f->len;
		return 1;
	}
	const unsigned char *u = (const unsigned char *)start;
	uint32_t raw = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
	uint64_t len = raw == UINT32_MAX ? 0 : raw; /* -1: a NULL payload, empty */
	if (raw > INT32_MAX && raw != UINT32_MAX) {
		if (*n > 0)
			return 0;
		log_error("source", "%s: message %" PRId64 ": length prefix %" PRId32 " is not a "
			  "length: the rest of the input cannot be framed and is one dead letter",
			  f->base.topic, f->range.first_line + f->line, (int32_t)raw);
		file_reject(f, start, avail, "bad_length", "a length prefix below -1: the input "
			    "from here on cannot be framed");
		f->pos = f->len;
		f->broken = true;
		return 1;
	}
	if (len > SOURCE_FILE_LENGTH32_MAX || (avail - 4 < len && f->eof)) {
		if (*n > 0)
			return 0;
		bool long_one = len > SOURCE_FILE_LENGTH32_MAX;
		file_reject(f, start + 4, avail - 4, long_one ? "too_long" : "truncated",
			    long_one ? "message longer than the input buffer"
				     : "the input ends inside the message");
		file_drop(f, 4 + len);
		return 1;
	}
	if (avail - 4 < len)
		return 0; /* the rest is still to be read */
	msgs[(*n)++] = (struct source_msg){
		.data = start + 4,
		.len = (uint32_t)len,
		.offset = f->range.first_line + f->line++,
	};
	f->pos += 4 + len;
	return 1;
}

/* As file_take_lines, for length-prefixed messages. */
static int file_take_length32(struct source_file *f, struct source_msg *msgs, uint32_t max,
			      uint32_t *n)
{
	while (*n < max && f->base.reject_count < SOURCE_REJECTS_MAX && !f->broken) {
		if (f->map)
			file_prefetch(f);
		int rc = file_take_one_length32(f, msgs, n);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		if (f->skip > 0 && (rc = file_skip_bytes(f)) < 0)
			return rc;
	}
	if (f->broken && !f->map) {
		f->eof = true; /* nothing after a bad prefix can be framed: stop reading */
		f->pos = f->len;
	}
	return 0;
}

static int file_take(struct source_file *f, struct source_msg *msgs, uint32_t max, uint32_t *n)
{
	return f->range.framing == SOURCE_FILE_LENGTH32 ? file_take_length32(f, msgs, max, n)
							: file_take_lines(f, msgs, max, n);
}

/* ---- the source ---- */

static void file_sleep_ms(uint32_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/*
 * A pipe: whether something (or its end) can be read within timeout_ms. A pipe that stays quiet
 * must not hold the worker: it has a stop flag, flush requests and epoch ages to look at.
 */
static bool file_readable(struct source_file *f, uint32_t timeout_ms)
{
	if (f->map || f->eof)
		return true;
	struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
	int rc = poll(&pfd, 1, (int)timeout_ms);
	return rc != 0; /* an error is left to the read that follows */
}

static int file_poll(struct source *src, struct source_msg *msgs, uint32_t max,
		     uint32_t timeout_ms)
{
	struct source_file *f = (struct source_file *)src;
	uint32_t n = 0;
	f->base.reject_count = 0;
	if (f->paused || f->held) {
		file_sleep_ms(timeout_ms);
		return 0;
	}
	if (f->map)
		file_drop_taken(f); /* the previous batch is processed */
	for (uint32_t wait_ms = timeout_ms;; wait_ms = 0) {
		int rc = file_take(f, msgs, max, &n);
		if (rc < 0)
			return rc;
		/* Framing read every byte of the lines taken: a fault there means the file shrank
		 * under the map, and the lines from there on are zeros, not the input. */
		if (map_guard_faulted(&f->guard)) {
			log_error("source", "%s shrank while it was read (truncated or "
				  "rewritten in place): stopping at line %" PRId64 "; nothing from "
				  "this batch on is sealed", f->base.topic,
				  f->range.first_line + f->line - n);
			return -EIO;
		}
		if (n == max || f->base.reject_count == SOURCE_REJECTS_MAX ||
		    (f->eof && f->pos == f->len))
			break;
		if (n > 0)
			break; /* process what is complete before moving the buffer */
		if (!file_readable(f, wait_ms))
			break; /* nothing came: the worker's turn */
		rc = file_fill(f);
		if (rc < 0)
			return rc;
	}
	f->base.finished = f->eof && f->pos == f->len;
	return (int)n;
}

static void file_release(struct source *src)
{
	(void)src; /* the window moves only in the next poll */
}

static int file_pause(struct source *src)
{
	((struct source_file *)src)->paused = true;
	return 0;
}

static int file_resume(struct source *src)
{
	((struct source_file *)src)->paused = false;
	return 0;
}

/* The reader goes back to m, a message of the batch, and stops there until resumed. */
static int file_pause_partition(struct source *src, const struct source_msg *m)
{
	struct source_file *f = (struct source_file *)src;
	size_t prefix = f->range.framing == SOURCE_FILE_LENGTH32 ? 4 : 0;
	if (m->partition != 0 || m->data < f->buf + prefix || m->data > f->buf + f->len)
		return -ENOENT; /* not a message of this batch */
	f->pos = (size_t)(m->data - f->buf) - prefix;
	f->line = m->offset - f->range.first_line;
	f->held = true;
	f->base.finished = false;
	return 0;
}

static int file_resume_partition(struct source *src, int32_t partition)
{
	if (partition == 0)
		((struct source_file *)src)->held = false;
	return 0;
}

static void file_wake(struct source *src)
{
	(void)src; /* a poll never waits longer than its timeout */
}

static int file_header(const struct source *src, const struct source_msg *m, size_t index,
		       struct source_header *out)
{
	(void)src;
	(void)m;
	(void)index;
	(void)out;
	return -ENOENT; /* a line has no header */
}

static void file_destroy(struct source *src)
{
	struct source_file *f = (struct source_file *)src;
	map_guard_remove(&f->guard);
	if (f->map)
		munmap(f->map, f->map_len);
	else if (f->range.end < 0)
		free(f->buf); /* read through a buffer, not mapped */
	free(f);
}

static const struct source_ops source_file_ops = {
	.poll = file_poll,
	.release = file_release,
	.pause = file_pause,
	.resume = file_resume,
	.pause_partition = file_pause_partition,
	.resume_partition = file_resume_partition,
	.wake = file_wake,
	.header = file_header,
	.destroy = file_destroy,
};

/* Maps the range of a regular file (an empty range maps nothing). Returns 0 or -errno. */
static int file_map(struct source_file *f)
{
	static char empty[1];
	f->eof = true;
	if (f->range.end <= f->range.begin) {
		f->buf = empty; /* nothing to read, but a window to point into */
		return 0;
	}
	int64_t page = sysconf(_SC_PAGESIZE);
	int64_t base = f->range.begin & ~(page - 1);
	size_t len = (size_t)(f->range.end - base);
	void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, f->fd, base);
	if (p == MAP_FAILED) {
		int rc = -errno;
		log_error("source", "mapping %s: %s", f->base.topic, strerror(-rc));
		return rc;
	}
	int rc = map_guard_add(&f->guard, p, len);
	if (rc < 0) {
		log_error("source", "guarding the map of %s: %s", f->base.topic, strerror(-rc));
		munmap(p, len);
		return rc;
	}
	(void)madvise(p, len, MADV_SEQUENTIAL);
	f->map = p;
	f->map_len = len;
	f->buf = (char *)p + (f->range.begin - base);
	f->len = (size_t)(f->range.end - f->range.begin);
	return 0;
}

int source_file_new(int fd, const char *name, const struct source_file_range *range,
		    struct source **out)
{
	struct source_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base = (struct source){.ops = &source_file_ops, .topic = name, .rejects = f->rejects};
	f->guard.slot = -1;
	f->fd = fd;
	f->range = *range;
	f->file_pos = range->begin;
	int rc = 0;
	if (range->end >= 0) {
		rc = file_map(f);
	} else {
		f->buf = malloc(SOURCE_MSG_BYTES_MAX);
		rc = f->buf ? 0 : -ENOMEM;
	}
	if (rc < 0) {
		free(f);
		return rc;
	}
	*out = &f->base;
	return 0;
}

/* ---- splitting ---- */

/* Moves cut (a byte offset of fd) to just after the next newline at or after cut - 1. */
static int64_t file_cut_after_newline(int fd, char *buf, int64_t cut, int64_t size)
{
	while (cut < size) {
		ssize_t n = pread(fd, buf, 4096, cut - 1);
		if (n <= 0)
			break;
		char *nl = memchr(buf, '\n', (size_t)n);
		if (nl) {
			cut += nl - buf;
			break;
		}
		cut += n;
	}
	return cut;
}

/* Adds the newlines of fd's bytes [from, to) to *lines. */
static void file_count_lines(int fd, char *buf, int64_t from, int64_t to, int64_t *lines)
{
	for (int64_t pos = from; pos < to;) {
		size_t want = (size_t)(to - pos < (int64_t)SOURCE_FILE_SCAN_BYTES
					       ? to - pos
					       : (int64_t)SOURCE_FILE_SCAN_BYTES);
		ssize_t n = pread(fd, buf, want, pos);
		if (n <= 0)
			break;
		for (char *c = buf; (c = memchr(c, '\n', (size_t)(buf + n - c))); c++)
			(*lines)++;
		pos += n;
	}
}

/* Line-aligned cuts: each range's first index is the newlines before it. */
static void file_split_lines(int fd, char *buf, int64_t size, uint32_t workers,
			     struct source_file_range *ranges)
{
	int64_t prev = 0, lines = 0;
	for (uint32_t k = 0; k < workers; k++) {
		int64_t cut = k + 1 == workers ? size : size * (k + 1) / workers;
		cut = file_cut_after_newline(fd, buf, cut, size);
		if (cut > size || cut < prev)
			cut = cut < prev ? prev : size;
		ranges[k] = (struct source_file_range){prev, cut, lines, SOURCE_FILE_LINES};
		file_count_lines(fd, buf, prev, cut, &lines);
		prev = cut;
	}
}

/*
 * The length prefix at pos of fd, read through buf (a window of the file at *base, *have bytes;
 * refilled when pos is outside it). Returns the message's bytes, or -1 at a bad prefix or one
 * the file ends inside.
 */
static int64_t file_prefix_at(int fd, char *buf, int64_t *base, size_t *have, int64_t pos)
{
	if (pos < *base || pos + 4 > *base + (int64_t)*have) {
		ssize_t n = pread(fd, buf, SOURCE_FILE_SCAN_BYTES, pos);
		*base = pos;
		*have = n > 0 ? (size_t)n : 0;
		if (*have < 4)
			return -1;
	}
	const unsigned char *u = (const unsigned char *)buf + (pos - *base);
	uint32_t raw = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
	if (raw == UINT32_MAX)
		return 0;
	return raw > INT32_MAX ? -1 : (int64_t)raw;
}

/*
 * Cuts at message starts, walking the length prefixes from the file's start (one read per
 * scan window, not per message). After a bad prefix nothing can be framed: the rest of the file
 * goes to the range that meets it, whose reader rejects it.
 */
static void file_split_length32(int fd, char *buf, int64_t size, uint32_t workers,
				struct source_file_range *ranges)
{
	int64_t pos = 0, prev = 0, index = 0, prev_index = 0, base = 0;
	size_t have = 0;
	for (uint32_t k = 0; k < workers; k++) {
		int64_t target = k + 1 == workers ? size : size * (k + 1) / workers;
		while (pos < target) {
			int64_t len = file_prefix_at(fd, buf, &base, &have, pos);
			if (len < 0 || pos + 4 + len > size) {
				pos = size;
				break;
			}
			pos += 4 + len;
			index++;
		}
		ranges[k] = (struct source_file_range){prev, pos, prev_index, SOURCE_FILE_LENGTH32};
		prev = pos;
		prev_index = index;
	}
}

int source_file_split(int fd, uint32_t workers, enum source_file_framing framing,
		      struct source_file_range *ranges)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		ranges[0] = (struct source_file_range){0, -1, 0, framing};
		return 1;
	}
	if (workers == 1 || st.st_size < SOURCE_FILE_SPLIT_MIN_BYTES) {
		for (uint32_t k = 0; k < workers; k++)
			ranges[k] = (struct source_file_range){0, 0, 0, framing};
		ranges[0].end = st.st_size;
		return (int)workers;
	}
	char *buf = malloc(SOURCE_FILE_SCAN_BYTES);
	if (!buf)
		return -ENOMEM;
	if (framing == SOURCE_FILE_LENGTH32)
		file_split_length32(fd, buf, st.st_size, workers, ranges);
	else
		file_split_lines(fd, buf, st.st_size, workers, ranges);
	free(buf);
	return (int)workers;
}
