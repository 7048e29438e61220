/* test_utf8.c: utf8_seq_len accepts exactly the well-formed sequences. */
#include "check.h"
#include "utf8.h"

static size_t len_of(const char *s, size_t n)
{
    return utf8_seq_len((const unsigned char *)s, n);
}

int main(void)
{
    CHECK_EQ_INT(len_of("a", 1), 1);
    CHECK_EQ_INT(len_of("\xc3\xa9", 2), 2);             /* é */
    CHECK_EQ_INT(len_of("\xe2\x82\xac", 3), 3);         /* € */
    CHECK_EQ_INT(len_of("\xf0\x9f\x98\x80", 4), 4);     /* emoji */
    CHECK_EQ_INT(len_of("\xc3\xa9", 1), 0);             /* cut short */
    CHECK_EQ_INT(len_of("\x80", 1), 0);                 /* stray continuation */
    CHECK_EQ_INT(len_of("\xc0\xaf", 2), 0);             /* overlong '/' */
    CHECK_EQ_INT(len_of("\xe0\x80\xaf", 3), 0);         /* overlong, 3 bytes */
    CHECK_EQ_INT(len_of("\xed\xa0\x80", 3), 0);         /* surrogate U+D800 */
    CHECK_EQ_INT(len_of("\xf4\x90\x80\x80", 4), 0);     /* above U+10FFFF */
    CHECK_EQ_INT(len_of("\xe2\x28\xa1", 3), 0);         /* bad continuation */
    return check_exit();
}
