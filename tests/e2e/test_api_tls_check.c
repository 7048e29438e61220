/* test_api_tls_check.c: the TLS check of new endpoints (HOOKLINE_TLS_CHECK)
 * follows the destination policy, tells nothing about hosts and ports,
 * is bounded in time, and holds nothing while it runs.
 *
 * - An endpoint with a certificate from the configured CA is accepted. A
 *   closed port, an open port that speaks no TLS, an untrusted
 *   certificate, a handshake that never comes and a name that does not
 *   resolve all get the same 400 body, naming the field and nothing else;
 *   the reason is in the api's log at debug level.
 * - Ten endpoints that all stall are checked at once: the answer comes
 *   within 5 s and a margin. While two such requests run, /healthz and
 *   GET /v1/webhooks answer at once (4 workers, the default), and a third
 *   check answers 503 with Retry-After rather than wait.
 * - A PATCH whose check is slow holds no transaction, lock or pool
 *   connection (the pool has one): another PATCH of the same webhook
 *   answers at once, and the slow one, when its check succeeds, applies
 *   its change on top of the other's.
 * - Where private targets are not allowed, a name that resolves to a
 *   forbidden address is refused with the same 400, and nothing connects
 *   to that address.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>

#include "api_e2e.h"
#include "dest_policy.h"

#define GENERIC_400 ": TLS check failed: could not establish a verified HTTPS connection."
#define FAST_MS 500
#define STALLS 10

struct slow_call {
    struct hx_stack *st;
    const char *key;
    const char *method;
    char path[160];
    char *body;
    long status;
    long long ms;
    char answer[512];
};

static void *slow_call_main(void *arg)
{
    struct slow_call *c = arg;
    struct hx_resp resp;
    long long t0 = hx_now_ms();
    c->status = hx_api(c->st, c->method, c->key, c->body, &resp, "%s", c->path);
    c->ms = hx_now_ms() - t0;
    snprintf(c->answer, sizeof(c->answer), "%s", resp.body ? resp.body : "");
    hx_resp_free(&resp);
    return NULL;
}

static void slow_call_start(struct slow_call *c, pthread_t *t)
{
    CHECK_FATAL(pthread_create(t, NULL, slow_call_main, c) == 0);
}

/* {"name":name,"events":"booking","url":url}: the answer's status; its body in 'body_out' (cap 1024). */
static long create(struct hx_stack *st, const char *key, const char *name, const char *url, char *body_out,
                   long long *ms)
{
    struct hx_resp resp;
    json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "url", url, "events", "booking");
    long long t0 = hx_now_ms();
    long status = e2e_send_json(st, "POST", key, &resp, "/v1/webhooks", body);
    if (ms)
        *ms = hx_now_ms() - t0;
    json_decref(body);
    if (body_out)
        snprintf(body_out, 1024, "%s", resp.body ? resp.body : "");
    hx_resp_free(&resp);
    return status;
}

/* A body with 'n' endpoints at the sinks' ports. New string, caller frees. */
static char *stalled_body(const char *name, struct hx_tcp_sink **sinks, int n)
{
    json_t *eps = json_array();
    for (int i = 0; i < n; i++) {
        char url[128];
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/s%d", hx_tcp_sink_port(sinks[i]), i);
        json_array_append_new(eps, json_pack("{s:s}", "url", url));
    }
    json_t *body = json_pack("{s:s,s:s,s:o}", "name", name, "events", "booking", "endpoints", eps);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

static size_t accepted_all(struct hx_tcp_sink **sinks, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += hx_tcp_sink_accepted(sinks[i]) > 0;
    return total;
}

static long long timed_get(struct hx_stack *st, const char *key, const char *path)
{
    struct hx_resp resp;
    long long t0 = hx_now_ms();
    long status = hx_api(st, "GET", key, NULL, &resp, "%s", path);
    long long ms = hx_now_ms() - t0;
    hx_resp_free(&resp);
    return status == 200 ? ms : 1000000;
}

/* Count of rows of 'sql' (one number) over a separate connection. */
static long db_count(struct hx_stack *st, const char *sql)
{
    return e2e_db_long(st, sql, NULL, NULL);
}

int main(void)
{
    struct hx_stack_opts opts = {
        .env = { "HOOKLINE_TLS_CHECK=true", "HOOKLINE_DB_POOL_SIZE=1", "HOOKLINE_LOG_LEVEL=debug" },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver_opts untrusted_opts = { .untrusted_cert = true }, plain_opts = { .plain_http = true };
    struct hx_receiver *good = hx_receiver_start(NULL), *untrusted = hx_receiver_start(&untrusted_opts),
                       *plain = hx_receiver_start(&plain_opts);
    char key[128], id[64], url[512], body[1024], path[160];
    struct hx_resp resp;
    CHECK_FATAL(hx_tenant_new(st, "tls", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);

    E2E_SECTION("an endpoint with a certificate from the configured CA -> 201");
    snprintf(url, sizeof(url), "%s/hook", hx_receiver_url(good));
    CHECK_EQ_INT(e2e_webhook_new(st, key, "trusted", url, id, NULL), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);

    char first[1024] = "";
    {
        /* the five failures */
        char u[256];
        long long ms;
        struct hx_tcp_sink *stall = hx_tcp_sink_start(NULL);
        const char *what[5] = { "closed port", "open port without TLS", "untrusted certificate",
                                "handshake never comes", "name that does not resolve" };
        char urls[5][256];
        snprintf(urls[0], sizeof(urls[0]), "https://127.0.0.1:%d/closed", hx_free_port());
        snprintf(urls[1], sizeof(urls[1]), "https%s/plain", hx_receiver_url(plain) + 4);
        snprintf(urls[2], sizeof(urls[2]), "%s/untrusted", hx_receiver_url(untrusted));
        snprintf(urls[3], sizeof(urls[3]), "https://127.0.0.1:%d/stall", hx_tcp_sink_port(stall));
        snprintf(urls[4], sizeof(urls[4]), "https://hookline-no-such-host.example/hook");
        E2E_SECTION("closed port, open port without TLS, untrusted certificate, stalled handshake, unknown name: "
                    "one and the same 400 body");
        for (int i = 0; i < 5; i++) {
            char name[32];
            snprintf(name, sizeof(name), "bad-%d", i);
            long status = create(st, key, name, urls[i], body, &ms);
            printf("%s: %ld after %lld ms: %s\n", what[i], status, ms, body);
            CHECK_EQ_INT(status, 400);
            CHECK(ms < 8000);
            if (i == 0)
                snprintf(first, sizeof(first), "%s", body);
            CHECK_EQ_STR(body, first);
        }
        CHECK_EQ_STR(first, "{\"error\":\"url" GENERIC_400 "\"}");
        CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE name LIKE 'bad-%'", NULL, NULL), 0);
        hx_tcp_sink_stop(stall);

        E2E_SECTION("the same when the URL changes, naming the endpoint; the webhook stays as it was");
        snprintf(body, sizeof(body), "{\"url\":\"%s\"}", urls[2]);
        CHECK_EQ_INT(hx_api(st, "PATCH", key, body, &resp, "%s", path), 400);
        CHECK_EQ_STR(resp.body, first);
        hx_resp_free(&resp);
        snprintf(u, sizeof(u), "%s/hook", hx_receiver_url(good));
        snprintf(body, sizeof(body),
                 "{\"name\":\"trusted\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"%s\"},{\"url\":\"%s\"}]}", u,
                 urls[1]);
        CHECK_EQ_INT(hx_api(st, "PUT", key, body, &resp, "%s", path), 400);
        CHECK_EQ_STR(e2e_error(&resp), "endpoints[1].url" GENERIC_400);
        hx_resp_free(&resp);
        CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), 1);

        E2E_SECTION("the reason is in the api's log at debug level, not in the answer");
        char log[1 << 16];
        e2e_read_file(hx_proc_log(st, hx_api_pid(st)), log, sizeof(log));
        CHECK(strstr(log, "TLS check of url (127.0.0.1 port") != NULL);
        CHECK(strstr(log, "TLS check of endpoints[1].url") != NULL);
    }

    {
        struct hx_tcp_sink *sinks[STALLS], *more[STALLS], *third = hx_tcp_sink_start(NULL);
        for (int i = 0; i < STALLS; i++) {
            sinks[i] = hx_tcp_sink_start(NULL);
            more[i] = hx_tcp_sink_start(NULL);
        }
        E2E_SECTION("ten endpoints that all stall: 400 within 8 s, every one tried");
        struct slow_call a = { .st = st, .key = key, .method = "POST", .body = stalled_body("ten", sinks, STALLS) };
        snprintf(a.path, sizeof(a.path), "/v1/webhooks");
        slow_call_main(&a);
        printf("ten stalled endpoints: %ld after %lld ms: %s\n", a.status, a.ms, a.answer);
        CHECK_EQ_INT(a.status, 400);
        CHECK(a.ms < 8000);
        CHECK_EQ_INT(accepted_all(sinks, STALLS), STALLS);

        E2E_SECTION("two such checks at once: /healthz and GET /v1/webhooks answer within %d ms; a third check "
                    "answers 503 with Retry-After", FAST_MS);
        struct slow_call b = { .st = st, .key = key, .method = "POST", .body = stalled_body("ten-b", sinks, STALLS) };
        struct slow_call c = { .st = st, .key = key, .method = "POST", .body = stalled_body("ten-c", more, STALLS) };
        snprintf(b.path, sizeof(b.path), "/v1/webhooks");
        snprintf(c.path, sizeof(c.path), "/v1/webhooks");
        size_t before = 0;
        for (int i = 0; i < STALLS; i++)
            before += hx_tcp_sink_accepted(sinks[i]);
        pthread_t tb, tc;
        long long started = hx_now_ms();
        slow_call_start(&b, &tb);
        slow_call_start(&c, &tc);
        /* both checks are under way once their endpoints see connections */
        CHECK(HX_WAIT(({
            size_t now = 0;
            for (int i = 0; i < STALLS; i++)
                now += hx_tcp_sink_accepted(sinks[i]);
            now > before && accepted_all(more, STALLS) > 0;
        }), 3000));
        long long worst_health = 0, worst_list = 0;
        int probes = 0;
        while (hx_now_ms() - started < 3500) {
            long long h = timed_get(st, NULL, "/healthz"), l = timed_get(st, key, "/v1/webhooks");
            worst_health = h > worst_health ? h : worst_health;
            worst_list = l > worst_list ? l : worst_list;
            probes++;
            hx_sleep_ms(50);
        }
        char third_url[128];
        snprintf(third_url, sizeof(third_url), "https://127.0.0.1:%d/third", hx_tcp_sink_port(third));
        long long ms;
        long third_status = 0;
        json_t *tb_body = json_pack("{s:s,s:s,s:s}", "name", "third", "url", third_url, "events", "booking");
        long long t0 = hx_now_ms();
        third_status = e2e_send_json(st, "POST", key, &resp, "/v1/webhooks", tb_body);
        ms = hx_now_ms() - t0;
        json_decref(tb_body);
        char retry_after[16] = "";
        bool has_retry = hx_resp_header(&resp, "Retry-After", retry_after, sizeof(retry_after)) == 0;
        printf("third check: %ld after %lld ms (Retry-After %s): %s\n", third_status, ms, retry_after, resp.body);
        hx_resp_free(&resp);
        pthread_join(tb, NULL);
        pthread_join(tc, NULL);
        printf("%d probes: slowest /healthz %lld ms, GET /v1/webhooks %lld ms; the checks took %lld and %lld ms\n",
               probes, worst_health, worst_list, b.ms, c.ms);
        CHECK(probes >= 5);
        CHECK(worst_health < FAST_MS);
        CHECK(worst_list < FAST_MS);
        CHECK_EQ_INT(third_status, 503);
        CHECK(has_retry);
        CHECK(ms < FAST_MS);
        CHECK_EQ_INT(b.status, 400);
        CHECK_EQ_INT(c.status, 400);
        CHECK(b.ms < 8000 && c.ms < 8000);
        free(a.body);
        free(b.body);
        free(c.body);
        for (int i = 0; i < STALLS; i++) {
            hx_tcp_sink_stop(sinks[i]);
            hx_tcp_sink_stop(more[i]);
        }
        hx_tcp_sink_stop(third);
    }

    {
        struct hx_tcp_sink *stall = hx_tcp_sink_start(NULL);
        E2E_SECTION("a PATCH whose check stalls holds no transaction, lock or pool connection (pool of one): "
                    "another PATCH of the webhook answers at once");
        struct slow_call a = { .st = st, .key = key, .method = "PATCH" };
        snprintf(a.path, sizeof(a.path), "%s", path);
        CHECK_FATAL(asprintf(&a.body, "{\"url\":\"https://127.0.0.1:%d/slow\",\"description\":\"from A\"}",
                             hx_tcp_sink_port(stall)) > 0);
        pthread_t ta;
        slow_call_start(&a, &ta);
        CHECK(HX_WAIT(hx_tcp_sink_accepted(stall) > 0, 3000));
        CHECK_EQ_INT(db_count(st, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"),
                     0);
        CHECK_EQ_INT(db_count(st, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                  "WHERE c.relname = 'webhooks' AND l.pid <> pg_backend_pid() "
                                  "AND l.mode IN ('RowShareLock', 'RowExclusiveLock')"),
                     0);
        long long t0 = hx_now_ms();
        CHECK_EQ_INT(hx_api(st, "PATCH", key, "{\"description\":\"from B\"}", &resp, "%s", path), 200);
        long long ms = hx_now_ms() - t0;
        printf("the other PATCH: %lld ms\n", ms);
        CHECK(ms < FAST_MS);
        hx_resp_free(&resp);
        pthread_join(ta, NULL);
        printf("the slow PATCH: %ld after %lld ms: %s\n", a.status, a.ms, a.answer);
        CHECK_EQ_INT(a.status, 400);
        CHECK(a.ms < 8000);
        free(a.body);
        hx_tcp_sink_stop(stall);
        CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 200);
        CHECK_EQ_STR(e2e_str(resp.json, "description"), "from B");
        CHECK_EQ_STR(e2e_str(resp.json, "url"), url);
        hx_resp_free(&resp);
        CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), 2);

        E2E_SECTION("a PATCH whose check is slow but succeeds applies its change on top of one made meanwhile");
        struct hx_tcp_sink_opts slow_opts = { .forward_port = atoi(strrchr(hx_receiver_url(good), ':') + 1),
                                              .forward_delay_ms = 1500 };
        struct hx_tcp_sink *slow = hx_tcp_sink_start(&slow_opts);
        char slow_url[128];
        snprintf(slow_url, sizeof(slow_url), "https://127.0.0.1:%d/slow-but-good", hx_tcp_sink_port(slow));
        struct slow_call c = { .st = st, .key = key, .method = "PATCH" };
        snprintf(c.path, sizeof(c.path), "%s", path);
        CHECK_FATAL(asprintf(&c.body, "{\"url\":\"%s\",\"name\":\"renamed by C\"}", slow_url) > 0);
        pthread_t tcc;
        slow_call_start(&c, &tcc);
        CHECK(HX_WAIT(hx_tcp_sink_accepted(slow) > 0, 3000));
        t0 = hx_now_ms();
        CHECK_EQ_INT(hx_api(st, "PATCH", key, "{\"description\":\"from D\"}", &resp, "%s", path), 200);
        ms = hx_now_ms() - t0;
        hx_resp_free(&resp);
        printf("PATCH D during C's check: %lld ms\n", ms);
        CHECK(ms < FAST_MS);
        pthread_join(tcc, NULL);
        printf("PATCH C: %ld after %lld ms\n", c.status, c.ms);
        CHECK_EQ_INT(c.status, 200);
        CHECK(c.ms >= 1500 && c.ms < 8000);
        free(c.body);
        CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 200);
        CHECK_EQ_STR(e2e_str(resp.json, "url"), slow_url);
        CHECK_EQ_STR(e2e_str(resp.json, "name"), "renamed by C");
        CHECK_EQ_STR(e2e_str(resp.json, "description"), "from D");
        hx_resp_free(&resp);
        CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), 4);
        hx_tcp_sink_stop(slow);
    }
    hx_receiver_stop(good);
    hx_receiver_stop(untrusted);
    hx_receiver_stop(plain);
    CHECK_EQ_INT(hx_stack_stop(st), 0);

    {
        E2E_SECTION("private targets not allowed: a name resolving to a forbidden address -> the same 400, and "
                    "nothing connects to that address");
        char host[128] = "";
        CHECK_FATAL(gethostname(host, sizeof(host) - 1) == 0);
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
        CHECK_FATAL(getaddrinfo(host, NULL, &hints, &ai) == 0 && ai != NULL);
        char ip[64];
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
        freeaddrinfo(ai);
        printf("this host's name %s resolves to %s\n", host, ip);
        /* the name must pass the check at create for names, and resolve to an address the policy refuses */
        struct dest_policy strict = { 0 };
        snprintf(url, sizeof(url), "https://%s:443/hook", host);
        CHECK_FATAL(dest_policy_check_url(&strict, url, NULL) == 0);
        CHECK_FATAL(dest_policy_ip_forbidden(ip));

        struct hx_stack_opts strict_opts = {
            .env = { "HOOKLINE_TLS_CHECK=true", "HOOKLINE_ALLOW_PRIVATE_TARGETS=false", "HOOKLINE_LOG_LEVEL=debug" },
        };
        st = hx_stack_start(&strict_opts);
        CHECK_FATAL(hx_tenant_new(st, "strict", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
        struct hx_tcp_sink_opts on_ip = { .addr = ip };
        struct hx_tcp_sink *watch = hx_tcp_sink_start(&on_ip);
        snprintf(url, sizeof(url), "https://%s:%d/hook", host, hx_tcp_sink_port(watch));
        long long ms;
        long status = create(st, key, "rebind", url, body, &ms);
        printf("%s: %ld after %lld ms: %s\n", url, status, ms, body);
        CHECK_EQ_INT(status, 400);
        CHECK_EQ_STR(body, first);
        CHECK_EQ_INT(hx_tcp_sink_accepted(watch), 0);
        char log[1 << 16];
        e2e_read_file(hx_proc_log(st, hx_api_pid(st)), log, sizeof(log));
        CHECK(strstr(log, "resolves to the forbidden address") != NULL);
        hx_tcp_sink_stop(watch);
        CHECK_EQ_INT(hx_stack_stop(st), 0);
    }
    return check_exit();
}
