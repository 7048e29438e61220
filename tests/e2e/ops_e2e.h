/* ops_e2e.h: helpers shared by the operations tests (tests/e2e/test_ops_*.c):
 * sections, JSON requests, Prometheus text parsing, files of the source
 * tree, tenants and webhooks.
 *
 * Header-only (static inline) so each test stays one executable; it
 * depends on the harness only, and checks hookline from the outside.
 */
#ifndef HL_OPS_E2E_H
#define HL_OPS_E2E_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

extern char **environ;

#ifndef HOOKLINE_SOURCE_SQL_DIR
#error "HOOKLINE_SOURCE_SQL_DIR must be defined by the build"
#endif
/* the source tree's root, found from the migrations' directory */
#define OPS_SOURCE_ROOT HOOKLINE_SOURCE_SQL_DIR "/.."
#define OPS_SCOPES "webhooks:read,webhooks:write,events:write"

/* Name the behaviour the next checks are about. */
#define OPS_SECTION(...) do { printf("-- "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

/* The whole file at 'path' NUL-terminated (caller frees), or NULL. */
static inline char *ops_read_file(const char *path, size_t *len_out)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    for (size_t n; buf != NULL && (n = fread(buf + len, 1, cap - len - 1, fp)) > 0;) {
        len += n;
        if (cap - len < 2) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(fp);
    if (buf != NULL)
        buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

/* Every log the harness keeps in 'dir' (the processes' own, *.log), read
 * whole and passed to 'clean' with its name: each must be clean. Returns
 * how many logs were read (the caller says how many it expects). */
static inline int ops_each_log_clean(const char *dir, bool (*clean)(const void *arg, const char *name, const char *text),
                                     const void *arg)
{
    DIR *d = opendir(dir);
    CHECK_FATAL(d != NULL);
    int logs = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".log") != 0)
            continue;
        char log[PATH_MAX + 300];
        snprintf(log, sizeof(log), "%s/%s", dir, de->d_name);
        char *text = ops_read_file(log, NULL);
        CHECK(text != NULL && clean(arg, de->d_name, text));
        free(text);
        logs++;
    }
    closedir(d);
    return logs;
}

/* A file of the source tree ('rel' like "api/openapi.json"); caller frees. */
static inline char *ops_source_file(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", OPS_SOURCE_ROOT, rel);
    return ops_read_file(path, NULL);
}

/* 'method' the api's 'path' with a printf-formatted JSON body (NULL: none). */
static inline long ops_call(struct hx_stack *st, const char *method, const char *key, struct hx_resp *resp,
                            const char *path, const char *body_fmt, ...) __attribute__((format(printf, 6, 7)));
static inline long ops_call(struct hx_stack *st, const char *method, const char *key, struct hx_resp *resp,
                            const char *path, const char *body_fmt, ...)
{
    char *body = NULL;
    if (body_fmt != NULL) {
        va_list ap;
        va_start(ap, body_fmt);
        int n = vasprintf(&body, body_fmt, ap);
        va_end(ap);
        CHECK_FATAL(n >= 0);
    }
    long status = hx_api(st, method, key, body, resp, "%s", path);
    free(body);
    return status;
}

static inline const char *ops_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* A tenant with every scope; its key into 'key'. exit(1) on failure. */
static inline void ops_tenant_new(struct hx_stack *st, const char *tenant, char *key, size_t cap)
{
    CHECK_FATAL(hx_tenant_new(st, tenant, OPS_SCOPES, key, cap) == 0);
}

/* A webhook 'name' for 'events' (a JSON array text such as
 * "[\"booking\"]") to 'url', with 'extra_json' fields (may be NULL); its id
 * and secret into 'id' and 'secret' (may be NULL). exit(1) on failure. */
static inline void ops_webhook_new(struct hx_stack *st, const char *key, const char *name, const char *url,
                                   const char *events, const char *extra_json, char *id, size_t id_cap, char *secret,
                                   size_t secret_cap)
{
    struct hx_resp resp;
    long status = ops_call(st, "POST", key, &resp, "/v1/webhooks", "{\"name\":\"%s\",\"url\":\"%s\",\"events\":%s%s%s}",
                           name, url, events, extra_json ? "," : "", extra_json ? extra_json : "");
    if (status != 201)
        fprintf(stderr, "ops: creating webhook %s: %ld %s\n", name, status, resp.body ? resp.body : "");
    CHECK_FATAL(status == 201);
    snprintf(id, id_cap, "%s", ops_str(resp.json, "id"));
    if (secret)
        snprintf(secret, secret_cap, "%s", ops_str(resp.json, "secret"));
    hx_resp_free(&resp);
}

/* POST /v1/events of 'type' with data {"n":n}; returns the event id into
 * 'id' (may be NULL). exit(1) unless 202. */
static inline void ops_event(struct hx_stack *st, const char *key, const char *type, int n, char *id, size_t cap)
{
    struct hx_resp resp;
    long status = ops_call(st, "POST", key, &resp, "/v1/events", "{\"type\":\"%s\",\"data\":{\"n\":%d}}", type, n);
    if (status != 202)
        fprintf(stderr, "ops: publishing: %ld %s\n", status, resp.body ? resp.body : "");
    CHECK_FATAL(status == 202);
    if (id)
        snprintf(id, cap, "%s", ops_str(resp.json, "id"));
    hx_resp_free(&resp);
}

/* The value of the Prometheus series 'series' (name plus labels exactly as
 * printed, e.g. "x_total{a=\"b\"}") in 'text', or NAN if absent. */
static inline double ops_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return NAN;
}

/* Sum of every series of metric 'name' (any labels, "name{...}" or bare). */
static inline double ops_metric_sum(const char *text, const char *name)
{
    size_t n = strlen(name);
    double sum = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || (p[n] != '{' && p[n] != ' '))
            continue;
        const char *sp = p[n] == ' ' ? p + n : strstr(p, "} ");
        const char *eol = strchr(p, '\n');
        if (sp && (!eol || sp < eol))
            sum += strtod(sp + (p[n] == ' ' ? 1 : 2), NULL);
    }
    return sum;
}

/* GET 'url' into *resp (caller frees) and return the status. */
static inline long ops_get(const char *url, struct hx_resp *resp)
{
    return hx_http("GET", url, NULL, NULL, NULL, resp);
}

/* The status of GET <base><path> (the answer is dropped). */
static inline long ops_status(const char *base, const char *path)
{
    char url[256];
    struct hx_resp resp;
    snprintf(url, sizeof(url), "%s%s", base, path);
    long status = ops_get(url, &resp);
    hx_resp_free(&resp);
    return status;
}

/* GET <base>/metrics as text (caller frees), or NULL unless 200. */
static inline char *ops_scrape(const char *base)
{
    char url[256];
    struct hx_resp resp;
    snprintf(url, sizeof(url), "%s/metrics", base);
    long status = ops_get(url, &resp);
    char *text = status == 200 && resp.body ? strdup(resp.body) : NULL;
    hx_resp_free(&resp);
    return text;
}

/* What a one-shot run of a hookline program printed. */
struct ops_run {
    int status;             /* exit status, 128+signal, or -1 on timeout */
    char out[16384];
    char err[16384];
};

/* Run the program at 'bin' (named 'prog' in argv[0] and in the names of
 * the output files in 'dir') with 'args' (NULL-terminated, may be NULL)
 * and an environment of PATH, HOME plus 'env' ("NAME=value",
 * NULL-terminated, may be NULL) only; stdout and stderr into 'run',
 * waiting up to 'timeout_ms'. */
static inline void ops_run_path(const char *dir, const char *prog, const char *bin, const char *const *args,
                                const char *const *env, long timeout_ms, struct ops_run *run)
{
    char out_path[4096], err_path[4096], pathvar[4096], homevar[4096];
    snprintf(out_path, sizeof(out_path), "%s/%s.run.out", dir, prog);
    snprintf(err_path, sizeof(err_path), "%s/%s.run.err", dir, prog);
    snprintf(homevar, sizeof(homevar), "HOME=%s", getenv("HOME") ? getenv("HOME") : "/tmp");
    snprintf(pathvar, sizeof(pathvar), "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *argv[16] = { (char *)prog };
    int argc = 1;
    for (int i = 0; args && args[i] && argc < 15; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    char *envp[40] = { pathvar, homevar };
    int envc = 2;
    for (int i = 0; env && env[i] && envc < 39; i++)
        envp[envc++] = (char *)env[i];
    /* sanitizer settings follow the test into the child */
    for (char **e = environ; *e && envc < 39; e++)
        if (strstr(*e, "SAN_OPTIONS=") != NULL)
            envp[envc++] = *e;
    envp[envc] = NULL;

    fflush(NULL);
    pid_t pid = fork();
    CHECK_FATAL(pid >= 0);
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fo < 0 || fe < 0 || fi < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execve(bin, argv, envp);
        _exit(127);
    }
    int wstatus = 0;
    if (HX_WAIT(waitpid(pid, &wstatus, WNOHANG) == pid, timeout_ms)) {
        run->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, &wstatus, 0);
        run->status = -1;
    }
    char *text = ops_read_file(out_path, NULL);
    snprintf(run->out, sizeof(run->out), "%s", text ? text : "");
    free(text);
    text = ops_read_file(err_path, NULL);
    snprintf(run->err, sizeof(run->err), "%s", text ? text : "");
    free(text);
}

/* ops_run_path for $HOOKLINE_BIN_DIR/'prog' (a hookline program). */
static inline void ops_run_prog(const char *dir, const char *prog, const char *const *args, const char *const *env,
                                long timeout_ms, struct ops_run *run)
{
    char bin[4096];
    const char *bindir = getenv("HOOKLINE_BIN_DIR");
    snprintf(bin, sizeof(bin), "%s/%s", bindir && *bindir ? bindir : ".", prog);
    ops_run_path(dir, prog, bin, args, env, timeout_ms, run);
}

#endif
