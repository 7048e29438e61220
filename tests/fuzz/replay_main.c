/* replay_main.c: run a fuzz target over files without libFuzzer.
 *
 * Each argument is a file or a folder; every regular file in a folder is
 * fed to LLVMFuzzerTestOneInput in name order. Exits 1 if an input cannot
 * be read or nothing was replayed (an empty corpus proves nothing); a bug
 * the target finds aborts, as it would under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_INPUT (16 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the target. Returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        goto out;
    }
    buf = malloc(REPLAY_MAX_INPUT);
    if (buf == NULL)
        goto out;
    size_t n = fread(buf, 1, REPLAY_MAX_INPUT, f);
    if (ferror(f)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        goto out;
    }
    /* an exact-size copy, so the sanitizers see reads past the input */
    uint8_t *input = malloc(n > 0 ? n : 1);
    if (input == NULL)
        goto out;
    memcpy(input, buf, n);
    LLVMFuzzerTestOneInput(input, n);
    free(input);
    rc = 0;
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

static int replay_skip_hidden(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    int count = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or folder %s\n", argv[i]);
            failed++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += replay_file(argv[i]) < 0;
            count++;
            continue;
        }
        struct dirent **names = NULL;
        int n = scandir(argv[i], &names, replay_skip_hidden, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: cannot list %s\n", argv[i]);
            failed++;
            continue;
        }
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                failed += replay_file(path) < 0;
                count++;
            }
            free(names[k]);
        }
        free(names);
    }
    fprintf(stderr, "replay: %d inputs, %d unreadable\n", count, failed);
    return (count == 0 || failed > 0) ? 1 : 0;
}
