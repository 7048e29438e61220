/* pg_freeze.h: make the test's PostgreSQL server stop answering, and
 * bring it back.
 *
 * pgf_freeze() sends SIGSTOP to the postmaster of the server the stack
 * uses (found from its data directory's postmaster.pid) and then to every
 * process whose parent it is (backends, checkpointer, walwriter...):
 * connections stay open and the kernel still accepts new ones, but
 * nothing answers, as with a host that hangs or a network that drops
 * packets. pgf_thaw() sends SIGCONT to all of them.
 *
 * The server must never stay frozen, whatever happens to the test: an
 * atexit handler thaws it on exit() (a failed CHECK_FATAL included), and a
 * watchdog process, detached so that a test runner killing the test's
 * process tree does not reach it, thaws it when the test process goes away
 * by any means (even SIGKILL: its end of a pipe closes) or after
 * PGF_MAX_FROZEN_MS.
 *
 * Header-only like the other e2e helpers; for the test's main thread.
 */
#ifndef HL_PG_FREEZE_H
#define HL_PG_FREEZE_H

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

#define PGF_MAX_FROZEN_MS 120000

struct pgf {
    pid_t postmaster;
    int watchdog;           /* write end of the watchdog's pipe; -1 when not frozen */
};

static struct pgf *pgf_active;  /* what the atexit handler thaws */

/* Parse the parent pid out of /proc/<pid>/stat text ("pid (comm) S ppid ..."). */
static inline long pgf_stat_ppid(const char *stat)
{
    const char *p = strrchr(stat, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
        return -1;
    long ppid = 0;
    for (p += 4; *p >= '0' && *p <= '9'; p++)
        ppid = ppid * 10 + (*p - '0');
    return ppid;
}

/* Send 'sig' to every process whose parent is 'pm', then to 'pm'; returns
 * how many got it. Only async-signal-safe calls (the watchdog runs it in a
 * child of a threaded process): raw getdents64, open, read, kill. */
static inline int pgf_signal_all(pid_t pm, int sig)
{
    struct pgf_dirent {
        unsigned long long ino;
        long long off;
        unsigned short reclen;
        unsigned char type;
        char name[];
    };
    int n = 0;
    int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char buf[8192];
    long got;
    while (dfd >= 0 && (got = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < got;) {
            struct pgf_dirent *de = (struct pgf_dirent *)(buf + off);
            off += de->reclen;
            long pid = 0;
            const char *c = de->name;
            for (; *c >= '0' && *c <= '9'; c++)
                pid = pid * 10 + (*c - '0');
            if (*c != '\0' || pid <= 0 || pid == pm)
                continue;
            char path[64] = "/proc/", digits[24];
            int nd = 0;
            for (long v = pid; v > 0; v /= 10)
                digits[nd++] = (char)('0' + v % 10);
            size_t len = 6;
            while (nd > 0)
                path[len++] = digits[--nd];
            memcpy(path + len, "/stat", 6);
            char stat[512];
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            ssize_t r = fd >= 0 ? read(fd, stat, sizeof(stat) - 1) : -1;
            if (fd >= 0)
                close(fd);
            if (r <= 0)
                continue;
            stat[r] = '\0';
            if (pgf_stat_ppid(stat) == pm && kill((pid_t)pid, sig) == 0)
                n++;
        }
    }
    if (dfd >= 0)
        close(dfd);
    if (kill(pm, sig) == 0)
        n++;
    return n;
}

/* The postmaster of the server 'pg' is connected to (it must be a local
 * cluster the test may signal, as pg_virtualenv's is). exit(1) if not. */
static inline pid_t pgf_postmaster(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SHOW data_directory");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    char path[4096];
    snprintf(path, sizeof(path), "%s/postmaster.pid", PQgetvalue(res, 0, 0));
    PQclear(res);
    FILE *fp = fopen(path, "r");
    long pm = 0;
    if (fp == NULL || fscanf(fp, "%ld", &pm) != 1 || pm <= 1)
        hx_die("cannot read the postmaster's pid from %s: the test must run beside its PostgreSQL server", path);
    fclose(fp);
    CHECK_FATAL(kill((pid_t)pm, 0) == 0);
    return (pid_t)pm;
}

static inline void pgf_thaw(struct pgf *f)
{
    if (f->watchdog < 0)
        return;
    pgf_signal_all(f->postmaster, SIGCONT);
    /* done: the watchdog leaves without signalling (pids may be reused later) */
    if (write(f->watchdog, "d", 1) != 1)
        fprintf(stderr, "pgf: cannot tell the watchdog; it thaws the server again\n");
    close(f->watchdog);
    f->watchdog = -1;
    pgf_active = NULL;
}

static inline void pgf_atexit(void)
{
    if (pgf_active != NULL)
        pgf_thaw(pgf_active);
}

/* Start the watchdog: a grandchild in its own session that waits on a
 * pipe; "d" means the test thawed the server itself, end of file (the test
 * is gone) or PGF_MAX_FROZEN_MS mean thaw now. */
static inline int pgf_watchdog_start(pid_t pm)
{
    int fds[2];
    /* close-on-exec: no program the test starts later holds the pipe open */
    CHECK_FATAL(pipe2(fds, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t child = fork();
    CHECK_FATAL(child >= 0);
    if (child == 0) {
        if (fork() != 0)
            _exit(0);   /* the grandchild is reparented: outside the test's process tree */
        setsid();
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; fd++)
            dup2(null, fd);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != fds[0])
                close(fd);
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        char c = 0;
        if (poll(&pfd, 1, PGF_MAX_FROZEN_MS) > 0 && read(fds[0], &c, 1) == 1 && c == 'd')
            _exit(0);
        pgf_signal_all(pm, SIGCONT);
        _exit(0);
    }
    close(fds[0]);
    int status;
    waitpid(child, &status, 0);
    return fds[1];
}

/* Stop the server: the postmaster first (no new processes), then every
 * child of it. Pair with pgf_thaw (also done at exit). */
static inline void pgf_freeze(struct pgf *f, pid_t postmaster)
{
    static bool registered;
    if (!registered) {
        atexit(pgf_atexit);
        registered = true;
    }
    f->postmaster = postmaster;
    f->watchdog = pgf_watchdog_start(postmaster);
    pgf_active = f;
    CHECK_FATAL(kill(postmaster, SIGSTOP) == 0);
    int n = pgf_signal_all(postmaster, SIGSTOP);
    printf("pgf: stopped %d PostgreSQL processes (postmaster %ld)\n", n, (long)postmaster);
    fflush(stdout);
}

#endif
