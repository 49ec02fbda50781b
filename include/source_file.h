/*
 * source_file: an input file (a file, a pipe, stdin) as a message source (source.h).
 *
 * Two framings. JSON lines (SOURCE_FILE_LINES): every line is one message; a last line without
 * a newline is still a message. Length-prefixed (SOURCE_FILE_LENGTH32, for binary messages such
 * as Confluent-framed Avro): every message follows its length, 4 bytes big-endian (what
 * `kcat -C -f '%R%s'` writes; a length of -1, kcat's NULL payload, is an empty message). Every
 * message is partition 0, offset its 0-based index in the whole input, no Kafka timestamp, key
 * or header; its _topic is the name given (the file's name, or "stdin"). A message longer than
 * SOURCE_MSG_BYTES_MAX (with a length prefix: SOURCE_MSG_BYTES_MAX - 4) is rejected (source.h)
 * as `too_long` by its first SOURCE_FILE_REJECT_BYTES bytes; with a length prefix, input ending
 * inside a message is rejected as `truncated`, and a length below -1 as `bad_length` together
 * with the rest of the input (no message boundary can be found after it). A batch ends before a
 * reject, so the rejects of a batch come before its messages.
 *
 * A regular file is split into message-aligned ranges, one per worker (source_file_split); each
 * range is mapped and its events decoded where the page cache holds them, with no copy (reading
 * it into a buffer cost more than decoding it); the pages already taken are given back every
 * 64 MiB so the resident set does not grow with the file. A file that shrinks while it is read
 * (truncated, rewritten in place) fails the poll that meets it with -EIO instead of ending the
 * process with SIGBUS (map_guard.h): the messages from there on are not the input. Other input
 * (a pipe) goes to one worker through a read buffer of SOURCE_MSG_BYTES_MAX; a poll waits for it
 * at most its timeout (poll(2)), so a quiet pipe does not hold the worker.
 *
 * Pausing stops reading: a paused poll sleeps its timeout and returns nothing (source_wake does
 * not cut the sleep short). A file holds nothing ahead of the worker (fetches_ahead is false).
 * Pausing its partition at a message (source_pause_partition) moves the reader back to that
 * message of the batch and stops there: a file cannot skip ahead, so the whole range waits.
 */
#ifndef ENRICHD_SOURCE_FILE_H
#define ENRICHD_SOURCE_FILE_H

#include <stdint.h>

#include "source.h"

/* Bytes of a rejected message (too long, truncated) its dead letter keeps. */
#define SOURCE_FILE_REJECT_BYTES 4096
/* Least size of a regular file that is split between workers. */
#define SOURCE_FILE_SPLIT_MIN_BYTES ((int64_t)1 << 20)

/* How the input's messages are delimited. */
enum source_file_framing {
	SOURCE_FILE_LINES = 0, /* one message per line (JSON lines) */
	SOURCE_FILE_LENGTH32,  /* each message after its length, 4 bytes big-endian */
};

/* The part of the input one worker reads. */
struct source_file_range {
	int64_t begin;      /* byte offset of its first message */
	int64_t end;        /* byte offset past its last message; < 0: to the end of a pipe */
	int64_t first_line; /* index of its first message in the whole input (the first _offset) */
	enum source_file_framing framing;
};

/*
 * Splits the input behind fd for workers readers (1..workers): a regular file of at least
 * SOURCE_FILE_SPLIT_MIN_BYTES into message-aligned ranges of about equal size, one per worker; a
 * smaller regular file to the first worker whole (the others get empty ranges); anything else
 * (a pipe) to one worker. Reads the file once to count the messages before each cut (lines, or
 * the length prefixes from the start). Returns how many readers to run, with ranges[0..that)
 * set (framing included), or -errno.
 */
int source_file_split(int fd, uint32_t workers, enum source_file_framing framing,
		      struct source_file_range *ranges);

/*
 * A source reading range of fd (which stays the caller's: open until the source is destroyed)
 * in the range's framing, with name as its topic (must outlive the source). Maps a regular
 * file's range; allocates the read buffer of a pipe. Returns 0 and *out, or -errno (logged).
 */
int source_file_new(int fd, const char *name, const struct source_file_range *range,
		    struct source **out);

#endif
