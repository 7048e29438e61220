/* main.c: hookline-dispatcher, which delivers events to webhook endpoints.
 *
 * Run any number of them, on any hosts: they share the partitions of
 * hookline.events in the consumer group hookline-dispatchers. Configured
 * by HOOKLINE_* variables (common/config.c). SIGTERM or SIGINT stops it
 * gracefully: in-flight deliveries finish and are recorded, offsets are
 * committed, and it exits 0.
 */
#include <curl/curl.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"

static volatile sig_atomic_t dispatcher_stop;

static void dispatcher_on_signal(int sig)
{
    (void)sig;
    dispatcher_stop = 1;
}

int main(int argc, char **argv)
{
    struct hl_config cfg;
    struct hl_error err = { 0 };
    enum log_level level = LOG_LVL_INFO;
    if (argc > 1) {
        if (!strcmp(argv[1], "--version")) {
            printf("hookline-dispatcher %s\n", HOOKLINE_VERSION);
            return 0;
        }
        fprintf(argc > 1 && strcmp(argv[1], "--help") ? stderr : stdout,
                "usage: hookline-dispatcher\nDelivers events from Kafka to webhook endpoints; "
                "configured by HOOKLINE_* variables (hookline-api --print-config).\n");
        return strcmp(argv[1], "--help") ? 2 : 0;
    }
    /* first of all: a stop requested during start-up is a graceful one too */
    struct sigaction sa = { .sa_handler = dispatcher_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* idle connections to endpoints are kept by the thousand (deliver.c) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (config_load(&cfg, &err) < 0 || config_require_service(&cfg, &err) < 0) {
        fprintf(stderr, "hookline-dispatcher: %s\n", err.msg);
        return 1;
    }
    log_level_parse(cfg.log_level, &level);
    log_init("dispatcher", level);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc = 1;
    struct dispatcher *dsp = dispatch_new(&cfg, &dispatcher_stop, &err);
    if (dsp == NULL) {
        fprintf(stderr, "hookline-dispatcher: %s\n", err.msg);
        goto out;
    }
    rc = dispatch_run(dsp);
out:
    dispatch_free(dsp);
    curl_global_cleanup();
    return rc;
}
