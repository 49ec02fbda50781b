#include "manifest.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"

/* ---- parsing ---- */

struct manifest_parsed {
	struct manifest_record rec;
	char topic[MANIFEST_TOPIC_MAX];
	struct manifest_segment *segs;
	size_t segs_cap;
	struct manifest_range *ranges;
	size_t ranges_cap;
};

typedef int (*manifest_visit_fn)(void *ctx, const struct manifest_parsed *p, bool last);

static int manifest_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	void *p = realloc(*arr, n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

/* One line [s, nl) of a record, parsed into p. Returns 0, or -EINVAL for a malformed line. */
static int manifest_parse_line(struct manifest_parsed *p, const char *line, size_t len)
{
	char buf[MANIFEST_LINE_MAX + MANIFEST_TOPIC_MAX];
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (strncmp(buf, "segment ", 8) == 0) {
		if (manifest_grow((void **)&p->segs, &p->segs_cap, p->rec.segment_count + 1,
				  sizeof(*p->segs)) < 0)
			return -ENOMEM;
		struct manifest_segment *s = &p->segs[p->rec.segment_count];
		if (sscanf(buf + 8, "%191s %" SCNu64 " %" SCNu64 " %" SCNx64, s->rel_path, &s->rows,
			   &s->bytes, &s->checksum) != 4)
			return -EINVAL;
		p->rec.segment_count++;
		return 0;
	}
	if (strncmp(buf, "partition ", 10) == 0) {
		if (manifest_grow((void **)&p->ranges, &p->ranges_cap, p->rec.range_count + 1,
				  sizeof(*p->ranges)) < 0)
			return -ENOMEM;
		struct manifest_range *r = &p->ranges[p->rec.range_count];
		if (sscanf(buf + 10, "%" SCNd32 " %" SCNd64 " %" SCNd64, &r->partition, &r->first,
			   &r->next) != 3 || r->partition < 0 || r->next < r->first)
			return -EINVAL;
		p->rec.range_count++;
		return 0;
	}
	return -EINVAL;
}

/*
 * Calls fn for every valid record of text[0..len) and sets *valid_len to the end of the last
 * one. Stops at the first torn or malformed record.
 */
static int manifest_parse(const char *text, size_t len, manifest_visit_fn fn, void *ctx,
			  size_t *valid_len)
{
	struct manifest_parsed p = {0};
	size_t pos = 0, good = 0;
	int rc = 0;
	/* First pass finds the valid records; the callback learns which one is last. */
	size_t last_start = SIZE_MAX;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		pos = 0;
		good = 0;
		while (pos < len) {
			size_t start = pos;
			const char *nl = memchr(text + pos, '\n', len - pos);
			if (!nl)
				break;
			size_t line_len = (size_t)(nl - (text + pos));
			char head[MANIFEST_LINE_MAX + MANIFEST_TOPIC_MAX];
			if (line_len >= sizeof(head) || strncmp(text + pos, "epoch ", 6) != 0)
				break;
			memcpy(head, text + pos, line_len);
			head[line_len] = '\0';
			memset(&p.rec, 0, sizeof(p.rec));
			if (sscanf(head + 6, "%" SCNu64 " %" SCNd64 " %" SCNu64 " %255s", &p.rec.seq,
				   &p.rec.sealed_ms, &p.rec.deadletter_bytes, p.topic) != 4)
				break;
			p.rec.topic = p.topic;
			pos += line_len + 1;
			bool ok = false;
			while (pos < len) {
				nl = memchr(text + pos, '\n', len - pos);
				if (!nl)
					break;
				line_len = (size_t)(nl - (text + pos));
				if (line_len > 4 && strncmp(text + pos, "end ", 4) == 0) {
					uint64_t seq, sum;
					char end[64];
					if (line_len >= sizeof(end))
						break;
					memcpy(end, text + pos, line_len);
					end[line_len] = '\0';
					if (sscanf(end + 4, "%" SCNu64 " %" SCNx64, &seq, &sum) == 2 &&
					    seq == p.rec.seq &&
					    XXH3_64bits(text + start, pos - start) == sum)
						ok = true;
					pos += line_len + 1;
					break;
				}
				if (manifest_parse_line(&p, text + pos, line_len) < 0)
					break;
				pos += line_len + 1;
			}
			if (!ok)
				break;
			good = pos;
			if (pass == 0) {
				last_start = start;
			} else {
				p.rec.segments = p.segs;
				p.rec.ranges = p.ranges;
				rc = fn(ctx, &p, start == last_start);
				if (rc < 0)
					break;
			}
		}
		if (!fn)
			break;
	}
	free(p.segs);
	free(p.ranges);
	*valid_len = good;
	return rc;
}

static int manifest_read_all(int fd, char **out, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;
			free(buf);
			return rc;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	return 0;
}

/* ---- writing ---- */

struct manifest_last {
	uint64_t seq;
};

static int manifest_note_last(void *ctx, const struct manifest_parsed *p, bool last)
{
	struct manifest_last *l = ctx;
	if (last)
		l->seq = p->rec.seq;
	return 0;
}

int manifest_open(struct manifest *m, const char *output_dir, const char *instance,
		  unsigned worker, size_t segments_max, size_t ranges_max)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->dir_fd = -1;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", output_dir, MANIFEST_DIR);
	int rc = fs_mkdirs(dir);
	if (rc < 0) {
		log_error("manifest", "%s: cannot create: %s", dir, strerror(-rc));
		return rc;
	}
	if (snprintf(m->path, sizeof(m->path), "%.3900s/%.64s-w%u.manifest", dir, instance, worker) >=
	    (int)sizeof(m->path))
		return -ENAMETOOLONG;
	m->cap = MANIFEST_LINE_MAX * (segments_max + ranges_max + 2) + MANIFEST_TOPIC_MAX;
	m->buf = malloc(m->cap);
	if (!m->buf)
		return -ENOMEM;
	m->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	m->fd = open(m->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->fd < 0 || m->dir_fd < 0) {
		rc = -errno;
		log_error("manifest", "%s: cannot open: %s", m->path, strerror(-rc));
		goto out_close;
	}
	char *text;
	size_t len, valid;
	rc = manifest_read_all(m->fd, &text, &len);
	if (rc < 0) {
		log_error("manifest", "%s: cannot read: %s", m->path, strerror(-rc));
		goto out_close;
	}
	struct manifest_last last = {0};
	manifest_parse(text, len, manifest_note_last, &last, &valid);
	free(text);
	if (valid < len) {
		log_warn("manifest", "%s: cutting off a torn record (%zu bytes at offset %zu)",
			 m->path, len - valid, valid);
		if (ftruncate(m->fd, (off_t)valid) != 0 || fdatasync(m->fd) != 0) {
			rc = -errno;
			log_error("manifest", "%s: cannot cut the torn tail: %s", m->path, strerror(-rc));
			goto out_close;
		}
	}
	if (lseek(m->fd, 0, SEEK_END) < 0 || fsync(m->dir_fd) != 0) {
		rc = -errno;
		goto out_close;
	}
	m->seq = last.seq;
	return 0;

out_close:
	manifest_close(m);
	return rc;
}

int manifest_append(struct manifest *m, struct manifest_record *r)
{
	r->seq = m->seq + 1;
	size_t n = 0;
	int w = snprintf(m->buf, m->cap, "epoch %" PRIu64 " %" PRId64 " %" PRIu64 " %s\n", r->seq,
			 r->sealed_ms, r->deadletter_bytes, r->topic);
	n += (size_t)w;
	for (size_t i = 0; i < r->segment_count && n < m->cap; i++) {
		const struct manifest_segment *s = &r->segments[i];
		n += (size_t)snprintf(m->buf + n, m->cap - n,
				      "segment %s %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n",
				      s->rel_path, s->rows, s->bytes, s->checksum);
	}
	for (size_t i = 0; i < r->range_count && n < m->cap; i++) {
		const struct manifest_range *g = &r->ranges[i];
		n += (size_t)snprintf(m->buf + n, m->cap - n,
				      "partition %" PRId32 " %" PRId64 " %" PRId64 "\n", g->partition,
				      g->first, g->next);
	}
	if (n + 64 >= m->cap) {
		log_error("manifest", "%s: record %" PRIu64 " exceeds %zu bytes", m->path, r->seq,
			  m->cap);
		return -E2BIG;
	}
	uint64_t sum = XXH3_64bits(m->buf, n);
	n += (size_t)snprintf(m->buf + n, m->cap - n, "end %" PRIu64 " %016" PRIx64 "\n", r->seq,
			      sum);
	size_t off = 0;
	while (off < n) {
		ssize_t k = write(m->fd, m->buf + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int rc = -errno;
			log_error("manifest", "%s: write of record %" PRIu64 " failed: %s", m->path,
				  r->seq, strerror(-rc));
			/* A partial record is torn: cut it so the next append starts clean. */
			off_t end = lseek(m->fd, 0, SEEK_END);
			if (end >= (off_t)off && ftruncate(m->fd, end - (off_t)off) == 0)
				lseek(m->fd, 0, SEEK_END);
			return rc;
		}
		off += (size_t)k;
	}
	if (fdatasync(m->fd) != 0) {
		int rc = -errno;
		log_error("manifest", "%s: fdatasync of record %" PRIu64 " failed: %s", m->path,
			  r->seq, strerror(-rc));
		return rc;
	}
	m->seq = r->seq;
	m->records++;
	return 0;
}

void manifest_close(struct manifest *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->dir_fd >= 0)
		close(m->dir_fd);
	free(m->buf);
	m->buf = NULL;
	m->fd = -1;
	m->dir_fd = -1;
}

/* ---- recovery ---- */

struct manifest_recover_ctx {
	const char *output_dir;
	const char *topic;
	int64_t *next;
	size_t partitions_max;
	struct manifest_recovery *out;
	uint64_t deadletter_bytes;
	bool has_record;
};

static int manifest_file_checksum(const char *path, uint64_t bytes, uint64_t *sum)
{
	/* O_NONBLOCK: a FIFO in a segment's place must not block the start (signals masked). */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	XXH3_state_t *st = XXH3_createState();
	char *buf = malloc(1 << 20);
	int rc = 0;
	if (!st || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	XXH3_64bits_reset(st);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(st, buf, (size_t)n);
		total += (uint64_t)n;
	}
	*sum = XXH3_64bits_digest(st);
	if (total != bytes)
		rc = -EBADMSG;
out:
	free(buf);
	XXH3_freeState(st);
	close(fd);
	return rc;
}

static int manifest_roll_forward(struct manifest_recover_ctx *c, const struct manifest_segment *s)
{
	char path[4096], tmp[4096 + 8];
	snprintf(path, sizeof(path), "%s/%s", c->output_dir, s->rel_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (access(path, F_OK) == 0)
		return 0;
	uint64_t sum = 0;
	int rc = manifest_file_checksum(tmp, s->bytes, &sum);
	if (rc < 0 || sum != s->checksum) {
		log_error("manifest", "%s: recorded as sealed but %s (%s): its rows are not in the output",
			  path, rc == -ENOENT ? "neither it nor its .tmp exists" : "its .tmp does not match",
			  rc < 0 ? strerror(-rc) : "checksum differs");
		c->out->segments_missing++;
		return 0;
	}
	if (rename(tmp, path) != 0) {
		rc = -errno;
		log_error("manifest", "%s: cannot rename the synced segment: %s", tmp, strerror(-rc));
		return rc;
	}
	char *slash = strrchr(path, '/');
	*slash = '\0';
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	*slash = '/';
	log_info("manifest", "%s: synced segment of the last recorded epoch made visible", path);
	c->out->segments_renamed++;
	return 0;
}

static int manifest_recover_record(void *ctx, const struct manifest_parsed *p, bool last)
{
	struct manifest_recover_ctx *c = ctx;
	c->out->records++;
	if (strcmp(p->rec.topic, c->topic) == 0) {
		for (size_t i = 0; i < p->rec.range_count; i++) {
			const struct manifest_range *r = &p->rec.ranges[i];
			if ((size_t)r->partition < c->partitions_max && r->next > c->next[r->partition])
				c->next[r->partition] = r->next;
		}
	}
	if (!last)
		return 0;
	c->deadletter_bytes = p->rec.deadletter_bytes;
	c->has_record = true;
	for (size_t i = 0; i < p->rec.segment_count; i++) {
		int rc = manifest_roll_forward(c, &p->rec.segments[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int manifest_deadletter_cut(struct manifest_recover_ctx *c, const char *dl_dir,
				   const char *name)
{
	/* "<instance>-w<k>.manifest" -> "<instance>-w<k>.deadletter.tsv" */
	char path[4096];
	size_t stem = strlen(name) - strlen(".manifest");
	snprintf(path, sizeof(path), "%s/%.*s.deadletter.tsv", dl_dir, (int)stem, name);
	struct stat st;
	uint64_t keep = c->has_record ? c->deadletter_bytes : 0;
	if (stat(path, &st) != 0 || (uint64_t)st.st_size <= keep)
		return 0;
	if (truncate(path, (off_t)keep) != 0) {
		int rc = -errno;
		log_error("manifest", "%s: cannot cut unrecorded dead letters: %s", path, strerror(-rc));
		return rc;
	}
	log_info("manifest", "%s: cut %" PRIu64 " bytes of dead letters of an unrecorded epoch "
		 "(their messages are consumed again)", path, (uint64_t)st.st_size - keep);
	c->out->deadletter_cut += (uint64_t)st.st_size - keep;
	return 0;
}

static bool manifest_name_match(const char *name, const char *instance)
{
	size_t ilen = strlen(instance);
	if (strncmp(name, instance, ilen) != 0 || strncmp(name + ilen, "-w", 2) != 0)
		return false;
	const char *p = name + ilen + 2;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return strcmp(p, ".manifest") == 0;
}

int manifest_recover(const char *output_dir, const char *instance, const char *topic,
		     const char *deadletter_dir, int64_t *next, size_t partitions_max,
		     struct manifest_recovery *out)
{
	memset(out, 0, sizeof(*out));
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", output_dir, MANIFEST_DIR);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (!manifest_name_match(e->d_name, instance))
			continue;
		char path[4096 + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			log_error("manifest", "%s: cannot open: %s", path, strerror(-rc));
			break;
		}
		char *text;
		size_t len, valid;
		rc = manifest_read_all(fd, &text, &len);
		if (rc == 0) {
			struct manifest_recover_ctx c = {output_dir, topic, next, partitions_max, out,
							 0, false};
			rc = manifest_parse(text, len, manifest_recover_record, &c, &valid);
			free(text);
			if (rc == 0 && valid < len) {
				log_warn("manifest", "%s: cutting off a torn record (%zu bytes)", path,
					 len - valid);
				out->torn++;
				if (ftruncate(fd, (off_t)valid) != 0)
					rc = -errno;
			}
			if (rc == 0 && deadletter_dir)
				rc = manifest_deadletter_cut(&c, deadletter_dir, e->d_name);
			out->files++;
		}
		close(fd);
	}
	closedir(d);
	return rc;
}
