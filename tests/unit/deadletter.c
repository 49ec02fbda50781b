#include <criterion/criterion.h>
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
