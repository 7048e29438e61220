/* doc_cache.c: the bounded cache of public webhook documents behind
 * GET /v1/webhooks/{id} and the pages of GET /v1/webhooks (see
 * doc_cache.h; the listener that feeds it evictions is
 * doc_cache_listener.c).
 *
 * Shape: DOC_CACHE_SLOTS slots in sets of DOC_CACHE_WAYS, the set chosen
 * by a hash of the webhook id; a document stored in a full set replaces
 * the one used least recently there. Four ways, not one: a page of 100
 * webhooks in direct-mapped slots has two ids sharing a slot more often
 * than not, and those two would then push each other out on every page.
 * A slot holds one document text of at most DOC_CACHE_DOC_MAX bytes
 * (larger ones are always read from PostgreSQL), so the cache never holds
 * more than ~DOC_CACHE_SLOTS * DOC_CACHE_DOC_MAX bytes (32 MiB). Sets are
 * guarded by DOC_CACHE_STRIPES mutexes.
 *
 * Staleness bound. A change made through this process evicts the id after
 * its commit and before the reply: the writer's next read sees it. A
 * change made any other way (another api process, a dispatcher disabling
 * the webhook, SQL, a cascaded delete) fires the trigger of
 * sql/004_webhook_cache.sql, and this process serves the old document
 * until PostgreSQL delivers that notification to its listener (normally
 * milliseconds after the commit). The cache is used only while the
 * listener's session is up: when it is lost the cache is switched off and
 * emptied, and emptied again before it is switched back on, so a
 * notification missed in between can never leave a stale entry. A session
 * that dies cleanly is noticed at once; one cut off silently (no FIN,
 * no RST) is noticed by the listener's ping within LISTENER_PING_MS +
 * LISTENER_PING_TIMEOUT_MS (doc_cache_listener.c; about 3 s): that is the
 * worst case.
 *
 * The fill race. A GET that misses reads PostgreSQL and then stores what it
 * read; a change and its eviction may land in between. Every set carries
 * a generation, bumped by each eviction of an id in that set and by each
 * flush; doc_cache_get hands out the generation as a ticket before the
 * read, and doc_cache_put stores only if the set's generation is still
 * the ticket. A read that began before an eviction is therefore dropped;
 * one that began after it sees the committed change. Ticket 0 never
 * matches: it is what a lookup gets while the cache is off.
 */
#include "doc_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_CACHE_STRIPES 64

#define DOC_CACHE_SETS (DOC_CACHE_SLOTS / DOC_CACHE_WAYS)

struct doc_cache_entry {
    char *text;                 /* NULL: empty slot; else 'len' bytes + NUL */
    size_t len;
    uint64_t used;              /* the set's clock at its last fill or hit */
    char id[DOC_CACHE_ID_MAX + 1];
    char tenant[DOC_CACHE_TENANT_MAX + 1];
};

struct doc_cache_set {
    uint64_t gen;               /* >= 1; see "The fill race" */
    uint64_t clock;             /* ticks on every fill and hit: the least recent goes first */
    struct doc_cache_entry ways[DOC_CACHE_WAYS];
};

struct doc_cache {
    pthread_mutex_t locks[DOC_CACHE_STRIPES];
    struct doc_cache_set sets[DOC_CACHE_SETS];
    atomic_bool enabled;        /* set by doc_cache_set_enabled, read under a stripe lock */
    atomic_ulong hits, misses, bypasses, fills, fills_dropped, evictions, flushes;
    atomic_long entries;
};

/* FNV-1a: ids are random base62, any decent mix spreads them. */
static size_t doc_cache_set_of(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (DOC_CACHE_SETS - 1);
}

static pthread_mutex_t *doc_cache_lock_of(struct doc_cache *dc, size_t set)
{
    return &dc->locks[set & (DOC_CACHE_STRIPES - 1)];
}

/* The way of 'set' holding 'id', or NULL. Under the set's lock. */
static struct doc_cache_entry *doc_cache_way_of(struct doc_cache_set *set, const char *id)
{
    for (size_t w = 0; w < DOC_CACHE_WAYS; w++)
        if (set->ways[w].text && strcmp(set->ways[w].id, id) == 0)
            return &set->ways[w];
    return NULL;
}

/* Where a fill of 'id' goes: its own way, an empty one, else the least
 * recently used. Under the set's lock. */
static struct doc_cache_entry *doc_cache_way_for(struct doc_cache_set *set, const char *id)
{
    struct doc_cache_entry *e = doc_cache_way_of(set, id), *victim = &set->ways[0];
    if (e != NULL)
        return e;
    for (size_t w = 0; w < DOC_CACHE_WAYS; w++) {
        if (set->ways[w].text == NULL)
            return &set->ways[w];
        if (set->ways[w].used < victim->used)
            victim = &set->ways[w];
    }
    return victim;
}

struct doc_cache *doc_cache_new(void)
{
    struct doc_cache *dc = calloc(1, sizeof(*dc));
    if (dc == NULL)
        return NULL;
    for (size_t i = 0; i < DOC_CACHE_STRIPES; i++)
        pthread_mutex_init(&dc->locks[i], NULL);
    for (size_t i = 0; i < DOC_CACHE_SETS; i++)
        dc->sets[i].gen = 1;
    return dc;
}

void doc_cache_free(struct doc_cache *dc)
{
    if (dc == NULL)
        return;
    for (size_t i = 0; i < DOC_CACHE_SETS; i++)
        for (size_t w = 0; w < DOC_CACHE_WAYS; w++)
            free(dc->sets[i].ways[w].text);
    for (size_t i = 0; i < DOC_CACHE_STRIPES; i++)
        pthread_mutex_destroy(&dc->locks[i]);
    free(dc);
}

char *doc_cache_get(struct doc_cache *dc, const char *id, const char *tenant, size_t *len, uint64_t *ticket)
{
    *ticket = 0;
    *len = 0;
    if (dc == NULL)
        return NULL;
    size_t si = doc_cache_set_of(id);
    struct doc_cache_set *set = &dc->sets[si];
    pthread_mutex_t *lock = doc_cache_lock_of(dc, si);
    char *copy = NULL;
    bool enabled;

    pthread_mutex_lock(lock);
    enabled = atomic_load(&dc->enabled);
    if (enabled) {
        struct doc_cache_entry *e = doc_cache_way_of(set, id);
        if (e && strcmp(e->tenant, tenant) == 0) {
            copy = malloc(e->len + 1);
            if (copy) {
                memcpy(copy, e->text, e->len + 1);
                *len = e->len;
                e->used = ++set->clock;
            }
        }
        if (copy == NULL)
            *ticket = set->gen;
    }
    pthread_mutex_unlock(lock);

    atomic_ulong *counter = !enabled ? &dc->bypasses : copy ? &dc->hits : &dc->misses;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    return copy;
}

bool doc_cache_put(struct doc_cache *dc, const char *id, const char *tenant, const char *text, size_t len,
                   uint64_t ticket)
{
    if (dc == NULL || ticket == 0)
        return false;
    if (len > DOC_CACHE_DOC_MAX || strlen(id) > DOC_CACHE_ID_MAX || strlen(tenant) > DOC_CACHE_TENANT_MAX) {
        atomic_fetch_add_explicit(&dc->fills_dropped, 1, memory_order_relaxed);
        return false;
    }
    /* copy outside the lock: a hit never waits on an allocation of a fill */
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';

    size_t si = doc_cache_set_of(id);
    struct doc_cache_set *set = &dc->sets[si];
    pthread_mutex_t *lock = doc_cache_lock_of(dc, si);
    bool stored = false;
    char *old = NULL;

    pthread_mutex_lock(lock);
    if (atomic_load(&dc->enabled) && set->gen == ticket) {
        struct doc_cache_entry *e = doc_cache_way_for(set, id);
        old = e->text;
        e->used = ++set->clock;
        e->text = copy;
        e->len = len;
        snprintf(e->id, sizeof(e->id), "%s", id);
        snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
        stored = true;
    }
    pthread_mutex_unlock(lock);

    if (stored) {
        atomic_fetch_add_explicit(&dc->fills, 1, memory_order_relaxed);
        if (old == NULL)
            atomic_fetch_add_explicit(&dc->entries, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&dc->fills_dropped, 1, memory_order_relaxed);
        free(copy);
    }
    free(old);
    return stored;
}

void doc_cache_evict(struct doc_cache *dc, const char *id)
{
    if (dc == NULL)
        return;
    size_t si = doc_cache_set_of(id);
    struct doc_cache_set *set = &dc->sets[si];
    pthread_mutex_t *lock = doc_cache_lock_of(dc, si);
    char *old = NULL;

    pthread_mutex_lock(lock);
    /* bumped even when the set does not hold 'id': a fill of it may be in flight */
    set->gen++;
    struct doc_cache_entry *e = doc_cache_way_of(set, id);
    if (e != NULL) {
        old = e->text;
        e->text = NULL;
        e->len = 0;
    }
    pthread_mutex_unlock(lock);

    if (old) {
        atomic_fetch_sub_explicit(&dc->entries, 1, memory_order_relaxed);
        free(old);
    }
    atomic_fetch_add_explicit(&dc->evictions, 1, memory_order_relaxed);
}

/* Empty every slot and bump every generation. 'enabled' 0 switches the
 * cache off before emptying it, 1 switches it on once it is empty, -1
 * leaves the switch alone. Lookups read the switch under their stripe's
 * lock, and the slots they then read were emptied under that same lock. */
static void doc_cache_flush_set(struct doc_cache *dc, int enabled)
{
    long freed = 0;
    if (enabled == 0)
        atomic_store(&dc->enabled, false);
    for (size_t s = 0; s < DOC_CACHE_STRIPES; s++) {
        pthread_mutex_lock(&dc->locks[s]);
        for (size_t i = s; i < DOC_CACHE_SETS; i += DOC_CACHE_STRIPES) {
            struct doc_cache_set *set = &dc->sets[i];
            set->gen++;
            for (size_t w = 0; w < DOC_CACHE_WAYS; w++) {
                struct doc_cache_entry *e = &set->ways[w];
                if (e->text) {
                    free(e->text);
                    e->text = NULL;
                    e->len = 0;
                    freed++;
                }
            }
        }
        pthread_mutex_unlock(&dc->locks[s]);
    }
    atomic_fetch_sub_explicit(&dc->entries, freed, memory_order_relaxed);
    atomic_fetch_add_explicit(&dc->flushes, 1, memory_order_relaxed);
    /* every slot is empty and every older ticket stale: only now may lookups use it */
    if (enabled == 1)
        atomic_store(&dc->enabled, true);
}

void doc_cache_flush(struct doc_cache *dc)
{
    if (dc != NULL)
        doc_cache_flush_set(dc, -1);
}

void doc_cache_set_enabled(struct doc_cache *dc, bool enabled)
{
    if (dc != NULL)
        doc_cache_flush_set(dc, enabled ? 1 : 0);
}

void doc_cache_stats_get(struct doc_cache *dc, struct doc_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (dc == NULL)
        return;
    out->hits = atomic_load_explicit(&dc->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&dc->misses, memory_order_relaxed);
    out->bypasses = atomic_load_explicit(&dc->bypasses, memory_order_relaxed);
    out->fills = atomic_load_explicit(&dc->fills, memory_order_relaxed);
    out->fills_dropped = atomic_load_explicit(&dc->fills_dropped, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&dc->evictions, memory_order_relaxed);
    out->flushes = atomic_load_explicit(&dc->flushes, memory_order_relaxed);
    long n = atomic_load_explicit(&dc->entries, memory_order_relaxed);
    out->entries = n > 0 ? (size_t)n : 0;
    out->enabled = atomic_load_explicit(&dc->enabled, memory_order_relaxed);
}
