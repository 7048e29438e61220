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

/* The operational types belong to the group "operational", not to their
 * prefix: "webhook" (the group of webhook.test) does not take
 * webhook.disabled, and no business type is operational. */
static void test_operational(void)
{
    const char *ops[] = { "webhook.disabled", "endpoint.failing", "endpoint.recovered", "delivery.exhausted" };
    char group[32];
    for (size_t i = 0; i < 4; i++) {
        CHECK(catalog_is_operational(ops[i]));
        CHECK(catalog_matches(ops[i], ops[i]));
        CHECK(catalog_matches("operational", ops[i]));
        CHECK(catalog_group_of(ops[i], group, sizeof(group)));
        CHECK_EQ_STR(group, "operational");
    }
    CHECK(!catalog_matches("webhook", "webhook.disabled"));
    CHECK(!catalog_matches("endpoint", "endpoint.failing"));
    CHECK(!catalog_matches("delivery", "delivery.exhausted"));
    CHECK(catalog_matches("webhook", "webhook.test"));
    CHECK(!catalog_matches("operational", "webhook.test"));
    CHECK(!catalog_is_operational("webhook.test"));
    CHECK(!catalog_is_operational("booking.scheduled"));
    CHECK(!catalog_is_operational("endpoint"));
    CHECK(catalog_group_of("booking.scheduled", group, sizeof(group)));
    CHECK_EQ_STR(group, "booking");
    CHECK(!catalog_group_of("booking", group, sizeof(group)));
    CHECK(!catalog_group_of("endpoint.failing", group, 5));
}

int main(void)
{
    test_exact_type();
    test_group();
    test_dotted_prefix_is_not_group();
    test_group_len();
    test_operational();
    return check_exit();
}
