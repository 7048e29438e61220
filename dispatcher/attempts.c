/* attempts.c: the dispatcher's writes to PostgreSQL.
 *
 * Finished deliveries collect in a batch on the loop's side. A writer
 * thread with its own connection writes one batch at a time in one
 * transaction (attempts_write.c) while the loop goes on delivering and
 * filling the next one; the loop learns the outcome at its next turn, and
 * the writer wakes it (the 'wake' callback) when a batch is done. A batch
 * that cannot be written goes back in front of the next one and is tried
 * again after ATTEMPTS_BACKOFF_MS: nothing is reported as recorded (so no
 * Kafka offset moves) before it is in PostgreSQL. The loop's own connection
 * (attempts_pg) serves the slow lanes (lanes.c) and index loads.
 */
#include "dispatcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attempts_write.h"
#include "envelope.h"
#include "db.h"
#include "log.h"

#define ATTEMPTS_FLUSH_ROWS 1000        /* hand a batch over at this size... */
#define ATTEMPTS_FLUSH_AGE_MS 10        /* ...or once its oldest record is this old */
#define ATTEMPTS_BACKOFF_MS 500         /* after a failed write */

struct batch {
    struct delivery **v;
    size_t n, cap;
};

enum writer_state { WRITER_IDLE, WRITER_BUSY, WRITER_DONE };

struct attempts {
    const struct hl_config *cfg;
    PGconn *pg;                 /* the loop's: slow lanes, index loads */
    bool resetting;             /* a non-blocking reconnect of 'pg' is under way */
    long long reset_after_ms;
    char name[128];
    struct batch fill;          /* the loop's: finished, not handed over yet */
    long long fill_since_ms;
    long long resume_ms;        /* after a failed write, hand nothing over before */
    void (*wake)(void *arg);
    void *wake_arg;
    /* 'work' belongs to the writer while WRITER_BUSY, else to the loop;
     * only the loop moves the state out of WRITER_IDLE or WRITER_DONE */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, quit;
    enum writer_state state;
    struct batch work;
    struct batch spent;         /* the loop's: written, being reported */
    int work_rc;
    char work_err[256];
    PGconn *wpg;                /* the writer's */
};

static void batch_push(struct batch *b, struct delivery *d)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct delivery **grown = realloc(b->v, cap * sizeof(*grown));
        if (grown == NULL)
            abort();            /* cannot keep the record: better to crash and redeliver */
        b->v = grown;
        b->cap = cap;
    }
    b->v[b->n++] = d;
}

static void batch_swap(struct batch *a, struct batch *b)
{
    struct batch t = *a;
    *a = *b;
    *b = t;
}

/* Is 'pg' usable? Reset it if not. */
static bool attempts_connected(PGconn *pg)
{
    return db_reset(pg) == 0;
}

static void *attempts_writer(void *arg)
{
    struct attempts *at = arg;
    pthread_mutex_lock(&at->lock);
    for (;;) {
        while (at->state != WRITER_BUSY && !at->quit)
            pthread_cond_wait(&at->cond, &at->lock);
        if (at->state != WRITER_BUSY)
            break;
        pthread_mutex_unlock(&at->lock);
        struct hl_error err = { 0 };
        int rc = attempts_connected(at->wpg)
               ? attempts_write(at->wpg, at->work.v, at->work.n, at->name, at->cfg, &err)
               : hl_error_set(&err, HL_EDB, "PostgreSQL unreachable: %s", PQerrorMessage(at->wpg));
        pthread_mutex_lock(&at->lock);
        at->work_rc = rc;
        snprintf(at->work_err, sizeof(at->work_err), "%s", err.msg);
        at->state = WRITER_DONE;
        pthread_cond_broadcast(&at->cond);
        if (at->wake)
            at->wake(at->wake_arg);
    }
    pthread_mutex_unlock(&at->lock);
    return NULL;
}

struct attempts *attempts_new(const struct hl_config *cfg, const char *dispatcher_name, void (*wake)(void *arg),
                              void *wake_arg, struct hl_error *err)
{
    struct attempts *at = calloc(1, sizeof(*at));
    if (at == NULL)
        return NULL;
    at->cfg = cfg;
    at->wake = wake;
    at->wake_arg = wake_arg;
    snprintf(at->name, sizeof(at->name), "%s", dispatcher_name);
    pthread_mutex_init(&at->lock, NULL);
    pthread_cond_init(&at->cond, NULL);
    /* the loop's statements end within about a second; the writer's may take longer */
    if ((at->pg = db_connect_session(cfg->database_url, DB_TIMEOUT_LOOP_MS, err)) == NULL ||
        (at->wpg = db_connect_session(cfg->database_url, DB_TIMEOUT_DEFAULT_MS, err)) == NULL)
        goto fail;
    if (pthread_create(&at->thread, NULL, attempts_writer, at) != 0) {
        hl_error_set(err, HL_ENOMEM, "attempt records: cannot start the writer thread");
        goto fail;
    }
    at->started = true;
    return at;
fail:
    attempts_free(at);
    return NULL;
}

void attempts_free(struct attempts *at)
{
    if (at == NULL)
        return;
    if (at->started) {
        pthread_mutex_lock(&at->lock);
        at->quit = true;
        pthread_cond_broadcast(&at->cond);
        pthread_mutex_unlock(&at->lock);
        pthread_join(at->thread, NULL);
    }
    PQfinish(at->pg);
    PQfinish(at->wpg);
    pthread_mutex_destroy(&at->lock);
    pthread_cond_destroy(&at->cond);
    free(at->fill.v);
    free(at->work.v);
    free(at->spent.v);
    free(at);
}

PGconn *attempts_pg(struct attempts *at)
{
    if (PQstatus(at->pg) == CONNECTION_OK && !at->resetting)
        return at->pg;
    /* reconnect without blocking the loop: one step of libpq's non-blocking
     * reset per call, a new try at most every ATTEMPTS_BACKOFF_MS */
    long long now = hl_time_now_ms();
    if (!at->resetting) {
        if (now < at->reset_after_ms)
            return NULL;
        at->reset_after_ms = now + ATTEMPTS_BACKOFF_MS;
        if (!PQresetStart(at->pg))
            return NULL;
        at->resetting = true;
        log_warn("PostgreSQL: the loop's session is down; reconnecting");
    }
    switch (PQresetPoll(at->pg)) {
    case PGRES_POLLING_OK:
        at->resetting = false;
        log_info("PostgreSQL: the loop's session is back");
        return at->pg;
    case PGRES_POLLING_FAILED:
        at->resetting = false;
        return NULL;
    default:
        return NULL;
    }
}

void attempts_add(struct attempts *at, struct delivery *d)
{
    if (at->fill.n == 0)
        at->fill_since_ms = hl_time_now_ms();
    batch_push(&at->fill, d);
}

size_t attempts_batched(const struct attempts *at)
{
    return at->fill.n + at->work.n;     /* work.n changes on the loop's side only */
}

int attempts_pump(struct attempts *at, long long now_ms, bool force,
                  void (*recorded)(struct delivery *d, void *arg), void *arg)
{
    int rc = 0;
    char why[512] = "";
    pthread_mutex_lock(&at->lock);
    if (at->state == WRITER_DONE) {
        at->state = WRITER_IDLE;
        rc = at->work_rc;
        if (rc == 0) {
            batch_swap(&at->work, &at->spent);
        } else {
            snprintf(why, sizeof(why), "batch of %zu not written (kept for the next try): %s", at->work.n,
                     at->work_err);
            /* back in front of what came since, in order */
            for (size_t i = 0; i < at->fill.n; i++)
                batch_push(&at->work, at->fill.v[i]);
            at->fill.n = 0;
            batch_swap(&at->work, &at->fill);
            at->resume_ms = now_ms + ATTEMPTS_BACKOFF_MS;
        }
    }
    if (at->state == WRITER_IDLE && at->fill.n > 0 && now_ms >= at->resume_ms &&
        (force || at->fill.n >= ATTEMPTS_FLUSH_ROWS || now_ms - at->fill_since_ms >= ATTEMPTS_FLUSH_AGE_MS)) {
        batch_swap(&at->work, &at->fill);
        at->state = WRITER_BUSY;
        pthread_cond_broadcast(&at->cond);
    }
    pthread_mutex_unlock(&at->lock);
    if (why[0])
        log_error("attempt records: %s", why);
    /* commit only after the attempt is recorded: a crash re-delivers, never loses */
    for (size_t i = 0; i < at->spent.n; i++)
        recorded(at->spent.v[i], arg);
    at->spent.n = 0;
    return rc;
}

long attempts_due_in(struct attempts *at, long long now_ms)
{
    pthread_mutex_lock(&at->lock);
    enum writer_state state = at->state;
    pthread_mutex_unlock(&at->lock);
    if (state == WRITER_DONE)
        return 0;
    if (state == WRITER_BUSY || at->fill.n == 0)
        return -1;
    long long due = at->fill.n >= ATTEMPTS_FLUSH_ROWS ? now_ms : at->fill_since_ms + ATTEMPTS_FLUSH_AGE_MS;
    if (due < at->resume_ms)
        due = at->resume_ms;
    return due <= now_ms ? 0 : (long)(due - now_ms);
}

/* Wait until the writer finishes its batch, or until 'until_ms'. */
static void attempts_wait(struct attempts *at, long long until_ms)
{
    long long ms = until_ms - hl_time_now_ms();
    if (ms <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&at->lock);
    while (at->state != WRITER_DONE)
        if (pthread_cond_timedwait(&at->cond, &at->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&at->lock);
}

int attempts_sync(struct attempts *at, long timeout_ms, void (*recorded)(struct delivery *d, void *arg), void *arg)
{
    long long deadline = hl_time_now_ms() + timeout_ms;
    for (;;) {
        long long now = hl_time_now_ms();
        (void)attempts_pump(at, now, true, recorded, arg);
        if (attempts_batched(at) == 0)
            return 0;
        if (now >= deadline)
            return HL_EDB;
        /* a failed write waits out its back-off; a busy writer wakes us */
        attempts_wait(at, at->resume_ms > now && at->resume_ms < deadline ? at->resume_ms : deadline);
    }
}
