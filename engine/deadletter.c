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
	dl->fd = open(dl->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (dl->fd < 0) {
		rc = -errno;
		log_error("deadletter", "%s: cannot open: %s", dl->path, strerror(-rc));
		goto out_free_buf;
	}
	struct stat st;
	if (fstat(dl->fd, &st) == 0)
		dl->bytes = (uint64_t)st.st_size;
	return 0;

out_free_buf:
	free(dl->buf);
	dl->buf = NULL;
	return rc;
}

static int deadletter_flush(struct deadletter *dl)
{
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

int deadletter_append(struct deadletter *dl, const char *topic, int32_t partition, int64_t offset,
		      const char *error, const char *reason, const void *raw, size_t raw_len)
{
	size_t head_max = strlen(topic) * 2 + strlen(error) * 2 + strlen(reason) * 2 + 64;
	size_t need = head_max + raw_len * 2 + 1;
	if (dl->len + need > DEADLETTER_BUF_BYTES) {
		int rc = deadletter_flush(dl);
		if (rc < 0)
			return rc;
	}
	if (need > DEADLETTER_BUF_BYTES) {
		/* A message larger than half the buffer: keep its head, say so in the reason. */
		raw_len = (DEADLETTER_BUF_BYTES - head_max - 64) / 2;
		reason = "message larger than the dead-letter buffer; raw bytes truncated";
	}
	char *d = dl->buf + dl->len, *end = dl->buf + DEADLETTER_BUF_BYTES;
	d += tsv_escape(d, (size_t)(end - d), topic, strlen(topic), 0);
	d += sprintf(d, "\t%" PRId32 "\t%" PRId64 "\t", partition, offset);
	d += tsv_escape(d, (size_t)(end - d), error, strlen(error), 0);
	*d++ = '\t';
	d += tsv_escape(d, (size_t)(end - d), reason, strlen(reason), 0);
	*d++ = '\t';
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
