/* stack.c: a whole hookline stack for one end-to-end test.
 *
 * A fresh PostgreSQL database, hookline-devbroker, hookline-api and any
 * number of hookline-dispatcher processes, each a child of the test with an
 * explicit environment and its own log file. Stopping is graceful (SIGTERM,
 * then a deadline) and reports every process that did not exit 0; a test
 * that dies early still kills its children and drops its database (atexit).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hx_int.h"

#ifndef HX_BUILD_DIR
#error "HX_BUILD_DIR must be defined by the build"
#endif

#define STACK_MAX_PROCS 64
#define STACK_READY_MS 20000
#define STACK_STOP_MS 20000

enum stack_kind { STACK_BROKER, STACK_API, STACK_DISPATCHER };

struct stack_proc {
    bool used;
    enum stack_kind kind;
    pid_t pid;
    char name[64];
    char log[PATH_MAX];
    char url[64];               /* dispatcher: metrics base URL, or "" */
    bool reaped;                /* exited; 'wstatus' holds how */
    int wstatus;
};

struct hx_stack {
    int index;                  /* 1 for the first stack of this process */
    char dbname[64];
    char conninfo[1024];
    char admin_conninfo[1024];
    char brokers[256];
    char api_url[64];
    int api_port;
    char admin_key[40];
    char artifacts[PATH_MAX];
    char state_file[PATH_MAX + 64];
    struct hx_env env;          /* api and dispatchers: inherited + HOOKLINE_* + opts->env */
    struct stack_proc procs[STACK_MAX_PROCS];
    int api_starts;
    int dispatcher_seq;
    struct hx_stack *next_live;
};

static struct hx_stack *stack_live;
static int stack_count;
static bool stack_atexit_set;

/* ---- helpers ------------------------------------------------------------ */

static const char *stack_bin_dir(void)
{
    const char *dir = getenv("HOOKLINE_BIN_DIR");
    return dir && *dir ? dir : HX_BUILD_DIR;
}

static void stack_bin_path(char *out, size_t cap, const char *name)
{
    if (snprintf(out, cap, "%s/%s", stack_bin_dir(), name) >= (int)cap)
        hx_die("binary path too long");
}

/* Append key='value' with libpq quoting. */
static void stack_conninfo_add(char *out, size_t cap, const char *key, const char *value)
{
    size_t len = strlen(out);
    if (!value || !*value)
        return;
    if (len + strlen(key) + 4 >= cap)
        hx_die("conninfo too long");
    len += (size_t)snprintf(out + len, cap - len, "%s%s='", len ? " " : "", key);
    for (const char *p = value; *p; p++) {
        if (len + 3 >= cap)
            hx_die("conninfo too long");
        if (*p == '\'' || *p == '\\')
            out[len++] = '\\';
        out[len++] = *p;
    }
    out[len++] = '\'';
    out[len] = '\0';
}

static struct stack_proc *stack_find(const struct hx_stack *st, pid_t pid)
{
    for (int i = 0; i < STACK_MAX_PROCS; i++)
        if (st->procs[i].used && st->procs[i].pid == pid)
            return (struct stack_proc *)&st->procs[i];
    return NULL;
}

static struct stack_proc *stack_find_kind(const struct hx_stack *st, enum stack_kind kind)
{
    for (int i = 0; i < STACK_MAX_PROCS; i++)
        if (st->procs[i].used && st->procs[i].kind == kind)
            return (struct stack_proc *)&st->procs[i];
    return NULL;
}

/* Reap 'p' if it has exited; returns true if it is still running. */
static bool stack_proc_poll(struct stack_proc *p)
{
    if (p->reaped)
        return false;
    pid_t r = waitpid(p->pid, &p->wstatus, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        if (r < 0)
            p->wstatus = 0xff00;
        p->reaped = true;
        return false;
    }
    return true;
}

static void stack_proc_report(const struct stack_proc *p, const char *what)
{
    char how[96];
    hx_wstatus_str(p->wstatus, how, sizeof(how));
    fprintf(stderr, "hx: %s (pid %ld) %s: %s; log: %s\n", p->name, (long)p->pid, what, how, p->log);
    hx_log_tail(p->log, 30);
}

/* Start 'bin' as a new process of the stack; exit(1) on failure. */
static struct stack_proc *stack_spawn(struct hx_stack *st, enum stack_kind kind, const char *name,
                                      const char *bin, char *const argv[], const struct hx_env *env)
{
    struct stack_proc *p = NULL;
    char path[PATH_MAX];

    for (int i = 0; i < STACK_MAX_PROCS && !p; i++)
        if (!st->procs[i].used)
            p = &st->procs[i];
    if (!p)
        hx_die("more than %d processes in one stack", STACK_MAX_PROCS);
    stack_bin_path(path, sizeof(path), bin);
    if (access(path, X_OK) != 0)
        hx_die("%s: %s (is it built? HOOKLINE_BIN_DIR=%s)", path, strerror(errno), stack_bin_dir());
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    if (st->index > 1)
        snprintf(p->name, sizeof(p->name), "s%d.%s", st->index, name);
    else
        snprintf(p->name, sizeof(p->name), "%s", name);
    if (snprintf(p->log, sizeof(p->log), "%s/%s.log", st->artifacts, p->name) >= (int)sizeof(p->log))
        hx_die("log path too long");
    p->pid = hx_spawn(path, argv, env->v, p->log);
    if (p->pid < 0)
        hx_die("cannot start %s", path);
    p->used = true;
    return p;
}

/* SIGTERM (unless 'signalled'), wait until 'deadline', then SIGKILL.
 * Returns true if the process exited 0. */
static bool stack_proc_finish(struct stack_proc *p, long long deadline)
{
    if (!p->reaped) {
        long left = (long)(deadline - hx_now_ms());
        if (hx_wait_pid(p->pid, left > 0 ? left : 0, &p->wstatus) < 0) {
            fprintf(stderr, "hx: %s (pid %ld) did not stop within %d s: SIGKILL\n", p->name, (long)p->pid,
                    STACK_STOP_MS / 1000);
            kill(p->pid, SIGKILL);
            hx_wait_pid(p->pid, -1, &p->wstatus);
        }
        p->reaped = true;
    }
    bool ok = WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 0;
    if (!ok)
        stack_proc_report(p, "did not stop cleanly");
    return ok;
}

/* Poll GET url until 200, the process dies, or 'timeout_ms' passes. */
static int stack_wait_healthy(struct stack_proc *p, const char *url, long timeout_ms)
{
    long long deadline = hx_now_ms() + timeout_ms;
    struct hx_resp resp;

    for (;;) {
        long status = hx_http_timeout("GET", url, NULL, NULL, NULL, &resp, 1000);
        hx_resp_free(&resp);
        if (status == 200)
            return 0;
        if (!stack_proc_poll(p)) {
            stack_proc_report(p, "exited during start");
            return -1;
        }
        if (hx_now_ms() >= deadline) {
            fprintf(stderr, "hx: %s (pid %ld): GET %s did not answer 200 within %ld ms (last: %ld); log: %s\n",
                    p->name, (long)p->pid, url, timeout_ms, status, p->log);
            hx_log_tail(p->log, 30);
            return -1;
        }
        hx_sleep_ms(50);
    }
}

/* ---- database ------------------------------------------------------------ */

static void stack_pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *stack_pg_admin(void)
{
    PGconn *pg = PQconnectdb("dbname=postgres connect_timeout=10");
    PQsetNoticeProcessor(pg, stack_pg_quiet, NULL); /* "does not exist, skipping" */
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "hx: cannot connect to PostgreSQL (run e2e tests inside "
                        "`pg_virtualenv -v 15 ...`, which sets PGHOST/PGPORT/PGUSER/PGPASSWORD): %s",
                PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static int stack_pg_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "hx: %s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    return rc;
}

static void stack_db_create(struct hx_stack *st)
{
    char sql[256];
    PGconn *pg = stack_pg_admin();
    if (!pg)
        hx_die("no database");
    snprintf(st->dbname, sizeof(st->dbname), "hl_t_%ld_%d", (long)getpid(), st->index);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", st->dbname);
    if (stack_pg_exec(pg, sql) < 0)
        hx_die("cannot drop a stale database %s", st->dbname);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", st->dbname);
    if (stack_pg_exec(pg, sql) < 0)
        hx_die("cannot create database %s", st->dbname);
    /* the effective parameters of this connection, whatever PG* said */
    const char *host = PQhost(pg), *port = PQport(pg), *user = PQuser(pg), *pass = PQpass(pg);
    st->conninfo[0] = '\0';
    stack_conninfo_add(st->conninfo, sizeof(st->conninfo), "host", host);
    stack_conninfo_add(st->conninfo, sizeof(st->conninfo), "port", port);
    stack_conninfo_add(st->conninfo, sizeof(st->conninfo), "user", user);
    stack_conninfo_add(st->conninfo, sizeof(st->conninfo), "password", pass);
    memcpy(st->admin_conninfo, st->conninfo, sizeof(st->conninfo));
    stack_conninfo_add(st->admin_conninfo, sizeof(st->admin_conninfo), "dbname", "postgres");
    stack_conninfo_add(st->conninfo, sizeof(st->conninfo), "dbname", st->dbname);
    PQfinish(pg);
}

static int stack_db_drop(struct hx_stack *st)
{
    char sql[256];
    int rc = -1;
    if (!st->dbname[0])
        return 0;
    PGconn *pg = PQconnectdb(st->admin_conninfo);
    PQsetNoticeProcessor(pg, stack_pg_quiet, NULL);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "hx: cannot connect to drop %s: %s", st->dbname, PQerrorMessage(pg));
        goto out;
    }
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", st->dbname);
    rc = stack_pg_exec(pg, sql);
    st->dbname[0] = '\0';
out:
    PQfinish(pg);
    return rc;
}

PGconn *hx_pg_connect(const struct hx_stack *st)
{
    PGconn *pg = PQconnectdb(st->conninfo);
    if (PQstatus(pg) != CONNECTION_OK)
        hx_die("cannot connect to %s: %s", st->dbname, PQerrorMessage(pg));
    return pg;
}

/* ---- processes ------------------------------------------------------------ */

static void stack_broker_start(struct hx_stack *st)
{
    char bootstrap_file[PATH_MAX + 32];
    if (st->index > 1)
        snprintf(bootstrap_file, sizeof(bootstrap_file), "%s/s%d.devbroker.bootstrap", st->artifacts, st->index);
    else
        snprintf(bootstrap_file, sizeof(bootstrap_file), "%s/devbroker.bootstrap", st->artifacts);
    snprintf(st->state_file, sizeof(st->state_file), "%s.state", bootstrap_file);
    unlink(bootstrap_file);
    unlink(st->state_file);

    struct hx_env env = { 0 };
    hx_env_inherit(&env);
    char *argv[] = { "hookline-devbroker", "--bootstrap-file", bootstrap_file, "--state-file",
                     st->state_file, NULL };
    struct stack_proc *p = stack_spawn(st, STACK_BROKER, "devbroker", "hookline-devbroker", argv, &env);
    hx_env_free(&env);

    long long deadline = hx_now_ms() + 10000;
    for (;;) {
        FILE *fp = fopen(bootstrap_file, "r");
        if (fp) {
            char line[256] = "";
            if (fgets(line, sizeof(line), fp))
                line[strcspn(line, "\r\n")] = '\0';
            fclose(fp);
            if (line[0]) {
                snprintf(st->brokers, sizeof(st->brokers), "%s", line);
                return;
            }
        }
        if (!stack_proc_poll(p)) {
            stack_proc_report(p, "exited during start");
            hx_die("hookline-devbroker did not start");
        }
        if (hx_now_ms() >= deadline) {
            hx_log_tail(p->log, 30);
            hx_die("hookline-devbroker wrote no %s within 10 s; log: %s", bootstrap_file, p->log);
        }
        hx_sleep_ms(10);
    }
}

/* Start the api on st->api_port; returns 0 once /healthz answers 200. */
static int stack_api_start(struct hx_stack *st)
{
    char name[32], url[128];
    struct hx_env env = { 0 };

    st->api_starts++;
    if (st->api_starts > 1)
        snprintf(name, sizeof(name), "api.%d", st->api_starts);
    else
        snprintf(name, sizeof(name), "api");
    hx_env_copy(&env, &st->env);
    hx_env_putf(&env, "HOOKLINE_HTTP_PORT=%d", st->api_port);
    char *argv[] = { "hookline-api", NULL };
    struct stack_proc *p = stack_spawn(st, STACK_API, name, "hookline-api", argv, &env);
    hx_env_free(&env);
    snprintf(url, sizeof(url), "%s/healthz", st->api_url);
    return stack_wait_healthy(p, url, STACK_READY_MS);
}

/* Start one dispatcher and wait for its /healthz; exit(1) on failure. */
static pid_t stack_dispatcher_start(struct hx_stack *st, const char *const *extra_env)
{
    char name[32], bin[PATH_MAX];
    struct hx_env env = { 0 };

    stack_bin_path(bin, sizeof(bin), "hookline-dispatcher");
    if (access(bin, X_OK) != 0)
        hx_die("%s: %s: hookline-dispatcher is not built yet", bin, strerror(errno));
    snprintf(name, sizeof(name), "dispatcher.%d", ++st->dispatcher_seq);
    hx_env_copy(&env, &st->env);
    if (!hx_env_get(&env, "HOOKLINE_METRICS_PORT"))
        hx_env_putf(&env, "HOOKLINE_METRICS_PORT=%d", hx_free_port());
    for (size_t i = 0; extra_env && extra_env[i]; i++)
        hx_env_put(&env, extra_env[i]);
    const char *mport = hx_env_get(&env, "HOOKLINE_METRICS_PORT");
    int port = mport ? atoi(mport) : 0;
    char *argv[] = { "hookline-dispatcher", NULL };
    struct stack_proc *p = stack_spawn(st, STACK_DISPATCHER, name, "hookline-dispatcher", argv, &env);
    hx_env_free(&env);
    if (port > 0) {
        char url[128];
        snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", port);
        snprintf(url, sizeof(url), "%s/healthz", p->url);
        if (stack_wait_healthy(p, url, STACK_READY_MS) < 0)
            hx_die("%s did not come up", p->name);
    }
    return p->pid;
}

/* ---- emergency stop --------------------------------------------------------- */

static void stack_kill_all(struct hx_stack *st)
{
    for (int i = 0; i < STACK_MAX_PROCS; i++) {
        struct stack_proc *p = &st->procs[i];
        if (!p->used || p->reaped)
            continue;
        kill(p->pid, SIGKILL);
        hx_wait_pid(p->pid, 5000, &p->wstatus);
        p->reaped = true;
    }
}

/* atexit: a test that exit()s early (CHECK_FATAL, hx_die) leaves no process
 * and no database behind. */
static void stack_atexit(void)
{
    for (struct hx_stack *st = stack_live; st; st = st->next_live) {
        fprintf(stderr, "hx: exit without hx_stack_stop: killing stack %d (logs in %s)\n", st->index,
                st->artifacts);
        stack_kill_all(st);
        stack_db_drop(st);
    }
}

static void stack_unlink_live(struct hx_stack *st)
{
    for (struct hx_stack **pp = &stack_live; *pp; pp = &(*pp)->next_live)
        if (*pp == st) {
            *pp = st->next_live;
            return;
        }
}

/* ---- public ------------------------------------------------------------------ */

struct hx_stack *hx_stack_start(const struct hx_stack_opts *opts)
{
    struct hx_stack_opts none = { 0 };
    struct hx_stack *st = calloc(1, sizeof(*st));
    const char *artifacts = getenv("HOOKLINE_TEST_ARTIFACTS");

    if (!opts)
        opts = &none;
    if (!st)
        hx_die("out of memory");
    st->index = ++stack_count;
    if (artifacts && *artifacts)
        snprintf(st->artifacts, sizeof(st->artifacts), "%s", artifacts);
    else
        snprintf(st->artifacts, sizeof(st->artifacts), "%s/tests/artifacts/%s", HX_BUILD_DIR,
                 program_invocation_short_name);
    if (hx_mkdirs(st->artifacts) < 0)
        hx_die("cannot create %s: %s", st->artifacts, strerror(errno));
    fprintf(stderr, "hx: stack %d: logs in %s\n", st->index, st->artifacts);

    st->next_live = stack_live;
    stack_live = st;

    const char *ca = hx_test_ca_file();
    stack_db_create(st);
    /* registered after libpq's first connection, which initialised OpenSSL
     * and its own atexit cleanup: handlers run in reverse order, so ours can
     * still use libpq (SCRAM needs OpenSSL's RNG) */
    if (!stack_atexit_set) {
        atexit(stack_atexit);
        stack_atexit_set = true;
    }
    stack_broker_start(st);

    hx_random_alnum(st->admin_key, 32);
    st->api_port = hx_free_port();
    snprintf(st->api_url, sizeof(st->api_url), "http://127.0.0.1:%d", st->api_port);

    hx_env_inherit(&st->env);
    hx_env_putf(&st->env, "HOOKLINE_DATABASE_URL=%s", st->conninfo);
    hx_env_putf(&st->env, "HOOKLINE_KAFKA_BROKERS=%s", st->brokers);
    hx_env_putf(&st->env, "HOOKLINE_HTTP_PORT=%d", st->api_port);
    hx_env_putf(&st->env, "HOOKLINE_ADMIN_KEY=%s", st->admin_key);
    char secrets_key[128];
    hx_secrets_key_new("t1", secrets_key, sizeof(secrets_key));
    hx_env_putf(&st->env, "HOOKLINE_SECRETS_KEY=%s", secrets_key);
    hx_env_put(&st->env, "HOOKLINE_ALLOW_PRIVATE_TARGETS=true");
    hx_env_putf(&st->env, "HOOKLINE_CA_FILE=%s", ca);
    hx_env_put(&st->env, "HOOKLINE_TLS_CHECK=false");
    hx_env_put(&st->env, "HOOKLINE_LOG_LEVEL=info");
    for (size_t i = 0; i < sizeof(opts->env) / sizeof(opts->env[0]) && opts->env[i]; i++)
        hx_env_put(&st->env, opts->env[i]);
    /* a test may pin the api's port or admin key through opts->env */
    const char *port = hx_env_get(&st->env, "HOOKLINE_HTTP_PORT");
    if (port && atoi(port) != st->api_port) {
        st->api_port = atoi(port);
        snprintf(st->api_url, sizeof(st->api_url), "http://127.0.0.1:%d", st->api_port);
    }
    const char *admin = hx_env_get(&st->env, "HOOKLINE_ADMIN_KEY");
    snprintf(st->admin_key, sizeof(st->admin_key), "%s", admin ? admin : "");

    if (!opts->no_api && stack_api_start(st) < 0)
        hx_die("hookline-api did not come up");
    for (int i = 0; i < opts->dispatchers; i++)
        stack_dispatcher_start(st, NULL);
    return st;
}

int hx_stack_stop(struct hx_stack *st)
{
    int failed = 0;
    static const enum stack_kind order[] = { STACK_DISPATCHER, STACK_API, STACK_BROKER };

    if (!st)
        return 0;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        /* signal every process of this kind at once, then wait for each */
        for (int i = 0; i < STACK_MAX_PROCS; i++) {
            struct stack_proc *p = &st->procs[i];
            if (p->used && p->kind == order[k] && stack_proc_poll(p))
                kill(p->pid, SIGTERM);
        }
        long long deadline = hx_now_ms() + STACK_STOP_MS;
        for (int i = 0; i < STACK_MAX_PROCS; i++) {
            struct stack_proc *p = &st->procs[i];
            if (p->used && p->kind == order[k]) {
                if (!stack_proc_finish(p, deadline))
                    failed++;
                p->used = false;
            }
        }
    }
    stack_db_drop(st);
    stack_unlink_live(st);
    if (failed)
        fprintf(stderr, "hx: stack %d: %d process(es) did not exit 0 (logs in %s)\n", st->index, failed,
                st->artifacts);
    hx_env_free(&st->env);
    free(st);
    return failed;
}

const char *hx_api_url(const struct hx_stack *st)
{
    return st->api_url;
}

const char *hx_brokers(const struct hx_stack *st)
{
    return st->brokers;
}

const char *hx_db_conninfo(const struct hx_stack *st)
{
    return st->conninfo;
}

const char *hx_admin_key(const struct hx_stack *st)
{
    return st->admin_key;
}

const char *hx_artifacts_dir(const struct hx_stack *st)
{
    return st->artifacts;
}

const char *hx_secrets_key(const struct hx_stack *st)
{
    const char *key = hx_env_get(&st->env, "HOOKLINE_SECRETS_KEY");
    return key ? key : "";
}

void hx_stack_setenv(struct hx_stack *st, const char *entry)
{
    hx_env_put(&st->env, entry);
}

/* Signal the broker and wait until its state file reads 'want'. */
static void stack_broker_set(struct hx_stack *st, int sig, const char *want)
{
    struct stack_proc *p = stack_find_kind(st, STACK_BROKER);
    if (!p || !stack_proc_poll(p))
        hx_die("hookline-devbroker is not running");
    if (kill(p->pid, sig) != 0)
        hx_die("kill devbroker: %s", strerror(errno));
    long long deadline = hx_now_ms() + 10000;
    for (;;) {
        char line[32] = "";
        FILE *fp = fopen(st->state_file, "r");
        if (fp) {
            if (fgets(line, sizeof(line), fp))
                line[strcspn(line, "\r\n")] = '\0';
            fclose(fp);
        }
        if (strcmp(line, want) == 0)
            return;
        if (hx_now_ms() >= deadline) {
            hx_log_tail(p->log, 20);
            hx_die("hookline-devbroker did not report \"%s\" within 10 s", want);
        }
        hx_sleep_ms(5);
    }
}

void hx_broker_down(struct hx_stack *st)
{
    stack_broker_set(st, SIGUSR1, "down");
}

void hx_broker_up(struct hx_stack *st)
{
    stack_broker_set(st, SIGUSR2, "up");
}

pid_t hx_api_pid(const struct hx_stack *st)
{
    const struct stack_proc *p = stack_find_kind(st, STACK_API);
    return p ? p->pid : 0;
}

pid_t hx_broker_pid(const struct hx_stack *st)
{
    const struct stack_proc *p = stack_find_kind(st, STACK_BROKER);
    return p ? p->pid : 0;
}

int hx_api_restart(struct hx_stack *st)
{
    int rc = 0;
    struct stack_proc *p = stack_find_kind(st, STACK_API);

    if (p) {
        if (stack_proc_poll(p))
            kill(p->pid, SIGTERM);
        if (!stack_proc_finish(p, hx_now_ms() + STACK_STOP_MS))
            rc = -1;
        p->used = false;
    }
    if (stack_api_start(st) < 0) {
        fprintf(stderr, "hx: hookline-api did not come back after the restart\n");
        rc = -1;
    }
    return rc;
}

pid_t hx_dispatcher_start(struct hx_stack *st, const char *const *extra_env)
{
    return stack_dispatcher_start(st, extra_env);
}

size_t hx_dispatcher_pids(const struct hx_stack *st, pid_t *out, size_t cap)
{
    size_t n = 0;
    /* slots are reused, so order by the sequence number in the name */
    for (int seq = 1; seq <= st->dispatcher_seq; seq++) {
        for (int i = 0; i < STACK_MAX_PROCS; i++) {
            const struct stack_proc *p = &st->procs[i];
            const char *dot = strrchr(p->name, '.');
            if (p->used && p->kind == STACK_DISPATCHER && !p->reaped && dot && atoi(dot + 1) == seq) {
                if (n < cap)
                    out[n] = p->pid;
                n++;
            }
        }
    }
    return n;
}

const char *hx_dispatcher_url(const struct hx_stack *st, pid_t pid)
{
    const struct stack_proc *p = stack_find(st, pid);
    return p && p->kind == STACK_DISPATCHER && p->url[0] ? p->url : NULL;
}

int hx_proc_kill(struct hx_stack *st, pid_t pid, int sig)
{
    struct stack_proc *p = stack_find(st, pid);
    if (!p || !stack_proc_poll(p))
        return -1;
    if (kill(pid, sig) != 0)
        return -1;
    if (sig == SIGKILL) {
        hx_wait_pid(pid, -1, &p->wstatus);
        p->used = false;
    }
    return 0;
}

int hx_proc_wait(struct hx_stack *st, pid_t pid, int timeout_ms)
{
    struct stack_proc *p = stack_find(st, pid);
    if (!p)
        return -1;
    if (!p->reaped) {
        if (hx_wait_pid(pid, timeout_ms, &p->wstatus) < 0)
            return -1;
        p->reaped = true;
    }
    p->used = false;
    if (WIFEXITED(p->wstatus))
        return WEXITSTATUS(p->wstatus);
    return WIFSIGNALED(p->wstatus) ? 128 + WTERMSIG(p->wstatus) : -1;
}

bool hx_proc_alive(struct hx_stack *st, pid_t pid)
{
    struct stack_proc *p = stack_find(st, pid);
    return p && stack_proc_poll(p);
}

const char *hx_proc_log(const struct hx_stack *st, pid_t pid)
{
    const struct stack_proc *p = stack_find(st, pid);
    return p ? p->log : NULL;
}
