/* db.h: PostgreSQL connections, a bounded pool, query helpers and the
 * migration runner.
 *
 * A PGconn is never shared between threads: a thread acquires one from the
 * pool, uses it, and releases it. Helpers map SQLSTATE 23505 (unique
 * violation) to HL_EDUP and every other failure to HL_EDB.
 */
#ifndef HL_DB_H
#define HL_DB_H

#include <libpq-fe.h>
#include "hl_error.h"

struct db_pool;

/* Open one connection. Returns it, or NULL with the reason in 'err'. */
PGconn *db_connect(const char *conninfo, struct hl_error *err);

/* A pool of at most 'size' connections, opened lazily. Returns NULL with
 * the reason in 'err' if the first connection fails. */
struct db_pool *db_pool_new(const char *conninfo, int size, struct hl_error *err);

/* Close every connection. Every acquired connection must be released. */
void db_pool_free(struct db_pool *pool);

/* Borrow a connection, waiting up to 5 s for a free one; a broken one is
 * reset first. Returns NULL with HL_EDB in 'err' on timeout or failure.
 * Any thread; pair with db_pool_release. */
PGconn *db_pool_acquire(struct db_pool *pool, struct hl_error *err);

/* Return 'pg' to the pool; an open transaction is rolled back. */
void db_pool_release(struct db_pool *pool, PGconn *pg);

/* Run a statement with text parameters. Returns the result (caller
 * PQclear()s) on PGRES_COMMAND_OK or PGRES_TUPLES_OK, else NULL with
 * HL_EDUP (unique violation) or HL_EDB in 'err'. */
PGresult *db_query(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params);

/* db_query for statements whose result is not needed. Returns 0 or the
 * error code. */
int db_exec(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params) HL_MUST_CHECK;

int db_begin(PGconn *pg, struct hl_error *err) HL_MUST_CHECK;
int db_commit(PGconn *pg, struct hl_error *err) HL_MUST_CHECK;
void db_rollback(PGconn *pg);

/* Apply every "NNN_*.sql" file of 'dir' not yet recorded in
 * schema_migrations, in name order, each in its own transaction, under an
 * advisory lock so concurrent starters apply each file once. Returns 0 or
 * HL_EDB/HL_EIO with the file and reason in 'err'. */
int db_migrate(PGconn *pg, const char *dir, struct hl_error *err) HL_MUST_CHECK;

/* Where migrations live: $HOOKLINE_SQL_DIR, else the installed directory
 * if it exists, else the source tree's sql/. Never NULL. */
const char *db_sql_dir(void);

#endif
