/* tracker.c: per-partition lists of consumed messages and their commit
 * positions (see tracker.h). */
#include "tracker.h"

#include <stdlib.h>

#include "kafka.h"
#include "log.h"

#define TRACKER_MAX_PARTITIONS 4096

struct part {
    bool assigned;
    struct msg_track *head, *tail;
    int64_t next;           /* offset after the last message seen */
    int64_t committed;      /* last position the broker accepted; -1 none */
    int64_t sent;           /* last position sent, result pending or accepted */
};

struct tracker {
    struct part parts[TRACKER_MAX_PARTITIONS];
    long pending;
};

struct tracker *tracker_new(void)
{
    return calloc(1, sizeof(struct tracker));
}

static void tracker_clear(struct tracker *tr, struct part *p)
{
    while (p->head) {
        struct msg_track *t = p->head;
        p->head = t->next;
        tr->pending--;
        free(t);
    }
    p->tail = NULL;
}

void tracker_free(struct tracker *tr)
{
    if (tr == NULL)
        return;
    for (int i = 0; i < TRACKER_MAX_PARTITIONS; i++)
        tracker_clear(tr, &tr->parts[i]);
    free(tr);
}

void tracker_assign(struct tracker *tr, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t n = parts->elems[i].partition;
        if (n < 0 || n >= TRACKER_MAX_PARTITIONS)
            continue;
        struct part *p = &tr->parts[n];
        tracker_clear(tr, p);
        *p = (struct part){ .assigned = true, .next = -1, .committed = -1, .sent = -1 };
    }
}

void tracker_revoke(struct tracker *tr, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t n = parts->elems[i].partition;
        if (n < 0 || n >= TRACKER_MAX_PARTITIONS)
            continue;
        struct part *p = &tr->parts[n];
        while (p->head) {
            struct msg_track *t = p->head;
            p->head = t->next;
            tr->pending--;
            t->next = NULL;
            if (t->pending > 0)
                t->orphan = true;   /* a delivery still points at it */
            else
                free(t);
        }
        p->tail = NULL;
        p->assigned = false;
    }
}

struct msg_track *tracker_add(struct tracker *tr, int32_t partition, int64_t offset)
{
    if (partition < 0 || partition >= TRACKER_MAX_PARTITIONS || !tr->parts[partition].assigned)
        return NULL;
    struct part *p = &tr->parts[partition];
    struct msg_track *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    t->partition = partition;
    t->offset = offset;
    t->pending = 1;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->next = offset + 1;
    tr->pending++;
    return t;
}

void tracker_done(struct tracker *tr, struct msg_track *track)
{
    (void)tr;
    if (--track->pending == 0 && track->orphan)
        free(track);
}

void tracker_abandon(struct tracker *tr, struct msg_track *track)
{
    track->abandoned = true;    /* never counts as finished: the commit stops before it */
    tracker_done(tr, track);
}

/* Drop finished messages from the head; returns the commit position. */
static int64_t tracker_advance(struct tracker *tr, struct part *p)
{
    while (p->head && p->head->pending == 0 && !p->head->abandoned) {
        struct msg_track *t = p->head;
        p->head = t->next;
        if (p->head == NULL)
            p->tail = NULL;
        tr->pending--;
        free(t);
    }
    return p->head ? p->head->offset : p->next;
}

int64_t tracker_next(const struct tracker *tr, int32_t partition)
{
    if (partition < 0 || partition >= TRACKER_MAX_PARTITIONS || !tr->parts[partition].assigned)
        return -1;
    return tr->parts[partition].next;
}

void tracker_positions(struct tracker *tr, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t n = parts->elems[i].partition;
        struct part *p = n >= 0 && n < TRACKER_MAX_PARTITIONS ? &tr->parts[n] : NULL;
        parts->elems[i].offset = p && p->assigned && p->next >= 0 ? tracker_advance(tr, p) : -1;
    }
}

int tracker_commit(struct tracker *tr, rd_kafka_t *rk, bool sync)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < TRACKER_MAX_PARTITIONS; i++) {
        struct part *p = &tr->parts[i];
        if (!p->assigned || p->next < 0)
            continue;
        int64_t pos = tracker_advance(tr, p);
        if (pos > p->sent || (sync && pos >= 0)) {
            rd_kafka_topic_partition_list_add(list, HL_TOPIC_EVENTS, i)->offset = pos;
            p->sent = pos;
        }
    }
    int n = list->cnt;
    if (n > 0) {
        /* a position counts as committed only once the broker took it (here
         * when synchronous, else in tracker_committed); a refused one is sent
         * again at the next commit */
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, list, sync ? 0 : 1);
        if (sync || e != RD_KAFKA_RESP_ERR_NO_ERROR)
            tracker_committed(tr, e, list);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return n;
}

void tracker_committed(struct tracker *tr, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t *offsets)
{
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->partition < 0 || tp->partition >= TRACKER_MAX_PARTITIONS)
            continue;
        struct part *p = &tr->parts[tp->partition];
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (tp->offset > p->committed)
                p->committed = tp->offset;
        } else {
            p->sent = p->committed;
        }
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("offset commit failed: %s (sent again at the next commit)", rd_kafka_err2str(err));
}

long tracker_unrecorded(const struct tracker *tr, const rd_kafka_topic_partition_list_t *parts)
{
    long n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= TRACKER_MAX_PARTITIONS)
            continue;
        for (const struct msg_track *t = tr->parts[p].head; t; t = t->next)
            if (t->pending > 0)
                n += t->pending;
    }
    return n;
}

long tracker_pending(const struct tracker *tr)
{
    return tr->pending;
}
