/* api_e2e.h: helpers shared by the end-to-end tests of hookline-api
 * (tests/e2e/test_api_*.c): sections, JSON access, webhook bodies, a plain
 * librdkafka consumer that reads every partition of a topic, and running
 * hookline-api as a one-shot command with a chosen environment.
 *
 * Header-only (static inline) so each test stays one executable; nothing
 * here is hookline code: the tests check the api from the outside.
 */
#ifndef HL_API_E2E_H
#define HL_API_E2E_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "harness.h"

extern char **environ;

/* Name the behaviour the next checks are about (stdout, so a failing
 * CHECK on stderr shows under the section it belongs to). */
#define E2E_SECTION(...)                                                                                               \
    do {                                                                                                               \
        printf("-- ");                                                                                                 \
        printf(__VA_ARGS__);                                                                                           \
        printf("\n");                                                                                                  \
        fflush(stdout);                                                                                                \
    } while (0)

static inline const char *e2e_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static inline long long e2e_int(const json_t *obj, const char *name)
{
    return json_integer_value(json_object_get(obj, name));
}

/* The "error" message of an error reply, or "" (never NULL). */
static inline const char *e2e_error(const struct hx_resp *resp)
{
    const char *msg = e2e_str(resp->json, "error");
    return msg ? msg : "";
}

static inline int e2e_starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An error reply is exactly {"error":"<non-empty message>"} (plus the
 * optional "unavailable" list of unknown events). */
static inline int e2e_is_error_body(const struct hx_resp *resp)
{
    if (!json_is_object(resp->json) || e2e_error(resp)[0] == '\0')
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(resp->json, k, v)
    {
        if (strcmp(k, "error") != 0 && strcmp(k, "unavailable") != 0)
            return 0;
    }
    return 1;
}

/* POST/PUT/PATCH 'body' (a printf-formatted JSON text) to the api. */
static inline long e2e_send(struct hx_stack *st, const char *method, const char *key, struct hx_resp *resp,
                            const char *path, const char *body_fmt, ...) __attribute__((format(printf, 6, 7)));
static inline long e2e_send(struct hx_stack *st, const char *method, const char *key, struct hx_resp *resp,
                            const char *path, const char *body_fmt, ...)
{
    char *body = NULL;
    va_list ap;
    va_start(ap, body_fmt);
    int n = vasprintf(&body, body_fmt, ap);
    va_end(ap);
    CHECK_FATAL(n >= 0);
    long status = hx_api(st, method, key, body, resp, "%s", path);
    free(body);
    return status;
}

/* Same with a JSON value (borrowed) as the body. */
static inline long e2e_send_json(struct hx_stack *st, const char *method, const char *key, struct hx_resp *resp,
                                 const char *path, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    CHECK_FATAL(text != NULL);
    long status = hx_api(st, method, key, text, resp, "%s", path);
    free(text);
    return status;
}

/* Send 'body' (may be NULL) and check the reply is 'status' and, for an
 * error status, a JSON error whose message starts with 'prefix' (NULL:
 * any message). Prints the request and answer on a mismatch. */
#define E2E_EXPECT(st, method, key, path, body, status, prefix)                                                        \
    e2e_expect((st), (method), (key), (path), (body), (status), (prefix), __FILE__, __LINE__)

static inline void e2e_expect(struct hx_stack *st, const char *method, const char *key, const char *path,
                              const char *body, long status, const char *prefix, const char *file, int line)
{
    struct hx_resp resp;
    long got = hx_api(st, method, key, body, &resp, "%s", path);
    bool ok = got == status;
    if (ok && status >= 400)
        ok = e2e_is_error_body(&resp) && (prefix == NULL || e2e_starts_with(e2e_error(&resp), prefix));
    check_count++;
    if (!ok) {
        check_failures++;
        fprintf(stderr, "%s:%d: CHECK failed: %s %s %.300s -> want %ld%s%s%s, got %ld %.500s\n", file, line, method,
                path, body ? body : "", status, prefix ? " \"" : "", prefix ? prefix : "", prefix ? "...\"" : "", got,
                resp.body);
    }
    hx_resp_free(&resp);
}

/* Any URL with extra header lines (NULL-terminated "Name: value" list). */
static inline long e2e_http_hdrs(struct hx_stack *st, const char *method, const char *key, const char *body,
                                 const char *const *headers, struct hx_resp *resp, const char *path)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", hx_api_url(st), path);
    return hx_http(method, url, key, body, headers, resp);
}

/* Create webhook 'name' for all booking events at 'url'; its id goes to
 * 'id_out' (cap >= 64), its secret to 'secret_out' when not NULL.
 * Returns the status. */
static inline long e2e_webhook_new(struct hx_stack *st, const char *key, const char *name, const char *url,
                                   char *id_out, char *secret_out)
{
    struct hx_resp resp;
    json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "url", url, "events", "booking");
    long status = e2e_send_json(st, "POST", key, &resp, "/v1/webhooks", body);
    json_decref(body);
    id_out[0] = '\0';
    if (status == 201 && e2e_str(resp.json, "id"))
        snprintf(id_out, 64, "%s", e2e_str(resp.json, "id"));
    if (secret_out != NULL) {
        secret_out[0] = '\0';
        if (status == 201 && e2e_str(resp.json, "secret"))
            snprintf(secret_out, 128, "%s", e2e_str(resp.json, "secret"));
    }
    if (status != 201)
        fprintf(stderr, "create webhook %s: %ld %s\n", name, status, resp.body);
    hx_resp_free(&resp);
    return status;
}

/* One number from the stack's database (first column of row 0 of 'sql'
 * with at most two text parameters), or -1 on error. */
static inline long e2e_db_long(struct hx_stack *st, const char *sql, const char *p1, const char *p2)
{
    PGconn *pg = hx_pg_connect(st);
    const char *params[2] = {p1, p2};
    int nparams = p2 ? 2 : p1 ? 1 : 0;
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = atol(PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "query failed: %s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return v;
}

/* Whether 'sealed' is a value sealed at rest for 'field' of webhook 'id'
 * of 'tenant' under the stack's keys that opens to 'plain' (NULL: any),
 * and does not show it. Says why on stderr when not. */
static inline bool e2e_sealed_is(struct hx_stack *st, const char *tenant, const char *id, const char *field,
                                 const char *sealed, const char *plain)
{
    char *opened = sealed ? hx_unseal(hx_secrets_key(st), tenant, id, field, sealed) : NULL;
    /* a value too short to be told from base64 by chance is not looked for in it */
    bool ok = opened != NULL && (plain == NULL || strcmp(opened, plain) == 0) &&
              (plain == NULL || strlen(plain) < 8 || strstr(sealed, plain) == NULL);
    if (!ok)
        fprintf(stderr, "%s %s of %s: %s\n", tenant, field, id,
                sealed == NULL ? "absent" : opened == NULL ? "does not open (not sealed for it)" : "opens to another value");
    free(opened);
    return ok;
}

/* e2e_sealed_is for column 'column' ("secret", "previous_secret") of webhook 'id' in PostgreSQL. */
static inline bool e2e_db_sealed_is(struct hx_stack *st, const char *id, const char *column, const char *plain)
{
    PGconn *pg = hx_pg_connect(st);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT tenant_id, %s FROM webhooks WHERE id = $1", column);
    const char *params[1] = {id};
    PGresult *res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) &&
              e2e_sealed_is(st, PQgetvalue(res, 0, 0), id, column, PQgetvalue(res, 0, 1), plain);
    PQclear(res);
    PQfinish(pg);
    return ok;
}

/* ---- a plain librdkafka consumer over every partition of one topic ---- */

struct e2e_consumer {
    rd_kafka_t *rk;
    json_t *msgs; /* every message read so far: {"key","partition","offset","value"(JSON or string)} */
};

/* Assign every partition of 'topic' from the beginning (no group). */
static inline struct e2e_consumer *e2e_consumer_new(const char *brokers, const char *topic)
{
    char errstr[256];
    struct e2e_consumer *c = calloc(1, sizeof(*c));
    CHECK_FATAL(c != NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", brokers},
        {"group.id", "e2e-reader"}, /* required by the consumer API; never joined: we assign */
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "false"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "500"},
        {"log_level", "2"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        CHECK_FATAL(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    CHECK_FATAL(c->rk != NULL);
    rd_kafka_poll_set_consumer(c->rk);

    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    CHECK_FATAL(rd_kafka_metadata(c->rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_FATAL(md->topic_cnt == 1 && md->topics[0].partition_cnt > 0);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    CHECK_FATAL(rd_kafka_assign(c->rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    c->msgs = json_array();
    return c;
}

static inline void e2e_consumer_free(struct e2e_consumer *c)
{
    if (c == NULL)
        return;
    rd_kafka_assign(c->rk, NULL);
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    json_decref(c->msgs);
    free(c);
}

/* Read what is available for up to 'ms'; returns the total read so far. */
static inline size_t e2e_consumer_poll(struct e2e_consumer *c, int ms)
{
    long long until = hx_now_ms() + ms;
    do {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, 50);
        if (rkm == NULL)
            continue;
        if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            json_t *value = json_loadb(rkm->payload, rkm->len, 0, NULL);
            if (value == NULL)
                value = json_stringn(rkm->payload, rkm->len);
            json_array_append_new(c->msgs,
                                  json_pack("{s:s%,s:i,s:I,s:o}", "key", rkm->key ? (const char *)rkm->key : "",
                                            rkm->key ? rkm->key_len : 0, "partition", (int)rkm->partition, "offset",
                                            (json_int_t)rkm->offset, "value", value));
        }
        rd_kafka_message_destroy(rkm);
    } while (hx_now_ms() < until);
    return json_array_size(c->msgs);
}

/* Messages whose value has string field 'field' equal to 'want' (or whose
 * value's "webhook" object has "id" == 'want' when 'field' is "webhook.id"). */
static inline size_t e2e_count_where(const struct e2e_consumer *c, const char *field, const char *want)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        const json_t *value = json_object_get(m, "value");
        const char *got =
            strcmp(field, "webhook.id") == 0 ? e2e_str(json_object_get(value, "webhook"), "id") : e2e_str(value, field);
        if (got && strcmp(got, want) == 0)
            n++;
    }
    return n;
}

/* Poll until at least 'n' messages match (field == want) or 'timeout_ms'. */
static inline bool e2e_consume_until(struct e2e_consumer *c, const char *field, const char *want, size_t n,
                                     long timeout_ms)
{
    return HX_WAIT((e2e_consumer_poll(c, 100), e2e_count_where(c, field, want) >= n), timeout_ms);
}

/* ---- hookline-api as a one-shot command --------------------------------- */

struct e2e_run {
    int status;     /* exit status, 128+signal, or -1 on timeout */
    char out[8192]; /* stdout, truncated */
    char err[8192]; /* stderr, truncated */
    int err_lines;  /* lines on stderr */
};

static inline void e2e_read_file(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return;
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

/* Start $HOOKLINE_BIN_DIR/hookline-api with 'args' (NULL-terminated, may
 * be NULL) in the test's environment without any HOOKLINE_* variable, plus
 * 'env' ("NAME=value", NULL-terminated, may be NULL; at most 32). Its
 * stdout and stderr go to <dir>/<tag>.out and .err; it gets SIGKILL if the
 * test dies. Returns its pid. */
static inline pid_t e2e_spawn_api(const char *dir, const char *tag, const char *const *args, const char *const *env)
{
    char bin[PATH_MAX], out_path[PATH_MAX], err_path[PATH_MAX];
    const char *bindir = getenv("HOOKLINE_BIN_DIR");
    snprintf(bin, sizeof(bin), "%s/hookline-api", bindir && *bindir ? bindir : ".");
    snprintf(out_path, sizeof(out_path), "%s/%s.out", dir, tag);
    snprintf(err_path, sizeof(err_path), "%s/%s.err", dir, tag);

    char *argv[16] = {"hookline-api"};
    int argc = 1;
    for (int i = 0; args && args[i] && argc < 15; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;

    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 33, sizeof(char *));
    CHECK_FATAL(envp != NULL);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "HOOKLINE_", 9) != 0)
            envp[k++] = environ[i];
    for (size_t i = 0; env && env[i] && i < 32; i++)
        envp[k++] = (char *)env[i];
    envp[k] = NULL;

    fflush(NULL);
    pid_t pid = fork();
    CHECK_FATAL(pid >= 0);
    if (pid == 0) {
        /* only async-signal-safe calls between fork and exec */
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fo < 0 || fe < 0 || fi < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 ||
            prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            _exit(126);
        execve(bin, argv, envp);
        _exit(127);
    }
    free(envp);
    return pid;
}

/* Wait up to 'timeout_ms' for 'pid' to exit; past it, SIGKILL. Returns the
 * exit status, 128+signal, or -1 if it had to be killed. */
static inline int e2e_wait_api(pid_t pid, long timeout_ms)
{
    int wstatus = 0;
    if (!HX_WAIT(waitpid(pid, &wstatus, WNOHANG) == pid, timeout_ms)) {
        kill(pid, SIGKILL);
        waitpid(pid, &wstatus, 0);
        fprintf(stderr, "hookline-api (pid %ld): killed after %ld ms\n", (long)pid, timeout_ms);
        return -1;
    }
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

/* Run hookline-api to completion (see e2e_spawn_api), killing it after
 * 'timeout_ms', and read its output back into 'run'. */
static inline void e2e_run_api(const char *dir, const char *tag, const char *const *args, const char *const *env,
                               long timeout_ms, struct e2e_run *run)
{
    char out_path[PATH_MAX], err_path[PATH_MAX];
    snprintf(out_path, sizeof(out_path), "%s/%s.out", dir, tag);
    snprintf(err_path, sizeof(err_path), "%s/%s.err", dir, tag);
    run->status = e2e_wait_api(e2e_spawn_api(dir, tag, args, env), timeout_ms);
    e2e_read_file(out_path, run->out, sizeof(run->out));
    e2e_read_file(err_path, run->err, sizeof(run->err));
    run->err_lines = 0;
    for (const char *p = run->err; *p; p++)
        if (*p == '\n')
            run->err_lines++;
    if (run->err[0] && run->err[strlen(run->err) - 1] != '\n')
        run->err_lines++;
}

#endif
