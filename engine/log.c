#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level_current = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};

void log_level_set(enum log_level level)
{
	atomic_store(&log_level_current, (int)level);
}

__attribute__((format(printf, 3, 0))) static void
log_vmsg(enum log_level level, const char *module, const char *fmt, va_list ap)
{
	if ((int)level > atomic_load(&log_level_current))
		return;
	char line[LOG_LINE_MAX];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, now.tv_nsec / 1000000, log_level_names[level], module);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	ssize_t rc = write(STDERR_FILENO, line, len);
	(void)rc;
}

enum log_level log_level_of_syslog(int severity)
{
	return severity <= 3 ? LOG_LEVEL_ERROR
	       : severity == 4 ? LOG_LEVEL_WARN
	       : severity <= 6 ? LOG_LEVEL_INFO
			       : LOG_LEVEL_DEBUG;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, module, fmt, ap);
	va_end(ap);
}
