/*
 * log: one line per event on stderr, "<UTC time> <level> <module>: <message>".
 *
 * Thread-safe (each line is one write(2)); never allocates. Lines longer than LOG_LINE_MAX bytes
 * are truncated. Not for the per-event hot path: log where the context (file, partition, offset)
 * is known, once per failure, and count the rest in metrics.
 */
#ifndef ENRICHD_LOG_H
#define ENRICHD_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

#define LOG_LINE_MAX 2048

/* Sets the most verbose level that is printed (default LOG_LEVEL_INFO). */
void log_level_set(enum log_level level);

/* The level of a syslog severity (0 emergency .. 7 debug: what librdkafka's log callback gives):
 * up to 3 an error, 4 a warning, 5-6 info, 7 debug. */
enum log_level log_level_of_syslog(int severity);

/* Writes one line if level is enabled. module is a short constant such as "dim" or "seg". */
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(module, ...) log_msg(LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define log_warn(module, ...) log_msg(LOG_LEVEL_WARN, module, __VA_ARGS__)
#define log_info(module, ...) log_msg(LOG_LEVEL_INFO, module, __VA_ARGS__)
#define log_debug(module, ...) log_msg(LOG_LEVEL_DEBUG, module, __VA_ARGS__)

#endif
