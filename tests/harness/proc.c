/* proc.c: child processes for the harness, and small shared utilities.
 *
 * Environment lists built explicitly (never the whole test environment),
 * fork/execve with output to a log file, waiting with a deadline, log
 * tails for failure reports, free ports, time and random strings.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hx_int.h"

extern char **environ;

void hx_die(const char *fmt, ...)
{
    va_list ap;
    fputs("hx: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

long long hx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long hx_realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hx_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int hx_free_port(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = 0 };
    socklen_t len = sizeof(sin);
    int port = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        goto out;
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        goto out;
    port = ntohs(sin.sin_port);
out:
    if (fd >= 0)
        close(fd);
    if (port <= 0)
        hx_die("cannot find a free port: %s", strerror(errno));
    return port;
}

void hx_random_alnum(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[256];
    size_t done = 0;

    while (done < n) {
        size_t want = n - done < sizeof(rnd) ? n - done : sizeof(rnd);
        ssize_t got = getrandom(rnd, want, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            hx_die("getrandom: %s", strerror(errno));
        }
        /* 248 = 4 * 62: reject the tail so every character is equally likely */
        for (ssize_t i = 0; i < got && done < n; i++)
            if (rnd[i] < 248)
                out[done++] = alphabet[rnd[i] % 62];
    }
    out[n] = '\0';
}

int hx_mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* ---- environment lists ---------------------------------------------------- */

static size_t hx_env_name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static long hx_env_find(const struct hx_env *env, const char *name, size_t len)
{
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], name, len) == 0 && env->v[i][len] == '=')
            return (long)i;
    return -1;
}

void hx_env_put(struct hx_env *env, const char *entry)
{
    size_t len = hx_env_name_len(entry);
    long at = hx_env_find(env, entry, len);

    if (len == 0)
        hx_die("bad environment entry \"%s\"", entry);
    if (entry[len] == '\0') {
        /* a bare NAME removes it */
        if (at >= 0) {
            free(env->v[at]);
            memmove(&env->v[at], &env->v[at + 1], (env->n - (size_t)at) * sizeof(char *));
            env->n--;
        }
        return;
    }
    char *copy = strdup(entry);
    if (!copy)
        hx_die("out of memory");
    if (at >= 0) {
        free(env->v[at]);
        env->v[at] = copy;
        return;
    }
    if (env->n + 2 > env->cap) {
        size_t cap = env->cap ? env->cap * 2 : 32;
        char **v = realloc(env->v, cap * sizeof(char *));
        if (!v)
            hx_die("out of memory");
        env->v = v;
        env->cap = cap;
    }
    env->v[env->n++] = copy;
    env->v[env->n] = NULL;
}

void hx_env_putf(struct hx_env *env, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        hx_die("out of memory");
    hx_env_put(env, s);
    free(s);
}

const char *hx_env_get(const struct hx_env *env, const char *name)
{
    long at = hx_env_find(env, name, strlen(name));
    return at >= 0 ? env->v[at] + strlen(name) + 1 : NULL;
}

void hx_env_inherit(struct hx_env *env)
{
    static const char *const exact[] = { "PATH", "TMPDIR", "TZ", "LANG", "HOME", "LD_LIBRARY_PATH",
                                         "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL };
    for (char **e = environ; e && *e; e++) {
        bool keep = strncmp(*e, "PG", 2) == 0 || strncmp(*e, "LC_", 3) == 0;
        size_t len = hx_env_name_len(*e);
        for (int i = 0; !keep && exact[i]; i++)
            keep = strlen(exact[i]) == len && strncmp(*e, exact[i], len) == 0;
        if (keep && (*e)[len] == '=')
            hx_env_put(env, *e);
    }
    if (!hx_env_get(env, "PATH"))
        hx_env_put(env, "PATH=/usr/local/bin:/usr/bin:/bin");
}

void hx_env_copy(struct hx_env *dst, const struct hx_env *src)
{
    for (size_t i = 0; i < src->n; i++)
        hx_env_put(dst, src->v[i]);
}

void hx_env_free(struct hx_env *env)
{
    for (size_t i = 0; i < env->n; i++)
        free(env->v[i]);
    free(env->v);
    memset(env, 0, sizeof(*env));
}

/* ---- spawn and wait ---------------------------------------------------------- */

pid_t hx_spawn(const char *path, char *const argv[], char *const envp[], const char *log_path)
{
    pid_t parent = getpid();
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = -1;

    if (logfd < 0 || nullfd < 0) {
        fprintf(stderr, "hx: %s: %s\n", logfd < 0 ? log_path : "/dev/null", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "hx: fork: %s\n", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* child of a possibly multi-threaded process: async-signal-safe calls only */
        sigset_t none;
        static const char msg[] = "hx: execve failed\n";
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        for (int sig = 1; sig < 32; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        execve(path, argv, envp);
        if (write(2, msg, sizeof(msg) - 1) < 0)
            _exit(127);
        _exit(127);
    }
out:
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    return pid;
}

int hx_wait_pid(pid_t pid, long timeout_ms, int *wstatus)
{
    long long deadline = hx_now_ms() + timeout_ms;

    for (;;) {
        pid_t r = waitpid(pid, wstatus, timeout_ms < 0 ? 0 : WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR) {
            /* not our child (already reaped elsewhere): report it as gone */
            *wstatus = 0xff00;
            return 0;
        }
        if (timeout_ms >= 0 && hx_now_ms() >= deadline)
            return -1;
        hx_sleep_ms(10);
    }
}

void hx_wstatus_str(int wstatus, char *out, size_t cap)
{
    if (WIFEXITED(wstatus))
        snprintf(out, cap, "exited %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    else
        snprintf(out, cap, "wait status 0x%x", (unsigned)wstatus);
}

void hx_log_tail(const char *path, int lines)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "    (cannot read %s: %s)\n", path, strerror(errno));
        return;
    }
    /* read the last 64 KiB at most, then print its last 'lines' lines */
    static const long window = 65536;
    char *buf = malloc((size_t)window + 1);
    if (!buf) {
        fclose(fp);
        return;
    }
    long start = 0;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long end = ftell(fp);
        start = end > window ? end - window : 0;
    }
    fseek(fp, start, SEEK_SET);
    size_t n = fread(buf, 1, (size_t)window, fp);
    buf[n] = '\0';
    fclose(fp);
    size_t at = n;
    int seen = 0;
    if (at > 0 && buf[at - 1] == '\n')
        at--;
    while (at > 0) {
        if (buf[at - 1] == '\n' && ++seen == lines)
            break;
        at--;
    }
    fprintf(stderr, "    ---- last lines of %s ----\n", path);
    for (char *line = buf + at, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) {
            fprintf(stderr, "    %s\n", line);
            break;
        }
        fprintf(stderr, "    %.*s\n", (int)(nl - line), line);
    }
    fprintf(stderr, "    ----\n");
    free(buf);
}

int hx_run(char *const argv[], const char *log_path, long timeout_ms)
{
    char path[4096] = "";
    const char *dirs = getenv("PATH");
    int wstatus;

    if (strchr(argv[0], '/')) {
        snprintf(path, sizeof(path), "%s", argv[0]);
    } else {
        char *copy = strdup(dirs && *dirs ? dirs : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        if (!copy)
            hx_die("out of memory");
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            snprintf(path, sizeof(path), "%s/%s", d, argv[0]);
            if (access(path, X_OK) == 0)
                break;
            path[0] = '\0';
        }
        free(copy);
    }
    if (!path[0]) {
        fprintf(stderr, "hx: %s: not found in PATH\n", argv[0]);
        return -1;
    }
    pid_t pid = hx_spawn(path, argv, environ, log_path);
    if (pid < 0)
        return -1;
    if (hx_wait_pid(pid, timeout_ms, &wstatus) < 0) {
        kill(pid, SIGKILL);
        hx_wait_pid(pid, -1, &wstatus);
        fprintf(stderr, "hx: %s timed out\n", argv[0]);
        return -1;
    }
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}
