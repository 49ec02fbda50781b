/*
 * enrichd: consumes clickstream events, joins them with in-memory dimensions and appends the
 * enriched rows to ClickHouse Native segments.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: enrichd --config FILE [--check] [--input FILE|-]\n"
		"       enrichd --config-reference | --help | --version\n"
		"\n"
		"  -c, --config FILE       configuration file (INI); see docs/CONFIGURATION.md\n"
		"      --check             validate the configuration, print the plan and exit\n"
		"  -i, --input FILE        read JSON-lines events from FILE ('-' for stdin) instead\n"
		"                          of Kafka; exits when the input is consumed\n"
		"      --config-reference  print the reference of every configuration key\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop fetching, seal, commit and exit 0; SIGHUP reloads the\n"
		"dimensions whose source changed, without pausing the event path.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"input", required_argument, NULL, 'i'},
		{"config-reference", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *input = NULL;
	int check = 0, opt;
	while ((opt = getopt_long(argc, argv, "c:i:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("enrichd %s\n", ENRICHD_VERSION);
			return 0;
		case 'r':
			config_reference(stdout);
			return 0;
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'i':
			input = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || optind < argc) {
		usage(stderr);
		return 2;
	}
	static struct config cfg;
	char err[CONFIG_ERR_MAX];
	if (config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "enrichd: %s\n", err);
		return 2;
	}
	if (check)
		return engine_check(&cfg, stdout) == 0 ? 0 : 2;
	return engine_run(&cfg, input) == 0 ? 0 : 1;
}
