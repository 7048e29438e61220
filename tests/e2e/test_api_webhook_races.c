/* test_api_webhook_races.c: concurrent writes to webhooks.
 *
 * 8 concurrent creates of one name make exactly one webhook and one
 * lifecycle event; 8 concurrent PATCHes of one webhook all succeed, each
 * with its own version, and their outbox events follow version order.
 */
#include <pthread.h>

#include "api_e2e.h"

#define WH_URL "https://hooks.example.com/in"

struct wh_race {
    struct hx_stack *st;
    const char *key;
    long status;
};

static void *wh_race_main(void *arg)
{
    struct wh_race *r = arg;
    struct hx_resp resp;
    r->status = hx_api(r->st, "POST", r->key, "{\"name\":\"racing\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}",
                       &resp, "/v1/webhooks");
    hx_resp_free(&resp);
    return NULL;
}

static void wh_concurrent(struct hx_stack *st, const char *key)
{
    enum { N = 8 };
    pthread_t threads[N];
    struct wh_race race[N];
    E2E_SECTION("8 concurrent creates of one name: exactly one 201, the others 409, one row, one event");
    for (int i = 0; i < N; i++) {
        race[i] = (struct wh_race){.st = st, .key = key};
        CHECK_FATAL(pthread_create(&threads[i], NULL, wh_race_main, &race[i]) == 0);
    }
    int created = 0, dup = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        created += race[i].status == 201;
        dup += race[i].status == 409;
        if (race[i].status != 201 && race[i].status != 409)
            fprintf(stderr, "racing create %d: %ld\n", i, race[i].status);
    }
    CHECK_EQ_INT(created, 1);
    CHECK_EQ_INT(dup, N - 1);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE name = 'racing'", NULL, NULL), 1);
    CHECK_EQ_INT(e2e_db_long(st,
                             "SELECT count(*) FROM outbox o JOIN webhooks w ON w.id = o.webhook_id "
                             "WHERE w.name = 'racing'",
                             NULL, NULL),
                 1);
}

struct wh_patcher {
    struct hx_stack *st;
    const char *key;
    const char *path;
    int n;
    long status;
    long long version;
};

static void *wh_patch_main(void *arg)
{
    struct wh_patcher *p = arg;
    struct hx_resp resp;
    char body[64];
    snprintf(body, sizeof(body), "{\"description\":\"writer %d\"}", p->n);
    p->status = hx_api(p->st, "PATCH", p->key, body, &resp, "%s", p->path);
    p->version = e2e_int(resp.json, "version");
    hx_resp_free(&resp);
    return NULL;
}

static void wh_concurrent_patch(struct hx_stack *st, const char *key)
{
    enum { N = 8 };
    pthread_t threads[N];
    struct wh_patcher pt[N];
    char id[64], path[128];
    E2E_SECTION("8 concurrent PATCHes of one webhook: all 200, versions 2-9 each once, 8 events in version order");
    CHECK_EQ_INT(e2e_webhook_new(st, key, "contended", WH_URL, id, NULL), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    for (int i = 0; i < N; i++) {
        pt[i] = (struct wh_patcher){.st = st, .key = key, .path = path, .n = i};
        CHECK_FATAL(pthread_create(&threads[i], NULL, wh_patch_main, &pt[i]) == 0);
    }
    unsigned versions = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK_EQ_INT(pt[i].status, 200);
        if (pt[i].version >= 2 && pt[i].version <= N + 1)
            versions |= 1u << pt[i].version;
    }
    CHECK_EQ_INT(versions, ((1u << (N + 2)) - 1) & ~3u);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), N + 1);
    /* outbox order (seq) follows version order: consumers see them in order */
    CHECK_EQ_INT(e2e_db_long(st,
                             "SELECT count(*) FROM (SELECT (payload->>'version')::int AS v, "
                             "row_number() OVER (ORDER BY seq) AS r FROM outbox WHERE webhook_id = $1) x WHERE v = r",
                             id, NULL),
                 N + 1);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "shop", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    wh_concurrent(st, key);
    wh_concurrent_patch(st, key);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
