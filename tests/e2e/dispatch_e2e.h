/* dispatch_e2e.h: helpers shared by the end-to-end tests of
 * hookline-dispatcher (tests/e2e/test_dispatch_*.c): an ordinary librdkafka
 * producer of event envelopes, a Standard Webhooks signature check written
 * against GnuTLS (independent of common/sign.c), webhook creation over REST,
 * and reading back what the receivers and the attempt log saw.
 *
 * Header-only (static inline) like api_e2e.h, which it builds on; nothing
 * here is hookline code: the tests check the dispatcher from the outside.
 */
#ifndef HL_DISPATCH_E2E_H
#define HL_DISPATCH_E2E_H

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <time.h>

#include "api_e2e.h"

#define DE_TOPIC "hookline.events"
#define DE_SCOPES "webhooks:read,webhooks:write,events:write"

/* ---- producing events ------------------------------------------------------ */

struct de_producer {
    rd_kafka_t *rk;
    atomic_long acked;
    atomic_long failed;
    long sent;
};

static inline void de_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct de_producer *p = opaque;
    (void)rk;
    if (rkm->err) {
        fprintf(stderr, "de: produce failed: %s\n", rd_kafka_err2str(rkm->err));
        atomic_fetch_add(&p->failed, 1);
    } else {
        atomic_fetch_add(&p->acked, 1);
    }
}

static inline struct de_producer *de_producer_new(const char *brokers)
{
    char errstr[256];
    struct de_producer *p = calloc(1, sizeof(*p));
    CHECK_FATAL(p != NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        { "bootstrap.servers", brokers },
        { "linger.ms", "5" },
        /* keeps the order of messages per partition even across retries */
        { "enable.idempotence", "true" },
        { "message.timeout.ms", "30000" },
        { "queue.buffering.max.messages", "200000" },
        { "log_level", "3" },
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        CHECK_FATAL(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, de_on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    CHECK_FATAL(p->rk != NULL);
    return p;
}

/* Queue one message on hookline.events (value copied). */
static inline void de_produce_raw(struct de_producer *p, const char *key, const char *value, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(DE_TOPIC),
                                                    RD_KAFKA_V_KEY((void *)key, strlen(key)),
                                                    RD_KAFKA_V_VALUE((void *)value, len),
                                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 10);
            continue;
        }
        CHECK_FATAL(err == RD_KAFKA_RESP_ERR_NO_ERROR);
        break;
    }
    p->sent++;
    rd_kafka_poll(p->rk, 0);
}

/* Wait until every queued message is acknowledged; exit(1) otherwise. */
static inline void de_flush(struct de_producer *p)
{
    CHECK_FATAL(rd_kafka_flush(p->rk, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_FATAL(atomic_load(&p->failed) == 0);
    CHECK_FATAL(atomic_load(&p->acked) == p->sent);
}

static inline void de_producer_free(struct de_producer *p)
{
    if (p == NULL)
        return;
    rd_kafka_flush(p->rk, 10000);
    rd_kafka_destroy(p->rk);
    free(p);
}

/* A fresh event id: "evt_e2e<pid>x<counter>". */
static inline void de_event_id(char *out, size_t cap)
{
    static unsigned long counter;
    snprintf(out, cap, "evt_e2e%ldx%lu", (long)getpid(), ++counter);
}

/* The envelope text for one event; 'data' is JSON text (NULL: {}). The
 * caller frees the result. The layout (spacing, key order) is the
 * producer's own: the dispatcher must send these bytes unchanged. */
static inline char *de_envelope(const char *id, const char *type, const char *tenant, const char *data)
{
    char *text = NULL;
    CHECK_FATAL(asprintf(&text,
                         "{\"id\":\"%s\", \"type\":\"%s\",\"tenant\":\"%s\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
                         "\"data\":%s}",
                         id, type, tenant, data ? data : "{}") >= 0);
    return text;
}

/* Produce one event for 'tenant' (key = tenant); its id goes to 'id_out'
 * (cap >= 64) and, when 'body_out' is not NULL, the exact value to
 * *body_out (caller frees). */
static inline void de_produce_event(struct de_producer *p, const char *tenant, const char *type, const char *data,
                                    char *id_out, char **body_out)
{
    char id[64];
    de_event_id(id, sizeof(id));
    char *env = de_envelope(id, type, tenant, data);
    de_produce_raw(p, tenant, env, strlen(env));
    if (id_out)
        snprintf(id_out, 64, "%s", id);
    if (body_out)
        *body_out = env;
    else
        free(env);
}

/* ---- Standard Webhooks signatures, checked with GnuTLS ----------------------- */

/* Decode standard base64 'b64' (len bytes) into 'out'; returns the length or -1. */
static inline int de_b64_decode(const char *b64, size_t len, unsigned char *out, size_t cap)
{
    gnutls_datum_t in = { (unsigned char *)b64, (unsigned int)len }, raw = { NULL, 0 };
    if (len == 0 || gnutls_base64_decode2(&in, &raw) < 0)
        return -1;
    int n = -1;
    if (raw.size <= cap) {
        memcpy(out, raw.data, raw.size);
        n = (int)raw.size;
    }
    gnutls_free(raw.data);
    return n;
}

/* HMAC-SHA256 over "<msg_id>.<ts>.<body>" with the decoded "whsec_" secret
 * into 'mac' (32 bytes). Returns 0 or -1 (bad secret). */
static inline int de_sign_raw(const char *secret, const char *msg_id, const char *ts, const char *body,
                              size_t len, unsigned char mac[32])
{
    unsigned char key[128];
    if (secret == NULL || strncmp(secret, "whsec_", 6) != 0)
        return -1;
    int klen = de_b64_decode(secret + 6, strlen(secret) - 6, key, sizeof(key));
    if (klen <= 0)
        return -1;
    size_t mlen = strlen(msg_id) + 1 + strlen(ts) + 1 + len;
    char *msg = malloc(mlen);
    CHECK_FATAL(msg != NULL);
    size_t o = 0;
    memcpy(msg + o, msg_id, strlen(msg_id));
    o += strlen(msg_id);
    msg[o++] = '.';
    memcpy(msg + o, ts, strlen(ts));
    o += strlen(ts);
    msg[o++] = '.';
    memcpy(msg + o, body, len);
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, (size_t)klen, msg, mlen, mac) == 0 ? 0 : -1;
    free(msg);
    return rc;
}

/* How many "v1,<b64>" entries of the webhook-signature header 'sigs' are a
 * valid signature of the request with 'secret'; the number of entries goes
 * to *entries (may be NULL); entries that are not "v1,<b64>" count as -1000
 * in the result so a malformed header never passes. */
static inline int de_sig_matches(const char *secret, const char *msg_id, const char *ts, const char *body,
                                 size_t len, const char *sigs, int *entries)
{
    unsigned char want[32], got[64];
    int n = 0, valid = 0;
    if (entries)
        *entries = 0;
    if (sigs == NULL || msg_id == NULL || ts == NULL || de_sign_raw(secret, msg_id, ts, body, len, want) < 0)
        return 0;
    const char *p = sigs;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        size_t tok = strcspn(p, " ");
        n++;
        if (tok > 3 && strncmp(p, "v1,", 3) == 0) {
            int g = de_b64_decode(p + 3, tok - 3, got, sizeof(got));
            if (g == 32 && memcmp(got, want, 32) == 0)
                valid++;
        } else {
            valid -= 1000;
        }
        p += tok;
    }
    if (entries)
        *entries = n;
    return valid;
}

static inline const char *de_hdr(const struct hx_received *rec, const char *name)
{
    return json_string_value(json_object_get(rec->headers, name));
}

/* Whether 'rec' carries a valid signature for 'secret' (among any). */
static inline bool de_signed_by(const struct hx_received *rec, const char *secret)
{
    return de_sig_matches(secret, de_hdr(rec, "webhook-id"), de_hdr(rec, "webhook-timestamp"), rec->body, rec->len,
                          de_hdr(rec, "webhook-signature"), NULL) >= 1;
}

/* ---- webhooks over REST ------------------------------------------------------ */

struct de_webhook {
    char id[64];
    char secret[128];
    char ep[4][64];         /* endpoint ids in order */
    int neps;
};

/* POST /v1/webhooks with 'body' (printf-formatted JSON). Fills 'wh' on 201;
 * exit(1) on any other answer (set-up). */
static inline void de_webhook_new(struct hx_stack *st, const char *key, struct de_webhook *wh, const char *body_fmt,
                                  ...) __attribute__((format(printf, 4, 5)));
static inline void de_webhook_new(struct hx_stack *st, const char *key, struct de_webhook *wh, const char *body_fmt,
                                  ...)
{
    char *body = NULL;
    va_list ap;
    va_start(ap, body_fmt);
    int n = vasprintf(&body, body_fmt, ap);
    va_end(ap);
    CHECK_FATAL(n >= 0);
    struct hx_resp resp;
    long status = hx_api(st, "POST", key, body, &resp, "/v1/webhooks");
    if (status != 201 || !e2e_str(resp.json, "id") || !e2e_str(resp.json, "secret"))
        hx_die("POST /v1/webhooks %s: %ld %s", body, status, resp.body);
    memset(wh, 0, sizeof(*wh));
    snprintf(wh->id, sizeof(wh->id), "%s", e2e_str(resp.json, "id"));
    snprintf(wh->secret, sizeof(wh->secret), "%s", e2e_str(resp.json, "secret"));
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(resp.json, "endpoints"), i, ep) {
        if (i < 4 && e2e_str(ep, "id"))
            snprintf(wh->ep[wh->neps++], sizeof(wh->ep[0]), "%s", e2e_str(ep, "id"));
    }
    hx_resp_free(&resp);
    free(body);
}

/* A tenant with a key of every tenant scope; exit(1) on failure. */
static inline void de_tenant_new(struct hx_stack *st, const char *tenant, char *key, size_t cap)
{
    if (hx_tenant_new(st, tenant, DE_SCOPES, key, cap) < 0)
        hx_die("cannot create tenant %s", tenant);
}

/* Hold the api's outbox relay back: take its advisory lock (RELAY_LOCK_ID
 * in api/outbox_relay.c) in 'lock', a session of the test's own, ending
 * the session of whichever relay holds it now. No lifecycle event is
 * published until 'lock' runs pg_advisory_unlock_all() or ends. */
static inline void de_hold_relay(PGconn *lock)
{
    long long deadline = hx_now_ms() + 20000;
    for (;;) {
        PGresult *res = PQexec(lock, "SELECT pg_try_advisory_lock(7240002)");
        bool got = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (got)
            return;
        if (hx_now_ms() > deadline)
            hx_die("cannot take the outbox relay's lock");
        PQclear(PQexec(lock, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                             "AND objid = 7240002 AND pid <> pg_backend_pid()"));
        hx_sleep_ms(20);
    }
}

/* ---- what the receivers saw ------------------------------------------------- */

/* Requests to 'path' (NULL: all) whose webhook-id is 'event_id' (NULL: any). */
static inline size_t de_count(struct hx_receiver *r, const char *path, const char *event_id)
{
    size_t n = 0, total = hx_receiver_count(r, NULL);
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        if ((path == NULL || strcmp(rec->path, path) == 0) &&
            (event_id == NULL || (de_hdr(rec, "webhook-id") && strcmp(de_hdr(rec, "webhook-id"), event_id) == 0)))
            n++;
        hx_received_free(rec);
    }
    return n;
}

/* The k-th (0-based) request to 'path' with webhook-id 'event_id' (NULL:
 * any), or NULL. Caller frees with hx_received_free(). */
static inline struct hx_received *de_find(struct hx_receiver *r, const char *path, const char *event_id, size_t k)
{
    size_t total = hx_receiver_count(r, NULL);
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        if ((path == NULL || strcmp(rec->path, path) == 0) &&
            (event_id == NULL || (de_hdr(rec, "webhook-id") && strcmp(de_hdr(rec, "webhook-id"), event_id) == 0)) &&
            k-- == 0)
            return rec;
        hx_received_free(rec);
    }
    return NULL;
}

/* ---- the database ------------------------------------------------------------- */

/* One number from 'sql' (first column of row 0, up to three text
 * parameters, NULL-terminated), or -1 on error / no row / NULL. */
static inline long de_pg_long(PGconn *pg, const char *sql, const char *p1, const char *p2, const char *p3)
{
    const char *params[3] = { p1, p2, p3 };
    int nparams = p3 ? 3 : p2 ? 2 : p1 ? 1 : 0;
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) >= 1 && !PQgetisnull(res, 0, 0))
        v = atol(PQgetvalue(res, 0, 0));
    else if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "query failed: %s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    return v;
}

/* Attempt records of event 'event_id' for webhook 'wh' through GET
 * /v1/webhooks/:id/deliveries (oldest first: sorted by attempt). New
 * reference (an array, maybe empty). */
static inline json_t *de_attempts(struct hx_stack *st, const char *key, const char *wh, const char *event_id)
{
    json_t *out = json_array();
    for (int page = 1; page < 100; page++) {
        struct hx_resp resp;
        long status = hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks/%s/deliveries?size=100&page=%d", wh, page);
        json_t *els = json_object_get(resp.json, "elements");
        size_t i;
        json_t *el;
        if (status != 200 || !json_is_array(els)) {
            fprintf(stderr, "GET deliveries of %s: %ld %s\n", wh, status, resp.body);
            hx_resp_free(&resp);
            break;
        }
        json_array_foreach(els, i, el) {
            if (event_id == NULL || (e2e_str(el, "event_id") && strcmp(e2e_str(el, "event_id"), event_id) == 0))
                json_array_append(out, el);
        }
        size_t got = json_array_size(els);
        hx_resp_free(&resp);
        if (got < 100)
            break;
    }
    /* insertion sort by attempt number: a handful of rows */
    for (size_t i = 1; i < json_array_size(out); i++) {
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(out, j - 1), *b = json_array_get(out, j);
            if (e2e_int(a, "attempt") <= e2e_int(b, "attempt"))
                break;
            json_incref(a);
            json_array_set(out, j - 1, b);
            json_array_set_new(out, j, a);
        }
    }
    return out;
}

/* Whether the dispatcher log of 'pid' contains 'needle'. */
static inline bool de_log_has(struct hx_stack *st, pid_t pid, const char *needle)
{
    const char *path = hx_proc_log(st, pid);
    if (path == NULL)
        return false;
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), fp))
        found = strstr(line, needle) != NULL;
    fclose(fp);
    return found;
}

/* "2026-11-25T10:00:00.123Z" -> ms since the epoch (-1 if unparsable). */
static inline long long de_iso_ms(const char *s)
{
    struct tm tm = { 0 };
    int ms = 0;
    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                            &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

/* ---- a fleet: many tenants, one webhook each, several receivers ---------------- */

#define DE_TENANTS 48
/* One receiver (host:port) per webhook: endpoints sharing a host are
 * test_dispatch_hosts.c's subject, not the fleet's. Plain http (the stack
 * allows it): the fleet is about partitions, and 48 x 16 TLS handshakes
 * would make CPU, not the dispatchers, the subject. */
#define DE_RECV DE_TENANTS

struct de_fleet {
    struct hx_stack *st;
    struct hx_receiver *r[DE_RECV];
    struct de_producer *p;
    PGconn *pg;
    char tenant[DE_TENANTS][16];
    struct de_webhook wh[DE_TENANTS];
};

/* Every request the fleet's receivers saw, read incrementally. */
struct de_tally {
    json_t *count;          /* webhook-id -> number of requests */
    size_t done[DE_RECV];   /* requests of each receiver already counted */
    long wrong;             /* at a path not of the event's tenant, or not signed by its webhook */
};

/* A stack whose 48 tenants t00..t47 have one webhook each ("booking", at
 * <receiver i>/t<i>), created before 'dispatchers' dispatchers start,
 * so each loads them all. 'env' entries are added to the stack's. */
static inline void de_fleet_start(struct de_fleet *fl, int dispatchers, const char *const *env)
{
    /* a failed attempt (a slow sanitizer run) is retried within seconds */
    struct hx_stack_opts opts = { .dispatchers = 0,
                                  .env = { "HOOKLINE_RETRY_SCHEDULE=1s,2s,5s,5s,5s", "HOOKLINE_ALLOW_HTTP=true", NULL } };
    for (size_t i = 0; env && env[i] && i + 3 < sizeof(opts.env) / sizeof(opts.env[0]); i++)
        opts.env[i + 2] = env[i];
    fl->st = hx_stack_start(&opts);
    fl->pg = hx_pg_connect(fl->st);
    struct hx_receiver_opts plain = { .plain_http = true };
    for (int i = 0; i < DE_RECV; i++)
        fl->r[i] = hx_receiver_start(&plain);
    for (int i = 0; i < DE_TENANTS; i++) {
        char key[128];
        snprintf(fl->tenant[i], sizeof(fl->tenant[i]), "t%02d", i);
        de_tenant_new(fl->st, fl->tenant[i], key, sizeof(key));
        de_webhook_new(fl->st, key, &fl->wh[i], "{\"name\":\"w\",\"url\":\"%s/%s\",\"events\":\"booking\"}",
                       hx_receiver_url(fl->r[i % DE_RECV]), fl->tenant[i]);
    }
    for (int i = 0; i < dispatchers; i++)
        hx_dispatcher_start(fl->st, NULL);
    fl->p = de_producer_new(hx_brokers(fl->st));
}

/* Stop everything; returns hx_stack_stop()'s count of unclean exits. */
static inline int de_fleet_stop(struct de_fleet *fl)
{
    de_producer_free(fl->p);
    PQfinish(fl->pg);
    int rc = hx_stack_stop(fl->st);
    for (int i = 0; i < DE_RECV; i++)
        hx_receiver_stop(fl->r[i]);
    return rc;
}

static inline void de_tally_update(struct de_fleet *fl, struct de_tally *t)
{
    if (t->count == NULL)
        t->count = json_object();
    for (int k = 0; k < DE_RECV; k++) {
        size_t total = hx_receiver_count(fl->r[k], NULL);
        for (; t->done[k] < total; t->done[k]++) {
            struct hx_received *rec = hx_receiver_get(fl->r[k], t->done[k]);
            if (rec == NULL)
                break;
            const char *id = de_hdr(rec, "webhook-id");
            json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
            const char *tenant = e2e_str(body, "tenant");
            int ti = tenant && tenant[0] == 't' ? atoi(tenant + 1) : -1;
            if (id == NULL || ti < 0 || ti >= DE_TENANTS || ti % DE_RECV != k || strcmp(rec->path + 1, tenant) != 0 ||
                !de_signed_by(rec, fl->wh[ti].secret)) {
                t->wrong++;
            } else {
                json_t *c = json_object_get(t->count, id);
                json_object_set_new(t->count, id, json_integer(c ? json_integer_value(c) + 1 : 1));
            }
            json_decref(body);
            hx_received_free(rec);
        }
    }
}

/* Of the 'n' events 'ids': how many arrived at least once, and how many
 * requests beyond the first there were. */
static inline void de_tally_sum(const struct de_tally *t, char (*ids)[64], int n, int *arrived, int *extra)
{
    *arrived = 0;
    *extra = 0;
    for (int i = 0; i < n; i++) {
        long long c = json_integer_value(json_object_get(t->count, ids[i]));
        if (c > 0)
            (*arrived)++;
        if (c > 1)
            *extra += (int)(c - 1);
    }
}

static inline bool de_tally_all(struct de_fleet *fl, struct de_tally *t, char (*ids)[64], int n)
{
    int arrived, extra;
    de_tally_update(fl, t);
    de_tally_sum(t, ids, n, &arrived, &extra);
    return arrived == n;
}

/* Produce 'n' booking events round-robin over the tenants; ids to 'ids'. */
static inline void de_fleet_load(struct de_fleet *fl, char (*ids)[64], int n)
{
    static const char *const types[] = { "booking.scheduled", "booking.canceled", "booking.completed",
                                         "booking.no_show", "booking.rescheduled" };
    for (int i = 0; i < n; i++) {
        char data[64];
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        de_produce_event(fl->p, fl->tenant[i % DE_TENANTS], types[i % 5], data, ids[i], NULL);
    }
    de_flush(fl->p);
}

/* Distinct dispatchers that recorded attempts of the 'n' events 'ids'. */
static inline long de_fleet_dispatchers_of(struct de_fleet *fl, char (*ids)[64], int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(ids[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    long d = de_pg_long(fl->pg,
                        "SELECT count(DISTINCT dispatcher) FROM attempts WHERE event_id IN "
                        "(SELECT jsonb_array_elements_text($1::jsonb))", text, NULL, NULL);
    free(text);
    return d;
}

/* Attempts recorded by dispatcher 'pid' (attempts.dispatcher ends in "-<pid>"). */
static inline long de_attempts_by(PGconn *pg, pid_t pid)
{
    char like[32];
    snprintf(like, sizeof(like), "%%-%ld", (long)pid);
    return de_pg_long(pg, "SELECT count(*) FROM attempts WHERE dispatcher LIKE $1", like, NULL, NULL);
}

/* Produce one event per tenant (and wait for them) until dispatcher 'pid'
 * has recorded an attempt: the group has then settled with it as a
 * member. Returns whether it did within 60 s. */
static inline bool de_fleet_wait_member(struct de_fleet *fl, struct de_tally *t, pid_t pid)
{
    long long deadline = hx_now_ms() + 60000;
    char ids[DE_TENANTS][64];
    while (hx_now_ms() < deadline) {
        de_fleet_load(fl, ids, DE_TENANTS);
        if (!HX_WAIT(de_tally_all(fl, t, ids, DE_TENANTS), 30000))
            return false;
        if (HX_WAIT(de_attempts_by(fl->pg, pid) > 0, 500))
            return true;
    }
    return false;
}

/* Print how many attempts failed, and why (the commonest errors): what a
 * slow run needs explained. Returns the number of failed attempts. */
static inline long de_fleet_failures(struct de_fleet *fl)
{
    long failed = de_pg_long(fl->pg, "SELECT count(*) FROM attempts WHERE NOT success", NULL, NULL, NULL);
    if (failed <= 0)
        return failed;
    PGresult *res = PQexec(fl->pg, "SELECT coalesce(error, 'HTTP ' || status_code), count(*) FROM attempts "
                                   "WHERE NOT success GROUP BY 1 ORDER BY 2 DESC LIMIT 5");
    printf("failed attempts: %ld\n", failed);
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
        printf("  %s x %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    PQclear(res);
    return failed;
}

#endif
