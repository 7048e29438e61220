/* api.c: section 6, the REST api under wrk.
 *
 * GET /healthz (no key, no database) is the server's own ceiling; against
 * it: GET /v1/webhooks/{id}, GET /v1/webhooks?size=100 (a tenant with 100
 * webhooks) and POST /v1/webhooks (a unique name per request, from a counter
 * in bench/wrk/bench.lua). Requests/s and p99 latency for each, measured by
 * wrk with a fixed number of connections (closed loop).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wrk_result {
    double rps;
    double p50_ms, p99_ms;
    long requests, non2xx, socket_errors;
    bool ok;
};

/* Run wrk on 'path' of the api for 'ms'; 'key' and 'post' go to the script. */
static struct wrk_result api_wrk(struct bench_env *env, const char *path, const char *key, bool post, long ms,
                                 int run)
{
    struct wrk_result r = { 0 };
    char cmd[2048], runs[16], hook[128];
    snprintf(runs, sizeof(runs), "%d", run);
    snprintf(hook, sizeof(hook), "http://127.0.0.1:%d/api", env->http_ports[0]);
    setenv("BENCH_KEY", key ? key : "", 1);
    setenv("BENCH_POST", post ? "1" : "0", 1);
    setenv("BENCH_RUN", runs, 1);
    setenv("BENCH_POST_URL", hook, 1);
    snprintf(cmd, sizeof(cmd), "wrk -t2 -c%d -d%lds --timeout 10s -s '%s/bench/wrk/bench.lua' '%s%s' 2>&1",
             env->plan.api_conns, ms < 1000 ? 1L : ms / 1000, env->src_dir, hx_api_url(env->st), path);
    FILE *fp = popen(cmd, "r");
    if (fp == NULL)
        return r;
    char line[4096];
    while (fgets(line, sizeof(line), fp)) {
        const char *j = strstr(line, "BENCH_JSON ");
        if (j == NULL)
            continue;
        json_t *o = json_loads(j + 11, 0, NULL);
        if (o) {
            r.rps = json_number_value(json_object_get(o, "rps"));
            r.p50_ms = json_number_value(json_object_get(o, "p50_us")) / 1000.0;
            r.p99_ms = json_number_value(json_object_get(o, "p99_us")) / 1000.0;
            r.requests = (long)json_integer_value(json_object_get(o, "requests"));
            r.non2xx = (long)json_integer_value(json_object_get(o, "non2xx"));
            r.socket_errors = (long)json_integer_value(json_object_get(o, "socket_errors"));
            r.ok = r.requests > 0;
            json_decref(o);
        }
    }
    int status = pclose(fp);
    if (status != 0)
        r.ok = false;
    return r;
}

void bench_api(struct bench_env *env)
{
    report_section("6", "REST api (hookline-api, 4 threads) under wrk");
    char key[256];
    if (hx_tenant_new(env->st, "api000", "webhooks:read,webhooks:write,events:write", key, sizeof(key)) < 0 ||
        bench_seed_webhooks(env, "ap", "api", 1, 0, 100, "{booking}", "/api", 0, false) < 0) {
        report_error("cannot create the api tenant and its webhooks");
        return;
    }
    report_note("wrk -t2 -c%d, %.1f s per route after a warm-up; tenant with 100 webhooks", env->plan.api_conns,
                (double)env->plan.api_ms / 1000.0);
    struct {
        const char *key, *label, *path;
        bool auth, post;
    } routes[] = {
        { "healthz", "GET /healthz", "/healthz", false, false },
        { "get_webhook", "GET /v1/webhooks/{id}", "/v1/webhooks/wh_ap0000000", true, false },
        { "list_webhooks", "GET /v1/webhooks?size=100", "/v1/webhooks?size=100", true, false },
        { "create_webhook", "POST /v1/webhooks", "/v1/webhooks", true, true },
    };
    double rps[4] = { 0 };
    int run = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!env->plan.smoke)
            api_wrk(env, routes[i].path, routes[i].auth ? key : NULL, routes[i].post, 1000, run++);
        struct wrk_result r = api_wrk(env, routes[i].path, routes[i].auth ? key : NULL, routes[i].post,
                                      env->plan.api_ms, run++);
        char fkey[64], label[128];
        if (!r.ok) {
            report_error("%s: wrk produced no result (is wrk installed?)", routes[i].label);
            continue;
        }
        rps[i] = r.rps;
        snprintf(fkey, sizeof(fkey), "%s_rps", routes[i].key);
        snprintf(label, sizeof(label), "%s: requests/s", routes[i].label);
        report_fig(fkey, label, r.rps, "/s");
        snprintf(fkey, sizeof(fkey), "%s_p99_ms", routes[i].key);
        snprintf(label, sizeof(label), "%s: p99 latency", routes[i].label);
        report_fig(fkey, label, r.p99_ms, "ms");
        if (r.non2xx || r.socket_errors)
            report_note("%s: %ld non-2xx answers, %ld socket errors of %ld requests", routes[i].label, r.non2xx,
                        r.socket_errors, r.requests);
    }
    if (rps[0] > 0) {
        report_fig("get_webhook_vs_healthz", "GET /v1/webhooks/{id} as a share of /healthz", rps[1] / rps[0], "");
        report_target("GET /v1/webhooks/{id} vs /healthz requests/s", rps[1] / rps[0] * 100, "%", ">= 50 %",
                      rps[1] / rps[0] >= 0.5);
    }
}
