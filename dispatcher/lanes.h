/* lanes.h: the slow lanes, deliveries waiting in PostgreSQL, served per
 * endpoint under a lease (lanes.c, sql/005_lanes.sql). Loop thread only. */
#ifndef HL_LANES_H
#define HL_LANES_H

#include "dispatcher.h"

/* One due row taken from a lane; every pointer is borrowed for the call. */
struct lane_row {
    int64_t retry_id;
    int64_t epoch;                  /* the lease it was taken under */
    const char *webhook_id, *endpoint_id, *event_id, *event_type;
    const char *payload;            /* its body; NULL if none is stored (see dispatch_lane_taken) */
    size_t payload_len;
    int attempt;                    /* the attempt it makes */
    long long due_ms;
    long long send_ms;              /* rate limit: the lane's next start, from its previous holder; 0 none */
    bool ordered;                   /* the head of an ordered lane (sql/016_ordered.sql) */
};

struct lanes;

/* Lanes served as 'owner' (the dispatcher's name), paced through 'q'
 * (borrowed; outlives the lanes). NULL when out of memory. */
struct lanes *lanes_new(const struct hl_config *cfg, struct queue *q, const char *owner);
/* Frees the memory only: release first (lanes_release_all). */
void lanes_free(struct lanes *ln);

/* One turn, at most every 20 ms while lanes are held, else every 100 ms
 * (else returns 0 at once): renew the leases when due (a lane whose lease
 * passed to another dispatcher is dropped), let idle lanes go, then take
 * up to 'budget' due rows, oldest first, from held lanes with room
 * ('room' says how many rows a lane may have outstanding; below 0: none,
 * and let the lane go once nothing of it is outstanding, so another
 * dispatcher can serve it) and, if the budget is not spent, lease more
 * lanes, none of the tenants 'skip' (may be NULL) gives 'add'. Calls
 * 'taken' for each row. Returns the rows taken,
 * or HL_EDB (nothing changed in memory; tried again at the next turn). */
int lanes_serve(struct lanes *ln, PGconn *pg, long long now_ms, int budget,
                void (*skip)(void (*add)(const char *tenant, void *acc), void *acc, void *arg),
                int (*room)(const char *webhook_id, const char *endpoint_id, void *arg),
                void (*taken)(const struct lane_row *row, void *arg), void *arg);

/* Is the lease under which a row was taken still ours? */
bool lanes_holds(const struct lanes *ln, const char *endpoint_id, int64_t epoch);
/* A taken row's delivery finished (its record is still to be written):
 * the lane has room for another row, though it stays ours until
 * lanes_done. */
void lanes_finished(struct lanes *ln, const char *endpoint_id, int64_t epoch);
/* A taken row was recorded or dropped ('finished': lanes_finished was
 * called for it). An ordered lane is served again at the next call of
 * lanes_serve, not at its next turn. */
void lanes_done(struct lanes *ln, const char *endpoint_id, int64_t epoch, bool finished);
/* How long the lease under which a row was taken holds at least (ms from
 * 'now_ms', by this host's clock; below 0: not ours). An ordered lane's
 * head is sent only while its lease will outlast the request, so no other
 * dispatcher takes the lane while it may still be on the way. */
long long lanes_lease_left(const struct lanes *ln, const char *endpoint_id, int64_t epoch, long long now_ms);
/* The lane's webhook or endpoint is disabled: take nothing more, let it go (parked)
 * once nothing of it is outstanding. */
void lanes_park(struct lanes *ln, const char *endpoint_id);
/* Delete a row whose webhook or endpoint PostgreSQL no longer has. */
void lanes_forget_row(PGconn *pg, int64_t retry_id);
/* Let every held lane go (at stop), whatever is outstanding: rows taken
 * under our leases are free for the next holder. */
void lanes_release_all(struct lanes *ln, PGconn *pg);
size_t lanes_held(const struct lanes *ln);

#endif
