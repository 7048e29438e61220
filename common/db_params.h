/* db_params.h: the connection parameters of every PostgreSQL session.
 *
 * The operator's HOOKLINE_DATABASE_URL (a URI or key=value conninfo) is
 * parsed into keywords, and what it leaves unset gets our session
 * defaults: a connect timeout, TCP keepalives and a TCP user timeout (a
 * server that stops answering without a reset is noticed within about
 * five seconds), and the statement_timeout the caller asks for, sent as a
 * startup option so that it survives a reconnect. Whatever the URL says
 * wins, and so do PGCONNECT_TIMEOUT and PGOPTIONS when the URL does not
 * say. The result goes to PQconnectdbParams(keys, values, 0).
 */
#ifndef HL_DB_PARAMS_H
#define HL_DB_PARAMS_H

#include "hl_error.h"

/* Our defaults, for keywords the operator did not set. */
#define DB_PARAM_CONNECT_TIMEOUT "2"        /* s; libpq's minimum */
#define DB_PARAM_KEEPALIVES_IDLE "2"        /* s of silence before the first probe */
#define DB_PARAM_KEEPALIVES_INTERVAL "1"    /* s between probes */
#define DB_PARAM_KEEPALIVES_COUNT "3"       /* probes unanswered: the peer is gone */
#define DB_PARAM_TCP_USER_TIMEOUT "5000"    /* ms that sent data may stay unacknowledged */

struct db_params;

/* Parse 'conninfo' and add our defaults, with 'statement_timeout_ms' as
 * the session's statement_timeout (0: none of ours). Returns a new object
 * (free with db_params_free), or NULL with HL_EINVAL and libpq's reason in
 * 'err' (the conninfo does not parse; its text is not repeated: it may
 * hold a password), or HL_ENOMEM. */
struct db_params *db_params_new(const char *conninfo, long statement_timeout_ms, struct hl_error *err);

void db_params_free(struct db_params *p);

/* Set keyword 'key' to 'value', replacing any value, the operator's
 * included: for what identifies a session (application_name), not for
 * tuning. Returns 0 or HL_ENOMEM. */
int db_params_set(struct db_params *p, const char *key, const char *value) HL_MUST_CHECK;

/* Add the server setting 'name' = 'value' (no spaces) to the startup
 * options unless the options already name it (the operator's win).
 * Returns 0 or HL_ENOMEM. */
int db_params_option(struct db_params *p, const char *name, const char *value) HL_MUST_CHECK;

/* The value of 'key' (borrowed), or NULL if unset. */
const char *db_params_get(const struct db_params *p, const char *key);

/* NULL-terminated arrays for PQconnectdbParams(keys, values, 0); borrowed,
 * valid until the next change or db_params_free. */
const char *const *db_params_keys(const struct db_params *p);
const char *const *db_params_values(const struct db_params *p);

/* The statement_timeout the session will have, in ms (the operator's if
 * the options set one, else the caller's; 0: none). A client waits about
 * this long for an answer before it gives the session up. */
long db_params_statement_timeout_ms(const struct db_params *p);

/* The connect timeout in ms (0: none), as libpq applies it (at least 2 s). */
long db_params_connect_timeout_ms(const struct db_params *p);

/* Parse a time setting as PostgreSQL does ("1500", "1.5s", "250ms",
 * "2min", "1h", "1d"; no unit means ms) into *ms, rounded to the
 * millisecond. Returns 0 or -1. */
int db_params_parse_ms(const char *s, long *ms);

#endif
