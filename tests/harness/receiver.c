/* receiver.c: real HTTPS webhook receivers inside the test process.
 *
 * libmicrohttpd (GnuTLS) on 127.0.0.1, one thread per connection so
 * keep-alive and slow answers need no care; every request is recorded
 * (path, method, body, lower-cased headers, time, our answer) under a mutex,
 * up to HX_RECEIVER_MAX_STORED (only the path, webhook-id, time and answer
 * with opts->ids_only); answers follow per-path scripts, else 200. A delay
 * is waited out in short steps so hx_receiver_release() can cut it short.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "hx_int.h"

struct receiver_script {
    char *path;                 /* NULL: any path */
    int status;
    int left;
    char *header;               /* "Name: value" or NULL */
    struct receiver_script *next;
};

struct receiver_count {
    char path[256];
    size_t n;
};

#define RECEIVER_MAX_PATHS 4096 /* distinct paths counted one by one */

struct hx_receiver {
    struct MHD_Daemon *daemon;
    char url[64];
    char *cert_pem, *key_pem;
    pthread_mutex_t mu;
    struct hx_received **reqs;  /* arrival order; at most HX_RECEIVER_MAX_STORED */
    size_t nreqs, capreqs;
    size_t total;
    struct receiver_count *counts;
    size_t ncounts, capcounts;
    bool counts_full_warned;
    struct receiver_script *scripts;
    long delay_ms;
    unsigned long release_gen;  /* bumped by hx_receiver_release() */
    bool ids_only;
};

/* Per-request state, from the first call of the access handler to the
 * completion callback. */
struct receiver_req {
    char *body;
    size_t len, cap;
    bool too_big;
    json_t *headers;
    long long at_ms;
};

static char *receiver_read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf = NULL;
    long size;

    if (!fp)
        hx_die("%s: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
        hx_die("%s: cannot size", path);
    buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size)
        hx_die("%s: cannot read", path);
    buf[size] = '\0';
    fclose(fp);
    return buf;
}

static enum MHD_Result receiver_collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                               const char *value)
{
    json_t *headers = cls;
    char name[256];
    size_t i;

    (void)kind;
    for (i = 0; key[i] && i + 1 < sizeof(name); i++)
        name[i] = (char)tolower((unsigned char)key[i]);
    name[i] = '\0';
    const char *prev = json_string_value(json_object_get(headers, name));
    if (prev) {
        /* a repeated header: join the values as HTTP allows */
        char *joined = NULL;
        if (asprintf(&joined, "%s, %s", prev, value ? value : "") < 0)
            hx_die("out of memory");
        json_object_set_new(headers, name, json_string(joined));
        free(joined);
    } else {
        json_object_set_new(headers, name, json_string(value ? value : ""));
    }
    return MHD_YES;
}

/* Called with r->mu held: the status for the next request to 'path', and
 * its extra header (borrowed until the script is freed, so copied out). */
static int receiver_next_status(struct hx_receiver *r, const char *path, char **header)
{
    struct receiver_script **pp, **pick = NULL;

    *header = NULL;
    for (pp = &r->scripts; *pp; pp = &(*pp)->next) {
        if ((*pp)->path && strcmp((*pp)->path, path) == 0) {
            pick = pp;
            break;
        }
    }
    if (!pick)
        for (pp = &r->scripts; *pp; pp = &(*pp)->next)
            if (!(*pp)->path) {
                pick = pp;
                break;
            }
    if (!pick)
        return 200;
    struct receiver_script *s = *pick;
    int status = s->status;
    if (s->header && !(*header = strdup(s->header)))
        hx_die("out of memory");
    if (--s->left <= 0) {
        *pick = s->next;
        free(s->path);
        free(s->header);
        free(s);
    }
    return status;
}

/* Called with r->mu held. */
static void receiver_count_path(struct hx_receiver *r, const char *path)
{
    r->total++;
    for (size_t i = 0; i < r->ncounts; i++)
        if (strcmp(r->counts[i].path, path) == 0) {
            r->counts[i].n++;
            return;
        }
    if (r->ncounts == RECEIVER_MAX_PATHS) {
        if (!r->counts_full_warned)
            fprintf(stderr, "hx: receiver: more than %d distinct paths; counting only the total\n",
                    RECEIVER_MAX_PATHS);
        r->counts_full_warned = true;
        return;
    }
    if (r->ncounts == r->capcounts) {
        size_t cap = r->capcounts ? r->capcounts * 2 : 16;
        struct receiver_count *c = realloc(r->counts, cap * sizeof(*c));
        if (!c)
            hx_die("out of memory");
        r->counts = c;
        r->capcounts = cap;
    }
    snprintf(r->counts[r->ncounts].path, sizeof(r->counts[0].path), "%s", path);
    r->counts[r->ncounts].n = 1;
    r->ncounts++;
}

static enum MHD_Result receiver_access(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    struct hx_receiver *r = cls;
    struct receiver_req *rq = *con_cls;
    (void)version;

    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq || !(rq->headers = json_object()))
            hx_die("out of memory");
        rq->at_ms = hx_realtime_ms();
        MHD_get_connection_values(conn, MHD_HEADER_KIND, receiver_collect_header, rq->headers);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_big || rq->len + n > (size_t)HX_RECEIVER_MAX_BODY) {
            rq->too_big = true;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1)
                cap *= 2;
            char *p = realloc(rq->body, cap);
            if (!p)
                hx_die("out of memory");
            rq->body = p;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }

    /* the whole request is in: decide, record, answer */
    char *header = NULL;
    int status;
    long delay_ms;
    unsigned long gen;
    struct hx_received *rec = calloc(1, sizeof(*rec));
    if (!rec)
        hx_die("out of memory");
    snprintf(rec->path, sizeof(rec->path), "%s", url);
    snprintf(rec->method, sizeof(rec->method), "%s", method);
    if (r->ids_only) {
        /* volume tests: keep what tells deliveries apart, not what they carry */
        json_t *id = json_object_get(rq->headers, "webhook-id");
        rec->body = strdup("");
        rec->len = 0;
        rec->headers = json_object();
        if (!rec->body || !rec->headers || (id && json_object_set(rec->headers, "webhook-id", id) < 0))
            hx_die("out of memory");
    } else {
        rec->body = rq->body ? rq->body : strdup("");
        if (!rec->body)
            hx_die("out of memory");
        rec->len = rq->len;
        rq->body = NULL;
        rec->headers = rq->headers;
        rq->headers = NULL;
    }
    rec->at_ms = rq->at_ms;

    pthread_mutex_lock(&r->mu);
    status = rq->too_big ? 413 : receiver_next_status(r, rec->path, &header);
    rec->status = status;
    delay_ms = r->delay_ms;
    gen = r->release_gen;
    receiver_count_path(r, rec->path);
    if (r->nreqs < HX_RECEIVER_MAX_STORED) {
        if (r->nreqs == r->capreqs) {
            size_t cap = r->capreqs ? r->capreqs * 2 : 64;
            struct hx_received **v = realloc(r->reqs, cap * sizeof(*v));
            if (!v)
                hx_die("out of memory");
            r->reqs = v;
            r->capreqs = cap;
        }
        r->reqs[r->nreqs++] = rec;
        rec = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    hx_received_free(rec); /* not stored: over the cap */

    /* in steps, so that hx_receiver_release() answers at once */
    for (long long until = hx_now_ms() + delay_ms; delay_ms > 0;) {
        long long left = until - hx_now_ms();
        pthread_mutex_lock(&r->mu);
        bool released = r->release_gen != gen;
        pthread_mutex_unlock(&r->mu);
        if (left <= 0 || released)
            break;
        hx_sleep_ms(left < 20 ? (long)left : 20);
    }

    char text[64];
    if (status >= 200 && status < 300)
        snprintf(text, sizeof(text), "{\"ok\":true}");
    else
        snprintf(text, sizeof(text), "{\"status\":%d}", status);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        hx_die("MHD_create_response_from_buffer failed");
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (header) {
        char *colon = strchr(header, ':');
        if (colon) {
            *colon = '\0';
            const char *value = colon + 1;
            while (*value == ' ')
                value++;
            MHD_add_response_header(resp, header, value);
        }
        free(header);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void receiver_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    struct receiver_req *rq = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!rq)
        return;
    free(rq->body);
    if (rq->headers)
        json_decref(rq->headers);
    free(rq);
    *con_cls = NULL;
}

struct hx_receiver *hx_receiver_start(const struct hx_receiver_opts *opts)
{
    struct hx_receiver_opts none = { 0 };
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = 0 };
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    struct hx_receiver *r = calloc(1, sizeof(*r));

    if (!opts)
        opts = &none;
    if (!r)
        hx_die("out of memory");
    pthread_mutex_init(&r->mu, NULL);
    r->ids_only = opts->ids_only;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (getenv("HX_VERBOSE"))
        flags |= MHD_USE_ERROR_LOG;

    if (opts->plain_http) {
        r->daemon = MHD_start_daemon(flags, 0, NULL, NULL, receiver_access, r,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                                     MHD_OPTION_NOTIFY_COMPLETED, receiver_completed, r,
                                     MHD_OPTION_END);
    } else {
        r->cert_pem = receiver_read_file(opts->untrusted_cert ? hx_testca_self_cert() : hx_testca_server_cert());
        r->key_pem = receiver_read_file(opts->untrusted_cert ? hx_testca_self_key() : hx_testca_server_key());
        r->daemon = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, receiver_access, r,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                                     MHD_OPTION_HTTPS_MEM_CERT, r->cert_pem,
                                     MHD_OPTION_HTTPS_MEM_KEY, r->key_pem,
                                     MHD_OPTION_NOTIFY_COMPLETED, receiver_completed, r,
                                     MHD_OPTION_END);
    }
    if (!r->daemon)
        hx_die("cannot start a%s receiver (libmicrohttpd)", opts->plain_http ? "n http" : "n https");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0)
        hx_die("receiver: cannot read the bound port");
    snprintf(r->url, sizeof(r->url), "%s://127.0.0.1:%u", opts->plain_http ? "http" : "https",
             (unsigned)info->port);
    return r;
}

void hx_receiver_stop(struct hx_receiver *r)
{
    if (!r)
        return;
    MHD_stop_daemon(r->daemon);
    for (size_t i = 0; i < r->nreqs; i++)
        hx_received_free(r->reqs[i]);
    free(r->reqs);
    free(r->counts);
    while (r->scripts) {
        struct receiver_script *s = r->scripts;
        r->scripts = s->next;
        free(s->path);
        free(s->header);
        free(s);
    }
    free(r->cert_pem);
    free(r->key_pem);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const char *hx_receiver_url(const struct hx_receiver *r)
{
    return r->url;
}

void hx_receiver_respond(struct hx_receiver *r, const char *path, int status, int times,
                         const char *header)
{
    struct receiver_script *s, **pp;

    if (times <= 0)
        return;
    if (status < 100 || status > 599)
        hx_die("hx_receiver_respond: bad status %d", status);
    s = calloc(1, sizeof(*s));
    if (!s || (path && !(s->path = strdup(path))) || (header && !(s->header = strdup(header))))
        hx_die("out of memory");
    s->status = status;
    s->left = times;
    pthread_mutex_lock(&r->mu);
    for (pp = &r->scripts; *pp; pp = &(*pp)->next)
        ;
    *pp = s;
    pthread_mutex_unlock(&r->mu);
}

void hx_receiver_forget(struct hx_receiver *r, const char *path)
{
    pthread_mutex_lock(&r->mu);
    for (struct receiver_script **pp = &r->scripts; *pp;) {
        struct receiver_script *s = *pp;
        if (path ? s->path && strcmp(s->path, path) == 0 : s->path == NULL) {
            *pp = s->next;
            free(s->path);
            free(s->header);
            free(s);
        } else {
            pp = &s->next;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

void hx_receiver_set_delay(struct hx_receiver *r, long delay_ms)
{
    pthread_mutex_lock(&r->mu);
    r->delay_ms = delay_ms > 0 ? delay_ms : 0;
    pthread_mutex_unlock(&r->mu);
}

void hx_receiver_release(struct hx_receiver *r)
{
    pthread_mutex_lock(&r->mu);
    r->release_gen++;
    pthread_mutex_unlock(&r->mu);
}

size_t hx_receiver_count(struct hx_receiver *r, const char *path)
{
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    if (!path) {
        n = r->total;
    } else {
        for (size_t i = 0; i < r->ncounts; i++)
            if (strcmp(r->counts[i].path, path) == 0) {
                n = r->counts[i].n;
                break;
            }
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

struct hx_received *hx_receiver_get(struct hx_receiver *r, size_t i)
{
    struct hx_received *copy = NULL;

    pthread_mutex_lock(&r->mu);
    if (i < r->nreqs) {
        const struct hx_received *rec = r->reqs[i];
        copy = calloc(1, sizeof(*copy));
        if (!copy || !(copy->body = malloc(rec->len + 1)) || !(copy->headers = json_deep_copy(rec->headers)))
            hx_die("out of memory");
        memcpy(copy->path, rec->path, sizeof(copy->path));
        memcpy(copy->method, rec->method, sizeof(copy->method));
        memcpy(copy->body, rec->body, rec->len + 1);
        copy->len = rec->len;
        copy->at_ms = rec->at_ms;
        copy->status = rec->status;
    }
    pthread_mutex_unlock(&r->mu);
    return copy;
}

void hx_received_free(struct hx_received *rec)
{
    if (!rec)
        return;
    free(rec->body);
    if (rec->headers)
        json_decref(rec->headers);
    free(rec);
}

void hx_receiver_clear(struct hx_receiver *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nreqs; i++)
        hx_received_free(r->reqs[i]);
    r->nreqs = 0;
    r->total = 0;
    r->ncounts = 0;
    pthread_mutex_unlock(&r->mu);
}
