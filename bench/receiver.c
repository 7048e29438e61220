/* receiver.c: hookline-bench-receiver, the benchmark's webhook endpoint.
 *
 * An event loop per thread (epoll) serves HTTP/1.1 with keep-alive and
 * pipelining on N plain and N TLS (GnuTLS) listeners on 127.0.0.1, and
 * answers every request at once: 200 with an empty body, or 500 when its
 * path starts with /fail. It counts the answers and keeps a histogram of
 * produce-to-receipt latency from the "bench_ts" field (microseconds since
 * the epoch, CLOCK_REALTIME) that the benchmark's producer stamps into each
 * payload. A neighbour's endpoint stays out of those figures: paths under
 * /side/ are answered 200 at once and paths under /slow/<ms>/ 200 after
 * <ms> milliseconds, both counted only as "side". GET /_bench/stats returns
 * the figures as JSON; POST /_bench/reset zeroes them; POST
 * /_bench/release answers every held request at once and holds none until
 * the next reset. Connections and TLS handshakes (full, resumed from a
 * session ticket, failed) are counted from the start, across resets: a
 * section takes the difference. Benchmark tooling only: no request is
 * stored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define RCV_LISTENERS_MAX 256
#define RCV_THREADS_MAX 16
#define RCV_HEAD_MAX (64 * 1024)          /* request line + headers */
#define RCV_BODY_MAX (16L * 1024 * 1024)  /* larger bodies: 413 and close */
#define RCV_READ_CHUNK (64 * 1024)
#define RCV_HOLD_MAX_MS 60000             /* longest /slow/<ms>/ */

/* Latency histogram in microseconds: exact below 256 us, then 128
 * sub-buckets per power of two (under 0.8 % error), up to 2^36 us. */
#define HIST_LINEAR 256
#define HIST_SUB 128
#define HIST_OCTAVES 29
#define HIST_N (HIST_LINEAR + HIST_OCTAVES * HIST_SUB)

enum { FD_LISTENER, FD_CONN };

struct listener {
    int kind;                   /* FD_LISTENER */
    int fd;
    int port;
    bool tls;
};

struct conn {
    int kind;                   /* FD_CONN */
    int fd;
    gnutls_session_t tls;       /* NULL on a plain connection */
    bool handshaken;
    bool closing;               /* close once 'out' is written */
    bool want_out;              /* EPOLLOUT registered */
    long long hold_until_us;    /* CLOCK_MONOTONIC; 0: not holding its answer */
    struct conn *hold_prev, *hold_next;     /* the worker's held connections */
    char *in;
    size_t in_off, in_len, in_cap;
    char *out;
    size_t out_off, out_len, out_cap;
};

struct rcv_stats {
    uint64_t ok, fail, other, control;
    uint64_t side;              /* /side/ and /slow/ requests: kept out of the rest */
    uint64_t bytes;
    long long first_ok_us, last_ok_us;  /* CLOCK_REALTIME of the first and last 200 */
    long long first_fail_us, last_fail_us;
    uint64_t lat_n, lat_max_us;
    uint64_t accepted, closed;  /* connections: kept across resets */
    uint64_t tls_full, tls_resumed, tls_failed;     /* handshakes: kept across resets */
    uint64_t hist[HIST_N];
};

struct worker {
    pthread_t th;
    int ep;
    pthread_mutex_t mu;
    struct rcv_stats st;
    long held;                  /* connections holding an answer now (under mu) */
    struct conn *held_head;     /* worker thread only */
    unsigned release_seen;
};

static struct listener rcv_listeners[RCV_LISTENERS_MAX];
static int rcv_nlisteners;
static struct worker rcv_workers[RCV_THREADS_MAX];
static int rcv_nworkers = 1;
static gnutls_certificate_credentials_t rcv_cred;
static gnutls_datum_t rcv_ticket_key;
static volatile sig_atomic_t rcv_stop;
static atomic_uint rcv_release_gen;     /* bumped by POST /_bench/release */
static atomic_bool rcv_no_hold;         /* set by release, cleared by reset */

/* --trace <file>: one line "<produce us> <latency us>" per
 * timed delivery, to see where a latency tail comes from (a stall or a
 * spread); written under each worker's lock, buffered by stdio. */
static FILE *rcv_trace;
static pthread_mutex_t rcv_trace_mu = PTHREAD_MUTEX_INITIALIZER;

static long long rcv_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long rcv_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- histogram ---------------------------------------------------------- */

static int hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (int)v;
    int e = 63 - __builtin_clzll(v);
    if (e >= 8 + HIST_OCTAVES)
        return HIST_N - 1;
    return HIST_LINEAR + (e - 8) * HIST_SUB + (int)((v >> (e - 7)) & (HIST_SUB - 1));
}

/* Middle of bucket 'i'. */
static uint64_t hist_value(int i)
{
    if (i < HIST_LINEAR)
        return (uint64_t)i;
    int e = 8 + (i - HIST_LINEAR) / HIST_SUB, sub = (i - HIST_LINEAR) % HIST_SUB;
    uint64_t lo = (uint64_t)(HIST_SUB + sub) << (e - 7), width = (uint64_t)1 << (e - 7);
    return lo + width / 2;
}

static uint64_t hist_percentile(const uint64_t *hist, uint64_t n, double pct)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)(pct / 100.0 * (double)n + 0.5), seen = 0;
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < HIST_N; i++) {
        seen += hist[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_N - 1);
}

/* ---- stats ------------------------------------------------------------------ */

static void stats_reset_one(struct rcv_stats *st)
{
    memset(st, 0, sizeof(*st));
}

static void stats_record(struct worker *w, int status, bool side, const char *body, size_t len)
{
    long long now = rcv_now_us();
    long long ts = 0;
    if (side) {
        pthread_mutex_lock(&w->mu);
        w->st.bytes += len;
        w->st.side++;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    if (status == 200) {
        /* "bench_ts":<digits>, as the benchmark's producer writes it */
        const char *p = memmem(body, len, "\"bench_ts\":", 11);
        if (p != NULL) {
            p += 11;
            const char *end = body + len;
            while (p < end && *p >= '0' && *p <= '9')
                ts = ts * 10 + (*p++ - '0');
        }
    }
    pthread_mutex_lock(&w->mu);
    struct rcv_stats *st = &w->st;
    st->bytes += len;
    if (status == 200) {
        st->ok++;
        if (st->first_ok_us == 0)
            st->first_ok_us = now;
        st->last_ok_us = now;
        if (ts > 0 && now >= ts) {
            uint64_t lat = (uint64_t)(now - ts);
            st->hist[hist_index(lat)]++;
            st->lat_n++;
            if (lat > st->lat_max_us)
                st->lat_max_us = lat;
            if (rcv_trace != NULL) {
                pthread_mutex_lock(&rcv_trace_mu);
                fprintf(rcv_trace, "%lld %llu\n", ts, (unsigned long long)lat);
                pthread_mutex_unlock(&rcv_trace_mu);
            }
        }
    } else if (status == 500) {
        st->fail++;
        if (st->first_fail_us == 0)
            st->first_fail_us = now;
        st->last_fail_us = now;
    } else {
        st->other++;
    }
    pthread_mutex_unlock(&w->mu);
}

static void stats_reset_all(void)
{
    if (rcv_trace != NULL) {
        pthread_mutex_lock(&rcv_trace_mu);
        fprintf(rcv_trace, "# reset %lld\n", rcv_now_us());
        pthread_mutex_unlock(&rcv_trace_mu);
    }
    for (int i = 0; i < rcv_nworkers; i++) {
        pthread_mutex_lock(&rcv_workers[i].mu);
        struct rcv_stats *st = &rcv_workers[i].st;
        uint64_t accepted = st->accepted, closed = st->closed;
        uint64_t full = st->tls_full, resumed = st->tls_resumed, failed = st->tls_failed;
        stats_reset_one(st);
        st->accepted = accepted;   /* connections outlive a reset */
        st->closed = closed;
        st->tls_full = full;
        st->tls_resumed = resumed;
        st->tls_failed = failed;
        pthread_mutex_unlock(&rcv_workers[i].mu);
    }
}

static long long min_nonzero(long long a, long long b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* The figures of every worker as one JSON object, into 'out'. */
static int stats_json(char *out, size_t cap)
{
    if (rcv_trace != NULL) {
        pthread_mutex_lock(&rcv_trace_mu);
        fflush(rcv_trace);
        pthread_mutex_unlock(&rcv_trace_mu);
    }
    struct rcv_stats sum;       /* 32 KiB: fine on a worker's stack */
    long held = 0;
    stats_reset_one(&sum);
    for (int i = 0; i < rcv_nworkers; i++) {
        struct worker *w = &rcv_workers[i];
        pthread_mutex_lock(&w->mu);
        sum.ok += w->st.ok;
        sum.fail += w->st.fail;
        sum.other += w->st.other;
        sum.side += w->st.side;
        held += w->held;
        sum.bytes += w->st.bytes;
        sum.accepted += w->st.accepted;
        sum.closed += w->st.closed;
        sum.tls_full += w->st.tls_full;
        sum.tls_resumed += w->st.tls_resumed;
        sum.tls_failed += w->st.tls_failed;
        sum.first_ok_us = min_nonzero(sum.first_ok_us, w->st.first_ok_us);
        sum.last_ok_us = w->st.last_ok_us > sum.last_ok_us ? w->st.last_ok_us : sum.last_ok_us;
        sum.first_fail_us = min_nonzero(sum.first_fail_us, w->st.first_fail_us);
        sum.last_fail_us = w->st.last_fail_us > sum.last_fail_us ? w->st.last_fail_us : sum.last_fail_us;
        sum.lat_n += w->st.lat_n;
        if (w->st.lat_max_us > sum.lat_max_us)
            sum.lat_max_us = w->st.lat_max_us;
        for (int b = 0; b < HIST_N; b++)
            sum.hist[b] += w->st.hist[b];
        pthread_mutex_unlock(&w->mu);
    }
    int n = snprintf(out, cap,
        "{\"ok\":%llu,\"fail\":%llu,\"other\":%llu,\"side\":%llu,\"held\":%ld,\"bytes\":%llu,"
        "\"accepted\":%llu,\"open\":%llu,\"tls_full\":%llu,\"tls_resumed\":%llu,\"tls_failed\":%llu,"
        "\"first_ok_us\":%lld,\"last_ok_us\":%lld,\"first_fail_us\":%lld,\"last_fail_us\":%lld,"
        "\"lat_n\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu}",
        (unsigned long long)sum.ok, (unsigned long long)sum.fail, (unsigned long long)sum.other,
        (unsigned long long)sum.side, held, (unsigned long long)sum.bytes, (unsigned long long)sum.accepted,
        (unsigned long long)(sum.accepted - sum.closed), (unsigned long long)sum.tls_full,
        (unsigned long long)sum.tls_resumed, (unsigned long long)sum.tls_failed, sum.first_ok_us, sum.last_ok_us, sum.first_fail_us,
        sum.last_fail_us, (unsigned long long)sum.lat_n,
        (unsigned long long)hist_percentile(sum.hist, sum.lat_n, 50.0),
        (unsigned long long)hist_percentile(sum.hist, sum.lat_n, 90.0),
        (unsigned long long)hist_percentile(sum.hist, sum.lat_n, 99.0),
        (unsigned long long)hist_percentile(sum.hist, sum.lat_n, 99.9), (unsigned long long)sum.lat_max_us);
    return n;
}

/* ---- connections ------------------------------------------------------------ */

/* Take 'c' off its worker's list of held connections. */
static void conn_unhold(struct worker *w, struct conn *c)
{
    if (c->hold_until_us == 0)
        return;
    if (c->hold_prev)
        c->hold_prev->hold_next = c->hold_next;
    else
        w->held_head = c->hold_next;
    if (c->hold_next)
        c->hold_next->hold_prev = c->hold_prev;
    c->hold_prev = c->hold_next = NULL;
    c->hold_until_us = 0;
    pthread_mutex_lock(&w->mu);
    w->held--;
    pthread_mutex_unlock(&w->mu);
}

/* Keep the answers of 'c' (and its later requests) back for 'ms'. */
static void conn_hold(struct worker *w, struct conn *c, long ms)
{
    c->hold_until_us = rcv_mono_us() + ms * 1000;
    c->hold_prev = NULL;
    c->hold_next = w->held_head;
    if (w->held_head)
        w->held_head->hold_prev = c;
    w->held_head = c;
    pthread_mutex_lock(&w->mu);
    w->held++;
    pthread_mutex_unlock(&w->mu);
}

static void conn_free(struct worker *w, struct conn *c)
{
    conn_unhold(w, c);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->tls)
        gnutls_deinit(c->tls);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
    pthread_mutex_lock(&w->mu);
    w->st.closed++;
    pthread_mutex_unlock(&w->mu);
}

/* Make room for 'need' more bytes in a buffer; false when over 'max'. */
static bool buf_reserve(char **buf, size_t *cap, size_t len, size_t need, size_t max)
{
    if (len + need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < len + need)
        ncap *= 2;
    if (ncap > max)
        return false;
    char *grown = realloc(*buf, ncap);
    if (grown == NULL)
        return false;
    *buf = grown;
    *cap = ncap;
    return true;
}

static bool conn_append(struct conn *c, const char *data, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (!buf_reserve(&c->out, &c->out_cap, c->out_len, len, 64 * 1024 * 1024))
        return false;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return true;
}

static void conn_reply(struct conn *c, int status, const char *body, bool close_after)
{
    char head[256];
    const char *reason = status == 200 ? "OK" : status == 500 ? "Internal Server Error"
                       : status == 413 ? "Payload Too Large" : status == 404 ? "Not Found" : "Bad Request";
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s\r\n", status, reason, blen,
                     body ? "Content-Type: application/json\r\n" : "", close_after ? "Connection: close\r\n" : "");
    if (!conn_append(c, head, (size_t)n) || (blen && !conn_append(c, body, blen)))
        c->closing = true;
    if (close_after)
        c->closing = true;
}

/* Does header line [p, end) name 'name' (lower case, with the colon)? Sets
 * *val to the trimmed value. */
static bool header_is(const char *p, const char *end, const char *name, const char **val, size_t *vlen)
{
    size_t n = strlen(name);
    if ((size_t)(end - p) < n || strncasecmp(p, name, n) != 0)
        return false;
    p += n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *e = end;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = p;
    *vlen = (size_t)(e - p);
    return true;
}

/* Serve one complete request from the input buffer. Returns 1 if one was
 * served, 0 if more bytes are needed, -1 if the connection must close. */
static int conn_serve_one(struct worker *w, struct conn *c)
{
    char *buf = c->in + c->in_off;
    size_t avail = c->in_len - c->in_off;
    char *eoh = memmem(buf, avail, "\r\n\r\n", 4);
    if (eoh == NULL) {
        if (avail > RCV_HEAD_MAX) {
            conn_reply(c, 400, NULL, true);
            return -1;
        }
        return 0;
    }
    size_t head_len = (size_t)(eoh - buf) + 4;
    char *line_end = memmem(buf, head_len, "\r\n", 2);
    char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL) {
        conn_reply(c, 400, NULL, true);
        return -1;
    }
    const char *method = buf, *path = sp1 + 1;
    size_t method_len = (size_t)(sp1 - buf), path_len = (size_t)(sp2 - path);
    bool http10 = (size_t)(line_end - sp2 - 1) == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
    long long clen = 0;
    bool close_after = http10, chunked = false;
    for (char *p = line_end + 2; p < eoh;) {
        char *e = memmem(p, (size_t)(eoh + 2 - p), "\r\n", 2);
        const char *v;
        size_t vl;
        if (header_is(p, e, "content-length:", &v, &vl)) {
            clen = 0;
            for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
                clen = clen * 10 + (v[i] - '0');
        } else if (header_is(p, e, "connection:", &v, &vl)) {
            close_after = vl == 5 && strncasecmp(v, "close", 5) == 0 ? true
                        : vl == 10 && strncasecmp(v, "keep-alive", 10) == 0 ? false : close_after;
        } else if (header_is(p, e, "transfer-encoding:", &v, &vl)) {
            chunked = true;
        }
        p = e + 2;
    }
    if (chunked || clen > RCV_BODY_MAX) {
        conn_reply(c, chunked ? 400 : 413, NULL, true);
        return -1;
    }
    if (avail < head_len + (size_t)clen) {
        if (!buf_reserve(&c->in, &c->in_cap, c->in_len, head_len + (size_t)clen - avail, RCV_BODY_MAX * 2)) {
            conn_reply(c, 413, NULL, true);
            return -1;
        }
        return 0;
    }
    const char *body = buf + head_len;
    if (path_len >= 7 && memcmp(path, "/_bench", 7) == 0) {
        if (path_len == 13 && memcmp(path, "/_bench/stats", 13) == 0) {
            char json[1024];
            stats_json(json, sizeof(json));
            conn_reply(c, 200, json, close_after);
        } else if (path_len == 13 && memcmp(path, "/_bench/reset", 13) == 0 && method_len == 4 &&
                   memcmp(method, "POST", 4) == 0) {
            stats_reset_all();
            atomic_store(&rcv_no_hold, false);
            conn_reply(c, 200, "{}", close_after);
        } else if (path_len == 15 && memcmp(path, "/_bench/release", 15) == 0 && method_len == 4 &&
                   memcmp(method, "POST", 4) == 0) {
            /* every worker answers what it holds within one turn of its loop */
            atomic_store(&rcv_no_hold, true);
            atomic_fetch_add(&rcv_release_gen, 1);
            conn_reply(c, 200, "{}", close_after);
        } else {
            conn_reply(c, 404, NULL, close_after);
        }
    } else if (path_len >= 6 && memcmp(path, "/slow/", 6) == 0) {
        /* /slow/<ms>/...: a neighbour's endpoint that takes its time */
        long ms = 0;
        for (size_t i = 6; i < path_len && path[i] >= '0' && path[i] <= '9' && ms <= RCV_HOLD_MAX_MS; i++)
            ms = ms * 10 + (path[i] - '0');
        stats_record(w, 200, true, body, (size_t)clen);
        conn_reply(c, 200, NULL, close_after);
        if (ms > 0 && !atomic_load(&rcv_no_hold))
            conn_hold(w, c, ms < RCV_HOLD_MAX_MS ? ms : RCV_HOLD_MAX_MS);
    } else {
        bool side = path_len >= 6 && memcmp(path, "/side/", 6) == 0;
        int status = !side && path_len >= 5 && memcmp(path, "/fail", 5) == 0 ? 500 : 200;
        stats_record(w, status, side, body, (size_t)clen);
        conn_reply(c, status, NULL, close_after);
    }
    c->in_off += head_len + (size_t)clen;
    return close_after ? -1 : 1;
}

static int conn_recv(struct conn *c, char *dst, size_t cap)
{
    if (c->tls) {
        ssize_t n = gnutls_record_recv(c->tls, dst, cap);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            return -EAGAIN;
        return n < 0 ? -EIO : (int)n;
    }
    ssize_t n = recv(c->fd, dst, cap, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -EIO;
    return (int)n;
}

static void conn_want_out(struct worker *w, struct conn *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* Write what is pending. Returns false if the connection is finished. */
static bool conn_flush(struct worker *w, struct conn *c)
{
    if (c->hold_until_us != 0)
        return true;    /* its time comes in worker_release() */
    while (c->out_off < c->out_len) {
        size_t left = c->out_len - c->out_off;
        ssize_t n;
        if (c->tls) {
            n = gnutls_record_send(c->tls, c->out + c->out_off, left);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                conn_want_out(w, c, true);
                return true;
            }
        } else {
            n = send(c->fd, c->out + c->out_off, left, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                conn_want_out(w, c, true);
                return true;
            }
        }
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    conn_want_out(w, c, false);
    return !c->closing;
}

/* Serve what is buffered (until an answer is held), write, and close
 * when finished or at 'eof'. */
static void conn_process(struct worker *w, struct conn *c, bool eof)
{
    int rc = 0;
    while (c->hold_until_us == 0 && (rc = conn_serve_one(w, c)) > 0)
        ;
    if (c->in_off > 0 && c->in_off < c->in_len) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    } else if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    }
    if (rc < 0)
        c->closing = true;
    if (!conn_flush(w, c) || (eof && c->out_len == 0))
        conn_free(w, c);
}

static void conn_event(struct worker *w, struct conn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_free(w, c);
        return;
    }
    if (c->tls && !c->handshaken) {
        int rc = gnutls_handshake(c->tls);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            conn_want_out(w, c, gnutls_record_get_direction(c->tls) == 1);
            return;
        }
        if (rc < 0) {
            pthread_mutex_lock(&w->mu);
            w->st.tls_failed++;
            pthread_mutex_unlock(&w->mu);
            conn_free(w, c);
            return;
        }
        c->handshaken = true;
        bool resumed = gnutls_session_is_resumed(c->tls) != 0;
        pthread_mutex_lock(&w->mu);
        if (resumed)
            w->st.tls_resumed++;
        else
            w->st.tls_full++;
        pthread_mutex_unlock(&w->mu);
        conn_want_out(w, c, false);
    }
    if ((events & EPOLLOUT) && !conn_flush(w, c)) {
        conn_free(w, c);
        return;
    }
    bool eof = false;
    for (;;) {
        if (c->in_off == c->in_len)
            c->in_off = c->in_len = 0;
        if (!buf_reserve(&c->in, &c->in_cap, c->in_len, RCV_READ_CHUNK / 4, RCV_BODY_MAX * 2 + RCV_READ_CHUNK)) {
            eof = true;
            break;
        }
        size_t room = c->in_cap - c->in_len;
        int n = conn_recv(c, c->in + c->in_len, room);
        if (n == -EAGAIN)
            break;
        if (n <= 0) {
            eof = true;
            break;
        }
        c->in_len += (size_t)n;
        /* a short plain read drained the socket; TLS may hold decrypted records */
        if (!c->tls && (size_t)n < room)
            break;
        if (c->tls && gnutls_record_check_pending(c->tls) == 0 && (size_t)n < room)
            break;
    }
    if (eof && c->hold_until_us != 0) {
        conn_free(w, c);    /* the client gave up waiting */
        return;
    }
    conn_process(w, c, eof);
}

/* Answer the held connections whose time has come (all of them after a
 * release). Returns the milliseconds until the next one is due (at most
 * 'cap'). */
static int worker_release(struct worker *w, int cap)
{
    unsigned gen = atomic_load(&rcv_release_gen);
    bool all = gen != w->release_seen;
    w->release_seen = gen;
    if (w->held_head == NULL)
        return cap;     /* the common case costs no clock read */
    long long now = rcv_mono_us(), next = now + (long long)cap * 1000;
    struct conn *c = w->held_head, *c_next;
    for (; c; c = c_next) {
        c_next = c->hold_next;
        if (all || c->hold_until_us <= now) {
            conn_unhold(w, c);
            conn_process(w, c, false);
        } else if (c->hold_until_us < next) {
            next = c->hold_until_us;
        }
    }
    return (int)((next - now + 999) / 1000);
}

static void listener_accept(struct worker *w, struct listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;     /* EAGAIN, or another worker took it */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->kind = FD_CONN;
        c->fd = fd;
        if (l->tls) {
            if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0 ||
                gnutls_set_default_priority(c->tls) < 0 ||
                gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, rcv_cred) < 0 ||
                gnutls_session_ticket_enable_server(c->tls, &rcv_ticket_key) < 0) {
                if (c->tls)
                    gnutls_deinit(c->tls);
                close(fd);
                free(c);
                continue;
            }
            gnutls_transport_set_int(c->tls, fd);
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            if (c->tls)
                gnutls_deinit(c->tls);
            close(fd);
            free(c);
            continue;
        }
        pthread_mutex_lock(&w->mu);
        w->st.accepted++;
        pthread_mutex_unlock(&w->mu);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    while (!rcv_stop) {
        int n = epoll_wait(w->ep, evs, 256, worker_release(w, 200));
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == FD_LISTENER)
                listener_accept(w, evs[i].data.ptr);
            else
                conn_event(w, evs[i].data.ptr, evs[i].events);
        }
    }
    return NULL;
}

/* ---- set-up ----------------------------------------------------------------- */

static int listener_open(bool tls)
{
    if (rcv_nlisteners == RCV_LISTENERS_MAX)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t slen = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &slen) < 0) {
        close(fd);
        return -1;
    }
    struct listener *l = &rcv_listeners[rcv_nlisteners++];
    l->kind = FD_LISTENER;
    l->fd = fd;
    l->port = ntohs(sa.sin_port);
    l->tls = tls;
    return 0;
}

/* Write the ports ("http P1 P2 ...\nhttps P1 ...\n") through a rename. */
static int write_ready_file(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (fp == NULL)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        fputs(pass ? "https" : "http", fp);
        for (int i = 0; i < rcv_nlisteners; i++)
            if (rcv_listeners[i].tls == (pass == 1))
                fprintf(fp, " %d", rcv_listeners[i].port);
        fputc('\n', fp);
    }
    if (fclose(fp) != 0)
        return -1;
    return rename(tmp, path);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: hookline-bench-receiver [--http N] [--https N --cert PEM --key PEM] [--threads N]\n"
                 "                              [--ready-file PATH] [--trace PATH]\n"
                 "Benchmark webhook receiver on 127.0.0.1: N plain and N TLS listeners on free ports,\n"
                 "answers 200 at once (500 on paths starting with /fail), counts requests and\n"
                 "produce-to-receipt latency from the payload's \"bench_ts\" (us since the epoch).\n"
                 "Paths under /side/ (200 at once) and /slow/<ms>/ (200 after <ms>, at most 60 s)\n"
                 "count only as \"side\". GET /_bench/stats: JSON figures; POST /_bench/reset: zero\n"
                 "them; POST /_bench/release: answer held requests now, hold none until a reset.\n"
                 "The ports go to --ready-file (\"http P...\" and \"https P...\" lines) and stdout.\n"
                 "--trace: a line \"<produce us> <latency us>\" per timed delivery, \"# reset <us>\" per reset.\n");
}

int main(int argc, char **argv)
{
    int nhttp = 1, nhttps = 0;
    const char *cert = NULL, *key = NULL, *ready = NULL, *trace = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--http") && v) {
            nhttp = atoi(v), i++;
        } else if (!strcmp(a, "--https") && v) {
            nhttps = atoi(v), i++;
        } else if (!strcmp(a, "--cert") && v) {
            cert = v, i++;
        } else if (!strcmp(a, "--key") && v) {
            key = v, i++;
        } else if (!strcmp(a, "--threads") && v) {
            rcv_nworkers = atoi(v), i++;
        } else if (!strcmp(a, "--ready-file") && v) {
            ready = v, i++;
        } else if (!strcmp(a, "--trace") && v) {
            trace = v, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (rcv_nworkers < 1 || rcv_nworkers > RCV_THREADS_MAX || nhttp < 0 || nhttps < 0 ||
        nhttp + nhttps > RCV_LISTENERS_MAX || (nhttps > 0 && (!cert || !key))) {
        usage(stderr);
        return 2;
    }
    if (trace != NULL && (rcv_trace = fopen(trace, "w")) == NULL) {
        fprintf(stderr, "hookline-bench-receiver: %s: %s\n", trace, strerror(errno));
        return 1;
    }
    /* thousands of keep-alive connections: lift the descriptor limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (nhttps > 0) {
        int rc = gnutls_global_init();
        if (rc >= 0)
            rc = gnutls_certificate_allocate_credentials(&rcv_cred);
        if (rc >= 0)
            rc = gnutls_certificate_set_x509_key_file(rcv_cred, cert, key, GNUTLS_X509_FMT_PEM);
        if (rc >= 0)
            rc = gnutls_session_ticket_key_generate(&rcv_ticket_key);
        if (rc < 0) {
            fprintf(stderr, "hookline-bench-receiver: TLS set-up (%s, %s): %s\n", cert, key, gnutls_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < nhttp + nhttps; i++) {
        if (listener_open(i >= nhttp) < 0) {
            fprintf(stderr, "hookline-bench-receiver: cannot listen: %s\n", strerror(errno));
            return 1;
        }
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int t = 0; t < rcv_nworkers; t++) {
        struct worker *w = &rcv_workers[t];
        pthread_mutex_init(&w->mu, NULL);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0)
            return 1;
        for (int i = 0; i < rcv_nlisteners; i++) {
            /* every worker waits on every listener; EPOLLEXCLUSIVE wakes one */
            struct epoll_event ev = { .events = EPOLLIN | (rcv_nworkers > 1 ? EPOLLEXCLUSIVE : 0),
                                      .data.ptr = &rcv_listeners[i] };
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, rcv_listeners[i].fd, &ev) < 0) {
                fprintf(stderr, "hookline-bench-receiver: epoll: %s\n", strerror(errno));
                return 1;
            }
        }
        if (pthread_create(&w->th, NULL, worker_main, w) != 0)
            return 1;
    }
    if (ready && write_ready_file(ready) < 0) {
        fprintf(stderr, "hookline-bench-receiver: %s: %s\n", ready, strerror(errno));
        return 1;
    }
    printf("hookline-bench-receiver: %d http, %d https listeners, %d thread(s)\n", nhttp, nhttps, rcv_nworkers);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    rcv_stop = 1;
    for (int t = 0; t < rcv_nworkers; t++)
        pthread_join(rcv_workers[t].th, NULL);
    return 0;
}
