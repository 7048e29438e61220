/* offsets.c: the positions reached in hookline.events, kept in PostgreSQL.
 *
 * A dispatcher that lets a partition go (a rebalance, a graceful stop)
 * writes the position before which every event is recorded, and the next
 * owner starts from the further of that and Kafka's committed offset. The
 * commit to Kafka alone is not enough during a rebalance: Apache Kafka
 * takes a commit from a member that is rejoining, but librdkafka's mock
 * cluster (hookline-devbroker) refuses it with REBALANCE_IN_PROGRESS, and
 * the next owner would then repeat what was delivered. PostgreSQL is where
 * the attempts are recorded anyway, so the position kept there is never
 * ahead of them.
 */
#include "offsets.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "kafka.h"
#include "log.h"

/* The partitions (and offsets) of 'parts' as PostgreSQL array literals. */
static void offsets_arrays(const rd_kafka_topic_partition_list_t *parts, bool with_offsets, char *ids, size_t ids_cap,
                           char *offs, size_t offs_cap)
{
    size_t ni = 0, no = 0;
    ni += (size_t)snprintf(ids + ni, ids_cap - ni, "{");
    no += (size_t)snprintf(offs + no, offs_cap - no, "{");
    bool first = true;
    for (int i = 0; i < parts->cnt && ni < ids_cap && no < offs_cap; i++) {
        if (with_offsets && parts->elems[i].offset < 0)
            continue;
        ni += (size_t)snprintf(ids + ni, ids_cap - ni, "%s%d", first ? "" : ",", (int)parts->elems[i].partition);
        no += (size_t)snprintf(offs + no, offs_cap - no, "%s%lld", first ? "" : ",",
                               (long long)parts->elems[i].offset);
        first = false;
    }
    if (ni < ids_cap)
        snprintf(ids + ni, ids_cap - ni, "}");
    if (no < offs_cap)
        snprintf(offs + no, offs_cap - no, "}");
}

void offsets_load(PGconn *pg, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = -1;
    if (pg == NULL || parts->cnt == 0)
        return;
    size_t cap = (size_t)parts->cnt * 24 + 4;
    char *ids = malloc(cap), *offs = malloc(cap);
    if (ids == NULL || offs == NULL)
        abort();
    offsets_arrays(parts, false, ids, cap, offs, cap);
    const char *params[2] = { HL_TOPIC_EVENTS, ids };
    struct hl_error err = { 0 };
    PGresult *res = db_query(pg, &err,
        "SELECT partition, next_offset FROM event_offsets WHERE topic = $1 AND partition = ANY($2::int[])", 2, params);
    if (res == NULL) {
        log_warn("%s: positions kept in PostgreSQL not read: %s", HL_TOPIC_EVENTS, err.msg);
    } else {
        for (int r = 0; r < PQntuples(res); r++) {
            int32_t part = atoi(PQgetvalue(res, r, 0));
            for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].partition == part)
                    parts->elems[i].offset = atoll(PQgetvalue(res, r, 1));
        }
        PQclear(res);
    }
    free(ids);
    free(offs);
}

void offsets_save(PGconn *pg, const rd_kafka_topic_partition_list_t *parts)
{
    if (pg == NULL || parts->cnt == 0)
        return;
    size_t cap = (size_t)parts->cnt * 24 + 4;
    char *ids = malloc(cap), *offs = malloc(cap);
    if (ids == NULL || offs == NULL)
        abort();
    offsets_arrays(parts, true, ids, cap, offs, cap);
    const char *params[3] = { HL_TOPIC_EVENTS, ids, offs };
    struct hl_error err = { 0 };
    if (db_exec(pg, &err,
                "INSERT INTO event_offsets (topic, partition, next_offset) "
                "SELECT $1, p, o FROM unnest($2::int[], $3::bigint[]) AS x(p, o) "
                "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                3, params) < 0)
        log_warn("%s: positions not kept in PostgreSQL: %s", HL_TOPIC_EVENTS, err.msg);
    free(ids);
    free(offs);
}
