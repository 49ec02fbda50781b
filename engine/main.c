/*
 * enrichd: consumes clickstream events, joins them with in-memory dimensions and appends the
 * enriched rows to ClickHouse Native segments.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: enrichd --config FILE [--check] [--input FILE|-]\n"
		"       enrichd --help | --version\n"
		"\n"
		"  -c, --config FILE   configuration file (INI); see docs/CONFIGURATION.md\n"
		"      --check         validate the configuration, print the plan and exit\n"
		"  -i, --input FILE    read JSON-lines events from FILE ('-' for stdin) instead of Kafka\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"input", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:i:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("enrichd %s\n", ENRICHD_VERSION);
			return 0;
		case 'c':
		case 'k':
		case 'i':
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	usage(stderr);
	return 2;
}
