/* devbroker.c: hookline-devbroker, an in-memory Kafka for development and tests.
 *
 * Starts librdkafka's mock cluster (rdkafka_mock.h) with one broker on a
 * random loopback port, creates hookline.events (12 partitions) and
 * hookline.webhooks (3 partitions), prints "bootstrap: HOST:PORT" and serves
 * the Kafka wire protocol (produce, fetch, consumer groups, offset commits)
 * to any number of client processes until SIGTERM/SIGINT. Nothing is stored
 * on disk: everything is lost at exit. Never use it in production.
 *
 * Fault injection: SIGUSR1 takes the broker down, SIGUSR2 brings it up.
 * Checked against the installed librdkafka 2.0.2: rd_kafka_mock_broker_set_down()
 * closes every client connection AND the listening socket, so clients get
 * "connection refused" and retry with backoff; no request is answered, no
 * produce is acknowledged. Partition leadership does not move (the header says
 * so: "does NOT trigger leader change"). set_up() listens again on the same
 * port and clients reconnect on their next backoff tick. Both calls are
 * synchronous: they return once the mock thread applied the change. The
 * signals are taken with sigwaitinfo() in main, never in a handler. Standard
 * signals do not queue: send one, then wait for the --state-file to show the
 * new state before sending the next.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct devbroker_topic {
    const char *name;
    int partitions;
};

static const struct devbroker_topic devbroker_topics[] = {
    { "hookline.events", 12 },
    { "hookline.webhooks", 3 },
};

static void devbroker_usage(FILE *out)
{
    fprintf(out,
        "usage: hookline-devbroker [--bootstrap-file PATH] [--state-file PATH]\n"
        "\n"
        "An in-memory Kafka broker for development and tests only (librdkafka's\n"
        "mock cluster): one broker on a random 127.0.0.1 port, topics\n"
        "hookline.events (12 partitions) and hookline.webhooks (3 partitions),\n"
        "consumer groups and offset commits. Nothing is persisted; production\n"
        "runs Apache Kafka.\n"
        "\n"
        "  --bootstrap-file PATH  also write the bootstrap address (host:port) to\n"
        "                         PATH (atomically: a temporary file, then rename)\n"
        "  --state-file PATH      write \"up\" or \"down\" to PATH (atomically) at start\n"
        "                         and after every state change\n"
        "  --help                 show this text\n"
        "\n"
        "Prints \"bootstrap: HOST:PORT\" on stdout once ready.\n"
        "Signals: SIGUSR1 takes the broker down (connections and listener closed:\n"
        "clients get connection refused), SIGUSR2 brings it up again on the same port,\n"
        "SIGTERM, SIGINT or SIGHUP stop it (exit status 0).\n");
}

/* Write 'text' into 'path' through 'path.tmp' and rename(2), so a reader
 * never sees a partial file. Returns 0, or -1 with a message on stderr. */
static int devbroker_write_file(const char *path, const char *text)
{
    char tmp[4096];
    int rc = -1;
    FILE *fp = NULL;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        fprintf(stderr, "hookline-devbroker: path too long: %s\n", path);
        goto out;
    }
    fp = fopen(tmp, "w");
    if (!fp) {
        fprintf(stderr, "hookline-devbroker: %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    if (fprintf(fp, "%s\n", text) < 0 || fflush(fp) != 0) {
        fprintf(stderr, "hookline-devbroker: %s: write failed: %s\n", tmp, strerror(errno));
        goto out;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        fprintf(stderr, "hookline-devbroker: %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    fp = NULL;
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "hookline-devbroker: rename %s: %s\n", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fp)
        fclose(fp);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* librdkafka log callback: one line on stderr, except the dummy handle's
 * warning that it has no bootstrap.servers (it never connects anywhere). */
static void devbroker_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (strstr(buf, "bootstrap.servers") != NULL)
        return;
    fprintf(stderr, "hookline-devbroker: rdkafka %d %s: %s\n", level, fac, buf);
}

int main(int argc, char **argv)
{
    const char *bootstrap_file = NULL;
    const char *state_file = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    char errstr[512];
    sigset_t sigs;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            devbroker_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--bootstrap-file") == 0 && i + 1 < argc) {
            bootstrap_file = argv[++i];
        } else if (strcmp(argv[i], "--state-file") == 0 && i + 1 < argc) {
            state_file = argv[++i];
        } else {
            fprintf(stderr, "hookline-devbroker: unknown or incomplete argument: %s\n", argv[i]);
            devbroker_usage(stderr);
            return 2;
        }
    }

    /* block before librdkafka starts its threads, so they inherit the mask
     * and every signal reaches sigwaitinfo() below */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        fprintf(stderr, "hookline-devbroker: cannot block signals\n");
        goto out;
    }

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, devbroker_log);
    if (rd_kafka_conf_set(conf, "client.id", "hookline-devbroker", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "hookline-devbroker: %s\n", errstr);
        goto out;
    }
    /* a handle that never connects anywhere: it only hosts the mock cluster */
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "hookline-devbroker: rd_kafka_new: %s\n", errstr);
        goto out;
    }
    conf = NULL; /* owned by rk */

    mcluster = rd_kafka_mock_cluster_new(rk, 1);
    if (!mcluster) {
        fprintf(stderr, "hookline-devbroker: cannot create the mock cluster\n");
        goto out;
    }
    for (size_t i = 0; i < sizeof(devbroker_topics) / sizeof(devbroker_topics[0]); i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, devbroker_topics[i].name,
                                                             devbroker_topics[i].partitions, 1);
        if (err) {
            fprintf(stderr, "hookline-devbroker: create topic %s: %s\n", devbroker_topics[i].name,
                    rd_kafka_err2str(err));
            goto out;
        }
    }

    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    if (state_file && devbroker_write_file(state_file, "up") < 0)
        goto out;
    if (bootstrap_file && devbroker_write_file(bootstrap_file, bootstraps) < 0)
        goto out;
    printf("bootstrap: %s\n", bootstraps);
    fflush(stdout);

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&sigs, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "hookline-devbroker: sigwaitinfo: %s\n", strerror(errno));
            goto out;
        }
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            int up = sig == SIGUSR2;
            rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mcluster, -1)
                                         : rd_kafka_mock_broker_set_down(mcluster, -1);
            if (err) {
                fprintf(stderr, "hookline-devbroker: set %s: %s\n", up ? "up" : "down", rd_kafka_err2str(err));
                continue;
            }
            /* the state file changes only after the mock thread applied it */
            if (state_file && devbroker_write_file(state_file, up ? "up" : "down") < 0)
                goto out;
            printf("broker: %s\n", up ? "up" : "down");
            fflush(stdout);
            continue;
        }
        /* SIGTERM, SIGINT, SIGHUP */
        break;
    }
    rc = 0;
out:
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}
