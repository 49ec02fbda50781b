/*
 * manifest: the append-only record of what a worker has sealed, and the recovery it drives.
 *
 * Each worker appends to <output>/_manifest/<instance>-w<worker>.manifest one record per sealed
 * epoch, written and fdatasync'd after the epoch's segments are synced (still .native.tmp) and
 * before they are renamed to .native:
 *
 *   epoch <seq> <sealed_ms> <deadletter_bytes> <topic>
 *   segment <path below the output dir> <rows> <bytes> <xxh3-64 hex>     (one per segment)
 *   partition <partition> <first offset> <next offset>                  (one per partition)
 *   end <seq> <xxh3-64 hex of the record's lines above>
 *
 * Offsets are per partition of <topic>: [first, next) were consumed during the epoch, and every
 * one of them is now a row of a listed segment or a line of the dead-letter file (whose size
 * after the epoch is <deadletter_bytes>). A record without its end line, or whose checksum does
 * not match, is torn: it and what follows are cut off when the manifest is opened.
 *
 * Recovery at start (manifest_recover), for every manifest of the instance: the next offset of
 * each partition is the largest <next> of any record of the topic; the segments of each file's
 * last record that are still .native.tmp are renamed to .native (they were synced before the
 * record was written), after their size and checksum are verified; each dead-letter file is cut
 * back to the size its worker's last record gives (lines past it belong to an epoch that was
 * never recorded, whose messages are consumed again).
 */
#ifndef ENRICHD_MANIFEST_H
#define ENRICHD_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_DIR "_manifest"
#define MANIFEST_PATH_MAX 192
#define MANIFEST_TOPIC_MAX 256
/* Bytes of one record's text, bounded by the segments and partitions it may list. */
#define MANIFEST_LINE_MAX (MANIFEST_PATH_MAX + 96)

struct manifest_segment {
	char rel_path[MANIFEST_PATH_MAX];
	uint64_t rows;
	uint64_t bytes;
	uint64_t checksum;
};

struct manifest_range {
	int32_t partition;
	int64_t first;
	int64_t next;
};

struct manifest_record {
	uint64_t seq;
	int64_t sealed_ms;
	uint64_t deadletter_bytes;
	const char *topic;
	size_t segment_count;
	const struct manifest_segment *segments;
	size_t range_count;
	const struct manifest_range *ranges;
};

struct manifest {
	int fd;
	int dir_fd;
	char path[4096];
	uint64_t seq;       /* of the last record written */
	char *buf;          /* one record's text; allocated at open */
	size_t cap;
	uint64_t records;
};

/*
 * Opens (creating <dir>/_manifest and the file as needed) the manifest of one worker for
 * appending, cutting off a torn tail. segments_max and ranges_max bound a record. Returns 0 or
 * -errno (logged with the path).
 */
int manifest_open(struct manifest *m, const char *output_dir, const char *instance,
		  unsigned worker, size_t segments_max, size_t ranges_max);

/* Appends r (its seq is set to the next number) and fdatasyncs. Returns 0 or -errno (logged). */
int manifest_append(struct manifest *m, struct manifest_record *r);

/* Closes. Safe on a zeroed struct with fd -1. */
void manifest_close(struct manifest *m);

struct manifest_recovery {
	unsigned files;            /* manifests read */
	uint64_t records;          /* valid records */
	unsigned torn;             /* files whose torn tail was cut off */
	unsigned segments_renamed; /* synced .tmp segments of last records made visible */
	unsigned segments_missing; /* listed segments found neither as .native nor as a good .tmp */
	uint64_t deadletter_cut;   /* bytes cut from dead-letter files */
};

/*
 * Recovers every manifest of instance under output_dir as described above. next[p] (for p <
 * partitions_max; initialise to -1) is raised to the next offset the manifests give for topic.
 * deadletter_dir may be NULL (no dead-letter cut). Returns 0 or -errno (logged).
 */
int manifest_recover(const char *output_dir, const char *instance, const char *topic,
		     const char *deadletter_dir, int64_t *next, size_t partitions_max,
		     struct manifest_recovery *out);

#endif
