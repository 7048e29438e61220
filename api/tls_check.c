/* tls_check.c: verify the TLS certificates of a webhook's new endpoints
 * when it is created or its URLs change, so a tenant learns of a bad
 * certificate at once rather than from a log of failed deliveries.
 *
 * Every origin (host and port) is resolved once and every address it
 * resolves to is checked against the destination policy; the handshake
 * then goes to those addresses alone (pinned with CURLOPT_RESOLVE, and
 * any other refused at socket open). All origins of one request are
 * checked at once (libcurl multi) within TLS_CHECK_BUDGET_MS together.
 * Every failure gives the client the same words, whatever happened (no
 * answer, a closed port, a server that speaks no TLS, a bad certificate,
 * an unknown name or a forbidden address), so the check tells nothing
 * about hosts and ports the tenant cannot reach itself; the detail goes
 * to the debug log.
 */
#include "api.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

#define TLS_ADDRS_MAX 16        /* addresses of one name checked and used; more are not used */
#define TLS_HOST_MAX 256

enum tls_phase { TLS_RESOLVE, TLS_CONNECT, TLS_DONE };

/* One origin (scheme https, host, port) of the request's URLs. */
struct tls_origin {
    char host[TLS_HOST_MAX];    /* as in the URL; an IPv6 literal keeps its brackets */
    long port;
    bool literal;               /* the host is an address: nothing to resolve */
    enum tls_phase phase;
    bool ok;
    CURL *easy;
    struct curl_slist *pin;     /* CURLOPT_RESOLVE of the connect phase */
    int naddrs;
    struct sockaddr_storage addrs[TLS_ADDRS_MAX];
    char why[CURL_ERROR_SIZE + 64];     /* for the debug log */
    char errbuf[CURL_ERROR_SIZE];
};

struct tls_run {
    const struct api_ctx *ctx;
    struct tls_origin *origins;
    size_t n;
    CURLM *multi;
    long long deadline_ms;
};

static long long tls_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The numeric text of 'sa' into 'ip' (cap >= INET6_ADDRSTRLEN); "" if neither family. */
static void tls_addr_text(const struct sockaddr *sa, char *ip, size_t cap)
{
    ip[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, (socklen_t)cap);
}

static bool tls_addr_equal(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family)
        return false;
    if (a->sa_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr, &((const struct sockaddr_in *)b)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return false;
}

/* Resolve phase: record every address libcurl would try, and open none. */
static curl_socket_t tls_collect_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct tls_origin *o = arg;
    (void)purpose;
    const struct sockaddr *sa = &addr->addr;
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return CURL_SOCKET_BAD;
    for (int i = 0; i < o->naddrs; i++)
        if (tls_addr_equal(sa, &o->addrs[i]))
            return CURL_SOCKET_BAD;
    if (o->naddrs < TLS_ADDRS_MAX && addr->addrlen <= sizeof(o->addrs[0]))
        memcpy(&o->addrs[o->naddrs++], sa, addr->addrlen);
    return CURL_SOCKET_BAD;
}

/* Connect phase: a socket only for an address the resolve phase checked. */
static curl_socket_t tls_pinned_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct tls_origin *o = arg;
    (void)purpose;
    for (int i = 0; i < o->naddrs; i++)
        if (tls_addr_equal(&addr->addr, &o->addrs[i]))
            return socket(addr->family, addr->socktype, addr->protocol);
    char ip[INET6_ADDRSTRLEN];
    tls_addr_text(&addr->addr, ip, sizeof(ip));
    snprintf(o->why, sizeof(o->why), "refused to connect to %s: not among the checked addresses", ip);
    return CURL_SOCKET_BAD;
}

static void tls_fail(struct tls_origin *o, const char *fmt, const char *detail)
{
    if (o->why[0] == '\0')
        snprintf(o->why, sizeof(o->why), fmt, detail);
    o->ok = false;
    o->phase = TLS_DONE;
}

/* A handle for 'o' in its current phase, added to the run's multi. */
static int tls_start(struct tls_run *run, struct tls_origin *o)
{
    long remaining = (long)(run->deadline_ms - tls_now_ms());
    if (remaining <= 0) {
        tls_fail(o, "%s", "out of time");
        return 0;
    }
    CURL *easy = curl_easy_init();
    if (easy == NULL) {
        tls_fail(o, "%s", "out of memory");
        return 0;
    }
    char url[TLS_HOST_MAX + 32];
    snprintf(url, sizeof(url), "https://%s:%ld/", o->host, o->port);
    o->errbuf[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
    /* straight to the checked addresses: never through a proxy from the environment */
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, remaining);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, remaining);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    /* never wait for a resolver thread at cleanup: a hanging lookup is left behind */
    curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, o->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, o);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, o);
    if (o->phase == TLS_RESOLVE) {
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, tls_collect_socket);
    } else {
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, tls_pinned_socket);
        curl_easy_setopt(easy, CURLOPT_RESOLVE, o->pin);
        if (run->ctx->cfg.ca_file[0]) {
            curl_easy_setopt(easy, CURLOPT_CAINFO, run->ctx->cfg.ca_file);
            curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
        }
    }
    if (curl_multi_add_handle(run->multi, easy) != CURLM_OK) {
        curl_easy_cleanup(easy);
        tls_fail(o, "%s", "cannot add the transfer");
        return 0;
    }
    o->easy = easy;
    return 1;
}

/* After the resolve phase: check every address and pin the allowed ones. */
static void tls_resolved(struct tls_run *run, struct tls_origin *o, CURLcode rc)
{
    if (o->naddrs == 0) {
        tls_fail(o, "%s", o->errbuf[0] ? o->errbuf : curl_easy_strerror(rc));
        return;
    }
    char entry[TLS_HOST_MAX + 32 + TLS_ADDRS_MAX * (INET6_ADDRSTRLEN + 3)];
    size_t len = (size_t)snprintf(entry, sizeof(entry), "%s:%ld:", o->host, o->port);
    for (int i = 0; i < o->naddrs; i++) {
        char ip[INET6_ADDRSTRLEN];
        tls_addr_text((const struct sockaddr *)&o->addrs[i], ip, sizeof(ip));
        if (!run->ctx->policy.allow_private && dest_policy_ip_forbidden(ip)) {
            tls_fail(o, "resolves to the forbidden address %s", ip);
            return;
        }
        bool v6 = o->addrs[i].ss_family == AF_INET6;
        len += (size_t)snprintf(entry + len, sizeof(entry) - len, "%s%s%s%s", i ? "," : "", v6 ? "[" : "", ip,
                                v6 ? "]" : "");
    }
    if (!o->literal && (o->pin = curl_slist_append(NULL, entry)) == NULL) {
        tls_fail(o, "%s", "out of memory");
        return;
    }
    o->phase = TLS_CONNECT;
    tls_start(run, o);
}

static void tls_finished(struct tls_run *run, struct tls_origin *o, CURLcode rc)
{
    curl_multi_remove_handle(run->multi, o->easy);
    curl_easy_cleanup(o->easy);
    o->easy = NULL;
    if (o->phase == TLS_RESOLVE) {
        tls_resolved(run, o, rc);
    } else if (rc == CURLE_OK) {
        o->ok = true;
        o->phase = TLS_DONE;
    } else {
        tls_fail(o, "%s", o->errbuf[0] ? o->errbuf : curl_easy_strerror(rc));
    }
}

/* Run every origin's two phases until all are done or the deadline. */
static void tls_run_all(struct tls_run *run)
{
    size_t active = 0;
    for (size_t i = 0; i < run->n; i++)
        active += tls_start(run, &run->origins[i]) == 1;
    while (active > 0 && tls_now_ms() < run->deadline_ms) {
        long long left = run->deadline_ms - tls_now_ms();
        curl_multi_poll(run->multi, NULL, 0, left < 100 ? (int)left : 100, NULL);
        int running = 0, queued = 0;
        curl_multi_perform(run->multi, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(run->multi, &queued)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            tls_finished(run, (struct tls_origin *)priv, msg->data.result);
        }
        active = 0;
        for (size_t i = 0; i < run->n; i++)
            active += run->origins[i].easy != NULL;
    }
    for (size_t i = 0; i < run->n; i++) {
        struct tls_origin *o = &run->origins[i];
        if (o->easy != NULL) {
            curl_multi_remove_handle(run->multi, o->easy);
            curl_easy_cleanup(o->easy);
            o->easy = NULL;
            tls_fail(o, "%s", o->phase == TLS_RESOLVE ? "no answer from the resolver in time"
                                                      : "no TLS handshake in time");
        }
    }
}

/* Fill 'o' from 'url' (https). Returns 0, or -1 if it does not parse. */
static int tls_origin_parse(struct tls_origin *o, const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || strlen(host) >= sizeof(o->host))
        goto out;
    snprintf(o->host, sizeof(o->host), "%s", host);
    o->port = strtol(port, NULL, 10);
    char bare[TLS_HOST_MAX];
    size_t len = strlen(host);
    snprintf(bare, sizeof(bare), "%.*s", host[0] == '[' ? (int)len - 2 : (int)len, host[0] == '[' ? host + 1 : host);
    unsigned char buf[sizeof(struct in6_addr)];
    o->literal = inet_pton(AF_INET, bare, buf) == 1 || inet_pton(AF_INET6, bare, buf) == 1;
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

int tls_check_urls(const struct api_ctx *ctx, const struct tls_check_target *targets, size_t n, struct hl_error *err)
{
    struct tls_origin *origins = calloc(n ? n : 1, sizeof(*origins));
    size_t *of = calloc(n ? n : 1, sizeof(*of));      /* target -> its origin, or n: not checked */
    struct tls_run run = { .ctx = ctx, .origins = origins, .deadline_ms = tls_now_ms() + TLS_CHECK_BUDGET_MS };
    int rc = 0;
    if (origins == NULL || of == NULL) {
        rc = hl_error_set(err, HL_ENOMEM, "TLS check: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        of[i] = n;
        if (strncasecmp(targets[i].url, "https://", 8) != 0)
            continue;       /* http:// where the deployment allows it: no TLS to check */
        struct tls_origin probe = { 0 };
        if (tls_origin_parse(&probe, targets[i].url) < 0) {
            snprintf(probe.why, sizeof(probe.why), "the URL does not parse");
            probe.phase = TLS_DONE;
        }
        size_t j = 0;
        while (j < run.n && !(origins[j].port == probe.port && strcasecmp(origins[j].host, probe.host) == 0))
            j++;
        if (j == run.n || probe.phase == TLS_DONE)
            origins[j = run.n++] = probe;
        of[i] = j;
    }
    run.multi = run.n ? curl_multi_init() : NULL;
    if (run.n && run.multi == NULL) {
        rc = hl_error_set(err, HL_ENOMEM, "TLS check: out of memory");
        goto out;
    }
    if (run.n)
        tls_run_all(&run);
    for (size_t i = 0; i < n; i++) {
        if (of[i] == n || origins[of[i]].ok)
            continue;
        const struct tls_origin *o = &origins[of[i]];
        log_debug("TLS check of %s (%s port %ld) failed: %s", targets[i].field, o->host, o->port, o->why);
        if (rc == 0)
            rc = hl_error_set(err, HL_EINVAL, "%s: TLS check failed: could not establish a verified HTTPS connection.",
                              targets[i].field);
    }
out:
    for (size_t i = 0; origins && i < run.n; i++)
        curl_slist_free_all(origins[i].pin);
    if (run.multi)
        curl_multi_cleanup(run.multi);
    free(origins);
    free(of);
    return rc;
}
