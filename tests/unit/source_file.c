/*
 * source_file: the file source. Line framing (a last line without newline, a line too long
 * to be a message), length-prefixed framing (binary messages, rejects, a pipe), the split of a
 * file into message-aligned ranges with their first indexes, pausing, and pausing at a message.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source_file.h"

static char path[] = "/tmp/source-file-test-XXXXXX";
static int fd = -1;

static void setup(void)
{
	strcpy(path, "/tmp/source-file-test-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
}

static void teardown(void)
{
	close(fd);
	unlink(path);
}

TestSuite(source_file, .init = setup, .fini = teardown, .timeout = 60);

static void put(const char *text, size_t len)
{
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
}

/* A source of the whole file: the one range a single reader is given. */
static struct source *whole_file(void)
{
	struct source_file_range r;
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LINES, &r), 1);
	struct source *src;
	cr_assert_eq(source_file_new(fd, "f", &r, &src), 0);
	return src;
}

/* Polls everything of src into lines (offsets and lengths); returns how many. */
static size_t drain(struct source *src, int64_t *offsets, uint32_t *lens, size_t max)
{
	struct source_msg msgs[8];
	size_t n = 0;
	while (!src->finished) {
		int got = source_poll(src, msgs, 8, 0);
		cr_assert_geq(got, 0);
		for (int i = 0; i < got; i++) {
			cr_assert_lt(n, max);
			cr_expect_eq(msgs[i].partition, 0);
			cr_expect_null(msgs[i].key);
			offsets[n] = msgs[i].offset;
			lens[n++] = msgs[i].len;
		}
		source_release(src);
	}
	return n;
}

Test(source_file, lines_offsets_and_a_last_line_without_newline)
{
	put("a\n\nccc\ndd", 9);
	struct source *src = whole_file();
	cr_expect_str_eq(src->topic, "f");
	cr_expect(!src->fetches_ahead);
	int64_t off[8];
	uint32_t len[8];
	cr_assert_eq(drain(src, off, len, 8), 4);
	const uint32_t want[4] = {1, 0, 3, 2};
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(off[i], i);
		cr_expect_eq(len[i], want[i]);
	}
	struct source_header h;
	struct source_msg m = {0};
	cr_expect_eq(source_header(src, &m, 0, &h), -ENOENT);
	source_destroy(src);
}

/*
 * Reads range r of the test file to its end: each message holds its own number, counted from
 * first (whole messages, right offsets), none rejected. Returns the number after the last.
 */
static int64_t read_numbered(const struct source_file_range *r, int64_t first)
{
	struct source *src;
	cr_assert_eq(source_file_new(fd, "f", r, &src), 0);
	struct source_msg msgs[64];
	int64_t index = first;
	while (!src->finished) {
		int got = source_poll(src, msgs, 64, 0);
		cr_assert_geq(got, 0);
		cr_assert_eq(src->reject_count, 0);
		for (int i = 0; i < got; i++) {
			cr_assert_eq(msgs[i].offset, index);
			cr_assert_eq(strtoll(msgs[i].data, NULL, 10), index);
			index++;
		}
		source_release(src);
	}
	source_destroy(src);
	return index;
}

Test(source_file, split_into_line_aligned_ranges)
{
	/* 3 MiB of lines "<n>\n": cut points fall inside lines and move to the next line start. */
	char line[32];
	int64_t total = 0, lines = 0;
	while (total < (3 << 20)) {
		int n = snprintf(line, sizeof(line), "%" PRId64 "\n", lines++);
		put(line, (size_t)n);
		total += n;
	}
	struct source_file_range r[3];
	cr_assert_eq(source_file_split(fd, 3, SOURCE_FILE_LINES, r), 3);
	cr_expect_eq(r[0].begin, 0);
	cr_expect_eq(r[0].first_line, 0);
	cr_expect_eq(r[2].end, total);
	int64_t line_no = 0;
	for (int k = 0; k < 3; k++) {
		if (k > 0)
			cr_expect_eq(r[k].begin, r[k - 1].end);
		cr_expect_eq(r[k].first_line, line_no, "range %d", k);
		line_no = read_numbered(&r[k], line_no);
	}
	cr_expect_eq(line_no, lines);
}

Test(source_file, a_small_file_goes_to_the_first_reader)
{
	put("x\ny\n", 4);
	struct source_file_range r[4];
	cr_assert_eq(source_file_split(fd, 4, SOURCE_FILE_LINES, r), 4);
	cr_expect_eq(r[0].end, 4);
	for (int k = 1; k < 4; k++)
		cr_expect_eq(r[k].end, r[k].begin);
}

Test(source_file, a_line_too_long_is_rejected_by_its_head)
{
	put("one\n", 4);
	size_t big = SOURCE_MSG_BYTES_MAX + 10;
	char *x = malloc(big);
	cr_assert_not_null(x);
	memset(x, 'x', big);
	put(x, big);
	free(x);
	put("\ntwo\n", 5);
	struct source *src = whole_file();
	struct source_msg msgs[8];
	int64_t seen[3] = {-1, -1, -1};
	uint32_t rejects = 0;
	while (!src->finished) {
		int got = source_poll(src, msgs, 8, 0);
		cr_assert_geq(got, 0);
		for (uint32_t i = 0; i < src->reject_count; i++) {
			const struct source_reject *rej = &src->rejects[i];
			cr_expect_eq(rej->msg.offset, 1);
			cr_expect_eq(rej->msg.len, SOURCE_FILE_REJECT_BYTES);
			cr_expect_eq(rej->msg.data[0], 'x');
			cr_expect_str_eq(rej->error, "too_long");
			rejects++;
		}
		for (int i = 0; i < got; i++)
			seen[msgs[i].offset == 0 ? 0 : 2] = msgs[i].offset;
		source_release(src);
	}
	cr_expect_eq(rejects, 1);
	cr_expect_eq(seen[0], 0);
	cr_expect_eq(seen[2], 2);
	source_destroy(src);
}

Test(source_file, paused_it_hands_out_nothing)
{
	put("a\nb\n", 4);
	struct source *src = whole_file();
	struct source_msg msgs[8];
	cr_assert_eq(source_pause(src), 0);
	cr_expect_eq(source_poll(src, msgs, 8, 1), 0);
	cr_expect(!src->finished);
	cr_assert_eq(source_resume(src), 0);
	cr_expect_eq(source_poll(src, msgs, 8, 1), 2);
	cr_expect(src->finished);
	source_destroy(src);
}

/* An input file truncated while it is read fails a poll (-EIO), where the map used to end the
 * process with SIGBUS; the lines read before the truncation came through as they were. */
Test(source_file, a_file_truncated_under_the_reader_fails_the_poll)
{
	char line[64];
	for (int i = 0; i < 4000; i++) {
		int len = snprintf(line, sizeof(line),
				   "{\"line\":%d,\"pad\":\"xxxxxxxxxxxxxxxx\"}\n", i);
		put(line, (size_t)len);
	}
	struct source *src = whole_file();
	struct source_msg msgs[8];
	cr_assert_eq(source_poll(src, msgs, 8, 0), 8);
	cr_expect_eq(memcmp(msgs[0].data, "{\"line\":0,", 10), 0);
	source_release(src);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	int rc = 0;
	for (int polls = 0; polls < 10000 && rc >= 0 && !src->finished; polls++) {
		rc = source_poll(src, msgs, 8, 0);
		for (int i = 0; i < rc; i++)
			cr_assert_eq(memcmp(msgs[i].data, "{\"line\":", 8), 0, "a line of zeros");
		source_release(src);
	}
	cr_expect_eq(rc, -EIO);
	source_destroy(src);
}

/* Appends a length-prefixed message (len -1: kcat's NULL payload, no bytes). */
static void put_framed(const char *data, int32_t len)
{
	unsigned char prefix[4] = {(unsigned char)((uint32_t)len >> 24),
				   (unsigned char)((uint32_t)len >> 16),
				   (unsigned char)((uint32_t)len >> 8), (unsigned char)len};
	put((const char *)prefix, 4);
	if (len > 0 && data)
		put(data, (size_t)len);
}

Test(source_file, length_prefixed_binary_messages)
{
	put_framed("\0\n\r\n", 4);
	put_framed("", 0);
	put_framed(NULL, -1);
	put_framed("last", 4);
	struct source_file_range r;
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LENGTH32, &r), 1);
	cr_expect_eq(r.framing, SOURCE_FILE_LENGTH32);
	struct source *src;
	cr_assert_eq(source_file_new(fd, "f", &r, &src), 0);
	struct source_msg msgs[8];
	cr_assert_eq(source_poll(src, msgs, 8, 0), 4);
	cr_expect(src->finished);
	cr_expect_eq(src->reject_count, 0);
	const uint32_t want[4] = {4, 0, 0, 4};
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(msgs[i].offset, i);
		cr_expect_eq(msgs[i].len, want[i]);
	}
	cr_expect_eq(memcmp(msgs[0].data, "\0\n\r\n", 4), 0);
	cr_expect_eq(memcmp(msgs[3].data, "last", 4), 0);
	source_destroy(src);
}

Test(source_file, split_into_length_prefixed_ranges)
{
	/* 3 MiB of messages holding their own index, of varying lengths, with newlines inside. */
	char msg[96];
	int64_t total = 0, count = 0;
	while (total < (3 << 20)) {
		int n = snprintf(msg, sizeof(msg), "%" PRId64 "\n%.*s", count,
				 (int)(count % 50), "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
		put_framed(msg, n);
		count++;
		total += 4 + n;
	}
	struct source_file_range r[3];
	cr_assert_eq(source_file_split(fd, 3, SOURCE_FILE_LENGTH32, r), 3);
	cr_expect_eq(r[2].end, total);
	int64_t index = 0;
	for (int k = 0; k < 3; k++) {
		if (k > 0)
			cr_expect_eq(r[k].begin, r[k - 1].end);
		cr_expect_gt(r[k].end, r[k].begin, "range %d is empty", k);
		cr_expect_eq(r[k].first_line, index, "range %d", k);
		index = read_numbered(&r[k], index);
	}
	cr_expect_eq(index, count);
}

/* Polls src to its end; the rejects' (offset, error) into rej, the messages' offsets into off. */
static void drain_framed(struct source *src, int64_t *off, size_t *n_off, int64_t *rej_off,
			 const char **rej_err, size_t *n_rej)
{
	struct source_msg msgs[8];
	*n_off = *n_rej = 0;
	for (int polls = 0; !src->finished && polls < 1000; polls++) {
		int got = source_poll(src, msgs, 8, 0);
		cr_assert_geq(got, 0);
		for (uint32_t i = 0; i < src->reject_count; i++) {
			/* A batch's rejects come before its messages. */
			for (int j = 0; j < got; j++)
				cr_expect_lt(src->rejects[i].msg.offset, msgs[j].offset);
			rej_off[*n_rej] = src->rejects[i].msg.offset;
			rej_err[(*n_rej)++] = src->rejects[i].error;
		}
		for (int i = 0; i < got; i++)
			off[(*n_off)++] = msgs[i].offset;
		source_release(src);
	}
	cr_assert(src->finished);
}

Test(source_file, length_prefixed_rejects_too_long_truncated_and_bad)
{
	put_framed("a", 1);
	put_framed(NULL, (int32_t)(SOURCE_MSG_BYTES_MAX - 3)); /* too long: its bytes follow */
	char *x = calloc(1, SOURCE_MSG_BYTES_MAX);
	cr_assert_not_null(x);
	put(x, SOURCE_MSG_BYTES_MAX - 3);
	free(x);
	put_framed("b", 1);
	put_framed(NULL, -7); /* not a length: the rest is one dead letter */
	put("cdefgh", 6);
	struct source_file_range r;
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LENGTH32, &r), 1);
	struct source *src;
	cr_assert_eq(source_file_new(fd, "f", &r, &src), 0);
	int64_t off[8], rej_off[8];
	const char *rej_err[8];
	size_t n_off, n_rej;
	drain_framed(src, off, &n_off, rej_off, rej_err, &n_rej);
	cr_assert_eq(n_off, 2);
	cr_expect_eq(off[0], 0);
	cr_expect_eq(off[1], 2);
	cr_assert_eq(n_rej, 2);
	cr_expect_eq(rej_off[0], 1);
	cr_expect_str_eq(rej_err[0], "too_long");
	cr_expect_eq(rej_off[1], 3);
	cr_expect_str_eq(rej_err[1], "bad_length");
	source_destroy(src);

	/* A message the input ends inside. */
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	put_framed("ok", 2);
	put_framed("0123456789", 10);
	cr_assert_eq(ftruncate(fd, 6 + 4 + 5), 0);
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LENGTH32, &r), 1);
	cr_assert_eq(source_file_new(fd, "f", &r, &src), 0);
	drain_framed(src, off, &n_off, rej_off, rej_err, &n_rej);
	cr_assert_eq(n_off, 1);
	cr_assert_eq(n_rej, 1);
	cr_expect_eq(rej_off[0], 1);
	cr_expect_str_eq(rej_err[0], "truncated");
	source_destroy(src);
}

/* Through a pipe (the read buffer, not a map), with a message too long to keep in between. */
Test(source_file, length_prefixed_through_a_pipe)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	int keep = fd;
	fd = p[1];
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(p[0]);
		for (int i = 0; i < 1000; i++) {
			char msg[32];
			int n = snprintf(msg, sizeof(msg), "m%d\n", i);
			put_framed(msg, n);
			if (i == 500) {
				size_t big = SOURCE_MSG_BYTES_MAX;
				char *x = calloc(1, big);
				put_framed(NULL, (int32_t)big);
				put(x, big);
				free(x);
			}
		}
		_exit(0);
	}
	fd = keep;
	close(p[1]);
	struct source_file_range r;
	cr_assert_eq(source_file_split(p[0], 2, SOURCE_FILE_LENGTH32, &r), 1);
	struct source *src;
	cr_assert_eq(source_file_new(p[0], "stdin", &r, &src), 0);
	static int64_t off[1100], rej_off[8];
	const char *rej_err[8];
	size_t n_off = 0, n_rej = 0;
	struct source_msg msgs[8];
	for (int polls = 0; !src->finished && polls < 100000; polls++) {
		int got = source_poll(src, msgs, 8, 100);
		cr_assert_geq(got, 0);
		for (uint32_t i = 0; i < src->reject_count; i++) {
			rej_off[n_rej] = src->rejects[i].msg.offset;
			rej_err[n_rej++] = src->rejects[i].error;
		}
		for (int i = 0; i < got; i++) {
			int64_t want = off[n_off] = msgs[i].offset;
			int64_t index = want > 501 ? want - 1 : want;
			cr_assert_eq(strtoll(msgs[i].data + 1, NULL, 10), index);
			n_off++;
		}
		source_release(src);
	}
	waitpid(child, NULL, 0);
	cr_expect_eq(n_off, 1000);
	cr_assert_eq(n_rej, 1);
	cr_expect_eq(rej_off[0], 501);
	cr_expect_str_eq(rej_err[0], "too_long");
	source_destroy(src);
	close(p[0]);
}

/* Paused at a message of its batch, the reader goes back to it and stops; resumed, it hands out
 * that message and the ones after it again, each once. */
Test(source_file, paused_at_a_message_it_goes_back_to_it)
{
	for (int i = 0; i < 10; i++) {
		char msg[8];
		int n = snprintf(msg, sizeof(msg), "%d", i);
		put_framed(msg, n);
	}
	struct source_file_range r;
	cr_assert_eq(source_file_split(fd, 1, SOURCE_FILE_LENGTH32, &r), 1);
	struct source *src;
	cr_assert_eq(source_file_new(fd, "f", &r, &src), 0);
	struct source_msg msgs[16];
	cr_assert_eq(source_poll(src, msgs, 16, 0), 10);
	cr_expect(src->finished);
	struct source_msg other = msgs[4];
	other.partition = 3;
	cr_expect_eq(source_pause_partition(src, &other), -ENOENT);
	cr_assert_eq(source_pause_partition(src, &msgs[4]), 0);
	cr_expect(!src->finished);
	source_release(src);
	cr_expect_eq(source_poll(src, msgs, 16, 1), 0);
	cr_assert_eq(source_resume_partition(src, 0), 0);
	cr_assert_eq(source_poll(src, msgs, 3, 0), 3);
	cr_expect_eq(msgs[0].offset, 4);
	cr_expect_eq(memcmp(msgs[0].data, "4", 1), 0);
	/* Paused at the first of a batch, and resumed while the whole source is paused: nothing
	 * until the source's own resume. */
	cr_assert_eq(source_pause_partition(src, &msgs[0]), 0);
	cr_assert_eq(source_pause(src), 0);
	cr_assert_eq(source_resume_partition(src, 0), 0);
	cr_expect_eq(source_poll(src, msgs, 16, 1), 0);
	cr_assert_eq(source_resume(src), 0);
	cr_assert_eq(source_poll(src, msgs, 16, 0), 6);
	for (int i = 0; i < 6; i++)
		cr_expect_eq(msgs[i].offset, 4 + i);
	cr_expect(src->finished);
	source_destroy(src);
}
