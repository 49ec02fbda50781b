/*
 * enrichd-gen-dims: writes the three dimension files of the default schema, deterministic for a
 * seed (same options, same bytes):
 *
 *   users.tsv    user_id, country, plan, signup_date
 *   devices.tsv  device_id, device_type, os, browser
 *   urls.tsv     url, domain, category
 *
 * as ClickHouse TSVWithNames (or CSVWithNames with --format csv, .csv names). Row i of each file
 * has the key gen_user_id(seed, i) / gen_device_id(seed, i) / gen_url(seed, i), so
 * enrichd-gen-events with the same seed and sizes draws keys that exist or, on request, that do
 * not. Each file is written under a temporary name and renamed when complete.
 */
#include "gen.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIMS_PATH_MAX 4096
#define DIMS_BUF_BYTES (4u << 20)
/* Dates rendered once: 1970-01-01 plus this many days covers every signup date. */
#define DIMS_DATE_CACHE_DAYS 40000

enum dims_format { DIMS_TSV, DIMS_CSV };

struct dims_options {
	const char *out_dir;
	uint64_t users;
	uint64_t devices;
	uint64_t urls;
	uint64_t seed;
	enum dims_format format;
	bool sync;
};

struct dims_file {
	struct gen_writer w;
	enum dims_format format;
};

static char dims_dates[DIMS_DATE_CACHE_DAYS][GEN_DATE_MAX];

static void dims_usage(FILE *f)
{
	fprintf(f,
		"usage: enrichd-gen-dims [options]\n"
		"  --out DIR        output directory (created if missing; default .)\n"
		"  --users N        rows of users.tsv (default 1000000)\n"
		"  --devices N      rows of devices.tsv (default 1000000)\n"
		"  --urls N         rows of urls.tsv (default 100000)\n"
		"  --seed S         seed (default 1)\n"
		"  --format tsv|csv TSVWithNames (default) or CSVWithNames\n"
		"  --sync           fsync each file before renaming it into place\n"
		"Writes users, devices and urls files with a header line of column names.\n");
}

static int dims_parse(int argc, char **argv, struct dims_options *o)
{
	static const struct option longs[] = {
		{"out", required_argument, NULL, 'o'},   {"users", required_argument, NULL, 'u'},
		{"devices", required_argument, NULL, 'd'}, {"urls", required_argument, NULL, 'l'},
		{"seed", required_argument, NULL, 's'},  {"format", required_argument, NULL, 'f'},
		{"sync", no_argument, NULL, 'y'},        {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct dims_options){.out_dir = ".", .users = 1000000, .devices = 1000000,
				   .urls = 100000, .seed = 1, .format = DIMS_TSV};
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case 'o': o->out_dir = optarg; break;
		case 'u':
			rc = gen_arg_u64("gen-dims", "--users", optarg, GEN_INDEX_MAX, &o->users);
			break;
		case 'd':
			rc = gen_arg_u64("gen-dims", "--devices", optarg, GEN_INDEX_MAX, &o->devices);
			break;
		case 'l': rc = gen_arg_u64("gen-dims", "--urls", optarg, GEN_INDEX_MAX, &o->urls); break;
		case 's': rc = gen_arg_u64("gen-dims", "--seed", optarg, UINT64_MAX, &o->seed); break;
		case 'f':
			if (strcmp(optarg, "tsv") == 0) {
				o->format = DIMS_TSV;
			} else if (strcmp(optarg, "csv") == 0) {
				o->format = DIMS_CSV;
			} else {
				log_error("gen-dims", "--format: '%s' is neither tsv nor csv", optarg);
				rc = -EINVAL;
			}
			break;
		case 'y': o->sync = true; break;
		case 'h': dims_usage(stdout); exit(0);
		default: dims_usage(stderr); return -EINVAL;
		}
		if (rc != 0)
			return rc;
	}
	if (optind != argc) {
		log_error("gen-dims", "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static inline void dims_sep(struct dims_file *f)
{
	gen_writer_putc(&f->w, f->format == DIMS_TSV ? '\t' : ',');
}

static inline void dims_str(struct dims_file *f, const char *s, size_t n)
{
	if (f->format == DIMS_TSV)
		gen_writer_put_tsv(&f->w, s, n);
	else
		gen_writer_put_csv(&f->w, s, n);
}

static void dims_header(struct dims_file *f, const char *const *names, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		if (k > 0)
			dims_sep(f);
		dims_str(f, names[k], strlen(names[k]));
	}
	gen_writer_putc(&f->w, '\n');
}

static void dims_write_users(struct dims_file *f, uint64_t seed, uint64_t n)
{
	static const char *const names[] = {"user_id", "country", "plan", "signup_date"};
	dims_header(f, names, 4);
	struct gen_user_row row;
	char date[GEN_DATE_MAX];
	for (uint64_t i = 0; i < n && f->w.err == 0; i++) {
		gen_user_row_fill(seed, i, &row);
		gen_writer_put_u64(&f->w, row.user_id);
		dims_sep(f);
		dims_str(f, row.country, 2);
		dims_sep(f);
		dims_str(f, row.plan, strlen(row.plan));
		dims_sep(f);
		const char *d = date;
		if (row.signup_days >= 0 && row.signup_days < DIMS_DATE_CACHE_DAYS)
			d = dims_dates[row.signup_days];
		else
			gen_date_format(row.signup_days, date);
		dims_str(f, d, 10);
		gen_writer_putc(&f->w, '\n');
	}
}

static void dims_write_devices(struct dims_file *f, uint64_t seed, uint64_t n)
{
	static const char *const names[] = {"device_id", "device_type", "os", "browser"};
	dims_header(f, names, 4);
	struct gen_device_row row;
	for (uint64_t i = 0; i < n && f->w.err == 0; i++) {
		gen_device_row_fill(seed, i, &row);
		dims_str(f, row.device_id, row.device_id_len);
		dims_sep(f);
		dims_str(f, row.device_type, strlen(row.device_type));
		dims_sep(f);
		dims_str(f, row.os, strlen(row.os));
		dims_sep(f);
		dims_str(f, row.browser, strlen(row.browser));
		gen_writer_putc(&f->w, '\n');
	}
}

static void dims_write_urls(struct dims_file *f, uint64_t seed, uint64_t n)
{
	static const char *const names[] = {"url", "domain", "category"};
	dims_header(f, names, 3);
	struct gen_url_row row;
	for (uint64_t i = 0; i < n && f->w.err == 0; i++) {
		gen_url_row_fill(seed, i, &row);
		dims_str(f, row.url, row.url_len);
		dims_sep(f);
		dims_str(f, row.domain, row.domain_len);
		dims_sep(f);
		dims_str(f, row.category, strlen(row.category));
		gen_writer_putc(&f->w, '\n');
	}
}

typedef void (*dims_writer_fn)(struct dims_file *f, uint64_t seed, uint64_t n);

static double dims_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Writes <dir>/<name>.<ext> through a temporary name. Returns 0 or -errno. */
static int dims_write_file(const struct dims_options *o, const char *name, dims_writer_fn fn,
			   uint64_t rows)
{
	const char *ext = o->format == DIMS_TSV ? "tsv" : "csv";
	char path[DIMS_PATH_MAX], tmp[DIMS_PATH_MAX];
	int n1 = snprintf(path, sizeof(path), "%s/%s.%s", o->out_dir, name, ext);
	int n2 = snprintf(tmp, sizeof(tmp), "%s/.%s.%s.tmp", o->out_dir, name, ext);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(path) || (size_t)n2 >= sizeof(tmp)) {
		log_error("gen-dims", "%s: output path too long", o->out_dir);
		return -ENAMETOOLONG;
	}
	struct dims_file f = {.format = o->format};
	double t0 = dims_now_s();
	int rc = gen_writer_open(&f.w, tmp, DIMS_BUF_BYTES);
	if (rc != 0) {
		log_error("gen-dims", "%s: cannot create: %s", tmp, strerror(-rc));
		return rc;
	}
	fn(&f, o->seed, rows);
	uint64_t bytes = f.w.bytes + f.w.len;
	rc = gen_writer_close(&f.w, o->sync);
	if (rc != 0) {
		log_error("gen-dims", "%s: write failed: %s", tmp, strerror(-rc));
		goto out_unlink;
	}
	if (rename(tmp, path) != 0) {
		rc = -errno;
		log_error("gen-dims", "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	double dt = dims_now_s() - t0;
	log_info("gen-dims", "%s: %" PRIu64 " rows, %" PRIu64 " bytes in %.3f s (%.2f M rows/s)",
		 path, rows, bytes, dt, dt > 0 ? (double)rows / dt / 1e6 : 0.0);
	return 0;

out_unlink:
	unlink(tmp);
	return rc;
}

int main(int argc, char **argv)
{
	struct dims_options o;
	if (dims_parse(argc, argv, &o) != 0)
		return 2;
	if (mkdir(o.out_dir, 0755) != 0 && errno != EEXIST) {
		log_error("gen-dims", "%s: cannot create directory: %s", o.out_dir, strerror(errno));
		return 1;
	}
	for (int32_t d = 0; d < DIMS_DATE_CACHE_DAYS; d++)
		gen_date_format(d, dims_dates[d]);
	if (dims_write_file(&o, "users", dims_write_users, o.users) != 0 ||
	    dims_write_file(&o, "devices", dims_write_devices, o.devices) != 0 ||
	    dims_write_file(&o, "urls", dims_write_urls, o.urls) != 0)
		return 1;
	return 0;
}
