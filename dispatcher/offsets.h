/* offsets.h: the positions reached in hookline.events, kept in PostgreSQL
 * at every hand-over of a partition (offsets.c). Loop thread only. */
#ifndef HL_OFFSETS_H
#define HL_OFFSETS_H

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

/* Set each element's offset to the position PostgreSQL holds for its
 * partition, -1 where none (or 'pg' is NULL, or the read fails: logged). */
void offsets_load(PGconn *pg, rd_kafka_topic_partition_list_t *parts);

/* Store each element's offset (elements with a negative one are skipped)
 * as its partition's position. A failure is logged; Kafka's commit still
 * follows it. */
void offsets_save(PGconn *pg, const rd_kafka_topic_partition_list_t *parts);

#endif
