/* db.c: libpq connections, the connection pool and migrations. */
#include "db.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    int size;
    int opened;         /* connections created so far */
    int nfree;
    PGconn **free;      /* stack of idle connections */
};

/* Quiet libpq's NOTICE output (e.g. "relation already exists, skipping"). */
static void db_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *db_connect(const char *conninfo, struct hl_error *err)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (pg == NULL) {
        hl_error_set(err, HL_ENOMEM, "PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        hl_error_set(err, HL_EDB, "PostgreSQL connection failed: %s", msg);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, db_notice_ignore, NULL);
    return pg;
}

struct db_pool *db_pool_new(const char *conninfo, int size, struct hl_error *err)
{
    struct db_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pool->conninfo = strdup(conninfo);
    pool->free = calloc((size_t)size, sizeof(PGconn *));
    pool->size = size;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);
    PGconn *pg = pool->conninfo && pool->free ? db_connect(conninfo, err) : NULL;
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
    free(pool->conninfo);
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
        pg = db_connect(pool->conninfo, err);
        if (pg == NULL) {
            pthread_mutex_lock(&pool->lock);
            pool->opened--;
            pthread_cond_signal(&pool->freed);
            pthread_mutex_unlock(&pool->lock);
        }
        return pg;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        PQreset(pg);
        if (PQstatus(pg) != CONNECTION_OK) {
            hl_error_set(err, HL_EDB, "PostgreSQL connection lost and could not be re-established");
            db_pool_release(pool, pg);
            return NULL;
        }
    }
    return pg;
}

void db_pool_release(struct db_pool *pool, PGconn *pg)
{
    if (pg == NULL)
        return;
    if (PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) != PQTRANS_IDLE)
        db_rollback(pg);
    pthread_mutex_lock(&pool->lock);
    pool->free[pool->nfree++] = pg;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}

PGresult *db_query(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params)
{
    bool idle = PQtransactionStatus(pg) == PQTRANS_IDLE;
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    /* an idle pooled session may have ended (server restart, idle reaper):
     * outside a transaction nothing is lost by reconnecting and trying once more */
    if (idle && PQstatus(pg) == CONNECTION_BAD) {
        PQclear(res);
        PQreset(pg);
        if (PQstatus(pg) == CONNECTION_OK)
            log_warn("PostgreSQL connection was lost; reconnected");
        res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
        st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            return res;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[200];
    snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    msg[strcspn(msg, "\n")] = '\0';
    if (state != NULL && strcmp(state, "23505") == 0)
        hl_error_set(err, HL_EDUP, "duplicate: %s", msg);
    else
        hl_error_set(err, HL_EDB, "PostgreSQL: %s", msg);
    PQclear(res);
    return NULL;
}

int db_exec(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params)
{
    struct hl_error local = { 0 };
    PGresult *res = db_query(pg, &local, sql, nparams, params);
    if (res == NULL) {
        hl_error_set(err, local.code, "%s", local.msg);
        return local.code;
    }
    PQclear(res);
    return 0;
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
    PGresult *res = PQexec(pg, "ROLLBACK");
    PQclear(res);
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
    PGresult *r = PQexec(pg, sql); /* simple protocol: a file holds many statements */
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
    PQclear(PQexec(pg, "SELECT pg_advisory_unlock(7240001)"));
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
