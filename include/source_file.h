/*
 * source_file: a JSON-lines input (a file, a pipe, stdin) as a message source (source.h).
 *
 * Every line is one message: partition 0, offset the 0-based line index in the whole input, no
 * Kafka timestamp, key or header; its _topic is the name given (the file's name, or "stdin"). A
 * last line without a newline is still a message. A line longer than SOURCE_MSG_BYTES_MAX is
 * rejected (source.h) as `too_long` by its first SOURCE_FILE_REJECT_BYTES bytes.
 *
 * A regular file is split into line-aligned ranges, one per worker (source_file_split); each
 * range is mapped and its events decoded where the page cache holds them, with no copy (reading
 * it into a buffer cost more than decoding it); the pages already taken are given back every
 * 64 MiB so the resident set does not grow with the file. A file that shrinks while it is read
 * (truncated, rewritten in place) fails the poll that meets it with -EIO instead of ending the
 * process with SIGBUS (map_guard.h): the lines from there on are not the input. Other input (a
 * pipe) goes to one worker through a read buffer of SOURCE_MSG_BYTES_MAX; a poll waits for it
 * at most its timeout (poll(2)), so a quiet pipe does not hold the worker.
 *
 * Pausing stops reading: a paused poll sleeps its timeout and returns nothing (source_wake does
 * not cut the sleep short). A file holds nothing ahead of the worker (fetches_ahead is false).
 */
#ifndef ENRICHD_SOURCE_FILE_H
#define ENRICHD_SOURCE_FILE_H

#include <stdint.h>

#include "source.h"

/* Bytes of a rejected (too long) line its dead letter keeps. */
#define SOURCE_FILE_REJECT_BYTES 4096
/* Least size of a regular file that is split between workers. */
#define SOURCE_FILE_SPLIT_MIN_BYTES ((int64_t)1 << 20)

/* The part of the input one worker reads. */
struct source_file_range {
	int64_t begin;      /* byte offset of its first line */
	int64_t end;        /* byte offset past its last line; < 0: to the end of a pipe */
	int64_t first_line; /* index of its first line in the whole input (the first _offset) */
};

/*
 * Splits the input behind fd for workers readers (1..workers): a regular file of at least
 * SOURCE_FILE_SPLIT_MIN_BYTES into line-aligned ranges of about equal size, one per worker; a
 * smaller regular file to the first worker whole (the others get empty ranges); anything else
 * (a pipe) to one worker. Reads the file once to count the lines before each cut. Returns how
 * many readers to run, with ranges[0..that) set, or -errno.
 */
int source_file_split(int fd, uint32_t workers, struct source_file_range *ranges);

/*
 * A source reading range of fd (which stays the caller's: open until the source is destroyed)
 * with name as its topic (must outlive the source). Maps a regular file's range; allocates the
 * read buffer of a pipe. Returns 0 and *out, or -errno (logged).
 */
int source_file_new(int fd, const char *name, const struct source_file_range *range,
		    struct source **out);

#endif
