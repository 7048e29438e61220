/* doc_cache_listener.c: the thread that keeps the document cache current.
 *
 * One PostgreSQL session per api process, named DOC_CACHE_APP_NAME in
 * pg_stat_activity, LISTENs on DOC_CACHE_CHANNEL, which the webhooks
 * trigger (sql/004_webhook_cache.sql) notifies with the id of every row
 * inserted, updated or deleted ("*" after a TRUNCATE), and evicts that id.
 * The cache is on only while this session is up (doc_cache.c explains why
 * that bounds staleness); an idle session is pinged so that one cut off
 * without a word is noticed too.
 */
#include "doc_cache.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"

#define LISTENER_TICK_MS 100            /* how often the thread looks at its stop flag */
#define LISTENER_PING_MS 1000           /* an idle session is pinged this often */
#define LISTENER_PING_TIMEOUT_MS 2000   /* a ping unanswered this long: the session is lost */
#define LISTENER_RETRY_MIN_MS 100       /* first reconnect delay, doubled up to the max */
#define LISTENER_RETRY_MAX_MS 2000

struct doc_cache_listener {
    struct doc_cache *dc;
    char *conninfo;
    pthread_t thread;
    atomic_bool stop;
};

static long long listener_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void listener_sleep(struct doc_cache_listener *dl, long ms)
{
    for (long slept = 0; slept < ms && !atomic_load(&dl->stop); slept += LISTENER_TICK_MS)
        nanosleep(&(struct timespec){ .tv_nsec = LISTENER_TICK_MS * 1000000L }, NULL);
}

/* A session to the database of 'conninfo' under our own application_name
 * (the operator's session defaults otherwise, db_params.h), already
 * LISTENing. NULL with the reason in 'err'. */
static PGconn *listener_connect(struct doc_cache_listener *dl, struct hl_error *err)
{
    struct db_params *params = db_params_new(dl->conninfo, DB_TIMEOUT_REQUEST_MS, err);
    PGconn *pg = NULL;
    if (params == NULL)
        return NULL;
    if (db_params_set(params, "application_name", DOC_CACHE_APP_NAME) < 0) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        goto out;
    }
    pg = db_connect_params(params, err);
    if (pg != NULL && db_exec(pg, err, "LISTEN " DOC_CACHE_CHANNEL, 0, NULL) < 0) {
        PQfinish(pg);
        pg = NULL;
    }
out:
    db_params_free(params);
    return pg;
}

/* Evict every id notified so far. */
static void listener_drain(struct doc_cache_listener *dl, PGconn *pg)
{
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        if (strcmp(n->relname, DOC_CACHE_CHANNEL) == 0) {
            if (n->extra[0] == '\0' || strcmp(n->extra, "*") == 0)
                doc_cache_flush(dl->dc);
            else
                doc_cache_evict(dl->dc, n->extra);
        }
        PQfreemem(n);
    }
}

/* Collect the ping's answer if it is complete. Returns 0, or -1 if the
 * ping failed. */
static int listener_ping_read(PGconn *pg, bool *in_flight)
{
    while (*in_flight && !PQisBusy(pg)) {
        PGresult *res = PQgetResult(pg);
        if (res == NULL) {
            *in_flight = false;
            break;
        }
        bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Serve one connected session until it is lost or the thread stops.
 * Returns the reason it was lost, or NULL on stop. */
static const char *listener_watch(struct doc_cache_listener *dl, PGconn *pg)
{
    bool ping_in_flight = false;
    long long last_heard = listener_now_ms(), ping_sent = 0;
    while (!atomic_load(&dl->stop)) {
        struct pollfd pfd = { .fd = PQsocket(pg), .events = POLLIN };
        int n = poll(&pfd, 1, LISTENER_TICK_MS);
        long long now = listener_now_ms();
        if (n < 0 && errno != EINTR)
            return "poll failed";
        if (n > 0) {
            if (!PQconsumeInput(pg))
                return "the session ended";
            last_heard = now;
            /* notifications first: an eviction must never wait behind anything */
            listener_drain(dl, pg);
            if (listener_ping_read(pg, &ping_in_flight) < 0)
                return "the ping failed";
        }
        if (PQstatus(pg) != CONNECTION_OK)
            return "the session ended";
        if (ping_in_flight && now - ping_sent > LISTENER_PING_TIMEOUT_MS)
            return "no answer to a ping";
        if (!ping_in_flight && now - last_heard >= LISTENER_PING_MS) {
            if (!PQsendQuery(pg, "SELECT 1"))
                return "cannot send a ping";
            ping_in_flight = true;
            ping_sent = now;
        }
    }
    return NULL;
}

static void *listener_main(void *arg)
{
    struct doc_cache_listener *dl = arg;
    long retry_ms = LISTENER_RETRY_MIN_MS;
    bool down_logged = false;
    while (!atomic_load(&dl->stop)) {
        struct hl_error err = { 0 };
        PGconn *pg = listener_connect(dl, &err);
        if (pg == NULL) {
            /* once per outage: the reconnect loop would fill the log */
            if (!down_logged)
                log_warn("document cache: cannot listen for webhook changes (%s); GET by id reads PostgreSQL "
                         "until it can", err.msg);
            down_logged = true;
            listener_sleep(dl, retry_ms);
            retry_ms = retry_ms * 2 > LISTENER_RETRY_MAX_MS ? LISTENER_RETRY_MAX_MS : retry_ms * 2;
            continue;
        }
        /* LISTEN is in effect: whatever commits from now on will be notified,
         * so emptying the cache now covers everything missed before */
        doc_cache_set_enabled(dl->dc, true);
        log_info("document cache: listening for webhook changes; cache on");
        down_logged = false;
        retry_ms = LISTENER_RETRY_MIN_MS;

        const char *why = listener_watch(dl, pg);
        doc_cache_set_enabled(dl->dc, false);
        if (why != NULL) {
            char msg[200];
            snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
            msg[strcspn(msg, "\n")] = '\0';
            log_warn("document cache: listener session lost (%s%s%s); cache off until it is back", why,
                     msg[0] ? ": " : "", msg);
        }
        PQfinish(pg);
    }
    doc_cache_set_enabled(dl->dc, false);
    return NULL;
}

struct doc_cache_listener *doc_cache_listener_start(struct doc_cache *dc, const char *conninfo, struct hl_error *err)
{
    struct doc_cache_listener *dl = calloc(1, sizeof(*dl));
    if (dl == NULL || (dl->conninfo = strdup(conninfo)) == NULL) {
        free(dl);
        hl_error_set(err, HL_ENOMEM, "document cache: out of memory");
        return NULL;
    }
    dl->dc = dc;
    if (pthread_create(&dl->thread, NULL, listener_main, dl) != 0) {
        free(dl->conninfo);
        free(dl);
        hl_error_set(err, HL_ENOMEM, "document cache: cannot start the listener thread");
        return NULL;
    }
    return dl;
}

void doc_cache_listener_stop(struct doc_cache_listener *dl)
{
    if (dl == NULL)
        return;
    atomic_store(&dl->stop, true);
    pthread_join(dl->thread, NULL);
    free(dl->conninfo);
    free(dl);
}
