/* test_api_config.c: hookline-api at start: configuration errors and
 * migrations.
 *
 * A missing required variable, a bad port, boolean, duration, log level,
 * CA file, admin key, portal frame ancestors, public URL or secrets key stops the process with a non-zero
 * status and ONE line on stderr naming the variable (a secrets key by its
 * place and id, never its bytes); an unreachable database stops it with
 * one line too. --migrate needs no secrets key. `--migrate` applies every sql/ file once: run twice
 * it exits 0 both times with one schema_migrations row per file; a new
 * file is applied on the next run and a broken one is refused whole.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api_e2e.h"

#define CFG_TIMEOUT_MS 30000

/* The repository's sql/ directory, next to this file's tests/e2e/. */
static void cfg_sql_dir(char *out, size_t cap)
{
    snprintf(out, cap, "%s", __FILE__);
    char *p = strstr(out, "/tests/e2e/");
    CHECK_FATAL(p != NULL);
    snprintf(p, cap - (size_t)(p - out), "/sql");
}

static int cfg_sql_files(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK_FATAL(d != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0 && de->d_name[0] >= '0' && de->d_name[0] <= '9')
            n++;
    }
    closedir(d);
    return n;
}

static void cfg_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CHECK_FATAL(in != NULL && out != NULL);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        CHECK_FATAL(fwrite(buf, 1, n, out) == n);
    fclose(in);
    CHECK_FATAL(fclose(out) == 0);
}

static void cfg_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    CHECK_FATAL(fp != NULL && fputs(text, fp) >= 0);
    CHECK_FATAL(fclose(fp) == 0);
}

/* stderr of the last cfg_expect_refusal */
static char cfg_last_err[sizeof(((struct e2e_run *)0)->err)];

/* Run hookline-api with 'env' and expect it to stop at once: non-zero exit,
 * nothing on stdout, exactly one line on stderr containing 'want'. */
static void cfg_expect_refusal(struct hx_stack *st, const char *tag, const char *const *env, const char *want)
{
    struct e2e_run run;
    e2e_run_api(hx_artifacts_dir(st), tag, NULL, env, CFG_TIMEOUT_MS, &run);
    snprintf(cfg_last_err, sizeof(cfg_last_err), "%s", run.err);
    bool ok = run.status > 0 && run.err_lines == 1 && strstr(run.err, want) != NULL && run.out[0] == '\0';
    if (!ok)
        fprintf(stderr, "%s: status %d, %d stderr lines, want one naming %s:\n%s", tag, run.status, run.err_lines, want,
                run.err);
    CHECK(run.status > 0);
    CHECK_EQ_INT(run.err_lines, 1);
    CHECK(strstr(run.err, want) != NULL);
    CHECK(run.out[0] == '\0');
}

static void cfg_bad_values(struct hx_stack *st)
{
    char db[1200], brokers[300], port[64], keys[256];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(st));
    snprintf(port, sizeof(port), "HOOKLINE_HTTP_PORT=%d", hx_free_port());
    snprintf(keys, sizeof(keys), "HOOKLINE_SECRETS_KEY=%s", hx_secrets_key(st));

    E2E_SECTION("a missing required variable stops the api with one line naming it");
    cfg_expect_refusal(st, "no-database", (const char *const[]){brokers, port, NULL}, "HOOKLINE_DATABASE_URL");
    cfg_expect_refusal(st, "empty-database", (const char *const[]){"HOOKLINE_DATABASE_URL=", brokers, port, NULL},
                       "HOOKLINE_DATABASE_URL");
    cfg_expect_refusal(st, "no-brokers", (const char *const[]){db, port, NULL}, "HOOKLINE_KAFKA_BROKERS");

    E2E_SECTION("a bad HOOKLINE_HTTP_PORT (not a number, out of range) stops the api with one line naming it");
    static const char *const ports[] = {"HOOKLINE_HTTP_PORT=abc", "HOOKLINE_HTTP_PORT=70000",
                                        "HOOKLINE_HTTP_PORT=0",   "HOOKLINE_HTTP_PORT=-1",
                                        "HOOKLINE_HTTP_PORT=80x", "HOOKLINE_HTTP_PORT=99999999999999999999"};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "bad-port-%zu", i);
        cfg_expect_refusal(st, tag, (const char *const[]){db, brokers, ports[i], NULL}, "HOOKLINE_HTTP_PORT");
    }

    E2E_SECTION("a bad boolean, duration, number, log level, CA file, admin key, frame ancestors or public URL: "
                "one line naming the variable");
    static const char *const bad[][2] = {
        {"HOOKLINE_ALLOW_HTTP=maybe", "HOOKLINE_ALLOW_HTTP"},
        {"HOOKLINE_ALLOW_PRIVATE_TARGETS=2", "HOOKLINE_ALLOW_PRIVATE_TARGETS"},
        {"HOOKLINE_TLS_CHECK=enabled", "HOOKLINE_TLS_CHECK"},
        {"HOOKLINE_DELIVERY_TIMEOUT=5x", "HOOKLINE_DELIVERY_TIMEOUT"},
        {"HOOKLINE_DELIVERY_TIMEOUT=15", "HOOKLINE_DELIVERY_TIMEOUT"},
        {"HOOKLINE_CONNECT_TIMEOUT=-5s", "HOOKLINE_CONNECT_TIMEOUT"},
        {"HOOKLINE_RETRY_SCHEDULE=5s,soon", "HOOKLINE_RETRY_SCHEDULE"},
        {"HOOKLINE_DISABLE_AFTER=1ms", "HOOKLINE_DISABLE_AFTER"},
        {"HOOKLINE_MAX_BODY_BYTES=lots", "HOOKLINE_MAX_BODY_BYTES"},
        {"HOOKLINE_DB_POOL_SIZE=0", "HOOKLINE_DB_POOL_SIZE"},
        {"HOOKLINE_LOG_LEVEL=loud", "HOOKLINE_LOG_LEVEL"},
        {"HOOKLINE_CA_FILE=/nonexistent/ca.pem", "HOOKLINE_CA_FILE"},
        {"HOOKLINE_ADMIN_KEY=short", "HOOKLINE_ADMIN_KEY"},
        {"HOOKLINE_PORTAL_FRAME_ANCESTORS=*", "HOOKLINE_PORTAL_FRAME_ANCESTORS"},
        {"HOOKLINE_PORTAL_FRAME_ANCESTORS='self'", "HOOKLINE_PORTAL_FRAME_ANCESTORS"},
        {"HOOKLINE_PORTAL_FRAME_ANCESTORS=https://a.example; script-src *", "HOOKLINE_PORTAL_FRAME_ANCESTORS"},
        {"HOOKLINE_PORTAL_FRAME_ANCESTORS=https://a.example/path", "HOOKLINE_PORTAL_FRAME_ANCESTORS"},
        {"HOOKLINE_PORTAL_FRAME_ANCESTORS=app.example.com", "HOOKLINE_PORTAL_FRAME_ANCESTORS"},
        {"HOOKLINE_PORTAL_FRAME_ANCESTORS=https://a.example:99999", "HOOKLINE_PORTAL_FRAME_ANCESTORS"},
        {"HOOKLINE_PUBLIC_URL=hooks.example.com", "HOOKLINE_PUBLIC_URL"},
        {"HOOKLINE_PUBLIC_URL=https://hooks.example.com/?x=1", "HOOKLINE_PUBLIC_URL"},
        {"HOOKLINE_PUBLIC_URL=https://hooks.example.com/#frag", "HOOKLINE_PUBLIC_URL"},
        {"HOOKLINE_PUBLIC_URL=ftp://hooks.example.com", "HOOKLINE_PUBLIC_URL"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "bad-value-%zu", i);
        cfg_expect_refusal(st, tag, (const char *const[]){db, brokers, port, bad[i][0], NULL}, bad[i][1]);
    }

    E2E_SECTION("no secrets key, or a bad one: the api stops with one line naming it, never its bytes");
    cfg_expect_refusal(st, "no-secrets-key", (const char *const[]){db, brokers, port, NULL}, "HOOKLINE_SECRETS_KEY");
    cfg_expect_refusal(st, "empty-secrets-key", (const char *const[]){db, brokers, port, "HOOKLINE_SECRETS_KEY=", NULL},
                       "HOOKLINE_SECRETS_KEY is required");
    static const char *const bad_keys[] = {
        "HOOKLINE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",     /* no id */
        "HOOKLINE_SECRETS_KEY=k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ==",  /* 31 bytes */
        "HOOKLINE_SECRETS_KEY=k1:not base64 at all",
    };
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "bad-secrets-key-%zu", i);
        cfg_expect_refusal(st, tag, (const char *const[]){db, brokers, port, bad_keys[i], NULL},
                           "HOOKLINE_SECRETS_KEY: key 1");
        CHECK(strstr(cfg_last_err, "MDEy") == NULL && strstr(cfg_last_err, "base64 at") == NULL);
    }

    E2E_SECTION("an unreachable database stops the api with one line about PostgreSQL");
    cfg_expect_refusal(st, "db-unreachable",
                       (const char *const[]){"HOOKLINE_DATABASE_URL=host=127.0.0.1 port=1 connect_timeout=3 dbname=x",
                                             brokers, port, keys, NULL},
                       "PostgreSQL");

    E2E_SECTION("a port already in use stops the api (non-zero exit) with a line naming the port");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    CHECK_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0 &&
                getsockname(fd, (struct sockaddr *)&sa, &salen) == 0);
    char busy[64], busy_port[16];
    snprintf(busy_port, sizeof(busy_port), "%d", ntohs(sa.sin_port));
    snprintf(busy, sizeof(busy), "HOOKLINE_HTTP_PORT=%s", busy_port);
    struct e2e_run run;
    e2e_run_api(hx_artifacts_dir(st), "port-busy", NULL, (const char *const[]){db, brokers, busy, keys, NULL},
                CFG_TIMEOUT_MS, &run);
    CHECK(run.status > 0 && run.status < 128);
    CHECK(strstr(run.err, busy_port) != NULL);
    close(fd);

    E2E_SECTION("an unknown argument: usage on stderr, exit 2");
    e2e_run_api(hx_artifacts_dir(st), "bad-arg", (const char *const[]){"--frobnicate", NULL},
                (const char *const[]){db, brokers, NULL}, CFG_TIMEOUT_MS, &run);
    CHECK_EQ_INT(run.status, 2);
    CHECK(strstr(run.err, "usage") != NULL);

    E2E_SECTION("--print-config lists every variable the design names");
    e2e_run_api(hx_artifacts_dir(st), "print-config", (const char *const[]){"--print-config", NULL}, NULL,
                CFG_TIMEOUT_MS, &run);
    CHECK_EQ_INT(run.status, 0);
    static const char *const names[] = {
        "HOOKLINE_DATABASE_URL", "HOOKLINE_KAFKA_BROKERS",         "HOOKLINE_HTTP_PORT", "HOOKLINE_ADMIN_KEY",
        "HOOKLINE_ALLOW_HTTP",   "HOOKLINE_ALLOW_PRIVATE_TARGETS", "HOOKLINE_CA_FILE",   "HOOKLINE_LOG_LEVEL",
        "HOOKLINE_SECRETS_KEY"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK(strstr(run.out, names[i]) != NULL);
}

static long cfg_migrations(struct hx_stack *st)
{
    return e2e_db_long(st, "SELECT count(*) FROM schema_migrations", NULL, NULL);
}

static void cfg_migrate(struct hx_stack *st)
{
    char db[1200], brokers[300], sql[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX + 320], sqlenv[PATH_MAX + 32];
    struct e2e_run run;
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(st));
    cfg_sql_dir(sql, sizeof(sql));
    int files = cfg_sql_files(sql);
    CHECK(files >= 1);
    const char *const args[] = {"--migrate", NULL};

    E2E_SECTION("--migrate on an empty database applies every sql/ file and exits 0");
    snprintf(sqlenv, sizeof(sqlenv), "HOOKLINE_SQL_DIR=%s", sql);
    const char *const env[] = {db, brokers, sqlenv, NULL};
    e2e_run_api(hx_artifacts_dir(st), "migrate-1", args, env, CFG_TIMEOUT_MS, &run);
    CHECK_EQ_INT(run.status, 0);
    CHECK_EQ_INT(cfg_migrations(st), files);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM event_types", NULL, NULL), 16); /* 12 + 4 operational */

    E2E_SECTION("--migrate again is idempotent: exit 0, still one row per file, data untouched");
    PGconn *pg = hx_pg_connect(st);
    PQclear(PQexec(pg, "INSERT INTO tenants (id, name) VALUES ('keep-me', 'Keep')"));
    PQfinish(pg);
    e2e_run_api(hx_artifacts_dir(st), "migrate-2", args, env, CFG_TIMEOUT_MS, &run);
    CHECK_EQ_INT(run.status, 0);
    CHECK_EQ_INT(cfg_migrations(st), files);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(DISTINCT version) FROM schema_migrations", NULL, NULL), files);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM event_types", NULL, NULL), 16); /* 12 + 4 operational */
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'keep-me'", NULL, NULL), 1);

    E2E_SECTION("a new migration file is applied once on the next --migrate");
    snprintf(tmp, sizeof(tmp), "%s/sql", hx_artifacts_dir(st));
    mkdir(tmp, 0755);
    /* artifacts survive runs: start from an empty directory */
    DIR *d = opendir(tmp);
    CHECK_FATAL(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
            CHECK_FATAL(unlink(path) == 0);
        }
    }
    closedir(d);
    d = opendir(sql);
    CHECK_FATAL(d != NULL);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0) {
            char from[PATH_MAX + 300];
            snprintf(from, sizeof(from), "%s/%s", sql, de->d_name);
            snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
            cfg_copy(from, path);
        }
    }
    closedir(d);
    snprintf(path, sizeof(path), "%s/900_e2e_extra.sql", tmp);
    cfg_write(path, "CREATE TABLE e2e_extra (n int);\nINSERT INTO e2e_extra VALUES (1);\n");
    snprintf(sqlenv, sizeof(sqlenv), "HOOKLINE_SQL_DIR=%s", tmp);
    e2e_run_api(hx_artifacts_dir(st), "migrate-3", args, env, CFG_TIMEOUT_MS, &run);
    CHECK_EQ_INT(run.status, 0);
    CHECK_EQ_INT(cfg_migrations(st), files + 1);
    e2e_run_api(hx_artifacts_dir(st), "migrate-4", args, env, CFG_TIMEOUT_MS, &run);
    CHECK_EQ_INT(run.status, 0);
    CHECK_EQ_INT(cfg_migrations(st), files + 1);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM e2e_extra", NULL, NULL), 1);

    E2E_SECTION("a broken migration fails the run with one line and leaves nothing of itself behind");
    snprintf(path, sizeof(path), "%s/901_e2e_broken.sql", tmp);
    cfg_write(path, "CREATE TABLE e2e_half (n int);\nTHIS IS NOT SQL;\n");
    e2e_run_api(hx_artifacts_dir(st), "migrate-broken", args,
                (const char *const[]){db, brokers, sqlenv, "HOOKLINE_LOG_LEVEL=warn", NULL}, CFG_TIMEOUT_MS, &run);
    CHECK(run.status > 0);
    CHECK_EQ_INT(run.err_lines, 1);
    CHECK(strstr(run.err, "901_e2e_broken.sql") != NULL);
    CHECK_EQ_INT(cfg_migrations(st), files + 1);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM pg_tables WHERE tablename = 'e2e_half'", NULL, NULL), 0);
}

int main(void)
{
    /* a database and a broker, no api: the test runs hookline-api itself */
    struct hx_stack_opts opts = {.no_api = true};
    struct hx_stack *st = hx_stack_start(&opts);
    cfg_migrate(st); /* first, while the database is empty */
    cfg_bad_values(st);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
