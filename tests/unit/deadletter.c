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

	char path[512], text[512];
	snprintf(path, sizeof(path), "%s/inst-w3.deadletter.tsv", sub);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cr_expect_str_eq(text, "clickstream\t7\t42\tsyntax\tsyntax error at byte 1\t{bad\\tjson\\n\n"
			       "clickstream\t8\t43\tempty\tempty payload\t\n");
	unlink(path);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
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

/* The file's bytes (malloc'd, NUL-terminated); *len its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* TSV-unescapes s[0..len) into out; returns the length. */
static size_t unescape(const char *s, size_t len, unsigned char *out)
{
	static const char from[] = "\\tnr0bf", to[] = "\\\t\n\r\0\b\f";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			const char *p = memchr(from, s[++i], sizeof(from) - 1);
			out[o++] = p ? (unsigned char)to[p - from] : (unsigned char)s[i];
		} else {
			out[o++] = (unsigned char)s[i];
		}
	}
	return o;
}

/* A 10 MB message of every byte value, dead-lettered between two small ones. */
static unsigned char *big_message(size_t len)
{
	unsigned char *raw = malloc(len);
	for (size_t i = 0; i < len; i++)
		raw[i] = (unsigned char)(i * 7 + i / 4096);
	return raw;
}

/* A message of any size survives whole with its reason, where one larger than half the buffer
 * used to be cut to its head and its reason replaced by "raw bytes truncated". */
Test(deadletter, a_large_message_survives_whole)
{
	char dir[] = "/tmp/deadletter-large-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	size_t raw_len = (size_t)10 << 20;
	unsigned char *raw = big_message(raw_len);
	struct deadletter dl;
	cr_assert_eq(deadletter_open(&dl, dir, "inst", 1), 0);
	cr_assert_eq(deadletter_append(&dl, "t", 0, 1, "syntax", "first", "a", 1), 0);
	cr_assert_eq(deadletter_append(&dl, "t", 0, 2, "syntax", "syntax error: expected ','",
				       raw, raw_len), 0);
	cr_assert_eq(deadletter_append(&dl, "t", 0, 3, "syntax", "last", "z", 1), 0);
	cr_assert_eq(deadletter_sync(&dl), 0);
	uint64_t bytes = dl.bytes;
	deadletter_close(&dl);

	char path[512];
	snprintf(path, sizeof(path), "%s/inst-w1.deadletter.tsv", dir);
	size_t len;
	char *text = slurp(path, &len);
	cr_assert_eq(len, bytes, "the size kept for the manifest is the file's");
	char *l2 = strchr(text, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	const char *l1 = "t\t0\t1\tsyntax\tfirst\ta\n";
	cr_assert_eq(strncmp(text, l1, strlen(l1)), 0);
	cr_assert_str_eq(l3, "t\t0\t3\tsyntax\tlast\tz\n");
	const char *head = "t\t0\t2\tsyntax\tsyntax error: expected ','\t";
	cr_assert_eq(strncmp(l2, head, strlen(head)), 0, "the reason is kept");
	unsigned char *back = malloc(raw_len + 1);
	const char *field = l2 + strlen(head);
	size_t n = unescape(field, (size_t)(l3 - 1 - field), back);
	cr_assert_eq(n, raw_len);
	cr_assert_eq(memcmp(back, raw, raw_len), 0, "every byte of the message");
	free(back);
	free(text);
	free(raw);
	unlink(path);
	rmdir(dir);
}

/* A large line whose write fails half way is not left torn in the file: the retry writes it
 * whole after the lines before it. (RLIMIT_FSIZE makes the write fail with EFBIG.) */
Test(deadletter, a_failed_large_write_leaves_no_torn_line)
{
	char dir[] = "/tmp/deadletter-torn-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	size_t raw_len = (size_t)4 << 20;
	unsigned char *raw = big_message(raw_len);
	struct deadletter dl;
	cr_assert_eq(deadletter_open(&dl, dir, "inst", 2), 0);
	cr_assert_eq(deadletter_append(&dl, "t", 0, 1, "syntax", "first", "a", 1), 0);
	cr_assert_eq(deadletter_sync(&dl), 0);
	uint64_t before = dl.bytes;
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)3 << 20;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(deadletter_append(&dl, "t", 0, 2, "syntax", "big", raw, raw_len), -EFBIG);
	char path[512];
	snprintf(path, sizeof(path), "%s/inst-w2.deadletter.tsv", dir);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, before, "the torn line is cut off");
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert_eq(deadletter_append(&dl, "t", 0, 2, "syntax", "big", raw, raw_len), 0);
	cr_assert_eq(deadletter_sync(&dl), 0);
	deadletter_close(&dl);
	size_t len;
	char *text = slurp(path, &len);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	cr_assert_eq(lines, 2);
	const char *l2 = "t\t0\t2\tsyntax\tbig\t";
	cr_assert_eq(strncmp(strchr(text, '\n') + 1, l2, strlen(l2)), 0);
	free(text);
	free(raw);
	unlink(path);
	rmdir(dir);
}
