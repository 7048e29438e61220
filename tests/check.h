/* check.h: the smallest test framework that can fail loudly.
 *
 * CHECK(cond) records a failure with file:line and carries on, so one run
 * shows every broken assertion; CHECK_EQ_INT / CHECK_EQ_STR print both
 * sides. check_exit() ends the test: 0 if nothing failed, 1 otherwise.
 */
#ifndef HL_CHECK_H
#define HL_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)

#define CHECK_EQ_INT(a, b) do { long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
    check_count++; if (check_a_ != check_b_) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
            #a, #b, check_a_, check_b_); } } while (0)

#define CHECK_EQ_STR(a, b) do { const char *check_a_ = (a), *check_b_ = (b); check_count++; \
    if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, \
            #a, #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); } } while (0)

/* Stop the test at once: for set-up failures after which nothing can be checked. */
#define CHECK_FATAL(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: FATAL: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)

static inline int check_exit(void)
{
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    if (check_count == 0)
        return 1; /* a test that checked nothing proves nothing */
    return check_failures == 0 ? 0 : 1;
}

#endif
