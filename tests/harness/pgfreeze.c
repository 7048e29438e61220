/* pgfreeze.c: stop and continue the PostgreSQL server of a stack, to see
 * what hookline does while its database hangs without a word.
 *
 * SIGSTOP to the postmaster and every child of it (found from the data
 * directory's postmaster.pid and /proc); SIGCONT to the same at thaw. A
 * guard process and an atexit handler continue the server whatever
 * becomes of the test, so a failing test never leaves it frozen.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hx_int.h"

#define FREEZE_MAX_PIDS 1024
#define FREEZE_STOPPED_MS 5000      /* how long to wait for every process to show as stopped */

static pid_t freeze_pids[FREEZE_MAX_PIDS];  /* what we stopped, the postmaster first */
static int freeze_npids;
static pid_t freeze_guard;
static int freeze_pipe = -1;                /* write end: EOF tells the guard to continue the server */
static bool freeze_atexit_set;

/* Parent pid of 'pid' and its state letter (from /proc/<pid>/stat), or -1
 * if it is gone. */
static pid_t freeze_stat(pid_t pid, char *state)
{
    char path[64], buf[1024], st;
    long ppid;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses */
    char *rp = strrchr(buf, ')');
    if (rp == NULL || sscanf(rp + 1, " %c %ld", &st, &ppid) != 2)
        return -1;
    if (state)
        *state = st;
    return (pid_t)ppid;
}

static void freeze_continue_all(void)
{
    for (int i = freeze_npids - 1; i >= 0; i--)
        kill(freeze_pids[i], SIGCONT);
}

/* Continue what was stopped and exit(1) with the reason. */
static void freeze_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void freeze_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    freeze_continue_all();
    freeze_npids = 0;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hx_die("hx_pg_freeze: %s", msg);
}

/* The postmaster of the server this session is on; exit(1) unless it
 * runs on this machine. */
static pid_t freeze_find_postmaster(const struct hx_stack *st)
{
    PGconn *pg = hx_pg_connect(st);
    pid_t pm = -1, backend = -1;
    char dir[PATH_MAX] = "";

    PGresult *res = PQexec(pg, "SELECT pg_backend_pid()");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        backend = (pid_t)atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = PQexec(pg, "SHOW data_directory");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(dir, sizeof(dir), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (dir[0]) {
        char path[PATH_MAX + 32];
        long v;
        snprintf(path, sizeof(path), "%s/postmaster.pid", dir);
        FILE *fp = fopen(path, "r");
        if (fp) {
            if (fscanf(fp, "%ld", &v) == 1)
                pm = (pid_t)v;
            fclose(fp);
        }
    }
    /* the session's backend is a child of that postmaster: a check that the
     * server is this machine's (and the way to find it without the setting) */
    pid_t parent = backend > 0 ? freeze_stat(backend, NULL) : -1;
    if (pm <= 0)
        pm = parent;
    PQfinish(pg);
    if (pm <= 1 || parent != pm)
        hx_die("hx_pg_freeze: no PostgreSQL server of this machine found (data directory \"%s\", postmaster %ld, "
               "backend %ld whose parent is %ld)", dir, (long)pm, (long)backend, (long)parent);
    return pm;
}

static bool freeze_known(pid_t pid)
{
    for (int i = 0; i < freeze_npids; i++)
        if (freeze_pids[i] == pid)
            return true;
    return false;
}

/* SIGSTOP every child of 'pm' not stopped yet; returns how many. */
static int freeze_stop_children(pid_t pm)
{
    int added = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    if (d == NULL)
        freeze_fail("/proc: %s", strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        if (*end != '\0' || v <= 0 || freeze_known((pid_t)v) || freeze_stat((pid_t)v, NULL) != pm)
            continue;
        if (freeze_npids == FREEZE_MAX_PIDS) {
            closedir(d);
            freeze_fail("more than %d server processes", FREEZE_MAX_PIDS);
        }
        if (kill((pid_t)v, SIGSTOP) != 0) {
            if (errno == ESRCH)
                continue;   /* exited meanwhile */
            closedir(d);
            freeze_fail("SIGSTOP pid %ld: %s", v, strerror(errno));
        }
        freeze_pids[freeze_npids++] = (pid_t)v;
        added++;
    }
    closedir(d);
    return added;
}

/* A process of its own session that continues the server once the pipe
 * reads EOF (hx_pg_thaw closed it, or the test died) or after
 * HX_PG_FREEZE_MAX_MS. Only async-signal-safe calls after the fork. */
static void freeze_guard_start(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        freeze_fail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        freeze_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        struct sigaction ign = { .sa_handler = SIG_IGN };
        sigemptyset(&ign.sa_mask);
        setsid();
        sigaction(SIGTERM, &ign, NULL);
        sigaction(SIGINT, &ign, NULL);
        sigaction(SIGHUP, &ign, NULL);
        sigaction(SIGPIPE, &ign, NULL);
        for (int fd = 3; fd < 4096; fd++)
            if (fd != fds[0])
                close(fd);
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        char c;
        for (;;) {
            int rc = poll(&pfd, 1, HX_PG_FREEZE_MAX_MS);
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc > 0 && read(fds[0], &c, 1) > 0)
                continue;   /* nothing is ever written: only EOF counts */
            break;
        }
        freeze_continue_all();
        _exit(0);
    }
    close(fds[0]);
    freeze_pipe = fds[1];
    freeze_guard = pid;
}

static void freeze_atexit(void)
{
    if (freeze_npids > 0) {
        fprintf(stderr, "hx: exit with PostgreSQL frozen: continuing it\n");
        hx_pg_thaw(NULL);
    }
}

int hx_pg_freeze(struct hx_stack *st)
{
    if (freeze_npids > 0)
        hx_die("hx_pg_freeze: PostgreSQL is frozen already");
    pid_t pm = freeze_find_postmaster(st);
    if (!freeze_atexit_set) {
        atexit(freeze_atexit);
        freeze_atexit_set = true;
    }
    /* the postmaster first: then it forks no new child behind our back */
    if (kill(pm, SIGSTOP) != 0)
        hx_die("hx_pg_freeze: SIGSTOP postmaster %ld: %s", (long)pm, strerror(errno));
    freeze_pids[freeze_npids++] = pm;
    /* a child forked just before may show up late: scan until two scans find nothing */
    for (int quiet = 0; quiet < 2;) {
        if (freeze_stop_children(pm) > 0) {
            quiet = 0;
        } else {
            quiet++;
            hx_sleep_ms(5);
        }
    }
    freeze_guard_start();
    /* SIGSTOP takes effect asynchronously: wait until each one shows stopped */
    long long deadline = hx_now_ms() + FREEZE_STOPPED_MS;
    for (int i = 0; i < freeze_npids; i++) {
        char state = '?';
        while (freeze_stat(freeze_pids[i], &state) >= 0 && state != 'T' && state != 't' && state != 'Z') {
            if (hx_now_ms() >= deadline) {
                fprintf(stderr, "hx: hx_pg_freeze: pid %ld still in state %c after %d ms\n", (long)freeze_pids[i],
                        state, FREEZE_STOPPED_MS);
                break;
            }
            hx_sleep_ms(2);
        }
    }
    return freeze_npids;
}

void hx_pg_thaw(struct hx_stack *st)
{
    (void)st;
    if (freeze_npids == 0)
        return;
    freeze_continue_all();
    freeze_npids = 0;
    if (freeze_pipe >= 0)
        close(freeze_pipe);
    freeze_pipe = -1;
    if (freeze_guard > 0) {
        int wstatus;
        if (hx_wait_pid(freeze_guard, 5000, &wstatus) < 0)
            fprintf(stderr, "hx: hx_pg_thaw: the guard process %ld did not end\n", (long)freeze_guard);
        freeze_guard = 0;
    }
}
