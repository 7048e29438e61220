/* lifecycle.c: reader of hookline.webhooks for the subscription index. */
#include "lifecycle.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "kafka.h"
#include "log.h"

struct lifecycle {
    rd_kafka_t *rk;
    struct sub_index *idx;
    long applied;
    long malformed;
};

/* The end offset of every partition of hookline.webhooks. */
static rd_kafka_topic_partition_list_t *lifecycle_end_offsets(rd_kafka_t *rk, struct hl_error *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, HL_TOPIC_WEBHOOKS, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        hl_error_set(err, HL_EKAFKA, "Kafka: cannot read the partitions of %s: %s", HL_TOPIC_WEBHOOKS,
                     rd_kafka_err2str(e ? e : md->topics[0].err));
        if (md)
            rd_kafka_metadata_destroy(md);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(rk, HL_TOPIC_WEBHOOKS, p, &lo, &hi, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            hl_error_set(err, HL_EKAFKA, "Kafka: end offset of %s[%d]: %s", HL_TOPIC_WEBHOOKS, p, rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(parts);
            rd_kafka_metadata_destroy(md);
            return NULL;
        }
        rd_kafka_topic_partition_list_add(parts, HL_TOPIC_WEBHOOKS, p)->offset = hi;
    }
    rd_kafka_metadata_destroy(md);
    return parts;
}

struct lifecycle *lifecycle_start(const struct hl_config *cfg, struct sub_index *idx, PGconn *pg,
                                  struct hl_error *err)
{
    char errstr[256], fetch_wait[24];
    snprintf(fetch_wait, sizeof(fetch_wait), "%ld", cfg->kafka_fetch_wait_ms);
    struct lifecycle *lc = calloc(1, sizeof(*lc));
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->kafka_brokers, err);
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (lc == NULL || conf == NULL)
        goto fail;
    /* assign() only, never subscribe(): every dispatcher reads every
     * partition and commits nothing; librdkafka still wants a group.id */
    if (kafka_conf_set(conf, "group.id", "hookline-lifecycle-readers", err) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", err) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "false", err) < 0 ||
        kafka_conf_set(conf, "fetch.wait.max.ms", fetch_wait, err) < 0)
        goto fail;
    lc->idx = idx;
    lc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (lc->rk == NULL) {
        hl_error_set(err, HL_EKAFKA, "Kafka consumer: %s", errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk */
    parts = lifecycle_end_offsets(lc->rk, err);
    if (parts == NULL || sub_index_load(idx, pg, err) < 0)
        goto fail;
    rd_kafka_resp_err_t e = rd_kafka_assign(lc->rk, parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hl_error_set(err, HL_EKAFKA, "Kafka: assign %s: %s", HL_TOPIC_WEBHOOKS, rd_kafka_err2str(e));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return lc;
fail:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (conf)
        rd_kafka_conf_destroy(conf);
    lifecycle_free(lc);
    return NULL;
}

static void lifecycle_apply(struct lifecycle *lc, const rd_kafka_message_t *rkm)
{
    json_t *ev = json_loadb(rkm->payload, rkm->len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *doc = json_object_get(ev, "webhook"), *version = json_object_get(ev, "version");
    int rc = -1;
    if (type && json_is_object(doc) && json_is_integer(version))
        rc = sub_index_apply(lc->idx, doc, json_integer_value(version), strcmp(type, "webhook.deleted") == 0);
    if (rc == SUB_APPLY_SEALED_SHUT) {
        /* said by the index, once per version */
    } else if (rc < 0) {
        lc->malformed++;
        log_warn("lifecycle event at %s[%d] offset %lld is malformed; skipped", HL_TOPIC_WEBHOOKS,
                 rkm->partition, (long long)rkm->offset);
    } else if (rc > 0) {
        lc->applied++;
        log_debug("applied %s of %s version %lld", type, json_string_value(json_object_get(doc, "id")),
                  (long long)json_integer_value(version));
    }
    json_decref(ev);
}

int lifecycle_poll(struct lifecycle *lc, int max)
{
    int n = 0;
    for (; n < max; n++) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(lc->rk, 0);
        if (rkm == NULL)
            break;
        if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            lifecycle_apply(lc, rkm);
        else
            log_warn("lifecycle reader: %s", rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
    }
    return n;
}

void lifecycle_free(struct lifecycle *lc)
{
    if (lc == NULL)
        return;
    if (lc->rk) {
        rd_kafka_consumer_close(lc->rk);
        rd_kafka_destroy(lc->rk);
    }
    free(lc);
}
