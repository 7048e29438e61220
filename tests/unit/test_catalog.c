/* test_catalog.c: matching event types against subscribed types and
 * groups, and the group part of a type. */
#include "catalog.h"
#include "check.h"

/* A subscription to a full type matches that type only. */
static void test_exact_type(void)
{
    CHECK(catalog_matches("booking.scheduled", "booking.scheduled"));
    CHECK(!catalog_matches("booking.scheduled", "booking.rescheduled"));
    CHECK(!catalog_matches("booking.scheduled", "booking.scheduled.v2"));
    CHECK(!catalog_matches("booking.canceled", "booking.canceled_then_rescheduled"));
}

/* A group name (no dot) covers every "<group>.*" type and nothing else:
 * not another group sharing a prefix, not the bare group as a type of
 * another group. */
static void test_group(void)
{
    CHECK(catalog_matches("booking", "booking.scheduled"));
    CHECK(catalog_matches("booking", "booking.canceled_then_rescheduled"));
    CHECK(catalog_matches("conversation", "conversation.closed"));
    CHECK(!catalog_matches("booking", "conversation.started"));
    CHECK(!catalog_matches("book", "booking.scheduled"));
    CHECK(!catalog_matches("bookings", "booking.scheduled"));
    CHECK(!catalog_matches("booking", "bookingx.scheduled"));
    CHECK(catalog_matches("booking", "booking"));
}

/* A dotted prefix is not a group: "booking.canceled" does not cover
 * "booking.canceled.x". */
static void test_dotted_prefix_is_not_group(void)
{
    CHECK(!catalog_matches("booking.canceled", "booking.canceled.late"));
}

/* catalog_group_len: up to the first dot, or the whole name. */
static void test_group_len(void)
{
    CHECK_EQ_INT(catalog_group_len("booking.scheduled"), 7);
    CHECK_EQ_INT(catalog_group_len("webhook.test"), 7);
    CHECK_EQ_INT(catalog_group_len("a.b.c"), 1);
    CHECK_EQ_INT(catalog_group_len("booking"), 7);
    CHECK_EQ_INT(catalog_group_len(""), 0);
    CHECK_EQ_INT(catalog_group_len(".x"), 0);
}

int main(void)
{
    test_exact_type();
    test_group();
    test_dotted_prefix_is_not_group();
    test_group_len();
    return check_exit();
}
