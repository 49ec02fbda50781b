/*
 * source_file: the JSON-lines source. Line framing (a last line without newline, a line too long
 * to be a message), the split of a file into line-aligned ranges with their first line numbers,
 * and pausing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	cr_assert_eq(source_file_split(fd, 1, &r), 1);
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
	cr_assert_eq(source_file_split(fd, 3, r), 3);
	cr_expect_eq(r[0].begin, 0);
	cr_expect_eq(r[0].first_line, 0);
	cr_expect_eq(r[2].end, total);
	int64_t line_no = 0;
	for (int k = 0; k < 3; k++) {
		if (k > 0)
			cr_expect_eq(r[k].begin, r[k - 1].end);
		cr_expect_eq(r[k].first_line, line_no, "range %d", k);
		struct source *src;
		cr_assert_eq(source_file_new(fd, "f", &r[k], &src), 0);
		struct source_msg msgs[64];
		while (!src->finished) {
			int got = source_poll(src, msgs, 64, 0);
			cr_assert_geq(got, 0);
			for (int i = 0; i < got; i++) {
				/* Each line holds its own number: whole lines, right offsets. */
				cr_assert_eq(msgs[i].offset, line_no);
				cr_assert_eq(strtoll(msgs[i].data, NULL, 10), line_no);
				line_no++;
			}
			source_release(src);
		}
		source_destroy(src);
	}
	cr_expect_eq(line_no, lines);
}

Test(source_file, a_small_file_goes_to_the_first_reader)
{
	put("x\ny\n", 4);
	struct source_file_range r[4];
	cr_assert_eq(source_file_split(fd, 4, r), 4);
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
