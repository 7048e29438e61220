/* hx_int.h: helpers shared by the harness's own files (not for tests).
 *
 * Child processes (environment lists, spawn with a log file, wait with a
 * deadline), the HTTP client with an explicit timeout, and the paths of the
 * test certificates.
 */
#ifndef HL_HX_INT_H
#define HL_HX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/* A NULL-terminated list of "NAME=value" strings for execve(); owns them. */
struct hx_env {
    char **v;
    size_t n, cap;
};

/* Copy PATH, PG*, TMPDIR, TZ, LANG, LC_*, HOME and *SAN_OPTIONS from the
 * test's environment into 'env' (which must be zeroed). exit(1) on ENOMEM. */
void hx_env_inherit(struct hx_env *env);

/* Set "NAME=value" (replacing NAME), or remove NAME for a bare "NAME". */
void hx_env_put(struct hx_env *env, const char *entry);

/* printf-style hx_env_put. */
void hx_env_putf(struct hx_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value of NAME in 'env' (borrowed), or NULL. */
const char *hx_env_get(const struct hx_env *env, const char *name);

/* Deep copy of 'src' into zeroed 'dst'. */
void hx_env_copy(struct hx_env *dst, const struct hx_env *src);

void hx_env_free(struct hx_env *env);

/* fork + execve 'path' with 'argv' and 'envp'; stdin from /dev/null,
 * stdout and stderr to 'log_path' (truncated). The child gets SIGKILL if
 * the test process dies, an empty signal mask and default dispositions.
 * Returns the pid, or -1 with a message on stderr. Async-signal-safe in the
 * child: safe in a multi-threaded test. */
pid_t hx_spawn(const char *path, char *const argv[], char *const envp[], const char *log_path);

/* Wait up to 'timeout_ms' (-1: forever) for 'pid'; on exit stores the raw
 * wait status in *wstatus and returns 0; returns -1 on timeout. */
int hx_wait_pid(pid_t pid, long timeout_ms, int *wstatus);

/* "exited 0", "exited 3", "killed by signal 9 (Killed)" into 'out'. */
void hx_wstatus_str(int wstatus, char *out, size_t cap);

/* Print the last 'lines' lines of 'path' on stderr, indented. */
void hx_log_tail(const char *path, int lines);

/* Run a program found in PATH with the test's environment, output to
 * 'log_path', waiting up to 'timeout_ms'. Returns its exit status, or -1. */
int hx_run(char *const argv[], const char *log_path, long timeout_ms);

/* 'n' random characters from [A-Za-z0-9] plus a NUL into 'out' (cap > n). */
void hx_random_alnum(char *out, size_t n);

/* hx_http with an explicit total timeout in milliseconds. */
long hx_http_timeout(const char *method, const char *url, const char *key, const char *body,
                     const char *const *extra_headers, struct hx_resp *resp, long timeout_ms);

/* mkdir -p; returns 0 or -1. */
int hx_mkdirs(const char *path);

/* Paths (borrowed, valid until exit) of the receivers' certificates: the
 * server certificate issued by the test CA and its key, and a self-signed
 * one with the same names. Created with the CA on first use. */
const char *hx_testca_server_cert(void);
const char *hx_testca_server_key(void);
const char *hx_testca_self_cert(void);
const char *hx_testca_self_key(void);

#endif
