/*
 * enrichd-native-cat: prints ClickHouse Native files as ClickHouse's TSVWithNamesAndTypes does:
 * a line of column names, a line of type names, then one line per row, values escaped as
 * TabSeparated (\N for NULL). Several files are read as one stream (their blocks must share one
 * structure). A truncated or corrupt file is reported with its byte offset; exit status 1.
 * With --blocks it lists the blocks instead (offset, rows, size, LowCardinality index widths).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "native.h"
#include "native_read.h"
#include "tsv.h"
#include "gen.h"

struct cat_state {
	struct native_reader *reader;
	bool header;          /* print the two header lines */
	bool blocks;          /* print one line per block instead of the rows */
	uint64_t nblocks;
	bool have_structure;  /* first block seen */
	uint32_t ncols;
	char (*types)[NATIVE_TYPE_NAME_MAX]; /* canonical type name of each column */
	char **names;
	char *text;           /* value text buffer */
	size_t text_cap;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: enrichd-native-cat [--no-header | --blocks] FILE...\n"
		     "Prints ClickHouse Native files as TSVWithNamesAndTypes.\n"
		     "  -H, --no-header   omit the names and types lines\n"
		     "  -b, --blocks      print one line per block (offset, rows, bytes,\n"
		     "                    LowCardinality keys and index widths) instead of rows\n"
		     "  -h, --help        this text\n");
}

static int put_escaped(struct cat_state *st, const char *s, size_t n)
{
	size_t need = 2 * n + 1;
	if (need > st->text_cap) {
		char *t = realloc(st->text, need);
		if (!t)
			return -ENOMEM;
		st->text = t;
		st->text_cap = need;
	}
	size_t len = tsv_escape(st->text, st->text_cap, s, n, TSV_ESCAPE_QUOTE);
	return fwrite(st->text, 1, len, stdout) == len ? 0 : -EIO;
}

/* The canonical name of a column's type, or the name as the file writes it if that is too long. */
static void type_name(const struct native_rd_col *c, char *buf, size_t cap)
{
	if (chtype_name(&c->type, buf, cap) < 0)
		snprintf(buf, cap, "%.*s", (int)c->type_name_len, c->type_name);
}

/* Remembers the first block's structure (and prints it) or checks a later block against it. */
static int check_structure(struct cat_state *st, const char *path,
			   const struct native_rd_block *blk)
{
	if (!st->have_structure) {
		st->ncols = blk->ncols;
		st->types = calloc(blk->ncols ? blk->ncols : 1, sizeof(*st->types));
		st->names = calloc(blk->ncols ? blk->ncols : 1, sizeof(*st->names));
		if (!st->types || !st->names)
			return -ENOMEM;
		for (uint32_t i = 0; i < blk->ncols; i++) {
			const struct native_rd_col *c = &blk->cols[i];
			type_name(c, st->types[i], NATIVE_TYPE_NAME_MAX);
			st->names[i] = strndup(c->name, c->name_len);
			if (!st->names[i])
				return -ENOMEM;
		}
		st->have_structure = true;
		if (!st->header)
			return 0;
		for (int line = 0; line < 2; line++) {
			for (uint32_t i = 0; i < st->ncols; i++) {
				const char *s = line == 0 ? st->names[i] : st->types[i];
				if ((i > 0 && fputc('\t', stdout) == EOF) ||
				    put_escaped(st, s, strlen(s)) < 0)
					return -EIO;
			}
			if (fputc('\n', stdout) == EOF)
				return -EIO;
		}
		return 0;
	}
	if (blk->ncols != st->ncols) {
		fprintf(stderr, "enrichd-native-cat: %s: byte %zu: block of %u columns, expected %u\n",
			path, blk->offset, blk->ncols, st->ncols);
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < blk->ncols; i++) {
		const struct native_rd_col *c = &blk->cols[i];
		char type[NATIVE_TYPE_NAME_MAX];
		type_name(c, type, sizeof(type));
		if (c->name_len != strlen(st->names[i]) ||
		    memcmp(c->name, st->names[i], c->name_len) != 0 || strcmp(type, st->types[i])) {
			fprintf(stderr, "enrichd-native-cat: %s: byte %zu: column %u is '%.*s %s', "
					"expected '%s %s'\n",
				path, blk->offset, i, (int)c->name_len, c->name, type, st->names[i],
				st->types[i]);
			return -EBADMSG;
		}
	}
	return 0;
}

static int print_block(struct cat_state *st, const char *path, const struct native_rd_block *blk)
{
	for (uint64_t row = 0; row < blk->rows; row++) {
		for (uint32_t i = 0; i < blk->ncols; i++) {
			const struct native_rd_col *c = &blk->cols[i];
			ssize_t n = native_rd_format_text(c, row, st->text, st->text_cap);
			if (n >= 0 && (size_t)n >= st->text_cap) {
				char *t = realloc(st->text, (size_t)n + 1);
				if (!t)
					return -ENOMEM;
				st->text = t;
				st->text_cap = (size_t)n + 1;
				n = native_rd_format_text(c, row, st->text, st->text_cap);
			}
			if (n < 0) {
				fprintf(stderr, "enrichd-native-cat: %s: byte %zu: column '%.*s': "
						"cannot print type %s (only the Native value types, in UTC)\n",
					path, blk->offset, (int)c->name_len, c->name, st->types[i]);
				return (int)n;
			}
			if ((i > 0 && fputc('\t', stdout) == EOF) ||
			    fwrite(st->text, 1, (size_t)n, stdout) != (size_t)n)
				return -EIO;
		}
		if (fputc('\n', stdout) == EOF)
			return -EIO;
	}
	return 0;
}

static int print_block_line(struct cat_state *st, const struct native_rd_block *blk)
{
	static const char *const widths[] = {"", "UInt8", "UInt16", "", "UInt32", "", "", "",
					     "UInt64"};
	printf("block %llu at byte %zu: %llu rows, %zu bytes", (unsigned long long)st->nblocks++,
	       blk->offset, (unsigned long long)blk->rows, blk->size);
	for (uint32_t i = 0; blk->rows > 0 && i < blk->ncols; i++) {
		const struct native_rd_col *c = &blk->cols[i];
		if (c->type.low_cardinality)
			printf("; %.*s: %llu keys, %s indexes", (int)c->name_len, c->name,
			       (unsigned long long)c->values.count, widths[c->index_width]);
	}
	return putchar('\n') == EOF ? -EIO : 0;
}

static int cat_file(struct cat_state *st, const char *path)
{
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "enrichd-native-cat: %s: %s\n", path, strerror(errno));
		return rc;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		fprintf(stderr, "enrichd-native-cat: %s: %s\n", path, strerror(errno));
		goto out_close;
	}
	size_t len = (size_t)sb.st_size;
	const uint8_t *buf = NULL;
	if (len > 0) {
		void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			rc = -errno;
			fprintf(stderr, "enrichd-native-cat: %s: mmap: %s\n", path, strerror(errno));
			goto out_close;
		}
		madvise(m, len, MADV_SEQUENTIAL);
		buf = m;
	}
	size_t off = 0;
	for (;;) {
		struct native_rd_block blk;
		rc = native_reader_next(st->reader, buf, len, &off, &blk);
		if (rc == 0)
			break;
		if (rc < 0) {
			size_t at;
			const char *msg = native_reader_error(st->reader, &at);
			fprintf(stderr, "enrichd-native-cat: %s: byte %zu: %s\n", path, at,
				rc == -ENOMEM ? "out of memory" : msg);
			goto out_unmap;
		}
		if (st->blocks) {
			rc = print_block_line(st, &blk);
		} else {
			rc = check_structure(st, path, &blk);
			if (rc == 0)
				rc = print_block(st, path, &blk);
		}
		if (rc < 0)
			goto out_unmap;
	}
out_unmap:
	if (buf)
		munmap((void *)buf, len);
out_close:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"no-header", no_argument, NULL, 'H'},
		{"blocks", no_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cat_state st = {.header = true};
	int opt;
	while ((opt = getopt_long(argc, argv, "Hbh", options, NULL)) != -1) {
		switch (opt) {
		case 'H':
			st.header = false;
			break;
		case 'b':
			st.blocks = true;
			break;
		default: /* 'h' too */
			return gen_usage_end(usage, opt);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	static char outbuf[1 << 20];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	int status = 0;
	st.text_cap = 4096;
	st.text = malloc(st.text_cap);
	if (!st.text || native_reader_init(&st.reader) < 0) {
		fprintf(stderr, "enrichd-native-cat: out of memory\n");
		status = 1;
		goto out;
	}
	for (int i = optind; i < argc && status == 0; i++) {
		int rc = cat_file(&st, argv[i]);
		if (rc == -EIO || rc == -ENOMEM)
			fprintf(stderr, "enrichd-native-cat: %s: %s\n", argv[i],
				rc == -EIO ? "write error on stdout" : "out of memory");
		if (rc < 0)
			status = 1;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "enrichd-native-cat: write error on stdout: %s\n", strerror(errno));
		status = 1;
	}
out:
	native_reader_destroy(st.reader);
	if (st.names)
		for (uint32_t i = 0; i < st.ncols; i++)
			free(st.names[i]);
	free(st.names);
	free(st.types);
	free(st.text);
	return status;
}
