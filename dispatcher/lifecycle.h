/* lifecycle.h: keep the subscription index current from hookline.webhooks.
 *
 * Start-up order makes the index complete: the end offsets of every
 * partition of hookline.webhooks are taken first, then the index is loaded
 * from PostgreSQL, then every partition is read from those offsets. Any
 * change committed after the offsets were taken is either in the load or
 * in what is read, and applying by version makes seeing it twice harmless.
 */
#ifndef HL_LIFECYCLE_H
#define HL_LIFECYCLE_H

#include "dispatcher.h"

struct lifecycle;

/* Take offsets, load 'idx' through 'pg', assign all partitions. Returns
 * NULL with the reason in 'err'. 'idx' is borrowed and must outlive it. */
struct lifecycle *lifecycle_start(const struct hl_config *cfg, struct sub_index *idx, PGconn *pg,
                                  struct hl_error *err);

/* Apply up to 'max' waiting lifecycle events without blocking. Returns
 * how many were applied. */
int lifecycle_poll(struct lifecycle *lc, int max);

void lifecycle_free(struct lifecycle *lc);

#endif
