/* testca.c: the test certificate authority, made once per test process.
 *
 * The openssl command line writes into a fresh temporary directory: a CA,
 * a server certificate it issues for 127.0.0.1, ::1 and localhost, and a
 * self-signed certificate with the same names that no one trusts. The
 * directory is removed at exit. Keys are EC P-256 (fast to generate).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hx_int.h"

static pthread_once_t testca_once = PTHREAD_ONCE_INIT;
static char testca_dir[PATH_MAX];
static char testca_ca[PATH_MAX];
static char testca_srv_cert[PATH_MAX];
static char testca_srv_key[PATH_MAX];
static char testca_self_cert[PATH_MAX];
static char testca_self_key[PATH_MAX];

static const char testca_cnf[] =
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = hookline test\n"
    "[v3_ca]\n"
    "basicConstraints = critical,CA:TRUE\n"
    "keyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[v3_srv]\n"
    "basicConstraints = critical,CA:FALSE\n"
    "keyUsage = critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost\n"
    "subjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n"
    "[v3_self]\n"
    "basicConstraints = critical,CA:FALSE\n"
    "keyUsage = critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost\n";

static const char *const testca_files[] = {
    "openssl.cnf", "ca.key", "ca.pem", "server.key", "server.csr", "server.pem",
    "self.key", "self.pem", "openssl.log", NULL,
};

static void testca_remove(void)
{
    char path[PATH_MAX + 32];
    if (!testca_dir[0])
        return;
    for (int i = 0; testca_files[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", testca_dir, testca_files[i]);
        unlink(path);
    }
    rmdir(testca_dir);
}

static void testca_path(char *out, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", testca_dir, name) >= PATH_MAX)
        hx_die("temporary directory path too long");
}

/* Run one openssl command; on failure print its output and exit(1). */
static void testca_openssl(char *const argv[])
{
    char log[PATH_MAX];
    testca_path(log, "openssl.log");
    int rc = hx_run(argv, log, 60000);
    if (rc != 0) {
        fprintf(stderr, "hx: openssl %s failed (status %d)\n", argv[1], rc);
        hx_log_tail(log, 40);
        exit(1);
    }
}

static void testca_make(void)
{
    const char *tmp = getenv("TMPDIR");
    char cnf[PATH_MAX], csr[PATH_MAX], cakey[PATH_MAX], serial[40];
    FILE *fp;

    if (snprintf(testca_dir, sizeof(testca_dir), "%s/hx-ca-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        (int)sizeof(testca_dir))
        hx_die("TMPDIR too long");
    if (!mkdtemp(testca_dir))
        hx_die("mkdtemp %s: %s", testca_dir, strerror(errno));
    atexit(testca_remove);

    testca_path(cnf, "openssl.cnf");
    testca_path(csr, "server.csr");
    testca_path(cakey, "ca.key");
    testca_path(testca_ca, "ca.pem");
    testca_path(testca_srv_cert, "server.pem");
    testca_path(testca_srv_key, "server.key");
    testca_path(testca_self_cert, "self.pem");
    testca_path(testca_self_key, "self.key");

    fp = fopen(cnf, "w");
    if (!fp || fputs(testca_cnf, fp) < 0 || fclose(fp) != 0)
        hx_die("%s: %s", cnf, strerror(errno));

    char *ca[] = { "openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", cakey, "-out", testca_ca,
                   "-days", "30", "-config", cnf, "-extensions", "v3_ca",
                   "-subj", "/CN=hookline test CA", NULL };
    testca_openssl(ca);

    char *req[] = { "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", testca_srv_key, "-out", csr,
                    "-config", cnf, "-subj", "/CN=localhost", NULL };
    testca_openssl(req);

    /* a random serial: certificates from different test processes never collide */
    char rnd[17];
    hx_random_alnum(rnd, 16);
    snprintf(serial, sizeof(serial), "0x%02x%02x%02x%02x%02x%02x%02x%02x",
             (unsigned char)rnd[0], (unsigned char)rnd[1], (unsigned char)rnd[2], (unsigned char)rnd[3],
             (unsigned char)rnd[4], (unsigned char)rnd[5], (unsigned char)rnd[6], (unsigned char)rnd[7]);
    char *sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", testca_ca, "-CAkey", cakey,
                     "-set_serial", serial, "-out", testca_srv_cert, "-days", "30",
                     "-extfile", cnf, "-extensions", "v3_srv", NULL };
    testca_openssl(sign);

    char *self[] = { "openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-keyout", testca_self_key,
                     "-out", testca_self_cert, "-days", "30", "-config", cnf,
                     "-extensions", "v3_self", "-subj", "/CN=localhost", NULL };
    testca_openssl(self);
}

const char *hx_test_ca_file(void)
{
    pthread_once(&testca_once, testca_make);
    return testca_ca;
}

const char *hx_testca_server_cert(void)
{
    pthread_once(&testca_once, testca_make);
    return testca_srv_cert;
}

const char *hx_testca_server_key(void)
{
    pthread_once(&testca_once, testca_make);
    return testca_srv_key;
}

const char *hx_testca_self_cert(void)
{
    pthread_once(&testca_once, testca_make);
    return testca_self_cert;
}

const char *hx_testca_self_key(void)
{
    pthread_once(&testca_once, testca_make);
    return testca_self_key;
}
