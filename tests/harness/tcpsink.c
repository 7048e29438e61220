/* tcpsink.c: raw TCP listeners inside the test process, for what an
 * HTTPS receiver cannot be: an endpoint that accepts and then never says
 * a word (a stalled TLS handshake), one that forwards to another port
 * after a delay (a slow but good endpoint), and a listener that only
 * counts the connections made to it.
 *
 * One thread accepts; each forwarded connection gets a thread of its own.
 * hx_tcp_sink_accepted() first takes every connection the kernel has
 * completed but nobody accepted yet, so a connection made before the call
 * is always counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hx_int.h"

#define SINK_MAX_CONNS 256

struct sink_pipe {
    struct hx_tcp_sink *s;
    int fd;
};

struct hx_tcp_sink {
    int lfd;
    int port;
    char addr[64];
    int forward_port;
    long forward_delay_ms;
    pthread_t acceptor;
    atomic_bool stop;
    pthread_mutex_t mu;
    int fds[SINK_MAX_CONNS];    /* held open until stop */
    size_t nfds;
    size_t accepted;
    pthread_t pipes[SINK_MAX_CONNS];
    size_t npipes;
};

/* Copy bytes both ways between 'a' and 'b' until either closes or stop. */
static void sink_relay(struct hx_tcp_sink *s, int a, int b)
{
    char buf[16384];
    while (!atomic_load(&s->stop)) {
        struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
        if (poll(p, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n <= 0)
                return;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(p[1 - i].fd, buf + off, (size_t)(n - off));
                if (w <= 0)
                    return;
                off += w;
            }
        }
    }
}

static void *sink_pipe_main(void *arg)
{
    struct sink_pipe *sp = arg;
    struct hx_tcp_sink *s = sp->s;
    for (long waited = 0; waited < s->forward_delay_ms && !atomic_load(&s->stop); waited += 10)
        hx_sleep_ms(10);
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->forward_port) };
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (up >= 0 && !atomic_load(&s->stop) && connect(up, (struct sockaddr *)&to, sizeof(to)) == 0)
        sink_relay(s, sp->fd, up);
    if (up >= 0)
        close(up);
    free(sp);
    return NULL;
}

/* Take one connection from the backlog; false when there is none. Holds s->mu. */
static bool sink_accept_one(struct hx_tcp_sink *s)
{
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return false;
    s->accepted++;
    if (s->nfds == SINK_MAX_CONNS) {
        close(fd);
        return true;
    }
    s->fds[s->nfds++] = fd;
    if (s->forward_port > 0 && s->npipes < SINK_MAX_CONNS) {
        struct sink_pipe *sp = malloc(sizeof(*sp));
        if (sp == NULL)
            hx_die("out of memory");
        *sp = (struct sink_pipe){ .s = s, .fd = fd };
        if (pthread_create(&s->pipes[s->npipes], NULL, sink_pipe_main, sp) != 0)
            hx_die("tcp sink: cannot start a thread");
        s->npipes++;
    }
    return true;
}

static void *sink_accept_main(void *arg)
{
    struct hx_tcp_sink *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = { .fd = s->lfd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        pthread_mutex_lock(&s->mu);
        while (sink_accept_one(s))
            ;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

struct hx_tcp_sink *hx_tcp_sink_start(const struct hx_tcp_sink_opts *opts)
{
    struct hx_tcp_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        hx_die("out of memory");
    snprintf(s->addr, sizeof(s->addr), "%s", opts && opts->addr ? opts->addr : "127.0.0.1");
    s->forward_port = opts ? opts->forward_port : 0;
    s->forward_delay_ms = opts ? opts->forward_delay_ms : 0;
    pthread_mutex_init(&s->mu, NULL);

    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    bool v6 = strchr(s->addr, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, s->addr, &a->sin6_addr) != 1)
            hx_die("tcp sink: bad address %s", s->addr);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, s->addr, &a->sin_addr) != 1)
            hx_die("tcp sink: bad address %s", s->addr);
        len = sizeof(*a);
    }
    s->lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&ss, len) != 0 || listen(s->lfd, 128) != 0)
        hx_die("tcp sink: cannot listen on %s: %s", s->addr, strerror(errno));
    len = sizeof(ss);
    getsockname(s->lfd, (struct sockaddr *)&ss, &len);
    s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    if (pthread_create(&s->acceptor, NULL, sink_accept_main, s) != 0)
        hx_die("tcp sink: cannot start a thread");
    return s;
}

int hx_tcp_sink_port(const struct hx_tcp_sink *s)
{
    return s->port;
}

size_t hx_tcp_sink_accepted(struct hx_tcp_sink *s)
{
    pthread_mutex_lock(&s->mu);
    while (sink_accept_one(s))
        ;
    size_t n = s->accepted;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void hx_tcp_sink_stop(struct hx_tcp_sink *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->acceptor, NULL);
    for (size_t i = 0; i < s->npipes; i++)
        pthread_join(s->pipes[i], NULL);
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
