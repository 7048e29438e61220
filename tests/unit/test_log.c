/* test_log.c: every log line is one JSON object, whatever the message
 * holds: quotes, backslashes, newlines and other control characters are
 * escaped, bytes that are not UTF-8 become U+FFFD, valid UTF-8 passes
 * through, a message over the size limit is cut between characters, and
 * lines under the threshold are not written. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* Run 'fn' with stderr going to a temporary file; return what it wrote
 * (caller frees). */
static char *capture(void (*fn)(const char *arg), const char *arg)
{
    char path[] = "/tmp/hl_test_log.XXXXXX";
    int fd = mkstemp(path);
    CHECK_FATAL(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    CHECK_FATAL(saved >= 0 && dup2(fd, STDERR_FILENO) >= 0);
    fn(arg);
    CHECK_FATAL(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    CHECK_FATAL(buf != NULL && pread(fd, buf, (size_t)len, 0) == len);
    close(fd);
    return buf;
}

static void log_one_info(const char *msg)
{
    log_info("%s", msg);
}

static void log_one_debug(const char *msg)
{
    log_debug("%s", msg);
}

/* 'out' is exactly one line holding a JSON object whose msg is 'want'. */
static void check_one_line(const char *out, const char *want_msg)
{
    size_t len = strlen(out);
    CHECK(len > 0 && out[len - 1] == '\n');
    CHECK(strchr(out, '\n') == out + len - 1);
    json_error_t jerr;
    json_t *line = json_loadb(out, len, 0, &jerr);
    CHECK(json_is_object(line));
    CHECK_EQ_STR(json_string_value(json_object_get(line, "level")), "info");
    CHECK_EQ_STR(json_string_value(json_object_get(line, "component")), "test");
    CHECK(json_string_value(json_object_get(line, "ts")) != NULL);
    if (want_msg)
        CHECK_EQ_STR(json_string_value(json_object_get(line, "msg")), want_msg);
    json_decref(line);
}

/* Quotes, backslashes and control characters are escaped. */
static void test_escapes_control_characters(void)
{
    char *out = capture(log_one_info, "a \"quoted\" \\path\\\nsecond line\r\t\x01 end");
    check_one_line(out, "a \"quoted\" \\path\\\nsecond line\r\t\x01 end");
    free(out);
}

/* Valid UTF-8 is kept as it is. */
static void test_keeps_valid_utf8(void)
{
    char *out = capture(log_one_info, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa6");
    check_one_line(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa6");
    free(out);
}

/* Stray, overlong, surrogate and cut-short sequences become U+FFFD. */
static void test_replaces_invalid_utf8(void)
{
    char *out = capture(log_one_info, "a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82");
    check_one_line(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "d\xef\xbf\xbd\xef\xbf\xbd");
    free(out);
}

/* A message far over the limit is cut, and the line is still valid JSON,
 * even when the cut falls inside a multi-byte character. */
static void test_long_message_stays_one_json_line(void)
{
    char msg[4000];
    for (size_t i = 0; i + 2 < sizeof(msg); i += 2)
        memcpy(msg + i, "\xc3\xa9", 2);
    msg[sizeof(msg) - 2] = '\0';
    char *out = capture(log_one_info, msg);
    check_one_line(out, NULL);
    free(out);
    for (size_t i = 0; i + 1 < sizeof(msg); i++)
        msg[i] = '"';
    msg[sizeof(msg) - 1] = '\0';
    out = capture(log_one_info, msg);
    check_one_line(out, NULL);
    free(out);
}

/* Lines under the threshold are not written. */
static void test_threshold(void)
{
    char *out = capture(log_one_debug, "not shown");
    CHECK_EQ_INT(strlen(out), 0);
    free(out);
}

int main(void)
{
    log_init("test", LOG_LVL_INFO);
    test_escapes_control_characters();
    test_keeps_valid_utf8();
    test_replaces_invalid_utf8();
    test_long_message_stays_one_json_line();
    test_threshold();
    return check_exit();
}
