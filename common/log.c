/* log.c: JSON-lines logger on stderr. */
#include "log.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "hookline";
static enum log_level log_threshold = LOG_LVL_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *component, enum log_level level)
{
    log_component = component;
    log_threshold = level;
}

int log_level_parse(const char *s, enum log_level *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, log_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Append 's' JSON-escaped to buf[*n..cap); truncates silently, between
 * characters. Bytes that are not UTF-8 (a message cut by the size limit, a
 * peer's raw bytes) become U+FFFD, so every line stays valid JSON. */
static void log_escape(char *buf, size_t cap, size_t *n, const char *s)
{
    while (*s && *n + 7 < cap) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*n)++] = '\\';
            buf[(*n)++] = (char)c;
        } else if (c < 0x20) {
            *n += (size_t)snprintf(buf + *n, cap - *n, "\\u%04x", c);
        } else if (c < 0x80) {
            buf[(*n)++] = (char)c;
        } else {
            size_t len = utf8_seq_len((const unsigned char *)s, strnlen(s, 4));
            if (len == 0) {
                *n += (size_t)snprintf(buf + *n, cap - *n, "\\ufffd");
            } else {
                memcpy(buf + *n, s, len);   /* len <= 4 < 7: fits */
                *n += len;
                s += len;
                continue;
            }
        }
        s++;
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_threshold)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);

    char line[1400];
    size_t n = (size_t)snprintf(line, sizeof(line),
        "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000, log_names[level], log_component);
    log_escape(line, sizeof(line), &n, text);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}\n");
    if (n > sizeof(line))
        n = sizeof(line);
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
