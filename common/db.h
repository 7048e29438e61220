/* db.h: PostgreSQL connections, a bounded pool, query helpers and the
 * migration runner.
 *
 * A PGconn is never shared between threads: a thread acquires one from the
 * pool, uses it, and releases it. Helpers map SQLSTATE 23505 (unique
 * violation) to HL_EDUP and every other failure to HL_EDB.
 *
 * Every session has a connect timeout, TCP keepalives, a TCP user timeout
 * and the statement_timeout its opener chose (db_params.h; values in
 * HOOKLINE_DATABASE_URL win). The server ends a statement that runs too
 * long; a server that does not answer at all (stopped, or a network that
 * drops packets) is the client's to notice: db_query() and the other
 * helpers wait at most the statement timeout plus DB_WAIT_GRACE_MS, then
 * drop the session and fail with HL_EDB. db_reset() reconnects a dropped
 * session within the same bound.
 */
#ifndef HL_DB_H
#define HL_DB_H

#include <libpq-fe.h>
#include "db_params.h"
#include "hl_error.h"

/* statement_timeout of each kind of session, in ms */
#define DB_TIMEOUT_LOOP_MS 1000      /* a loop that must keep turning: the dispatcher's */
#define DB_TIMEOUT_REQUEST_MS 5000   /* REST requests (503 after it), the document cache listener */
#define DB_TIMEOUT_DEFAULT_MS 10000  /* work off any loop: the outbox relay, the dispatcher's attempt writer */
#define DB_TIMEOUT_BATCH_MS 60000    /* bulk deletes: the retention job */
#define DB_TIMEOUT_NONE 0            /* migrations: they may wait for a lock or build an index */
/* how much longer than the statement timeout a client waits: the server's
 * own "canceling statement" answer gets there first, and the session stays */
#define DB_WAIT_GRACE_MS 500
/* after a failed reconnect, the next attempt waits this long; until then
 * the helpers fail at once instead of waiting on a server that is away */
#define DB_RESET_BACKOFF_MS 1000

struct db_pool;

/* Open one session with 'statement_timeout_ms' (a DB_TIMEOUT_*; 0: none,
 * and no client-side limit either) and our other session defaults. Blocks
 * at most the connect timeout (2 s unless the URL says otherwise). Returns
 * it, or NULL with the reason in 'err'. Any thread; the caller PQfinish()es. */
PGconn *db_connect_session(const char *conninfo, long statement_timeout_ms, struct hl_error *err);

/* db_connect_session with DB_TIMEOUT_DEFAULT_MS. */
PGconn *db_connect(const char *conninfo, struct hl_error *err);

/* Open one session with parameters built by the caller (db_params_new, then
 * e.g. db_params_set for its application_name). Borrows 'params'. */
PGconn *db_connect_params(const struct db_params *params, struct hl_error *err);

/* Make 'pg' usable again if it is not: reconnect, waiting at most the
 * smaller of its statement timeout (plus grace) and its connect timeout;
 * within DB_RESET_BACKOFF_MS of a failed attempt, fail at once. Returns 0
 * if the session is up (at once if it was), -1 if not (PQerrorMessage says
 * why). For any PGconn; one opened here keeps its settings. */
int db_reset(PGconn *pg);

/* How many times a session opened here was reconnected (by db_reset or a
 * statement that found it lost). Session state on the server (advisory
 * locks, LISTEN) does not survive one: compare before trusting it. */
unsigned db_resets(const PGconn *pg);

/* A pool of at most 'size' sessions with 'statement_timeout_ms', opened
 * lazily. Returns NULL with the reason in 'err' if the first connection
 * fails. */
struct db_pool *db_pool_new(const char *conninfo, long statement_timeout_ms, int size, struct hl_error *err);

/* Close every connection. Every acquired connection must be released. */
void db_pool_free(struct db_pool *pool);

/* Borrow a connection, waiting up to 5 s for a free one; a broken one is
 * reset first (db_reset). Returns NULL with HL_EDB in 'err' on timeout or
 * failure. Any thread; pair with db_pool_release. */
PGconn *db_pool_acquire(struct db_pool *pool, struct hl_error *err);

/* Return 'pg' to the pool; an open transaction is rolled back. */
void db_pool_release(struct db_pool *pool, PGconn *pg);

/* Run a statement with text parameters. Returns the result (caller
 * PQclear()s) on PGRES_COMMAND_OK or PGRES_TUPLES_OK, else NULL with
 * HL_EDUP (unique violation) or HL_EDB in 'err'. Outside a transaction, a
 * session found lost on the way is reset and the statement tried once
 * more; one already down fails at once (db_reset it, as the pool does on
 * acquire, or open another). No answer within the session's statement
 * timeout plus DB_WAIT_GRACE_MS: the session is dropped and the error says
 * so; whether a COMMIT sent then took effect is unknown. */
PGresult *db_query(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params);

/* db_query for a statement run again and again: prepared once per server
 * session, then run by name, which skips parsing and, once PostgreSQL
 * settles on a generic plan, planning. 'sql' must be a string that lives as
 * long as the session and never changes (a literal): its address names the
 * statement. At most DB_PREPARED_MAX statements per session; past that,
 * and after a reconnect within the call, it runs unnamed like db_query. */
#define DB_PREPARED_MAX 32
PGresult *db_query_prepared(PGconn *pg, struct hl_error *err, const char *sql, int nparams,
                            const char *const *params);

/* db_exec for a statement run again and again (see db_query_prepared). */
int db_exec_prepared(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params)
    HL_MUST_CHECK;

/* db_query for statements whose result is not needed. Returns 0 or the
 * error code. */
int db_exec(PGconn *pg, struct hl_error *err, const char *sql, int nparams, const char *const *params) HL_MUST_CHECK;

int db_begin(PGconn *pg, struct hl_error *err) HL_MUST_CHECK;
int db_commit(PGconn *pg, struct hl_error *err) HL_MUST_CHECK;
/* ROLLBACK, within the same wait bound as db_query; failures are ignored
 * (a session that does not answer is dropped, which ends its transaction). */
void db_rollback(PGconn *pg);

/* For the transaction open on 'pg' (a session opened here): its statements
 * may run up to 'statement_timeout_ms' (SET LOCAL statement_timeout) and
 * the helpers wait that long plus DB_WAIT_GRACE_MS for each answer, until
 * db_timeout_restore(). For one bulk request among short ones. Returns 0
 * or HL_EDB (the wait is then unchanged). */
int db_timeout_extend(PGconn *pg, long statement_timeout_ms, struct hl_error *err) HL_MUST_CHECK;

/* Back to the session's own wait for answers, once the transaction of
 * db_timeout_extend has ended (the server's setting ended with it).
 * db_pool_release does it too. No-op for a session not extended. */
void db_timeout_restore(PGconn *pg);

/* Apply every "NNN_*.sql" file of 'dir' not yet recorded in
 * schema_migrations, in name order, each in its own transaction, under an
 * advisory lock so concurrent starters apply each file once. Open 'pg'
 * with DB_TIMEOUT_NONE: the lock and a migration may take long. Returns 0
 * or HL_EDB/HL_EIO with the file and reason in 'err'. */
int db_migrate(PGconn *pg, const char *dir, struct hl_error *err) HL_MUST_CHECK;

/* Where migrations live: $HOOKLINE_SQL_DIR, else the installed directory
 * if it exists, else the source tree's sql/. Never NULL. */
const char *db_sql_dir(void);

#endif
