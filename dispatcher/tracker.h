/* tracker.h: which consumed offsets of hookline.events are fully recorded.
 *
 * Every consumed message gets a msg_track with a count of deliveries not
 * yet recorded. A partition's commit position is the offset of its first
 * unfinished message, so an offset is committed only once everything
 * before it is recorded in PostgreSQL.
 */
#ifndef HL_TRACKER_H
#define HL_TRACKER_H

#include "dispatcher.h"

struct tracker;

struct tracker *tracker_new(void);
void tracker_free(struct tracker *tr);

/* Start tracking partitions (after an assignment). */
void tracker_assign(struct tracker *tr, const rd_kafka_topic_partition_list_t *parts);

/* Forget partitions (after revocation). Tracks nothing refers to any more
 * are freed; one a delivery still holds (not recorded yet: PostgreSQL was
 * too slow for the drain) becomes an orphan, freed by its last
 * tracker_done or tracker_abandon, and never commits anything. */
void tracker_revoke(struct tracker *tr, const rd_kafka_topic_partition_list_t *parts);

/* Track message (partition, offset) with one pending unit (the matching
 * itself); NULL if the partition is not assigned. */
struct msg_track *tracker_add(struct tracker *tr, int32_t partition, int64_t offset);

/* One pending unit of 'track' is recorded. */
void tracker_done(struct tracker *tr, struct msg_track *track);

/* A unit of 'track' will never be recorded here (dropped on revoke or
 * stop): its message must be consumed again by whoever owns it next. The
 * caller's reference is gone (do not use 'track' afterwards). */
void tracker_abandon(struct tracker *tr, struct msg_track *track);

/* Commit every partition whose position advanced since the last commit the
 * broker accepted ('sync': every assigned partition's position, whether it
 * advanced or not). Waits for the broker. Returns the partitions sent. */
int tracker_commit(struct tracker *tr, rd_kafka_t *rk, bool sync);

/* The broker's answer to a commit (the consumer's offset_commit_cb, or a
 * synchronous commit): accepted positions count as committed, refused ones
 * are sent again. */
void tracker_committed(struct tracker *tr, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t *offsets);

/* The offset after the last message seen of 'partition' (-1: none yet). */
int64_t tracker_next(const struct tracker *tr, int32_t partition);

/* Set each element's offset to its partition's commit position (every
 * message before it recorded), -1 when nothing was read. */
void tracker_positions(struct tracker *tr, rd_kafka_topic_partition_list_t *parts);

/* Deliveries not yet recorded for messages of 'parts'. */
long tracker_unrecorded(const struct tracker *tr, const rd_kafka_topic_partition_list_t *parts);

/* Messages tracked and not yet finished, for metrics. */
long tracker_pending(const struct tracker *tr);

#endif
