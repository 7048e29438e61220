/* log.h: structured logging, one JSON object per line on stderr.
 *
 * Never pass secrets, API keys or full payloads: log ids and sizes.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef HL_LOG_H
#define HL_LOG_H

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Set the process-wide component name ("api", "dispatcher") and level. */
void log_init(const char *component, enum log_level level);

/* Parse "debug|info|warn|error"; returns 0 and sets *level, or -1. */
int log_level_parse(const char *s, enum log_level *level);

/* Log 'fmt' as the "msg" field at 'level'. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
