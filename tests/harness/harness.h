/* harness.h: the end-to-end test harness (library hl_harness).
 *
 * Starts the real parts of hookline as child processes against real servers
 * (a fresh PostgreSQL database, hookline-devbroker, hookline-api,
 * hookline-dispatcher), talks to them over HTTP, and runs real HTTPS
 * receivers with a test CA inside the test process. Set-up failures print
 * why and exit(1): a test body only checks behaviour. Every function that
 * manages processes is meant for the test's main thread; the HTTP client and
 * the receivers are thread-safe.
 */
#ifndef HL_HARNESS_H
#define HL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <libpq-fe.h>

/* ---- stack -------------------------------------------------------------- */

struct hx_stack_opts {
    int dispatchers;        /* hookline-dispatcher processes to start (0 by default) */
    bool no_api;            /* do not start hookline-api */
    /* extra "NAME=value" entries for api and dispatchers, NULL-terminated;
     * they override the harness's HOOKLINE_* values. A bare "NAME" (no '=')
     * removes NAME from the child's environment. */
    const char *env[32];
};

struct hx_stack;

/* Start a fresh stack: a new PostgreSQL database (CREATE DATABASE
 * hl_t_<pid>_<n> on the server named by the standard PG* variables, as set
 * by pg_virtualenv; dropped at stop), a hookline-devbroker (bootstrap read
 * from its --bootstrap-file), hookline-api on a free port, waiting until GET
 * /healthz answers 200 (20 s), then opts->dispatchers dispatchers.
 * Children get PATH, PG*, TMPDIR, TZ, LANG, LC_* and *SAN_OPTIONS from the
 * test's environment, HOOKLINE_DATABASE_URL, HOOKLINE_KAFKA_BROKERS,
 * HOOKLINE_HTTP_PORT, HOOKLINE_ADMIN_KEY (random, 32 chars),
 * HOOKLINE_SECRETS_KEY (one random key "t1:<base64>", hx_secrets_key_new),
 * HOOKLINE_ALLOW_PRIVATE_TARGETS=true, HOOKLINE_CA_FILE (the test CA),
 * HOOKLINE_TLS_CHECK=false, HOOKLINE_LOG_LEVEL=info, then opts->env.
 * Each dispatcher also gets HOOKLINE_METRICS_PORT=<free port> and the
 * harness waits for its GET /healthz (20 s) unless opts->env sets
 * HOOKLINE_METRICS_PORT=0.
 * Each child's stdout and stderr go to <artifacts>/<name>.log, where
 * <artifacts> is $HOOKLINE_TEST_ARTIFACTS or
 * <build>/tests/artifacts/<test program name>; the directory is printed at
 * start, and a failing child's log path and last lines are printed.
 * Binaries are looked up in $HOOKLINE_BIN_DIR (set by CTest), else in the
 * build directory. On any set-up failure: prints why, stops what was
 * started, exit(1). 'opts' may be NULL. Returns a stack the caller passes
 * to hx_stack_stop(). */
struct hx_stack *hx_stack_start(const struct hx_stack_opts *opts);

/* SIGTERM every process (dispatchers first, then the api, then the broker),
 * wait for each (20 s, then SIGKILL), drop the database, free 'st'.
 * Returns the number of processes that did not exit with status 0 (also
 * counting processes that exited on their own before, except those
 * forgotten by hx_proc_kill(SIGKILL) or reaped by hx_proc_wait()). */
int hx_stack_stop(struct hx_stack *st);

const char *hx_api_url(const struct hx_stack *st);      /* "http://127.0.0.1:PORT" */
const char *hx_brokers(const struct hx_stack *st);      /* "127.0.0.1:PORT" */
const char *hx_db_conninfo(const struct hx_stack *st);  /* libpq key=value conninfo */
const char *hx_admin_key(const struct hx_stack *st);
const char *hx_artifacts_dir(const struct hx_stack *st);
/* HOOKLINE_SECRETS_KEY as the stack passes it now (borrowed; changes with
 * hx_stack_setenv). */
const char *hx_secrets_key(const struct hx_stack *st);

/* Set "NAME=value" (or remove a bare "NAME") in the environment the stack
 * gives the processes it starts from now on: hx_api_restart and
 * hx_dispatcher_start. Running processes keep theirs. */
void hx_stack_setenv(struct hx_stack *st, const char *entry);

/* New connection to the stack's database; the caller PQfinish()es it.
 * exit(1) if it cannot connect. */
PGconn *hx_pg_connect(const struct hx_stack *st);

/* Take the devbroker down (SIGUSR1) / up (SIGUSR2) and return once it has
 * applied the change (its state file says so; 10 s, else exit(1)). */
void hx_broker_down(struct hx_stack *st);
void hx_broker_up(struct hx_stack *st);

pid_t hx_api_pid(const struct hx_stack *st);            /* 0 when no api runs */
pid_t hx_broker_pid(const struct hx_stack *st);

/* Stop the api with SIGTERM (20 s, then SIGKILL) and start it again on the
 * same port with the same environment, waiting for /healthz. Returns 0, or
 * -1 if the old api did not exit 0 or the new one did not come up (the
 * reason is printed). */
int hx_api_restart(struct hx_stack *st);

/* Start one more dispatcher with the stack's environment plus 'extra_env'
 * (NULL-terminated, may be NULL; same rules as opts->env); waits for its
 * /healthz as in hx_stack_start. The stack stops it. exit(1) on failure. */
pid_t hx_dispatcher_start(struct hx_stack *st, const char *const *extra_env);

/* Pids of the running dispatchers (in start order) into 'out'; returns how
 * many there are (may exceed 'cap'). */
size_t hx_dispatcher_pids(const struct hx_stack *st, pid_t *out, size_t cap);

/* GET http://127.0.0.1:<metrics port>/ of dispatcher 'pid' as a base URL
 * ("http://127.0.0.1:PORT"), or NULL if unknown or metrics are off. */
const char *hx_dispatcher_url(const struct hx_stack *st, pid_t pid);

/* Send 'sig' to child 'pid' of the stack. On SIGKILL, reap it and forget it
 * (it no longer counts at stop). Returns 0, or -1 if 'pid' is not a live
 * child of the stack. */
int hx_proc_kill(struct hx_stack *st, pid_t pid, int sig);

/* Wait up to 'timeout_ms' for child 'pid' to exit, reap it and forget it.
 * Returns its exit status (0-255), 128+signal if killed by a signal, or -1
 * if it is still running (or unknown). */
int hx_proc_wait(struct hx_stack *st, pid_t pid, int timeout_ms);

/* Whether child 'pid' is still running (reaps it if it has exited; its
 * status is then counted at stop). */
bool hx_proc_alive(struct hx_stack *st, pid_t pid);

/* Log file path of child 'pid' (borrowed), or NULL if unknown or forgotten. */
const char *hx_proc_log(const struct hx_stack *st, pid_t pid);

/* ---- sealed secrets (sealed.c) -------------------------------------------- */

/* A new key ring entry "<id>:<base64 of 32 random bytes>" into 'out'
 * ('cap' >= 80). exit(1) on failure. */
void hx_secrets_key_new(const char *id, char *out, size_t cap);

/* Open a value hookline sealed at rest, with GnuTLS directly, following the
 * format the README gives (not hookline's code): "hlenc:v1:<key id>:<base64
 * of nonce (12) | ciphertext | tag (16)>", AES-256-GCM, associated data
 * "hlenc:v1:<key id>:" followed by "hookline webhook v1", tenant, webhook
 * id and field joined by 0x1f. 'keyring' is a HOOKLINE_SECRETS_KEY value.
 * Returns the plain value (caller frees), or NULL when it does not open. */
char *hx_unseal(const char *keyring, const char *tenant, const char *webhook_id, const char *field,
                const char *sealed);

/* ---- freezing PostgreSQL (pgfreeze.c) -------------------------------------- */

/* SIGSTOP every process of the PostgreSQL server that holds the stack's
 * database: the postmaster (its pid from postmaster.pid in SHOW
 * data_directory, else the parent of this session's backend) first, so it
 * forks nothing more, then each of its children (found through /proc),
 * and wait until all are stopped. The server must run on this machine
 * (pg_virtualenv's does). Connections stay open and simply get no answer,
 * as with a server that hangs. Until hx_pg_thaw(), a guard process
 * (its own session, so a signal to the test's process group spares it)
 * continues the server if the test process dies in any way, and an atexit
 * handler does on exit(); the guard also continues it after
 * HX_PG_FREEZE_MAX_MS whatever happens. Returns the number of processes
 * stopped; exit(1) if the server cannot be found or stopped (what was
 * stopped is continued first). One freeze at a time. Main thread only. */
#define HX_PG_FREEZE_MAX_MS 300000
int hx_pg_freeze(struct hx_stack *st);

/* SIGCONT every process stopped by hx_pg_freeze() and end its guard.
 * Nothing happens if nothing is frozen. */
void hx_pg_thaw(struct hx_stack *st);

/* ---- HTTP client (libcurl easy; thread-safe) ----------------------------- */

struct hx_resp {
    long status;            /* 0 on transport error */
    char *body;             /* NUL-terminated, may be empty */
    size_t len;
    json_t *json;           /* parsed body, or NULL */
    char *headers;          /* raw response headers */
};

/* 'key' (may be NULL) is sent as x-api-key; 'body' (may be NULL) as
 * application/json; 'extra_headers' NULL-terminated "Name: value" list or
 * NULL. https URLs are verified against hx_test_ca_file(). Total timeout
 * 30 s. Overwrites *resp (free a previous answer first); the caller frees
 * it with hx_resp_free() even on error. Returns resp->status. */
long hx_http(const char *method, const char *url, const char *key, const char *body,
             const char *const *extra_headers, struct hx_resp *resp);

/* Same against the stack's api with a printf-formatted path ("/v1/webhooks/%s"). */
long hx_api(struct hx_stack *st, const char *method, const char *key, const char *body,
            struct hx_resp *resp, const char *path_fmt, ...) __attribute__((format(printf, 6, 7)));

/* Free what *resp holds and zero it (safe to call twice). */
void hx_resp_free(struct hx_resp *resp);

/* Value of response header 'name' (case-insensitive; the last one if
 * repeated) copied into 'out'; returns 0 if found, -1 otherwise. */
int hx_resp_header(const struct hx_resp *resp, const char *name, char *out, size_t cap);

/* Tenants through the admin REST API: POST /v1/tenants {"id":tenant} then
 * POST /v1/tenants/{tenant}/keys {"scopes":[...]} with the admin key;
 * 'scopes_csv' like "webhooks:read,webhooks:write,events:write". Writes the
 * new key to 'key_out'. Returns 0, or -1 (with a message on stderr). */
int hx_tenant_new(struct hx_stack *st, const char *tenant, const char *scopes_csv,
                  char *key_out, size_t cap);

/* ---- time ---------------------------------------------------------------- */

long long hx_now_ms(void);        /* CLOCK_MONOTONIC, ms */
long long hx_realtime_ms(void);   /* CLOCK_REALTIME, ms */
void hx_sleep_ms(long ms);

/* Poll 'cond' every 10 ms until true or 'timeout_ms' passes; evaluates to
 * the final truth value. */
#define HX_WAIT(cond, timeout_ms) __extension__({                              \
    long long hx_wait_deadline_ = hx_now_ms() + (long long)(timeout_ms);       \
    bool hx_wait_ok_;                                                          \
    for (;;) {                                                                 \
        hx_wait_ok_ = (cond) ? true : false;                                   \
        if (hx_wait_ok_ || hx_now_ms() >= hx_wait_deadline_)                   \
            break;                                                             \
        hx_sleep_ms(10);                                                       \
    }                                                                          \
    hx_wait_ok_;                                                               \
})

/* ---- HTTPS receivers ------------------------------------------------------ */

/* Real HTTPS servers on 127.0.0.1 (libmicrohttpd with GnuTLS, its own
 * threads in the test process), certificates from a test CA generated once
 * per test process with the openssl command line into a temporary
 * directory (server certificate SAN: IP:127.0.0.1, IP:::1, DNS:localhost).
 * HTTP/1.1 keep-alive is supported. A receiver stores at most
 * HX_RECEIVER_MAX_STORED requests (bodies up to HX_RECEIVER_MAX_BODY bytes;
 * larger requests are answered 413); beyond that requests are still
 * answered and counted but not stored (hx_receiver_get returns NULL). */
#define HX_RECEIVER_MAX_STORED 100000
#define HX_RECEIVER_MAX_BODY (16L * 1024 * 1024)

struct hx_receiver_opts {
    bool plain_http;        /* serve http:// instead */
    bool untrusted_cert;    /* serve a self-signed certificate NOT issued by the test CA */
    bool ids_only;          /* store only path, webhook-id header, time and answer of each
                             * request (body "" and headers {"webhook-id"}): for volume tests */
};

struct hx_receiver;

/* Start a receiver; 'opts' may be NULL. exit(1) on failure. */
struct hx_receiver *hx_receiver_start(const struct hx_receiver_opts *opts);

/* Stop the server threads and free everything. */
void hx_receiver_stop(struct hx_receiver *r);

/* "https://127.0.0.1:PORT" (or http://), no trailing slash; borrowed. */
const char *hx_receiver_url(const struct hx_receiver *r);

/* Script the answers for requests whose path equals 'path' (NULL = any
 * path): the next 'times' such requests get 'status' (with an optional
 * extra response header line such as "Retry-After: 1", may be NULL) and a
 * short body; after that, 200. Scripts for one path queue in order; a
 * script for the exact path wins over a NULL-path script. */
void hx_receiver_respond(struct hx_receiver *r, const char *path, int status, int times,
                         const char *header);

/* Drop what is left of the scripts for exactly 'path' (NULL: the scripts
 * for any path): its next requests get 200 unless scripted again. */
void hx_receiver_forget(struct hx_receiver *r, const char *path);

/* Make every answer wait 'delay_ms' before it is sent (0 = none): for
 * timeout tests. Applies to requests that arrive afterwards. */
void hx_receiver_set_delay(struct hx_receiver *r, long delay_ms);

/* Answer at once every request that is waiting out a delay now (requests
 * arriving afterwards wait as set): ends a slow-endpoint test without
 * waiting for its hanging requests. */
void hx_receiver_release(struct hx_receiver *r);

struct hx_received {
    char path[256];         /* without the query string */
    char method[16];
    char *body;  size_t len;
    json_t *headers;        /* object: lower-case header name -> value */
    long long at_ms;        /* receipt time, CLOCK_REALTIME ms */
    int status;             /* what we answered */
};

/* Requests received (all paths if 'path' is NULL). */
size_t hx_receiver_count(struct hx_receiver *r, const char *path);

/* Copy of the i-th request (in arrival order, all paths); the caller frees
 * it with hx_received_free(). NULL if out of range. */
struct hx_received *hx_receiver_get(struct hx_receiver *r, size_t i);
void hx_received_free(struct hx_received *rec);

/* Forget every stored request and counter (scripts stay). */
void hx_receiver_clear(struct hx_receiver *r);

/* PEM path of the test CA (created on first use; removed at exit). */
const char *hx_test_ca_file(void);

/* ---- raw TCP listeners (tcpsink.c) ---------------------------------------- */

/* A TCP listener on a free port of 'addr' (numeric IPv4 or IPv6; default
 * 127.0.0.1). It accepts every connection and then never reads or writes
 * (a TLS endpoint that stalls), holding it open until stopped; with
 * 'forward_port' > 0 it instead forwards each connection both ways to
 * 127.0.0.1:forward_port once 'forward_delay_ms' has passed (a slow
 * endpoint: the TLS handshake, done with the server behind, takes that
 * long). At most 256 connections are held or forwarded. */
struct hx_tcp_sink_opts {
    const char *addr;
    int forward_port;
    long forward_delay_ms;
};

struct hx_tcp_sink;

/* Start a listener; 'opts' may be NULL. exit(1) on failure. */
struct hx_tcp_sink *hx_tcp_sink_start(const struct hx_tcp_sink_opts *opts);

int hx_tcp_sink_port(const struct hx_tcp_sink *s);

/* Connections made to it so far, including those the kernel has completed
 * but not yet handed over. Thread-safe. */
size_t hx_tcp_sink_accepted(struct hx_tcp_sink *s);

/* Close every connection and the listener, join the threads, free 's'. */
void hx_tcp_sink_stop(struct hx_tcp_sink *s);

/* ---- internal helpers shared by the harness files ------------------------ */

/* Bind 127.0.0.1:0, read the port, close. exit(1) on failure. */
int hx_free_port(void);

/* Print "hx: <message>" on stderr and exit(1). */
void hx_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
