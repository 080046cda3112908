/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_conntrack.c: the request arrival deadline (src/api/conntrack.c) on socket pairs: a
 * connection still receiving past the deadline is shut down (its peer sees the end of the
 * stream), one whose request has arrived is left alone until its next request starts, a
 * closed one is forgotten, a timeout of 0 cuts nothing, and drained body bytes are bounded.
 */
#include "core/dfdg.h"
#include "api/conntrack.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/* Whether the peer of the tracked end sees the end of the stream within ms milliseconds. */
static bool
peer_sees_eof(int peer, int ms)
{
    struct pollfd p = {.fd = peer, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return false;
    char c;
    return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

static void
test_receiving_past_deadline_is_cut(void **state)
{
    (void)state;
    struct dfdg_conntrack *ct = NULL;
    assert_int_equal(dfdg_conntrack_new(1, &ct), DFDG_OK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct dfdg_conn *c = dfdg_conntrack_open(ct, sv[0]);
    assert_non_null(c);
    assert_false(peer_sees_eof(sv[1], 500)); /* not before the deadline */
    assert_true(peer_sees_eof(sv[1], 3000));
    assert_int_equal(dfdg_conntrack_cut_count(ct), 1);
    dfdg_conntrack_close(ct, c);
    dfdg_conntrack_free(ct);
    close(sv[0]);
    close(sv[1]);
}

static void
test_arrived_is_left_alone_until_next(void **state)
{
    (void)state;
    struct dfdg_conntrack *ct = NULL;
    assert_int_equal(dfdg_conntrack_new(1, &ct), DFDG_OK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct dfdg_conn *c = dfdg_conntrack_open(ct, sv[0]);
    dfdg_conntrack_arrived(ct, c);
    assert_false(peer_sees_eof(sv[1], 1800)); /* being answered: never cut */
    assert_int_equal(dfdg_conntrack_cut_count(ct), 0);
    dfdg_conntrack_next(ct, c); /* the next request's clock starts now */
    assert_false(peer_sees_eof(sv[1], 500));
    assert_true(peer_sees_eof(sv[1], 3000));
    assert_int_equal(dfdg_conntrack_cut_count(ct), 1);
    dfdg_conntrack_close(ct, c);
    dfdg_conntrack_free(ct);
    close(sv[0]);
    close(sv[1]);
}

static void
test_closed_is_forgotten(void **state)
{
    (void)state;
    struct dfdg_conntrack *ct = NULL;
    assert_int_equal(dfdg_conntrack_new(1, &ct), DFDG_OK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    dfdg_conntrack_close(ct, dfdg_conntrack_open(ct, sv[0]));
    assert_false(peer_sees_eof(sv[1], 1800));
    assert_int_equal(dfdg_conntrack_cut_count(ct), 0);
    /* One left open is freed with the tracker (no leak under ASan). */
    assert_non_null(dfdg_conntrack_open(ct, sv[0]));
    dfdg_conntrack_free(ct);
    close(sv[0]);
    close(sv[1]);
}

static void
test_zero_means_no_deadline(void **state)
{
    (void)state;
    struct dfdg_conntrack *ct = NULL;
    assert_int_equal(dfdg_conntrack_new(0, &ct), DFDG_OK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct dfdg_conn *c = dfdg_conntrack_open(ct, sv[0]);
    assert_false(peer_sees_eof(sv[1], 1500));
    assert_int_equal(dfdg_conntrack_cut_count(ct), 0);
    dfdg_conntrack_close(ct, c);
    dfdg_conntrack_free(ct);
    close(sv[0]);
    close(sv[1]);
}

static void
test_drain_is_bounded_per_request(void **state)
{
    (void)state;
    struct dfdg_conntrack *ct = NULL;
    assert_int_equal(dfdg_conntrack_new(60, &ct), DFDG_OK);
    struct dfdg_conn *c = dfdg_conntrack_open(ct, 0);
    assert_true(dfdg_conntrack_drain(ct, c, 600, 1000));
    assert_true(dfdg_conntrack_drain(ct, c, 400, 1000));
    assert_false(dfdg_conntrack_drain(ct, c, 1, 1000));
    assert_false(dfdg_conntrack_drain(ct, c, SIZE_MAX, 1000)); /* saturates, no wrap */
    dfdg_conntrack_next(ct, c);                                /* a new request starts from zero */
    assert_true(dfdg_conntrack_drain(ct, c, 1000, 1000));
    dfdg_conntrack_close(ct, c);
    /* Untracked connections (NULL) and a NULL tracker are accepted everywhere. */
    assert_true(dfdg_conntrack_drain(ct, NULL, SIZE_MAX, 0));
    assert_null(dfdg_conntrack_open(NULL, 0));
    assert_null(dfdg_conntrack_open(ct, -1));
    dfdg_conntrack_arrived(NULL, NULL);
    dfdg_conntrack_next(ct, NULL);
    dfdg_conntrack_close(ct, NULL);
    assert_int_equal(dfdg_conntrack_cut_count(NULL), 0);
    dfdg_conntrack_free(ct);
    dfdg_conntrack_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receiving_past_deadline_is_cut),
        cmocka_unit_test(test_arrived_is_left_alone_until_next),
        cmocka_unit_test(test_closed_is_forgotten),
        cmocka_unit_test(test_zero_means_no_deadline),
        cmocka_unit_test(test_drain_is_bounded_per_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
