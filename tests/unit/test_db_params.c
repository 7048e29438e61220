/* test_db_params.c: the parameters of a PostgreSQL session, from the
 * operator's conninfo (URI and key=value forms) and our defaults: a
 * connect timeout, keepalives, a TCP user timeout and the caller's
 * statement_timeout; whatever the operator set (in the conninfo, or in
 * PGCONNECT_TIMEOUT / PGOPTIONS) wins; the client's wait bound follows the
 * statement_timeout the session will really have.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "db_params.h"

static struct db_params *params(const char *conninfo, long timeout_ms)
{
    struct hl_error err = { 0 };
    struct db_params *p = db_params_new(conninfo, timeout_ms, &err);
    if (p == NULL)
        fprintf(stderr, "db_params_new(%s): %s\n", conninfo, err.msg);
    CHECK_FATAL(p != NULL);
    return p;
}

/* Every key once, arrays NULL-terminated and in step. */
static void check_arrays(const struct db_params *p)
{
    const char *const *keys = db_params_keys(p), *const *values = db_params_values(p);
    size_t n = 0;
    for (; keys[n]; n++) {
        CHECK(values[n] != NULL);
        for (size_t j = 0; j < n; j++)
            CHECK(strcmp(keys[j], keys[n]) != 0);
    }
    CHECK(values[n] == NULL);
}

/* A plain key=value conninfo gets every default of ours. */
static void test_defaults_keyvalue(void)
{
    struct db_params *p = params("host=db.internal port=5432 dbname=hookline user=hl password=s3cret", 1000);
    CHECK_EQ_STR(db_params_get(p, "host"), "db.internal");
    CHECK_EQ_STR(db_params_get(p, "port"), "5432");
    CHECK_EQ_STR(db_params_get(p, "dbname"), "hookline");
    CHECK_EQ_STR(db_params_get(p, "user"), "hl");
    CHECK_EQ_STR(db_params_get(p, "password"), "s3cret");
    CHECK_EQ_STR(db_params_get(p, "connect_timeout"), "2");
    CHECK_EQ_STR(db_params_get(p, "keepalives"), "1");
    CHECK_EQ_STR(db_params_get(p, "keepalives_idle"), "2");
    CHECK_EQ_STR(db_params_get(p, "keepalives_interval"), "1");
    CHECK_EQ_STR(db_params_get(p, "keepalives_count"), "3");
    CHECK_EQ_STR(db_params_get(p, "tcp_user_timeout"), "5000");
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=1000");
    CHECK_EQ_INT(db_params_statement_timeout_ms(p), 1000);
    CHECK_EQ_INT(db_params_connect_timeout_ms(p), 2000);
    CHECK(db_params_get(p, "sslmode") == NULL);     /* unset stays unset: libpq's default */
    check_arrays(p);
    db_params_free(p);
}

/* A URI: its parts and query parameters are the operator's and win. */
static void test_uri_user_wins(void)
{
    struct db_params *p = params("postgresql://hl:pw@db.internal:5433/hookline?connect_timeout=10&keepalives_idle=30"
                                 "&tcp_user_timeout=0&sslmode=require"
                                 "&options=-c%20search_path%3Dapp%20-c%20statement_timeout%3D30s",
                                 1000);
    CHECK_EQ_STR(db_params_get(p, "host"), "db.internal");
    CHECK_EQ_STR(db_params_get(p, "port"), "5433");
    CHECK_EQ_STR(db_params_get(p, "dbname"), "hookline");
    CHECK_EQ_STR(db_params_get(p, "user"), "hl");
    CHECK_EQ_STR(db_params_get(p, "password"), "pw");
    CHECK_EQ_STR(db_params_get(p, "sslmode"), "require");
    CHECK_EQ_STR(db_params_get(p, "connect_timeout"), "10");
    CHECK_EQ_STR(db_params_get(p, "keepalives_idle"), "30");
    CHECK_EQ_STR(db_params_get(p, "tcp_user_timeout"), "0");
    /* what the URL left unset is ours */
    CHECK_EQ_STR(db_params_get(p, "keepalives_interval"), "1");
    CHECK_EQ_STR(db_params_get(p, "keepalives_count"), "3");
    /* its statement_timeout is kept as written, and it is the one the client waits for */
    CHECK_EQ_STR(db_params_get(p, "options"), "-c search_path=app -c statement_timeout=30s");
    CHECK_EQ_INT(db_params_statement_timeout_ms(p), 30000);
    CHECK_EQ_INT(db_params_connect_timeout_ms(p), 10000);
    check_arrays(p);
    db_params_free(p);

    /* a URI without parameters gets our defaults */
    p = params("postgres://db.internal/hookline", 5000);
    CHECK_EQ_STR(db_params_get(p, "host"), "db.internal");
    CHECK_EQ_STR(db_params_get(p, "connect_timeout"), "2");
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=5000");
    db_params_free(p);
}

/* key=value: the operator's options without a statement_timeout keep
 * theirs beside ours; every spelling of statement_timeout counts as set. */
static void test_keyvalue_options(void)
{
    struct db_params *p = params("dbname=hookline options='-c search_path=app' connect_timeout=1", 2500);
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=2500 -c search_path=app");
    CHECK_EQ_INT(db_params_statement_timeout_ms(p), 2500);
    CHECK_EQ_STR(db_params_get(p, "connect_timeout"), "1");
    CHECK_EQ_INT(db_params_connect_timeout_ms(p), 2000);    /* libpq waits at least 2 s */
    db_params_free(p);

    static const struct {
        const char *conninfo;
        long ms;
    } spellings[] = {
        { "dbname=x options='--statement_timeout=2min'", 120000 },
        { "dbname=x options='--statement-timeout=1.5s'", 1500 },
        { "dbname=x options='-cstatement_timeout=750'", 750 },
        { "dbname=x options='-c Statement_Timeout=3h'", 10800000 },
        { "dbname=x options='-c statement_timeout=0'", 0 },
        { "dbname=x options='-c statement_timeout=1s -c statement_timeout=4s'", 4000 },
    };
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        p = params(spellings[i].conninfo, 1000);
        const char *options = db_params_get(p, "options");
        if (db_params_statement_timeout_ms(p) != spellings[i].ms)
            fprintf(stderr, "spelling %zu: options \"%s\"\n", i, options ? options : "(null)");
        CHECK_EQ_INT(db_params_statement_timeout_ms(p), spellings[i].ms);
        CHECK(options != NULL && strstr(options, "statement_timeout=1000") == NULL);
        db_params_free(p);
    }
    /* a name that merely contains ours is another setting */
    p = params("dbname=x options='-c idle_in_transaction_session_statement_timeout=9'", 1000);
    CHECK_EQ_INT(db_params_statement_timeout_ms(p), 1000);
    db_params_free(p);
}

/* No statement timeout asked for: none added, and none waited for. */
static void test_no_timeout(void)
{
    struct db_params *p = params("dbname=hookline", 0);
    CHECK(db_params_get(p, "options") == NULL);
    CHECK_EQ_INT(db_params_statement_timeout_ms(p), 0);
    CHECK_EQ_STR(db_params_get(p, "connect_timeout"), "2");
    db_params_free(p);
    p = params("dbname=hookline connect_timeout=0", 0);
    CHECK_EQ_INT(db_params_connect_timeout_ms(p), 0);
    db_params_free(p);
}

/* PGCONNECT_TIMEOUT and PGOPTIONS apply where the conninfo says nothing. */
static void test_environment(void)
{
    setenv("PGCONNECT_TIMEOUT", "7", 1);
    setenv("PGOPTIONS", "-c statement_timeout=9s -c work_mem=8MB", 1);
    struct db_params *p = params("dbname=hookline", 1000);
    CHECK(db_params_get(p, "connect_timeout") == NULL);     /* libpq reads the environment */
    CHECK_EQ_INT(db_params_connect_timeout_ms(p), 7000);
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=9s -c work_mem=8MB");
    CHECK_EQ_INT(db_params_statement_timeout_ms(p), 9000);
    db_params_free(p);
    /* the conninfo beats the environment */
    p = params("dbname=hookline connect_timeout=3 options='-c work_mem=1MB'", 1000);
    CHECK_EQ_STR(db_params_get(p, "connect_timeout"), "3");
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=1000 -c work_mem=1MB");
    db_params_free(p);
    /* PGOPTIONS without a statement_timeout: ours beside it */
    setenv("PGOPTIONS", "-c work_mem=8MB", 1);
    p = params("dbname=hookline", 1000);
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=1000 -c work_mem=8MB");
    db_params_free(p);
    unsetenv("PGCONNECT_TIMEOUT");
    unsetenv("PGOPTIONS");
}

/* db_params_set replaces (identity); db_params_option adds a server
 * setting unless the options already name it. */
static void test_set_and_option(void)
{
    struct db_params *p = params("dbname=hookline application_name=ops", 1000);
    CHECK_EQ_INT(db_params_set(p, "application_name", "hookline-doc-cache"), 0);
    CHECK_EQ_STR(db_params_get(p, "application_name"), "hookline-doc-cache");
    CHECK_EQ_INT(db_params_option(p, "lock_timeout", "2s"), 0);
    CHECK_EQ_STR(db_params_get(p, "options"), "-c lock_timeout=2s -c statement_timeout=1000");
    CHECK_EQ_INT(db_params_option(p, "lock_timeout", "5s"), 0);
    CHECK_EQ_STR(db_params_get(p, "options"), "-c lock_timeout=2s -c statement_timeout=1000");
    check_arrays(p);
    db_params_free(p);
    p = params("dbname=hookline options='-c lock_timeout=10s'", 1000);
    CHECK_EQ_INT(db_params_option(p, "lock_timeout", "2s"), 0);
    CHECK_EQ_STR(db_params_get(p, "options"), "-c statement_timeout=1000 -c lock_timeout=10s");
    db_params_free(p);
}

/* A conninfo that does not parse: HL_EINVAL with libpq's reason, and the
 * text itself (which may hold a password) is not repeated. */
static void test_refusals(void)
{
    static const char *const bad[] = { "host=db password=hunter2 nonsense", "hostx=db password=hunter2",
                                       "postgresql://db/x?password=hunter2&bogus=1",
                                       "postgresql://[::1/x?password=hunter2", "postgresql://u:hunter2@[::1/x",
                                       "password='hunter2" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hl_error err = { 0 };
        CHECK(db_params_new(bad[i], 1000, &err) == NULL);
        CHECK_EQ_INT(err.code, HL_EINVAL);
        CHECK(strstr(err.msg, "HOOKLINE_DATABASE_URL") != NULL);
        CHECK(strstr(err.msg, "hunter2") == NULL);
        CHECK(strlen(err.msg) > strlen("HOOKLINE_DATABASE_URL does not parse: "));
    }
}

/* PostgreSQL's time units. */
static void test_parse_ms(void)
{
    static const struct {
        const char *text;
        long ms;
    } ok[] = { { "1500", 1500 }, { "0", 0 }, { "250ms", 250 }, { "2s", 2000 }, { "1.5s", 1500 }, { "2min", 120000 },
               { "1h", 3600000 }, { "1d", 86400000 }, { "1500us", 2 }, { "3 s", 3000 } };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long ms = -1;
        CHECK_EQ_INT(db_params_parse_ms(ok[i].text, &ms), 0);
        CHECK_EQ_INT(ms, ok[i].ms);
    }
    static const char *const bad[] = { "", "s", "-1", "5 minutes", "1m", "1x", "30d", "nan", "inf" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long ms = 0;
        CHECK_EQ_INT(db_params_parse_ms(bad[i], &ms), -1);
    }
}

int main(void)
{
    unsetenv("PGCONNECT_TIMEOUT");
    unsetenv("PGOPTIONS");
    test_defaults_keyvalue();
    test_uri_user_wins();
    test_keyvalue_options();
    test_no_timeout();
    test_environment();
    test_set_and_option();
    test_refusals();
    test_parse_ms();
    return check_exit();
}
