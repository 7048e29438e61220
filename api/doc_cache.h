/* doc_cache.h: the api's in-process cache of public webhook documents, for
 * GET /v1/webhooks/{id} and the pages of GET /v1/webhooks, and the PostgreSQL listener that keeps it current.
 *
 * The cache holds the ready-to-send JSON text of a webhook (what
 * webhook_public() gives, secret redacted) keyed by webhook id, with the
 * owning tenant. It is bounded (DOC_CACHE_SLOTS entries in sets of DOC_CACHE_WAYS,
 * each at most DOC_CACHE_DOC_MAX bytes) and used only while its listener
 * is connected: see doc_cache.c for the invalidation rules and the
 * staleness bound.
 */
#ifndef HL_DOC_CACHE_H
#define HL_DOC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl_error.h"
#include "hl_limits.h"

#define DOC_CACHE_SLOTS 4096        /* entries; a power of two */
#define DOC_CACHE_WAYS 4            /* slots per set (doc_cache.c) */
#define DOC_CACHE_DOC_MAX 8192      /* largest document text cached, bytes */
#define DOC_CACHE_ID_MAX 64         /* longest webhook id cached */
#define DOC_CACHE_TENANT_MAX LIMIT_TENANT_ID_MAX  /* longest tenant id */

/* The PostgreSQL channel the webhooks trigger notifies (sql/004), and the
 * application_name of each api's listener session (pg_stat_activity). */
#define DOC_CACHE_CHANNEL "hookline_webhook"
#define DOC_CACHE_APP_NAME "hookline-api doc cache"

struct doc_cache;
struct doc_cache_listener;

/* What the cache did since it was created (for /metrics and tests). */
struct doc_cache_stats {
    unsigned long hits;         /* GETs answered from the cache */
    unsigned long misses;       /* looked up, not there (or another tenant's) */
    unsigned long bypasses;     /* the cache was off: no listener */
    unsigned long fills;        /* documents stored */
    unsigned long fills_dropped;/* reads that raced a change, or too large: not stored */
    unsigned long evictions;    /* ids evicted (notifications and this process's writes) */
    unsigned long flushes;      /* whole-cache flushes (listener down/up, TRUNCATE) */
    size_t entries;             /* documents held now */
    bool enabled;               /* the listener is connected and the cache in use */
};

/* An empty cache, switched off until doc_cache_set_enabled(dc, true).
 * Returns NULL when out of memory. Pair with doc_cache_free. */
struct doc_cache *doc_cache_new(void);

/* Free 'dc' and every document in it. No other thread may use it any more.
 * NULL is a no-op. */
void doc_cache_free(struct doc_cache *dc);

/* Look up webhook 'id' for 'tenant'. On a hit returns a copy of the
 * document's text (NUL-terminated, malloc'd: the caller frees it) and its
 * length in *len. On a miss returns NULL and sets *ticket for a later
 * doc_cache_put of the same id: take the ticket BEFORE reading PostgreSQL.
 * Another tenant's document is a miss (the database then answers 404).
 * With the cache off, or 'dc' NULL, every call is a miss whose ticket
 * stores nothing. Any thread. */
char *doc_cache_get(struct doc_cache *dc, const char *id, const char *tenant, size_t *len, uint64_t *ticket);

/* Store 'text' ('len' bytes, borrowed) as the document of 'id' owned by
 * 'tenant', replacing its older document or, in a full set, the one used
 * least recently, unless 'ticket' is stale:
 * the id was evicted, the cache flushed or switched off since the
 * doc_cache_get that issued it, so the text read may predate a change.
 * Texts over DOC_CACHE_DOC_MAX bytes and ids over DOC_CACHE_ID_MAX are
 * not stored. Returns true when stored. Any thread. */
bool doc_cache_put(struct doc_cache *dc, const char *id, const char *tenant, const char *text, size_t len,
                   uint64_t ticket);

/* Drop the document of 'id' and make every outstanding ticket for it
 * stale. Call after a change to the webhook has committed. Any thread;
 * 'dc' may be NULL. */
void doc_cache_evict(struct doc_cache *dc, const char *id);

/* Drop every document and make every outstanding ticket stale. Any thread. */
void doc_cache_flush(struct doc_cache *dc);

/* Switch the cache on or off; both flush it, so nothing stored before a
 * gap in the listener's watch is ever served after it. Any thread. */
void doc_cache_set_enabled(struct doc_cache *dc, bool enabled);

/* Copy the counters into 'out' (zeros when 'dc' is NULL). Any thread. */
void doc_cache_stats_get(struct doc_cache *dc, struct doc_cache_stats *out);

/* Start the thread that keeps 'dc' (borrowed, must outlive the listener)
 * current: one PostgreSQL session to 'conninfo' (copied) under
 * application_name DOC_CACHE_APP_NAME that LISTENs on DOC_CACHE_CHANNEL
 * and evicts each id notified. It switches the cache on once listening
 * and off whenever the session is lost, then reconnects. Returns NULL
 * with the reason in 'err' if the thread cannot start. */
struct doc_cache_listener *doc_cache_listener_start(struct doc_cache *dc, const char *conninfo, struct hl_error *err);

/* Stop the thread, switch the cache off and free 'dl'. NULL is a no-op. */
void doc_cache_listener_stop(struct doc_cache_listener *dl);

#endif
