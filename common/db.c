/* db.c: libpq sessions with bounded waits, the connection pool and
 * migrations. */
#include "db.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <libpq-events.h>

#include "log.h"

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct db_params *params;
    int size;
    int opened;         /* connections created so far */
    int nfree;
    PGconn **free;      /* stack of idle connections */
};

/* What a session opened here knows about itself: libpq instance data,
 * freed with the PGconn (PGEVT_CONNDESTROY), kept across resets. */
struct db_session {
    long wait_ms;           /* longest wait for an answer; 0: unbounded */
    long base_wait_ms;      /* wait_ms as opened (db_timeout_extend changes wait_ms for a while) */
    long reset_ms;          /* longest wait for a reconnect; 0: libpq's connect_timeout alone */
    long long retry_at_ms;  /* no reconnect before this (after a failed one) */
    unsigned resets;        /* reconnects made: what the server kept for the session is gone */
    /* statements db_query_prepared prepared, named "hl_<index>", each known
     * by its text's address; valid while the server process is prepared_pid
     * (a reconnect, here or by libpq's own reset, starts a new one) */
    const char *prepared[DB_PREPARED_MAX];
    int nprepared;
    int prepared_pid;
    bool deallocate;        /* db_prepared_forget: drop them all before preparing again */
};

static long long db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, db_event));
    }
    return 1;
}

static struct db_session *db_session_get(const PGconn *pg)
{
    return PQinstanceData(pg, db_event);
}

/* Quiet libpq's NOTICE output (e.g. "relation already exists, skipping"). */
static void db_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *db_connect_params(const struct db_params *params, struct hl_error *err)
{
    struct db_session *session = calloc(1, sizeof(*session));
    PGconn *pg = session ? PQconnectdbParams(db_params_keys(params), db_params_values(params), 0) : NULL;
    if (pg == NULL) {
        free(session);
        hl_error_set(err, HL_ENOMEM, "PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        hl_error_set(err, HL_EDB, "PostgreSQL connection failed: %s", msg);
        free(session);
        PQfinish(pg);
        return NULL;
    }
    long stmt_ms = db_params_statement_timeout_ms(params), connect_ms = db_params_connect_timeout_ms(params);
    session->wait_ms = stmt_ms > 0 ? stmt_ms + DB_WAIT_GRACE_MS : 0;
    session->base_wait_ms = session->wait_ms;
    session->reset_ms = session->wait_ms > 0 && (connect_ms == 0 || session->wait_ms < connect_ms) ? session->wait_ms
                                                                                                  : connect_ms;
    if (!PQregisterEventProc(pg, db_event, "hookline.db", NULL) || !PQsetInstanceData(pg, db_event, session)) {
        free(session);
        PQfinish(pg);
        hl_error_set(err, HL_ENOMEM, "PostgreSQL: out of memory");
        return NULL;
    }
    PQsetNoticeProcessor(pg, db_notice_ignore, NULL);
    return pg;
}

PGconn *db_connect_session(const char *conninfo, long statement_timeout_ms, struct hl_error *err)
{
    struct db_params *params = db_params_new(conninfo, statement_timeout_ms, err);
    if (params == NULL)
        return NULL;
    PGconn *pg = db_connect_params(params, err);
    db_params_free(params);
    return pg;
}

PGconn *db_connect(const char *conninfo, struct hl_error *err)
{
    return db_connect_session(conninfo, DB_TIMEOUT_DEFAULT_MS, err);
}

/* Wait until 'pg''s socket is ready for 'events' or 'deadline' (monotonic
 * ms) passes. Returns >0 ready, 0 on timeout, <0 on error. */
static int db_wait_socket(PGconn *pg, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - db_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = { .fd = PQsocket(pg), .events = events };
        if (pfd.fd < 0)
            return -1;
        int n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (n != 0 && !(n < 0 && errno == EINTR))
            return n;
    }
}

/* Give up on a session that does not answer: shut its socket so that
 * libpq sees the end of it at once (and marks it CONNECTION_BAD), and
 * empty what it holds. The next db_reset reconnects. */
static void db_drop(PGconn *pg)
{
    int fd = PQsocket(pg);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    PQconsumeInput(pg);
    PGresult *res;
    while ((res = PQgetResult(pg)) != NULL)
        PQclear(res);
}

unsigned db_resets(const PGconn *pg)
{
    const struct db_session *session = db_session_get(pg);
    return session ? session->resets : 0;
}

int db_reset(PGconn *pg)
{
    if (PQstatus(pg) == CONNECTION_OK)
        return 0;
    struct db_session *session = db_session_get(pg);
    if (session == NULL) {      /* not opened here: libpq's own bounds */
        PQreset(pg);
        return PQstatus(pg) == CONNECTION_OK ? 0 : -1;
    }
    long long now = db_now_ms();
    if (now < session->retry_at_ms)
        return -1;
    int rc = -1;
    if (session->reset_ms <= 0) {
        PQreset(pg);
        rc = PQstatus(pg) == CONNECTION_OK ? 0 : -1;
        goto out;
    }
    long long deadline = now + session->reset_ms;
    if (!PQresetStart(pg))
        goto out;
    for (;;) {
        PostgresPollingStatusType st = PQresetPoll(pg);
        if (st == PGRES_POLLING_OK) {
            rc = 0;
            break;
        }
        if (st == PGRES_POLLING_FAILED)
            break;
        if (db_wait_socket(pg, st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN, deadline) <= 0) {
            db_drop(pg);    /* half open: a later db_reset starts afresh */
            break;
        }
    }
out:
    if (rc == 0) {
        PQsetnonblocking(pg, 0);    /* a drop may have left it set */
        session->retry_at_ms = 0;
        session->resets++;
    } else {
        session->retry_at_ms = db_now_ms() + DB_RESET_BACKOFF_MS;
    }
    return rc;
}

enum db_mode {
    DB_PARAMS,          /* 'sql' with parameters (the extended protocol, unnamed) */
    DB_SIMPLE,          /* 'sql' through the simple protocol: several statements */
    DB_PREPARE,         /* prepare 'sql' as statement 'name' */
    DB_PREPARED,        /* run the prepared statement 'name' with parameters */
};

static int db_send(PGconn *pg, enum db_mode mode, const char *name, const char *sql, int nparams,
                   const char *const *params)
{
    switch (mode) {
    case DB_SIMPLE:
        return PQsendQuery(pg, sql);
    case DB_PREPARE:
        return PQsendPrepare(pg, name, sql, nparams, NULL);
    case DB_PREPARED:
        return PQsendQueryPrepared(pg, name, nparams, params, NULL, NULL, 0);
    default:
        return PQsendQueryParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    }
}

/* Run a statement as 'mode' says and return the last result, as PQexec,
 * PQexecParams, PQprepare or PQexecPrepared would, but wait for it at most
 * the session's wait_ms: past that, drop the session and set *timed_out. */
static PGresult *db_run(PGconn *pg, enum db_mode mode, const char *name, const char *sql, int nparams,
                        const char *const *params, bool *timed_out)
{
    struct db_session *session = db_session_get(pg);
    *timed_out = false;
    /* a session not opened here, or one without a bound, waits as long as it takes */
    long long deadline = session != NULL && session->wait_ms > 0 ? db_now_ms() + session->wait_ms : LLONG_MAX;
    /* nonblocking: a large statement to a server that reads nothing must not
     * block in send() past the deadline */
    if (PQsetnonblocking(pg, 1) != 0)
        return NULL;
    PGresult *last = NULL;
    if (!db_send(pg, mode, name, sql, nparams, params))
        goto out;
    for (int flush; (flush = PQflush(pg)) != 0;) {
        if (flush < 0)
            goto out;
        int n = db_wait_socket(pg, POLLOUT | POLLIN, deadline);
        if (n == 0)
            goto timeout;
        if (n < 0 || !PQconsumeInput(pg))
            goto out;   /* the results below say why */
    }
    for (;;) {
        while (!PQisBusy(pg)) {
            PGresult *res = PQgetResult(pg);
            if (res == NULL)
                goto out;
            /* as PQexec: the last result, but an error is never hidden by a later one */
            if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
                PQclear(res);
                continue;
            }
            PQclear(last);
            last = res;
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
                goto out;
        }
        int n = db_wait_socket(pg, POLLIN, deadline);
        if (n == 0)
            goto timeout;
        if (n < 0 || !PQconsumeInput(pg))
            continue;   /* libpq now holds the error as a result */
    }
timeout:
    *timed_out = true;
    PQclear(last);
    last = NULL;
    db_drop(pg);
out:
    PQsetnonblocking(pg, 0);
    return last;
}

struct db_pool *db_pool_new(const char *conninfo, long statement_timeout_ms, int size, struct hl_error *err)
{
    struct db_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pool->free = calloc((size_t)size, sizeof(PGconn *));
    pool->size = size;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);
    if (pool->free == NULL)
        hl_error_set(err, HL_ENOMEM, "PostgreSQL: out of memory");
    else
        pool->params = db_params_new(conninfo, statement_timeout_ms, err);
    PGconn *pg = pool->params ? db_connect_params(pool->params, err) : NULL;
    if (pg == NULL) {
        db_pool_free(pool);
        return NULL;
    }
    pool->free[pool->nfree++] = pg;
    pool->opened = 1;
    return pool;
}

void db_pool_free(struct db_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->nfree; i++)
        PQfinish(pool->free[i]);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->freed);
    free(pool->free);
    db_params_free(pool->params);
    free(pool);
}

PGconn *db_pool_acquire(struct db_pool *pool, struct hl_error *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;

    pthread_mutex_lock(&pool->lock);
    while (pool->nfree == 0 && pool->opened == pool->size) {
        if (pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            hl_error_set(err, HL_EDB, "PostgreSQL: no free connection within 5 s");
            return NULL;
        }
    }
    PGconn *pg = NULL;
    if (pool->nfree > 0) {
        pg = pool->free[--pool->nfree];
    } else {
        pool->opened++; /* reserve the slot; connect outside the lock */
    }
    pthread_mutex_unlock(&pool->lock);

    if (pg == NULL) {
        pg = db_connect_params(pool->params, err);
        if (pg == NULL) {
            pthread_mutex_lock(&pool->lock);
            pool->opened--;
            pthread_cond_signal(&pool->freed);
            pthread_mutex_unlock(&pool->lock);
        }
        return pg;
    }
    if (db_reset(pg) < 0) {
        hl_error_set(err, HL_EDB, "PostgreSQL connection lost and could not be re-established");
        db_pool_release(pool, pg);
        return NULL;
    }
    return pg;
}

void db_pool_release(struct db_pool *pool, PGconn *pg)
{
    if (pg == NULL)
        return;
    if (PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) != PQTRANS_IDLE)
        db_rollback(pg);
    db_timeout_restore(pg);
    pthread_mutex_lock(&pool->lock);
    pool->free[pool->nfree++] = pg;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}

int db_timeout_extend(PGconn *pg, long statement_timeout_ms, struct hl_error *err)
{
    struct db_session *session = db_session_get(pg);
    char ms[32];
    snprintf(ms, sizeof(ms), "%ld", statement_timeout_ms);
    const char *params[1] = { ms };
    if (session == NULL)
        return hl_error_set(err, HL_EDB, "PostgreSQL: not a session of ours");
    /* set_config(..., true): SET LOCAL, with the value as a parameter */
    if (db_exec(pg, err, "SELECT set_config('statement_timeout', $1, true)", 1, params) < 0)
        return HL_EDB;
    session->wait_ms = statement_timeout_ms + DB_WAIT_GRACE_MS;
    return 0;
}

void db_timeout_restore(PGconn *pg)
{
    struct db_session *session = pg ? db_session_get(pg) : NULL;
    if (session != NULL)
        session->wait_ms = session->base_wait_ms;
}

static bool db_result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The name of 'sql' prepared in 'pg''s session (into 'name'), preparing
 * it first if it is not: true, or false to run it unnamed (no room left,
 * a session not opened here, or the prepare failed: *res then holds its
 * error, or NULL). */
static bool db_prepared_name(PGconn *pg, const char *sql, int nparams, char *name, size_t cap, PGresult **res,
                             bool *timed_out)
{
    struct db_session *session = db_session_get(pg);
    *res = NULL;
    if (session == NULL || PQstatus(pg) != CONNECTION_OK)
        return false;
    int pid = PQbackendPID(pg);
    if (pid != session->prepared_pid) {     /* a new server session holds none */
        session->nprepared = 0;
        session->deallocate = false;
        session->prepared_pid = pid;
    }
    if (session->deallocate) {
        /* outside a transaction (one that failed accepts nothing); unnamed till then */
        if (PQtransactionStatus(pg) != PQTRANS_IDLE)
            return false;
        PGresult *done = db_run(pg, DB_SIMPLE, NULL, "DEALLOCATE ALL", 0, NULL, timed_out);
        bool ok = db_result_ok(done);
        PQclear(done);
        if (!ok)
            return false;
        session->deallocate = false;
    }
    int i = 0;
    while (i < session->nprepared && session->prepared[i] != sql)
        i++;
    snprintf(name, cap, "hl_%d", i);
    if (i < session->nprepared)
        return true;
    if (i == DB_PREPARED_MAX)
        return false;
    PGresult *prep = db_run(pg, DB_PREPARE, name, sql, nparams, NULL, timed_out);
    if (!db_result_ok(prep)) {
        *res = prep;
        return false;
    }
    PQclear(prep);
    session->prepared[session->nprepared++] = sql;
    return true;
}

/* After "prepared statement does not exist" (someone ran DISCARD or
 * DEALLOCATE) or "cached plan must not change result type" (a migration
 * changed a table under it): drop the session's prepared statements and
 * prepare each afresh at its next call. */
static bool db_prepared_forget(PGconn *pg, const PGresult *res)
{
    struct db_session *session = db_session_get(pg);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (session == NULL || state == NULL || (strcmp(state, "26000") != 0 && strcmp(state, "0A000") != 0))
        return false;
    session->nprepared = 0;
    session->deallocate = true;
    return true;
}

static PGresult *db_query_mode(PGconn *pg, struct hl_error *err, bool prepared, const char *sql, int nparams,
                               const char *const *params)
{
    bool timed_out = false;
    /* PQTRANS_UNKNOWN for a session already down: it stays down (a reset
     * would silently lose what it held: LISTEN, advisory locks) */
    bool idle = PQtransactionStatus(pg) == PQTRANS_IDLE;
    char name[32];
    PGresult *res = NULL;
    if (prepared && db_prepared_name(pg, sql, nparams, name, sizeof(name), &res, &timed_out)) {
        res = db_run(pg, DB_PREPARED, name, NULL, nparams, params, &timed_out);
        /* outside a transaction nothing was lost: once more, unnamed */
        if (!db_result_ok(res) && db_prepared_forget(pg, res) && idle) {
            PQclear(res);
            res = db_run(pg, DB_PARAMS, NULL, sql, nparams, params, &timed_out);
        }
    } else if (res == NULL && !timed_out)
        res = db_run(pg, DB_PARAMS, NULL, sql, nparams, params, &timed_out);
    if (db_result_ok(res))
        return res;
    /* an idle pooled session may have ended (server restart, idle reaper):
     * outside a transaction nothing is lost by reconnecting and trying once
     * more; not after a timeout, which would only double the wait */
    if (idle && !timed_out && PQstatus(pg) != CONNECTION_OK) {
        PQclear(res);
        res = NULL;
        if (db_reset(pg) < 0)
            goto fail;
        log_warn("PostgreSQL connection was lost; reconnected");
        res = db_run(pg, DB_PARAMS, NULL, sql, nparams, params, &timed_out);   /* prepared again next time */
        if (db_result_ok(res))
            return res;
    }
fail:;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[200];
    snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    msg[strcspn(msg, "\n")] = '\0';
    if (timed_out)
        hl_error_set(err, HL_EDB, "PostgreSQL: no answer within %ld ms; session dropped",
                     db_session_get(pg)->wait_ms);
    else if (state != NULL && strcmp(state, "23505") == 0)
        hl_error_set(err, HL_EDUP, "duplicate: %s", msg);
    else
        hl_error_set(err, HL_EDB, "PostgreSQL: %s", msg[0] ? msg : "unreachable");
    PQclear(res);
    return NULL;
}

PGresult *db_query(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params)
{
    return db_query_mode(pg, err, false, sql, nparams, params);
}

PGresult *db_query_prepared(PGconn *pg, struct hl_error *err, const char *sql, int nparams,
                            const char *const *params)
{
    return db_query_mode(pg, err, true, sql, nparams, params);
}

static int db_exec_mode(PGconn *pg, struct hl_error *err, bool prepared, const char *sql, int nparams,
                        const char *const *params)
{
    struct hl_error local = { 0 };
    PGresult *res = db_query_mode(pg, &local, prepared, sql, nparams, params);
    if (res == NULL) {
        hl_error_set(err, local.code, "%s", local.msg);
        return local.code;
    }
    PQclear(res);
    return 0;
}

int db_exec(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params)
{
    return db_exec_mode(pg, err, false, sql, nparams, params);
}

int db_exec_prepared(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params)
{
    return db_exec_mode(pg, err, true, sql, nparams, params);
}

int db_begin(PGconn *pg, struct hl_error *err)
{
    return db_exec(pg, err, "BEGIN", 0, NULL);
}

int db_commit(PGconn *pg, struct hl_error *err)
{
    return db_exec(pg, err, "COMMIT", 0, NULL);
}

void db_rollback(PGconn *pg)
{
    bool timed_out;
    if (PQstatus(pg) != CONNECTION_OK)
        return;     /* the server ends the transaction of a lost session */
    PQclear(db_run(pg, DB_SIMPLE, NULL, "ROLLBACK", 0, NULL, &timed_out));
}

static int db_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *db_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && n < 16 * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)n + 1);
            if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else if (buf) {
                buf[n] = '\0';
            }
        }
    }
    fclose(f);
    return buf;
}

/* Apply one file unless recorded. Returns 0 or an error code. */
static int db_migrate_one(PGconn *pg, const char *dir, const char *name, struct hl_error *err)
{
    const char *params[1] = { name };
    PGresult *res = db_query(pg, err, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params);
    if (res == NULL)
        return HL_EDB;
    int done = PQntuples(res) > 0;
    PQclear(res);
    if (done)
        return 0;

    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *sql = db_read_file(path);
    if (sql == NULL)
        return hl_error_set(err, HL_EIO, "migration %s: cannot read", path);
    int rc = HL_EDB;
    if (db_begin(pg, err) < 0)
        goto out;
    bool timed_out;
    PGresult *r = db_run(pg, DB_SIMPLE, NULL, sql, 0, NULL, &timed_out); /* simple protocol: a file holds many statements */
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        hl_error_set(err, HL_EDB, "migration %s: %s", name, msg);
        PQclear(r);
        goto out;
    }
    PQclear(r);
    if (db_exec(pg, err, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, params) < 0)
        goto out;
    rc = db_commit(pg, err);
    if (rc == 0)
        log_info("applied migration %s", name);
out:
    if (rc != 0)
        db_rollback(pg);
    free(sql);
    return rc;
}

int db_migrate(PGconn *pg, const char *dir, struct hl_error *err)
{
    int rc = HL_EDB;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return hl_error_set(err, HL_EIO, "migrations: cannot open %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".sql") != 0 || de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL)
                goto out;
            names = grown;
        }
        names[n++] = strdup(de->d_name);
    }
    qsort(names, n, sizeof(*names), db_name_cmp);

    /* one migrator at a time across every process sharing the database */
    if (db_exec(pg, err, "SELECT pg_advisory_lock(7240001)", 0, NULL) < 0)
        goto out;
    if (db_exec(pg, err, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL) < 0)
        goto unlock;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = db_migrate_one(pg, dir, names[i], err);
unlock:
    if (db_exec(pg, NULL, "SELECT pg_advisory_unlock(7240001)", 0, NULL) < 0)
        log_warn("migrations: advisory lock not released; it ends with the session");
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

const char *db_sql_dir(void)
{
    const char *env = getenv("HOOKLINE_SQL_DIR");
    if (env != NULL && *env)
        return env;
    struct stat st;
    if (stat(HOOKLINE_SQL_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return HOOKLINE_SQL_DIR;
    return HOOKLINE_SOURCE_SQL_DIR;
}
