#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deadletter.h"
#include "helpers.h"

Test(deadletter, appends_lines_that_survive_reopen)
{
	char dir[] = "/tmp/deadletter-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	struct deadletter dl;
	cr_assert_eq(deadletter_open(&dl, sub, "inst", 3), 0);
	cr_assert_eq(deadletter_append(&dl, "clickstream", 7, 42, "syntax", "syntax error at byte 1",
				       "{bad\tjson\n", 10), 0);
	cr_assert_eq(deadletter_sync(&dl), 0);
	deadletter_close(&dl);
	cr_assert_eq(deadletter_open(&dl, sub, "inst", 3), 0);
	cr_assert_eq(deadletter_append(&dl, "clickstream", 8, 43, "empty", "empty payload", "", 0), 0);
	deadletter_close(&dl);

	char path[512];
	snprintf(path, sizeof(path), "%s/inst-w3.deadletter.tsv", sub);
	size_t len;
	char *text = t_read_file(path, &len);
	cr_expect_str_eq(text, "clickstream\t7\t42\tsyntax\tsyntax error at byte 1\t{bad\\tjson\\n\n"
			       "clickstream\t8\t43\tempty\tempty payload\t\n");
	free(text);
	t_rm_tree(dir);
}

Test(deadletter, unwritable_directory_is_an_error)
{
	struct deadletter dl;
	cr_expect_lt(deadletter_open(&dl, "/proc/enrichd-no-such-dir", "i", 0), 0);
}

/* A FIFO where the file should be is refused at once: opening it for writing used to block the
 * worker (and so the process's stop) until something read it. */
Test(deadletter, a_fifo_in_its_place_is_refused, .timeout = 10)
{
	char dir[] = "/tmp/deadletter-fifo-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[512];
	snprintf(path, sizeof(path), "%s/inst-w0.deadletter.tsv", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	struct deadletter dl;
	alarm(5);
	cr_expect_lt(deadletter_open(&dl, dir, "inst", 0), 0);
	alarm(0);
	unlink(path);
	rmdir(dir);
}

/* A large message dead-lettered after a first small line: a scratch directory, the open file of
 * worker w, the message (raw_len bytes of every value) and the file's path. */
struct big_case {
	char dir[64];
	char path[512];
	struct deadletter dl;
	unsigned char *raw;
	size_t raw_len;
};

static void big_case_open(struct big_case *c, unsigned w, size_t raw_len)
{
	snprintf(c->dir, sizeof(c->dir), "/tmp/deadletter-big-XXXXXX");
	cr_assert_not_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/inst-w%u.deadletter.tsv", c->dir, w);
	cr_assert_eq(deadletter_open(&c->dl, c->dir, "inst", w), 0);
	cr_assert_eq(deadletter_append(&c->dl, "t", 0, 1, "syntax", "first", "a", 1), 0);
	c->raw_len = raw_len;
	c->raw = malloc(raw_len);
	cr_assert_not_null(c->raw);
	for (size_t i = 0; i < raw_len; i++)
		c->raw[i] = (unsigned char)(i * 7 + i / 4096);
}

static void big_case_close(struct big_case *c)
{
	free(c->raw);
	t_rm_tree(c->dir);
}

/* A message of any size survives whole with its reason, where one larger than half the buffer
 * used to be cut to its head and its reason replaced by "raw bytes truncated". */
Test(deadletter, a_large_message_survives_whole)
{
	struct big_case c; /* 10 MB, between two small lines */
	big_case_open(&c, 1, (size_t)10 << 20);
	cr_assert_eq(deadletter_append(&c.dl, "t", 0, 2, "syntax", "syntax error: expected ','",
				       c.raw, c.raw_len), 0);
	cr_assert_eq(deadletter_append(&c.dl, "t", 0, 3, "syntax", "last", "z", 1), 0);
	cr_assert_eq(deadletter_sync(&c.dl), 0);
	uint64_t bytes = c.dl.bytes;
	deadletter_close(&c.dl);

	size_t len;
	char *text = t_read_file(c.path, &len);
	cr_assert_eq(len, bytes, "the size kept for the manifest is the file's");
	char *l2 = strchr(text, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	const char *l1 = "t\t0\t1\tsyntax\tfirst\ta\n";
	cr_assert_eq(strncmp(text, l1, strlen(l1)), 0);
	cr_assert_str_eq(l3, "t\t0\t3\tsyntax\tlast\tz\n");
	const char *head = "t\t0\t2\tsyntax\tsyntax error: expected ','\t";
	cr_assert_eq(strncmp(l2, head, strlen(head)), 0, "the reason is kept");
	unsigned char *back = malloc(c.raw_len + 1);
	const char *field = l2 + strlen(head);
	size_t n = t_tsv_unescape(field, (size_t)(l3 - 1 - field), (char *)back);
	cr_assert_eq(n, c.raw_len);
	cr_assert_eq(memcmp(back, c.raw, c.raw_len), 0, "every byte of the message");
	free(back);
	free(text);
	big_case_close(&c);
}

/* A large line whose write fails half way is not left torn in the file: the retry writes it
 * whole after the lines before it. (RLIMIT_FSIZE makes the write fail with EFBIG.) */
Test(deadletter, a_failed_large_write_leaves_no_torn_line)
{
	struct big_case c;
	big_case_open(&c, 2, (size_t)4 << 20);
	cr_assert_eq(deadletter_sync(&c.dl), 0);
	uint64_t before = c.dl.bytes;
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)3 << 20;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(deadletter_append(&c.dl, "t", 0, 2, "syntax", "big", c.raw, c.raw_len),
		     -EFBIG);
	struct stat st;
	cr_assert_eq(stat(c.path, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, before, "the torn line is cut off");
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert_eq(deadletter_append(&c.dl, "t", 0, 2, "syntax", "big", c.raw, c.raw_len), 0);
	cr_assert_eq(deadletter_sync(&c.dl), 0);
	deadletter_close(&c.dl);
	size_t len;
	char *text = t_read_file(c.path, &len);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	cr_assert_eq(lines, 2);
	const char *l2 = "t\t0\t2\tsyntax\tbig\t";
	cr_assert_eq(strncmp(strchr(text, '\n') + 1, l2, strlen(l2)), 0);
	free(text);
	big_case_close(&c);
}
