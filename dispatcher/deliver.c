/* deliver.c: signed webhook POSTs over one libcurl multi handle.
 *
 * The multi handle keeps connections per host alive and multiplexes
 * HTTP/2 where the endpoint offers it. Every transfer carries the
 * Standard Webhooks headers, the webhook's own headers, the endpoint's
 * credentials as an Authorization header, strict timeouts,
 * no redirects, and (unless private targets are allowed) a check of the
 * address it is about to connect to, made after DNS resolution so a name
 * that rebinds to a private address is refused too. The response body is
 * kept only up to the configured excerpt size.
 */
#include "dispatcher.h"
#include "deliver_outcome.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "sign.h"

#define DELIVER_CONNS_PER_SLOT 4    /* connections kept per in-flight delivery */
/* Debian's bundle of the system CAs, the same certificates as the directory */
#define DELIVER_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

struct transfer {
    struct delivery *d;
    struct deliver *dv;
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    bool forbidden;             /* an address of the name broke the policy */
    char forbidden_ip[48];      /* the first such address */
};

struct deliver {
    CURLM *multi;
    const struct hl_config *cfg;
    struct dest_policy policy;
    size_t active;
    char user_agent[64];
    const char *ca_file;        /* NULL: libcurl's defaults */
    /* finished transfers kept with their easy handle for the next ones: a
     * new handle per delivery costs an allocation and set-up each time */
    struct transfer **idle;
    size_t nidle, maxidle;
};

/* Connections to keep: DELIVER_CONNS_PER_SLOT per in-flight delivery, as
 * far as the descriptor limit allows (main.c raises it to its hard limit),
 * never fewer than one per in-flight delivery. */
static long deliver_max_conns(int max_in_flight)
{
    long want = (long)max_in_flight * DELIVER_CONNS_PER_SLOT;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        /* room for PostgreSQL, Kafka and the metrics listener */
        long room = rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur - 256;
        if (room < want)
            want = room;
    }
    return want > max_in_flight ? want : max_in_flight;
}

struct deliver *deliver_new(const struct hl_config *cfg, const struct dest_policy *policy, struct hl_error *err)
{
    struct deliver *dv = calloc(1, sizeof(*dv));
    if (dv == NULL || (dv->multi = curl_multi_init()) == NULL) {
        free(dv);
        hl_error_set(err, HL_ENOMEM, "libcurl multi: out of memory");
        return NULL;
    }
    dv->cfg = cfg;
    dv->policy = *policy;
    snprintf(dv->user_agent, sizeof(dv->user_agent), "User-Agent: hookline/%s", HOOKLINE_VERSION);
    /* a CA file, never the CA directory: libcurl's GnuTLS backend reads all
     * of the directory for every new connection (~24 ms of CPU here), the
     * system bundle file in ~1 ms */
    if (cfg->ca_file[0])
        dv->ca_file = cfg->ca_file;
    else if (access(DELIVER_SYSTEM_CA_FILE, R_OK) == 0)
        dv->ca_file = DELIVER_SYSTEM_CA_FILE;
    curl_multi_setopt(dv->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    /* no per-host cap in libcurl: a transfer queued inside libcurl would spend
     * its timeout waiting for a connection. queue.c bounds what starts, per
     * endpoint and per process; endpoints sharing a host share connections. */
    /* idle connections kept for reuse: several per in-flight slot, since
     * demand moves between hosts; too few and every shift opens (and closes)
     * connections, ~0.15 ms of CPU each for http, ~1-10 ms for https */
    curl_multi_setopt(dv->multi, CURLMOPT_MAXCONNECTS, deliver_max_conns(cfg->max_in_flight));
    dv->maxidle = cfg->max_in_flight > 0 ? (size_t)cfg->max_in_flight : 1;
    dv->idle = calloc(dv->maxidle, sizeof(*dv->idle));
    if (dv->idle == NULL) {
        deliver_free(dv);
        hl_error_set(err, HL_ENOMEM, "libcurl multi: out of memory");
        return NULL;
    }
    return dv;
}

static void transfer_free(struct transfer *t)
{
    curl_easy_cleanup(t->easy);
    free(t);
}

/* A transfer with an easy handle, reset (options at their defaults). */
static struct transfer *transfer_get(struct deliver *dv)
{
    struct transfer *t;
    if (dv->nidle > 0) {
        t = dv->idle[--dv->nidle];
        curl_easy_reset(t->easy);
        CURL *easy = t->easy;
        memset(t, 0, sizeof(*t));
        t->easy = easy;
        return t;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->easy = curl_easy_init()) == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

/* Keep a finished (or never added) transfer for reuse, up to maxidle. */
static void transfer_put(struct deliver *dv, struct transfer *t)
{
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    if (dv->nidle < dv->maxidle)
        dv->idle[dv->nidle++] = t;
    else
        transfer_free(t);
}

void deliver_free(struct deliver *dv)
{
    if (dv == NULL)
        return;
    for (size_t i = 0; i < dv->nidle; i++)
        transfer_free(dv->idle[i]);
    free(dv->idle);
    if (dv->multi)
        curl_multi_cleanup(dv->multi);
    free(dv);
}

size_t deliver_active(const struct deliver *dv)
{
    return dv->active;
}

void deliver_wakeup(void *arg)
{
    struct deliver *dv = arg;
    curl_multi_wakeup(dv->multi);
}

static size_t deliver_on_body(char *ptr, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    struct delivery *d = t->d;
    size_t len = size * n;
    size_t cap = (size_t)t->dv->cfg->response_excerpt_bytes;
    if (d->response_len < cap) {
        size_t take = len < cap - d->response_len ? len : cap - d->response_len;
        if (d->response == NULL)
            d->response = malloc(cap + 1);
        if (d->response != NULL) {
            memcpy(d->response + d->response_len, ptr, take);
            d->response_len += take;
            d->response[d->response_len] = '\0';
        }
    }
    return len;     /* read the rest and drop it: the connection stays reusable */
}

static size_t deliver_on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * n;
    long secs = deliver_retry_after(buf, len, time(NULL));
    if (secs >= 0)
        t->d->retry_after_s = secs;
    return len;
}

/* Refuse to connect to an address the policy forbids (after DNS). */
static curl_socket_t deliver_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct transfer *t = arg;
    (void)purpose;
    char ip[INET6_ADDRSTRLEN] = "";
    if (addr->family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&addr->addr)->sin_addr, ip, sizeof(ip));
    else if (addr->family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr->addr)->sin6_addr, ip, sizeof(ip));
    if (dest_policy_ip_forbidden(ip)) {
        /* the name may have other addresses: libcurl tries them next, and
         * deliver_outcome() decides whether this refusal is the result */
        if (!t->forbidden)
            snprintf(t->forbidden_ip, sizeof(t->forbidden_ip), "%s", ip);
        t->forbidden = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

int deliver_start(struct deliver *dv, struct delivery *d)
{
    struct transfer *t = transfer_get(dv);
    if (t == NULL)
        return HL_ENOMEM;
    CURL *easy = t->easy;
    t->d = d;
    t->dv = dv;
    struct sub *s = d->sub;
    const struct sub_endpoint *ep = &s->eps[d->ep];
    d->sent_ms = hl_time_now_ms();
    d->retry_after_s = -1;

    char line[512], sig[3 * SIGN_V1_MAX];
    const char *secrets[2] = { s->secret, s->prev_secret };
    size_t nsecrets = s->prev_secret[0] && s->prev_expires_ms > d->sent_ms ? 2 : 1;
    long long ts = d->sent_ms / 1000;
    if (sign_header(secrets, nsecrets, d->payload->event_id, ts, d->payload->data, d->payload->len,
                    sig, sizeof(sig)) < 0) {
        log_error("webhook %s: its secret cannot sign", s->id);
        sig[0] = '\0';
    }
    /* kept with the attempt record: a signature cannot be made again once its secret rotated */
    snprintf(d->signature, sizeof(d->signature), "%s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, dv->user_agent);
    h = curl_slist_append(h, "Expect:");
    snprintf(line, sizeof(line), "webhook-id: %s", d->payload->event_id);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "webhook-signature: %s", sig);
    h = curl_slist_append(h, line);
    for (const struct curl_slist *c = ep->headers; c; c = c->next)
        h = curl_slist_append(h, c->data);
    /* the endpoint's credentials, on every attempt; the api lets no custom
     * Authorization header in beside them */
    if (ep->authorization)
        h = curl_slist_append(h, ep->authorization);
    t->headers = h;

    curl_easy_setopt(easy, CURLOPT_URL, ep->url);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, (const char *)d->payload->data);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)d->payload->len);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, d->timeout_ms > 0 ? d->timeout_ms : dv->cfg->delivery_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, dv->cfg->connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, dv->policy.allow_http ? "http,https" : "https");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* wait for a connection that may multiplex (HTTP/2) rather than open
     * another: only over HTTPS, where ALPN can offer it; over plain HTTP it
     * would queue a request behind a busy connection to the same host */
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, strncasecmp(ep->url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, deliver_on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, deliver_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    if (dv->ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, dv->ca_file);
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }
    if (!dv->policy.allow_private) {
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, deliver_open_socket);
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
    }
    if (curl_multi_add_handle(dv->multi, easy) != CURLM_OK) {
        transfer_put(dv, t);
        return HL_ENOMEM;
    }
    dv->active++;
    return 0;
}

/* Fill the delivery's result from the finished transfer. */
static void deliver_result(struct transfer *t, CURLcode rc)
{
    struct delivery *d = t->d;
    curl_off_t us = 0;
    char *primary_ip = NULL;
    struct deliver_facts facts = { .rc = rc, .curl_error = t->errbuf,
                                   .refused_ip = t->forbidden ? t->forbidden_ip : NULL };
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &facts.status);
    curl_easy_getinfo(t->easy, CURLINFO_PRIMARY_IP, &primary_ip);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);
    facts.primary_ip = primary_ip;
    d->duration_ms = (long)(us / 1000);
    d->status = deliver_outcome(&facts, d->error, sizeof(d->error));
}

void deliver_run(struct deliver *dv, int timeout_ms, void (*done)(struct delivery *d, void *arg), void *arg)
{
    int running = 0, left = 0;
    curl_multi_poll(dv->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(dv->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(dv->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        deliver_result(t, msg->data.result);
        curl_multi_remove_handle(dv->multi, t->easy);
        dv->active--;
        struct delivery *d = t->d;
        transfer_put(dv, t);
        done(d, arg);
    }
}
