/* test_db_prepared.c: db_query_prepared against a real PostgreSQL.
 *
 * A statement is prepared once per server session and then run by name;
 * what a session loses (the server process ends, someone runs DISCARD ALL,
 * a migration changes a table under a prepared statement) is found out and
 * the statement still answers; past DB_PREPARED_MAX statements they run
 * unnamed; inside a transaction a prepared statement sees the
 * transaction's own rows.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "db.h"
#include "harness.h"

static const char *const SQL_ADD = "SELECT $1::int + 1";
static const char *const SQL_ROWS = "SELECT * FROM prep_t ORDER BY 1";

/* How many statements 'pg''s server session has prepared. */
static long prepared_count(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SELECT count(*) FROM pg_prepared_statements");
    long n = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return n;
}

/* $1 + 1 through the prepared statement, or -1 on error (printed). */
static long add_one(PGconn *pg, int v)
{
    char arg[16];
    snprintf(arg, sizeof(arg), "%d", v);
    const char *params[1] = { arg };
    struct hl_error err = { 0 };
    PGresult *res = db_query_prepared(pg, &err, SQL_ADD, 1, params);
    if (res == NULL) {
        fprintf(stderr, "db_query_prepared: %s\n", err.msg);
        return -1;
    }
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static void test_prepared_once(PGconn *pg)
{
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(add_one(pg, i), i + 1);
    CHECK_EQ_INT(prepared_count(pg), 1);    /* one statement, five runs */
}

/* The server process ends (as after a restart): the next call reconnects
 * and answers, and the new session prepares the statement again. */
static void test_session_lost(const struct hx_stack *st, PGconn *pg)
{
    PGconn *other = hx_pg_connect(st);
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(pg));
    PQclear(PQexec(other, sql));
    PQfinish(other);
    CHECK_EQ_INT(add_one(pg, 41), 42);
    CHECK_EQ_INT(add_one(pg, 42), 43);
    CHECK_EQ_INT(prepared_count(pg), 1);
}

/* Someone drops the session's prepared statements behind its back. */
static void test_discarded(PGconn *pg)
{
    PQclear(PQexec(pg, "DISCARD ALL"));
    CHECK_EQ_INT(prepared_count(pg), 0);
    CHECK_EQ_INT(add_one(pg, 6), 7);            /* answered, unnamed */
    CHECK_EQ_INT(add_one(pg, 7), 8);            /* prepared again */
    CHECK_EQ_INT(prepared_count(pg), 1);
}

/* A table changes under a prepared "SELECT *": the statement answers with
 * the table as it is now. */
static void test_table_changed(PGconn *pg)
{
    struct hl_error err = { 0 };
    CHECK_EQ_INT(db_exec(pg, &err, "CREATE TABLE prep_t (a int)", 0, NULL), 0);
    CHECK_EQ_INT(db_exec(pg, &err, "INSERT INTO prep_t VALUES (1)", 0, NULL), 0);
    PGresult *res = db_query_prepared(pg, &err, SQL_ROWS, 0, NULL);
    CHECK(res != NULL && PQnfields(res) == 1);
    PQclear(res);
    CHECK_EQ_INT(db_exec(pg, &err, "ALTER TABLE prep_t ADD COLUMN b text DEFAULT 'x'", 0, NULL), 0);
    res = db_query_prepared(pg, &err, SQL_ROWS, 0, NULL);
    if (res == NULL)
        fprintf(stderr, "after ALTER TABLE: %s\n", err.msg);
    CHECK(res != NULL && PQnfields(res) == 2 && strcmp(PQgetvalue(res, 0, 1), "x") == 0);
    PQclear(res);
}

/* Inside a transaction: the prepared statement sees its rows, and a
 * rollback leaves the statement prepared. */
static void test_in_transaction(PGconn *pg)
{
    struct hl_error err = { 0 };
    CHECK_EQ_INT(db_begin(pg, &err), 0);
    CHECK_EQ_INT(db_exec(pg, &err, "INSERT INTO prep_t VALUES (2, 'y')", 0, NULL), 0);
    PGresult *res = db_query_prepared(pg, &err, SQL_ROWS, 0, NULL);
    CHECK(res != NULL && PQntuples(res) == 2);
    PQclear(res);
    db_rollback(pg);
    res = db_query_prepared(pg, &err, SQL_ROWS, 0, NULL);
    CHECK(res != NULL && PQntuples(res) == 1);
    PQclear(res);
    /* an error in the statement is the statement's error */
    const char *bad[1] = { "not a number" };
    CHECK(db_query_prepared(pg, &err, SQL_ADD, 1, bad) == NULL);
    CHECK(strstr(err.msg, "invalid input syntax") != NULL);
    CHECK_EQ_INT(add_one(pg, 1), 2);
}

/* More statements than a session keeps: the rest run unnamed, every one
 * with the right answer. */
static void test_past_the_bound(PGconn *pg)
{
    static char sql[DB_PREPARED_MAX + 8][48];
    long before = prepared_count(pg);
    for (int i = 0; i < DB_PREPARED_MAX + 8; i++) {
        snprintf(sql[i], sizeof(sql[i]), "SELECT %d + $1::int", i);
        struct hl_error err = { 0 };
        const char *params[1] = { "1000" };
        PGresult *res = db_query_prepared(pg, &err, sql[i], 1, params);
        CHECK(res != NULL && atol(PQgetvalue(res, 0, 0)) == 1000 + i);
        PQclear(res);
    }
    CHECK_EQ_INT(prepared_count(pg), DB_PREPARED_MAX);
    CHECK(before < DB_PREPARED_MAX);
}

int main(void)
{
    struct hx_stack_opts opts = { .no_api = true };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hl_error err = { 0 };
    PGconn *pg = db_connect_session(hx_db_conninfo(st), 5000, &err);
    CHECK_FATAL(pg != NULL);

    test_prepared_once(pg);
    test_session_lost(st, pg);
    test_discarded(pg);
    test_table_changed(pg);
    test_in_transaction(pg);
    test_past_the_bound(pg);

    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
