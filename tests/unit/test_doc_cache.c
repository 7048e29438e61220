/* test_doc_cache.c: the api's document cache (api/doc_cache.c) on its own.
 *
 * Off until switched on, and every lookup while off is a miss whose fill
 * stores nothing; a hit gives back the very bytes stored, to the owning
 * tenant only; a fill whose read began before an eviction of its id, a
 * flush, or a switch off is dropped; switching on again starts empty;
 * a full set replaces its least recently used document; documents over the size
 * limit are never stored; and under threads racing fills against changes,
 * no hit ever returns a document older than the last eviction completed
 * before the lookup.
 *
 * The module has no dependency but pthreads, so the test compiles it in
 * (it is part of hookline-api, not of a library).
 */
#include "check.h"

#include "../../api/doc_cache.c"

#include <pthread.h>
#include <sched.h>
#include <time.h>

static char *cache_hit(struct doc_cache *dc, const char *id, const char *tenant)
{
    size_t len;
    uint64_t ticket;
    return doc_cache_get(dc, id, tenant, &len, &ticket);
}

/* Miss, then fill with 'text'. Returns whether it was stored. */
static bool cache_fill(struct doc_cache *dc, const char *id, const char *tenant, const char *text)
{
    size_t len;
    uint64_t ticket;
    char *hit = doc_cache_get(dc, id, tenant, &len, &ticket);
    free(hit);
    return hit == NULL && doc_cache_put(dc, id, tenant, text, strlen(text), ticket);
}

/* 'n' ids that share a set, into ids[0..n-1]. */
static void colliding_ids(char ids[][32], size_t n)
{
    snprintf(ids[0], 32, "wh_collide0");
    size_t set = doc_cache_set_of(ids[0]);
    size_t found = 1;
    for (long i = 1; found < n; i++) {
        snprintf(ids[found], 32, "wh_collide%ld", i);
        if (doc_cache_set_of(ids[found]) == set)
            found++;
    }
}

static void test_off_until_enabled(void)
{
    struct doc_cache *dc = doc_cache_new();
    CHECK_FATAL(dc != NULL);
    size_t len = 99;
    uint64_t ticket = 99;
    CHECK(doc_cache_get(dc, "wh_a", "t1", &len, &ticket) == NULL);
    CHECK_EQ_INT(ticket, 0);
    CHECK(!doc_cache_put(dc, "wh_a", "t1", "{}", 2, ticket));
    CHECK(cache_hit(dc, "wh_a", "t1") == NULL);
    struct doc_cache_stats st;
    doc_cache_stats_get(dc, &st);
    CHECK(!st.enabled);
    CHECK_EQ_INT(st.bypasses, 2);
    CHECK_EQ_INT(st.hits + st.misses + st.fills, 0);
    doc_cache_free(dc);
}

static void test_hit_same_bytes_owner_only(void)
{
    struct doc_cache *dc = doc_cache_new();
    doc_cache_set_enabled(dc, true);
    const char *doc = "{\"id\":\"wh_a\",\"name\":\"n\",\"secret\":\"redacted\"}";
    CHECK(cache_fill(dc, "wh_a", "t1", doc));
    size_t len = 0;
    uint64_t ticket = 42;
    char *hit = doc_cache_get(dc, "wh_a", "t1", &len, &ticket);
    CHECK_EQ_STR(hit, doc);
    CHECK_EQ_INT(len, strlen(doc));
    free(hit);
    /* another tenant asking for the id: a miss, the database answers 404 */
    CHECK(cache_hit(dc, "wh_a", "t2") == NULL);
    CHECK(cache_hit(dc, "wh_b", "t1") == NULL);
    struct doc_cache_stats st;
    doc_cache_stats_get(dc, &st);
    CHECK(st.enabled);
    CHECK_EQ_INT(st.hits, 1);
    CHECK_EQ_INT(st.misses, 3); /* the fill's own lookup, t2, wh_b */
    CHECK_EQ_INT(st.fills, 1);
    CHECK_EQ_INT(st.entries, 1);
    doc_cache_free(dc);
}

static void test_fill_race_dropped(void)
{
    struct doc_cache *dc = doc_cache_new();
    doc_cache_set_enabled(dc, true);
    size_t len;
    uint64_t ticket;

    /* eviction of the id between the lookup and the fill */
    CHECK(doc_cache_get(dc, "wh_a", "t1", &len, &ticket) == NULL);
    CHECK(ticket != 0);
    doc_cache_evict(dc, "wh_a");
    CHECK(!doc_cache_put(dc, "wh_a", "t1", "old", 3, ticket));
    CHECK(cache_hit(dc, "wh_a", "t1") == NULL);

    /* a flush in between */
    CHECK(doc_cache_get(dc, "wh_a", "t1", &len, &ticket) == NULL);
    doc_cache_flush(dc);
    CHECK(!doc_cache_put(dc, "wh_a", "t1", "old", 3, ticket));

    /* the cache switched off and on again in between (listener reconnected) */
    CHECK(doc_cache_get(dc, "wh_a", "t1", &len, &ticket) == NULL);
    doc_cache_set_enabled(dc, false);
    doc_cache_set_enabled(dc, true);
    CHECK(!doc_cache_put(dc, "wh_a", "t1", "old", 3, ticket));
    CHECK(cache_hit(dc, "wh_a", "t1") == NULL);

    /* an eviction of another id in the same set also voids the ticket (never a stale fill) */
    char ab[2][32];
    colliding_ids(ab, 2);
    CHECK(doc_cache_get(dc, ab[0], "t1", &len, &ticket) == NULL);
    doc_cache_evict(dc, ab[1]);
    CHECK(!doc_cache_put(dc, ab[0], "t1", "x", 1, ticket));

    /* a lookup after the eviction fills */
    CHECK(cache_fill(dc, "wh_a", "t1", "new"));
    char *hit = cache_hit(dc, "wh_a", "t1");
    CHECK_EQ_STR(hit, "new");
    free(hit);
    /* an eviction drops it */
    doc_cache_evict(dc, "wh_a");
    CHECK(cache_hit(dc, "wh_a", "t1") == NULL);
    struct doc_cache_stats st;
    doc_cache_stats_get(dc, &st);
    CHECK_EQ_INT(st.fills_dropped, 4);
    CHECK_EQ_INT(st.entries, 0);
    doc_cache_free(dc);
}

static void test_off_then_on_starts_empty(void)
{
    struct doc_cache *dc = doc_cache_new();
    doc_cache_set_enabled(dc, true);
    CHECK(cache_fill(dc, "wh_a", "t1", "v1"));
    doc_cache_set_enabled(dc, false);
    CHECK(cache_hit(dc, "wh_a", "t1") == NULL);
    CHECK(!cache_fill(dc, "wh_a", "t1", "v2"));
    doc_cache_set_enabled(dc, true);
    /* whatever was held before the gap is gone */
    CHECK(cache_hit(dc, "wh_a", "t1") == NULL);
    struct doc_cache_stats st;
    doc_cache_stats_get(dc, &st);
    CHECK_EQ_INT(st.entries, 0);
    CHECK_EQ_INT(st.flushes, 3);
    doc_cache_free(dc);
}

static void test_bounds(void)
{
    struct doc_cache *dc = doc_cache_new();
    doc_cache_set_enabled(dc, true);

    /* a set holds DOC_CACHE_WAYS ids at once; one more replaces the least
     * recently used of them, a hit counting as a use */
    char ids[DOC_CACHE_WAYS + 1][32];
    colliding_ids(ids, DOC_CACHE_WAYS + 1);
    for (int i = 0; i < DOC_CACHE_WAYS; i++)
        CHECK(cache_fill(dc, ids[i], "t1", ids[i]));
    char *hit;
    for (int i = 0; i < DOC_CACHE_WAYS; i++) {
        hit = cache_hit(dc, ids[i], "t1");
        CHECK_EQ_STR(hit, ids[i]);
        free(hit);
    }
    hit = cache_hit(dc, ids[0], "t1");  /* ids[1] is now the least recently used */
    free(hit);
    CHECK(cache_fill(dc, ids[DOC_CACHE_WAYS], "t1", "B"));
    CHECK(cache_hit(dc, ids[1], "t1") == NULL);
    for (int i = 0; i < DOC_CACHE_WAYS; i++) {
        if (i == 1)
            continue;
        hit = cache_hit(dc, ids[i], "t1");
        CHECK_EQ_STR(hit, ids[i]);
        free(hit);
    }
    hit = cache_hit(dc, ids[DOC_CACHE_WAYS], "t1");
    CHECK_EQ_STR(hit, "B");
    free(hit);
    /* a newer document of a held id replaces that id's own, nothing else */
    CHECK(cache_fill(dc, ids[0], "t1", "A2") == false);  /* a hit: no ticket to fill with */
    doc_cache_evict(dc, ids[0]);
    CHECK(cache_fill(dc, ids[0], "t1", "A2"));
    hit = cache_hit(dc, ids[DOC_CACHE_WAYS], "t1");
    CHECK_EQ_STR(hit, "B");
    free(hit);
    /* evicting the id that was replaced leaves the set's documents alone */
    doc_cache_evict(dc, ids[1]);
    hit = cache_hit(dc, ids[DOC_CACHE_WAYS], "t1");
    CHECK_EQ_STR(hit, "B");
    free(hit);

    /* the size limit, exactly */
    char *big = malloc(DOC_CACHE_DOC_MAX + 2);
    CHECK_FATAL(big != NULL);
    memset(big, 'x', DOC_CACHE_DOC_MAX + 1);
    big[DOC_CACHE_DOC_MAX + 1] = '\0';
    CHECK(!cache_fill(dc, "wh_big", "t1", big));
    CHECK(cache_hit(dc, "wh_big", "t1") == NULL);
    big[DOC_CACHE_DOC_MAX] = '\0';
    CHECK(cache_fill(dc, "wh_big", "t1", big));
    hit = cache_hit(dc, "wh_big", "t1");
    CHECK(hit != NULL && strlen(hit) == DOC_CACHE_DOC_MAX);
    free(hit);
    free(big);

    /* ids longer than the slot's are not cached */
    char longid[DOC_CACHE_ID_MAX + 8];
    memset(longid, 'w', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    CHECK(!cache_fill(dc, longid, "t1", "x"));

    /* never more than DOC_CACHE_SLOTS documents */
    for (int i = 0; i < 3 * DOC_CACHE_SLOTS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "wh_many%d", i);
        cache_fill(dc, id, "t1", "{}");
    }
    struct doc_cache_stats st;
    doc_cache_stats_get(dc, &st);
    CHECK(st.entries <= DOC_CACHE_SLOTS);
    CHECK(st.entries > DOC_CACHE_SLOTS / 2);
    doc_cache_flush(dc);
    doc_cache_stats_get(dc, &st);
    CHECK_EQ_INT(st.entries, 0);
    doc_cache_free(dc);
}

/* ---- threads: fills racing changes ---- */

#define RACE_IDS 8
#define RACE_READERS 4
#define RACE_MS 300

struct race {
    struct doc_cache *dc;
    pthread_mutex_t db_lock; /* the "database" */
    long db_version[RACE_IDS];
    atomic_long evicted[RACE_IDS]; /* newest version whose eviction has completed */
    atomic_bool stop;
    atomic_long hits, stale;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        for (int i = 0; i < RACE_IDS; i++) {
            char id[16];
            snprintf(id, sizeof(id), "wh_race%d", i);
            pthread_mutex_lock(&r->db_lock);
            long v = ++r->db_version[i]; /* the commit */
            pthread_mutex_unlock(&r->db_lock);
            doc_cache_evict(r->dc, id); /* the notification, some time later */
            atomic_store(&r->evicted[i], v);
        }
        sched_yield();
    }
    return NULL;
}

static void *race_reader(void *arg)
{
    struct race *r = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    while (!atomic_load(&r->stop)) {
        int i = (int)(rand_r(&seed) % RACE_IDS);
        char id[16], text[32];
        snprintf(id, sizeof(id), "wh_race%d", i);
        long floor = atomic_load(&r->evicted[i]);
        size_t len;
        uint64_t ticket;
        char *hit = doc_cache_get(r->dc, id, "t1", &len, &ticket);
        if (hit != NULL) {
            atomic_fetch_add(&r->hits, 1);
            if (atol(hit) < floor)
                atomic_fetch_add(&r->stale, 1);
            free(hit);
            continue;
        }
        pthread_mutex_lock(&r->db_lock);
        long v = r->db_version[i]; /* the read */
        pthread_mutex_unlock(&r->db_lock);
        snprintf(text, sizeof(text), "%ld", v);
        if (rand_r(&seed) % 4 == 0)
            sched_yield(); /* widen the window between the read and the fill */
        doc_cache_put(r->dc, id, "t1", text, strlen(text), ticket);
    }
    return NULL;
}

static void test_race_threads(void)
{
    struct race r = {.dc = doc_cache_new()};
    pthread_mutex_init(&r.db_lock, NULL);
    doc_cache_set_enabled(r.dc, true);
    pthread_t w, readers[RACE_READERS];
    CHECK_FATAL(pthread_create(&w, NULL, race_writer, &r) == 0);
    for (int i = 0; i < RACE_READERS; i++)
        CHECK_FATAL(pthread_create(&readers[i], NULL, race_reader, &r) == 0);
    nanosleep(&(struct timespec){.tv_nsec = RACE_MS * 1000000L}, NULL);
    atomic_store(&r.stop, true);
    pthread_join(w, NULL);
    for (int i = 0; i < RACE_READERS; i++)
        pthread_join(readers[i], NULL);
    struct doc_cache_stats st;
    doc_cache_stats_get(r.dc, &st);
    fprintf(stderr, "race: %ld hits, %lu fills, %lu dropped, %lu evictions\n", atomic_load(&r.hits), st.fills,
            st.fills_dropped, st.evictions);
    CHECK_EQ_INT(atomic_load(&r.stale), 0);
    CHECK(st.fills > 0);
    doc_cache_free(r.dc);
    pthread_mutex_destroy(&r.db_lock);
}

int main(void)
{
    test_off_until_enabled();
    test_hit_same_bytes_owner_only();
    test_fill_race_dropped();
    test_off_then_on_starts_empty();
    test_bounds();
    test_race_threads();
    return check_exit();
}
