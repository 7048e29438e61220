/* test_ops_logs.c: what hookline writes to its logs.
 *
 * An end-to-end flow at HOOKLINE_LOG_LEVEL=debug (tenant and keys, a
 * webhook, deliveries, a secret rotation, a test event, a redelivery, bad
 * keys, a path with a quote and a backslash), then
 * every log the harness kept is read: no signing secret (whsec_...), API
 * key (hlk_...) or admin key appears anywhere, and every line of hookline's
 * own processes is one JSON object {"ts","level","component","msg"}: one
 * event, one line. Each request is logged at debug level by route.
 * (Control characters and bytes that are not UTF-8 in a message are
 * covered by tests/unit/test_log.c.)
 */
#include <unistd.h>

#include "ops_e2e.h"

#define EVENTS 4
#define SECRETS_MAX 8

struct secrets {
    char v[SECRETS_MAX][160];
    int n;
};

static void secret_add(struct secrets *s, const char *v)
{
    CHECK_FATAL(v != NULL && s->n < SECRETS_MAX);
    snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", v);
}

/* Every line of 'text' is a JSON object with the four fields, a known
 * level and 'component'; returns the number of lines, -1 on the first bad
 * one (printed). */
static int log_lines_valid(const char *path, const char *text, const char *component)
{
    int lines = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) {
            fprintf(stderr, "%s: last line has no newline: %.200s\n", path, p);
            return -1;
        }
        json_error_t jerr;
        json_t *line = json_loadb(p, (size_t)(eol - p), 0, &jerr);
        const char *level = line ? ops_str(line, "level") : NULL;
        bool ok = json_is_object(line) && json_object_size(line) == 4 && ops_str(line, "ts") && level &&
                  (!strcmp(level, "debug") || !strcmp(level, "info") || !strcmp(level, "warn") ||
                   !strcmp(level, "error")) &&
                  ops_str(line, "component") && !strcmp(ops_str(line, "component"), component) &&
                  ops_str(line, "msg");
        json_decref(line);
        if (!ok) {
            fprintf(stderr, "%s:%d: not one JSON log object (%s): %.*s\n", path, lines + 1,
                    line ? "fields" : jerr.text, (int)(eol - p > 300 ? 300 : eol - p), p);
            return -1;
        }
        lines++;
        p = eol + 1;
    }
    return lines;
}

static bool log_has(const char *text, const char *needle)
{
    return strstr(text, needle) != NULL;
}

int main(void)
{
    struct hx_stack_opts opts = {
        .dispatchers = 1,
        .env = { "HOOKLINE_LOG_LEVEL=debug", "HOOKLINE_RETRY_SCHEDULE=1s", NULL },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *rcv = hx_receiver_start(NULL);
    struct secrets secrets = { .n = 0 };
    struct hx_resp resp;
    char key[128], wh[64], secret[128], url[512], path[512];

    OPS_SECTION("an end-to-end flow: keys, webhook, deliveries, rotation, test event, redelivery");
    secret_add(&secrets, hx_admin_key(st));
    ops_tenant_new(st, "logs", key, sizeof(key));
    secret_add(&secrets, key);
    CHECK_EQ_INT(ops_call(st, "POST", hx_admin_key(st), &resp, "/v1/tenants/logs/keys",
                          "{\"scopes\":[\"webhooks:read\"]}"),
                 201);
    secret_add(&secrets, ops_str(resp.json, "key"));
    char revoke[256];
    snprintf(revoke, sizeof(revoke), "/v1/tenants/logs/keys/%s", ops_str(resp.json, "id"));
    hx_resp_free(&resp);
    CHECK_EQ_INT(ops_call(st, "DELETE", hx_admin_key(st), &resp, revoke, NULL), 200);
    hx_resp_free(&resp);

    snprintf(url, sizeof(url), "%s/hook", hx_receiver_url(rcv));
    ops_webhook_new(st, key, "logged", url, "[\"booking\"]", "\"headers\":{\"x-token\":\"hlk_not_a_key_but_close\"}",
                    wh, sizeof(wh), secret, sizeof(secret));
    secret_add(&secrets, secret);
    hx_receiver_respond(rcv, "/hook", 500, 1, NULL);   /* one failure: a retry, its logs */
    for (int i = 0; i < EVENTS; i++)
        ops_event(st, key, "booking.scheduled", i, NULL, 0);
    CHECK(HX_WAIT(hx_receiver_count(rcv, "/hook") >= EVENTS + 1, 20000));

    snprintf(path, sizeof(path), "/v1/webhooks/%s/rotate-secret", wh);
    CHECK_EQ_INT(ops_call(st, "POST", key, &resp, path, NULL), 200);
    secret_add(&secrets, ops_str(resp.json, "secret"));
    hx_resp_free(&resp);
    ops_event(st, key, "booking.completed", 99, NULL, 0);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/test", wh);
    CHECK_EQ_INT(ops_call(st, "POST", key, &resp, path, NULL), 202);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(hx_receiver_count(rcv, "/hook") >= EVENTS + 3, 20000));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?size=1", wh);
    CHECK_EQ_INT(ops_call(st, "GET", key, &resp, path, NULL), 200);
    const char *did = ops_str(json_array_get(json_object_get(resp.json, "elements"), 0), "id");
    CHECK_FATAL(did != NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/%s/retry", wh, did);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ops_call(st, "POST", key, &resp, path, NULL), 202);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(hx_receiver_count(rcv, "/hook") >= EVENTS + 4, 20000));

    OPS_SECTION("keys that fail, and a path with a quote and a backslash");
    const char *fake = "hlk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    secret_add(&secrets, fake);
    CHECK_EQ_INT(ops_call(st, "GET", fake, &resp, "/v1/webhooks", NULL), 401);
    hx_resp_free(&resp);
    const char *bearer[] = { "Authorization: Bearer whsec_notreallyasecretbutlooksso", NULL };
    secret_add(&secrets, "whsec_notreallyasecretbutlooksso");
    snprintf(url, sizeof(url), "%s/v1/webhooks", hx_api_url(st));
    CHECK_EQ_INT(hx_http("GET", url, NULL, NULL, bearer, &resp), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ops_call(st, "POST", "not-the-admin-key-at-all-000000", &resp, "/v1/tenants", "{\"id\":\"x\"}"), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ops_call(st, "GET", key, &resp, "/v1/webhooks/wh_\"q\\x\xff\xfe", NULL), 404);
    hx_resp_free(&resp);

    /* the logs are complete once every process has stopped */
    char logs[8][4096];
    const char *kinds[8];
    int nlogs = 0;
    pid_t pids[4];
    size_t nd = hx_dispatcher_pids(st, pids, 4);
    snprintf(logs[nlogs], sizeof(logs[0]), "%s", hx_proc_log(st, hx_api_pid(st)));
    kinds[nlogs++] = "api";
    for (size_t i = 0; i < nd && i < 4; i++) {
        snprintf(logs[nlogs], sizeof(logs[0]), "%s", hx_proc_log(st, pids[i]));
        kinds[nlogs++] = "dispatcher";
    }
    snprintf(logs[nlogs], sizeof(logs[0]), "%s", hx_proc_log(st, hx_broker_pid(st)));
    kinds[nlogs++] = NULL;  /* the development broker: not hookline's log format */
    hx_receiver_stop(rcv);
    CHECK_EQ_INT(hx_stack_stop(st), 0);

    OPS_SECTION("no secret, API key or admin key in any log; each hookline line is one JSON object");
    bool saw_request_log = false, saw_escaped = false;
    for (int i = 0; i < nlogs; i++) {
        char *text = ops_read_file(logs[i], NULL);
        CHECK_FATAL(text != NULL);
        for (int s = 0; s < secrets.n; s++) {
            if (log_has(text, secrets.v[s]))
                fprintf(stderr, "%s contains secret #%d\n", logs[i], s);
            CHECK(!log_has(text, secrets.v[s]));
        }
        CHECK(!log_has(text, "whsec_"));
        CHECK(!log_has(text, "hlk_"));
        if (kinds[i] != NULL) {
            int lines = log_lines_valid(logs[i], text, kinds[i]);
            CHECK(lines > 3);
        }
        if (kinds[i] && !strcmp(kinds[i], "api")) {
            /* request logs at debug level name the route, never a key */
            char want[128];
            snprintf(want, sizeof(want), "\"POST /v1/webhooks/%s/rotate-secret -> 200 in ", wh);
            saw_request_log = log_has(text, want) && log_has(text, "(route /v1/webhooks/:id/rotate-secret)");
            saw_escaped = log_has(text, "/v1/webhooks/wh_\\\"q\\\\x");
        }
        free(text);
    }
    CHECK(saw_request_log);
    CHECK(saw_escaped);
    return check_exit();
}
