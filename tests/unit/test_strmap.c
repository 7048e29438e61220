/* test_strmap.c: the string map keeps every key through growth and
 * deletions (backward shift must not lose colliding entries). */
#include "check.h"
#include "strmap.h"

#include <stdint.h>

int main(void)
{
    struct strmap *m = strmap_new();
    CHECK_FATAL(m != NULL);
    char key[32];
    enum { N = 20000 };
    for (intptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        CHECK_FATAL(strmap_put(m, key, (void *)(i + 1), NULL) == 0);
    }
    CHECK_EQ_INT(strmap_size(m), N);
    /* delete every third key, then every remaining key must still resolve */
    for (intptr_t i = 0; i < N; i += 3) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        CHECK(strmap_del(m, key) == (void *)(i + 1));
    }
    int wrong = 0;
    for (intptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        void *want = i % 3 == 0 ? NULL : (void *)(i + 1);
        wrong += strmap_get(m, key) != want;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(strmap_size(m), N - (N + 2) / 3);
    void *old = NULL;
    CHECK(strmap_put(m, "k1", (void *)7, &old) == 0);
    CHECK(old == (void *)2);
    CHECK(strmap_get(m, "k1") == (void *)7);
    CHECK(strmap_del(m, "absent") == NULL);
    strmap_free(m, NULL);
    return check_exit();
}
