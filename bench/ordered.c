/* ordered.c: section 10, one ordered endpoint.
 *
 * An ordered webhook ("ordered": true, sql/016_ordered.sql) gets its
 * endpoint's events one at a time: each delivery waits for the previous
 * one's answer, its record, and the next head taken from PostgreSQL. So its
 * rate is bounded by that round trip, not by the machine. One webhook of
 * one tenant, its endpoint answering after 1 ms and then after 20 ms (the
 * receiver's /slow/<ms>/), one dispatcher; a backlog of events produced at
 * once, then drained: deliveries/s from first to last attempt, the mean
 * round trip of a request as the dispatcher measured it (attempts'
 * duration_ms), the ideal one-at-a-time rate 1000 / round trip, and the
 * ratio of the two (the rest of each cycle is recording the attempt and
 * taking the next head).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ordered_run(struct bench_env *env, int answer_ms, long events)
{
    char path[64], key[32], label[160];
    snprintf(path, sizeof(path), "/slow/%d/o", answer_ms);
    if (bench_webhooks_reset(env) < 0 ||
        bench_seed_webhooks(env, "or", "ord", 1, 0, 1, "{booking}", path, 0, false) < 0 ||
        bench_sql(env->pg, "UPDATE webhooks SET ordered = true WHERE tenant_id = 'ord000'", 0, NULL) < 0) {
        report_error("%d ms: cannot insert the webhook", answer_ms);
        return;
    }
    pid_t pid = bench_dispatcher_start(env);
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, env->plan.payload_bytes);
    if (pid <= 0 || bench_dispatchers_ready(env, p, 60000) < 0) {
        report_error("%d ms: the dispatcher did not take every partition", answer_ms);
        goto out;
    }
    for (long i = 0; i < events; i++)
        bprod_send(p, -1, "ord000", "booking.scheduled", "o10", i, NULL);
    if (bprod_flush(p, 30000) != 0) {
        report_error("%d ms: the events were not all produced", answer_ms);
        goto out;
    }
    char want[32];
    snprintf(want, sizeof(want), "%ld", events);
    long long done = bench_sql_wait(env->pg, "SELECT count(*) FROM attempts a JOIN webhooks w ON w.id = a.webhook_id "
                                             "WHERE w.tenant_id = 'ord000' AND a.success",
                                    events, 60000 + events * (answer_ms + 50));
    if (done < events) {
        report_error("%d ms: %lld of %ld delivered in time", answer_ms, done, events);
        goto out;
    }
    PGresult *res = PQexec(env->pg,
        "SELECT extract(epoch FROM max(a.sent_at) - min(a.sent_at)), avg(a.duration_ms), count(*) "
        "FROM attempts a JOIN webhooks w ON w.id = a.webhook_id WHERE w.tenant_id = 'ord000'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        report_error("%d ms: cannot read the attempts: %s", answer_ms, PQerrorMessage(env->pg));
        PQclear(res);
        goto out;
    }
    double span_s = atof(PQgetvalue(res, 0, 0)), rtt_ms = atof(PQgetvalue(res, 0, 1));
    long attempts = atol(PQgetvalue(res, 0, 2));
    PQclear(res);
    double rate = span_s > 0 ? (double)(attempts - 1) / span_s : 0;
    double ideal = rtt_ms > 0 ? 1000.0 / rtt_ms : 0;
    snprintf(key, sizeof(key), "ordered_%dms_rate", answer_ms);
    snprintf(label, sizeof(label), "receiver answering in %d ms: deliveries/s of one ordered endpoint", answer_ms);
    report_fig(key, label, rate, "/s");
    snprintf(key, sizeof(key), "ordered_%dms_rtt", answer_ms);
    snprintf(label, sizeof(label), "receiver answering in %d ms: round trip of one request (mean)", answer_ms);
    report_fig(key, label, rtt_ms, "ms");
    snprintf(key, sizeof(key), "ordered_%dms_ratio", answer_ms);
    snprintf(label, sizeof(label), "receiver answering in %d ms: deliveries/s over 1000 / round trip (%.0f/s)",
             answer_ms, ideal);
    report_fig(key, label, ideal > 0 ? rate / ideal : 0, "");
    snprintf(key, sizeof(key), "ordered_%dms_cycle", answer_ms);
    snprintf(label, sizeof(label), "receiver answering in %d ms: the rest of each cycle (record, take the next)",
             answer_ms);
    report_fig(key, label, rate > 0 ? 1000.0 / rate - rtt_ms : 0, "ms");
out:
    bprod_free(p);
    bench_dispatchers_stop(env);
}

void bench_ordered(struct bench_env *env)
{
    report_section("10", "one ordered endpoint");
    long events = env->plan.smoke ? 50 : 2000;
    report_note("%ld events of one tenant to one ordered webhook (one at a time, in order), one dispatcher, the "
                "endpoint answering after 1 ms, then %ld after 20 ms", events, events / 4);
    ordered_run(env, 1, events);
    ordered_run(env, 20, events / 4);
}
