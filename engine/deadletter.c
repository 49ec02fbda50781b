#include "deadletter.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tsv.h"

int deadletter_open(struct deadletter *dl, const char *dir, const char *instance, unsigned worker)
{
	char name[256];
	snprintf(name, sizeof(name), "%s-w%u.deadletter.tsv", instance, worker);
	return deadletter_open_file(dl, dir, name);
}

int deadletter_open_file(struct deadletter *dl, const char *dir, const char *name)
{
	memset(dl, 0, sizeof(*dl));
	dl->fd = -1;
	int rc = fs_mkdirs(dir);
	if (rc < 0) {
		log_error("deadletter", "%s: cannot create directory: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(dl->path, sizeof(dl->path), "%s/%s", dir, name);
	dl->buf = malloc(DEADLETTER_BUF_BYTES);
	if (!dl->buf)
		return -ENOMEM;
	/* O_NONBLOCK: a FIFO in its place fails the open (or the check below) instead of blocking
	 * the worker, and so the process's stop, until something reads it. */
	dl->fd = open(dl->path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0644);
	if (dl->fd < 0) {
		rc = -errno;
		log_error("deadletter", "%s: cannot open: %s", dl->path, strerror(-rc));
		goto out_free_buf;
	}
	struct stat st;
	if (fstat(dl->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		log_error("deadletter", "%s: not a regular file", dl->path);
		goto out_close;
	}
	dl->bytes = (uint64_t)st.st_size;
	return 0;

out_close:
	close(dl->fd);
	dl->fd = -1;
out_free_buf:
	free(dl->buf);
	dl->buf = NULL;
	return rc;
}

static int deadletter_flush(struct deadletter *dl)
{
	if (dl->torn) {
		/* A large line's failed write left bytes the cut could not remove: again. */
		if (ftruncate(dl->fd, (off_t)dl->bytes) != 0) {
			int rc = -errno;
			dl->errors++;
			log_error("deadletter", "%s: cutting a torn line failed: %s", dl->path,
				  strerror(-rc));
			return rc;
		}
		dl->torn = false;
	}
	size_t off = 0;
	while (off < dl->len) {
		ssize_t n = write(dl->fd, dl->buf + off, dl->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			dl->errors++;
			log_error("deadletter", "%s: write failed: %s (%zu bytes kept buffered)",
				  dl->path, strerror(-rc), dl->len - off);
			memmove(dl->buf, dl->buf + off, dl->len - off);
			dl->len -= off;
			return rc;
		}
		off += (size_t)n;
		dl->bytes += (uint64_t)n;
	}
	dl->len = 0;
	return 0;
}

/* Writes all of p[0..len) (the file is O_APPEND). Returns 0 or -errno (logged). */
static int deadletter_write_all(struct deadletter *dl, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(dl->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			dl->errors++;
			log_error("deadletter", "%s: write failed: %s", dl->path, strerror(-rc));
			return rc;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The line's head, "topic\tpartition\toffset\terror\treason\t", escaped into d. Returns its end. */
static char *deadletter_head(char *d, char *end, const char *topic, int32_t partition,
			     int64_t offset, const char *error, const char *reason)
{
	d += tsv_escape(d, (size_t)(end - d), topic, strlen(topic), 0);
	d += snprintf(d, (size_t)(end - d), "\t%" PRId32 "\t%" PRId64 "\t", partition, offset);
	d += tsv_escape(d, (size_t)(end - d), error, strlen(error), 0);
	*d++ = '\t';
	d += tsv_escape(d, (size_t)(end - d), reason, strlen(reason), 0);
	*d++ = '\t';
	return d;
}

/*
 * A line larger than the buffer (the buffer is empty): written straight to the file, the raw
 * bytes escaped a buffer at a time, so a message of any size survives whole. The line goes in
 * whole or not at all: a failed write cuts the file back to where the line began (and a cut that
 * failed is made before the next line), so a retry of the append writes no torn line.
 */
static int deadletter_append_large(struct deadletter *dl, const char *topic, int32_t partition,
				   int64_t offset, const char *error, const char *reason,
				   const unsigned char *raw, size_t raw_len)
{
	char *end = dl->buf + DEADLETTER_BUF_BYTES;
	char *d = deadletter_head(dl->buf, end, topic, partition, offset, error, reason);
	size_t done = 0;
	uint64_t written = 0;
	int rc;
	for (;;) {
		/* A raw byte takes at most two escaped ones; one byte is kept for the newline. */
		size_t take = (size_t)(end - d - 1) / 2;
		take = take < raw_len - done ? take : raw_len - done;
		d += tsv_escape(d, (size_t)(end - d), raw + done, take, 0);
		done += take;
		bool last = done == raw_len;
		if (last)
			*d++ = '\n';
		rc = deadletter_write_all(dl, dl->buf, (size_t)(d - dl->buf));
		written += (uint64_t)(d - dl->buf);
		d = dl->buf;
		if (rc < 0 || last)
			break;
	}
	if (rc < 0) {
		dl->torn = ftruncate(dl->fd, (off_t)dl->bytes) != 0;
		return rc;
	}
	dl->bytes += written;
	dl->count++;
	return 0;
}

int deadletter_append(struct deadletter *dl, const char *topic, int32_t partition, int64_t offset,
		      const char *error, const char *reason, const void *raw, size_t raw_len)
{
	size_t head_max = strlen(topic) * 2 + strlen(error) * 2 + strlen(reason) * 2 + 64;
	size_t need = head_max + raw_len * 2 + 1;
	if (dl->len + need > DEADLETTER_BUF_BYTES || dl->torn) {
		int rc = deadletter_flush(dl);
		if (rc < 0)
			return rc;
	}
	if (need > DEADLETTER_BUF_BYTES)
		return deadletter_append_large(dl, topic, partition, offset, error, reason, raw,
					       raw_len);
	char *d = dl->buf + dl->len, *end = dl->buf + DEADLETTER_BUF_BYTES;
	d = deadletter_head(d, end, topic, partition, offset, error, reason);
	d += tsv_escape(d, (size_t)(end - d), raw, raw_len, 0);
	*d++ = '\n';
	dl->len = (size_t)(d - dl->buf);
	dl->count++;
	return 0;
}

int deadletter_sync(struct deadletter *dl)
{
	if (dl->fd < 0)
		return 0;
	int rc = deadletter_flush(dl);
	if (rc < 0)
		return rc;
	if (fdatasync(dl->fd) != 0) {
		rc = -errno;
		dl->errors++;
		log_error("deadletter", "%s: fdatasync failed: %s", dl->path, strerror(-rc));
		return rc;
	}
	return 0;
}

void deadletter_close(struct deadletter *dl)
{
	if (dl->fd >= 0) {
		deadletter_sync(dl);
		close(dl->fd);
	}
	free(dl->buf);
	dl->buf = NULL;
	dl->fd = -1;
}
