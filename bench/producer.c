/* producer.c: the benchmark's event producer, as a backend service would
 * be one: envelopes straight to hookline.events with librdkafka, key =
 * tenant. Each payload carries "bench_ts", the wall-clock microsecond it
 * was produced, which the receiver turns into produce-to-receipt latency.
 * Either as fast as possible (a backlog) or open loop at a fixed rate.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

struct bench_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int payload_bytes;
    long queued, acked, failed;
    char occurred_at[32];
    char *buf;
    size_t cap;
};

static void bprod_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct bench_producer *p = opaque;
    (void)rk;
    if (rkm->err) {
        if (p->failed++ == 0)
            fprintf(stderr, "hookline-bench: produce failed: %s\n", rd_kafka_err2str(rkm->err));
    } else {
        p->acked++;
    }
}

struct bench_producer *bprod_new(const char *brokers, int linger_ms, int payload_bytes)
{
    char errstr[256], linger[16];
    struct bench_producer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        hx_die("out of memory");
    snprintf(linger, sizeof(linger), "%d", linger_ms);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        { "bootstrap.servers", brokers },
        { "linger.ms", linger },
        { "queue.buffering.max.messages", "1000000" },
        { "message.timeout.ms", "60000" },
        { "log_level", "3" },
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
            hx_die("producer %s: %s", kv[i][0], errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, bprod_on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (p->rk == NULL)
        hx_die("producer: %s", errstr);
    p->rkt = rd_kafka_topic_new(p->rk, BENCH_TOPIC, NULL);
    p->payload_bytes = payload_bytes;
    p->cap = (size_t)payload_bytes + 1024;
    p->buf = malloc(p->cap);
    if (p->rkt == NULL || p->buf == NULL)
        hx_die("producer: out of memory");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(p->occurred_at, sizeof(p->occurred_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return p;
}

void bprod_free(struct bench_producer *p)
{
    if (p == NULL)
        return;
    rd_kafka_flush(p->rk, 10000);
    rd_kafka_topic_destroy(p->rkt);
    rd_kafka_destroy(p->rk);
    free(p->buf);
    free(p);
}

long long bprod_send(struct bench_producer *p, int32_t partition, const char *tenant, const char *type,
                     const char *tag, long seq, const char *data_extra)
{
    long long ts = bench_wall_us();
    int n = snprintf(p->buf, p->cap,
                     "{\"id\":\"evt_%s_%07ld\",\"type\":\"%s\",\"tenant\":\"%s\",\"occurred_at\":\"%s\","
                     "\"data\":{%s\"bench_ts\":%lld,\"pad\":\"",
                     tag, seq, type, tenant, p->occurred_at, data_extra ? data_extra : "", ts);
    if (n < 0 || (size_t)n + 4 > p->cap)
        hx_die("event too large");
    size_t len = (size_t)n;
    long pad = (long)p->payload_bytes - n - 3;
    if (pad > 0) {
        memset(p->buf + len, 'x', (size_t)pad);
        len += (size_t)pad;
    }
    memcpy(p->buf + len, "\"}}", 3);
    len += 3;
    for (;;) {
        if (rd_kafka_produce(p->rkt, partition < 0 ? RD_KAFKA_PARTITION_UA : partition, RD_KAFKA_MSG_F_COPY,
                             p->buf, len, tenant, strlen(tenant), NULL) == 0)
            break;
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            hx_die("produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_poll(p->rk, 5);
    }
    p->queued++;
    return ts;
}

long bprod_flush(struct bench_producer *p, long timeout_ms)
{
    long long deadline = bench_now_us() + timeout_ms * 1000;
    while (p->acked + p->failed < p->queued && bench_now_us() < deadline)
        rd_kafka_flush(p->rk, 100);
    rd_kafka_poll(p->rk, 0);
    return p->queued - p->acked;
}

int bprod_partitions(struct bench_producer *p)
{
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(p->rk, 0, p->rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    return n;
}

long bprod_run_rate(struct bench_producer *p, double rate, long duration_ms, bprod_event_fn fn, void *arg)
{
    long long start = bench_now_us(), end = start + duration_ms * 1000;
    long sent = 0;
    for (;;) {
        long long now = bench_now_us();
        if (now >= end)
            break;
        /* the schedule is fixed in advance: late consumers never slow it */
        long due = (long)((double)(now - start) * rate / 1e6);
        while (sent < due)
            fn(p, sent++, arg);
        rd_kafka_poll(p->rk, 0);
        long long next = start + (long long)((double)(sent + 1) * 1e6 / rate);
        long long wait = next - bench_now_us();
        if (wait > 1000)
            wait = 1000;
        if (wait > 0) {
            struct timespec ts = { 0, (long)wait * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    return sent;
}
