/*
 * deadletter: the dead-letter file of one worker.
 *
 * Every event the engine cannot turn into a row (malformed message, inner-join miss) is appended
 * as one line of ClickHouse TabSeparated with the columns of DEADLETTER_STRUCTURE; `raw` holds the
 * message bytes exactly (TSV escaping, tsv.h, makes any byte safe). Read it with
 *   SELECT * FROM file('<dir>/<files>.deadletter.tsv', 'TSV', '<DEADLETTER_STRUCTURE>')
 *
 * The file is <dir>/<instance>-w<worker>.deadletter.tsv, opened for append, so restarts keep
 * what was there. Lines are buffered in a buffer allocated at open (DEADLETTER_BUF_BYTES); a full
 * buffer is written out at once. A line larger than the buffer (a message of more than about
 * half of it) is written straight to the file, a buffer of escaped bytes at a time: every
 * message survives whole, whatever its size, with its reason, and the file never holds part of
 * a line (a failed write cuts it back). deadletter_sync() writes and fdatasyncs: callers sync
 * before the Kafka offsets of the dead-lettered messages are committed, so an accepted message
 * is never lost. One writer per worker thread; not thread-safe.
 */
#ifndef ENRICHD_DEADLETTER_H
#define ENRICHD_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEADLETTER_STRUCTURE \
	"topic String, partition Int32, offset Int64, error String, reason String, raw String"
#define DEADLETTER_BUF_BYTES (1u << 20)

struct deadletter {
	int fd;
	char path[4096];
	char *buf;
	size_t len;
	uint64_t bytes;  /* size of the file with everything flushed so far */
	uint64_t count;  /* lines appended since open */
	uint64_t errors; /* failed writes (each logged) */
	bool torn;       /* a large line's failed write is still to be cut off the file */
};

/* Creates dir if needed and opens the file. Returns 0 or -errno (logged with the path). */
int deadletter_open(struct deadletter *dl, const char *dir, const char *instance, unsigned worker);

/* As deadletter_open, for the file <dir>/<name> (another writer than a worker's). */
int deadletter_open_file(struct deadletter *dl, const char *dir, const char *name);

/*
 * Appends one line. error is a short code ("syntax", "inner_miss_users"), reason a sentence
 * (topic, error and reason together well under DEADLETTER_BUF_BYTES / 4); raw is any bytes, any
 * length. Returns 0 or -errno: a failed write, and then the line is not in the file (call again
 * to retry it); lines appended before stay buffered.
 */
int deadletter_append(struct deadletter *dl, const char *topic, int32_t partition, int64_t offset,
		      const char *error, const char *reason, const void *raw, size_t raw_len);

/* Writes out the buffer and fdatasyncs the file. Returns 0 or -errno (logged). */
int deadletter_sync(struct deadletter *dl);

/* Syncs and closes. Safe on a zeroed struct. */
void deadletter_close(struct deadletter *dl);

#endif
