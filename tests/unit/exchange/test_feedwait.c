/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_feedwait.c: long-poll waiters are woken exactly once: by an announcement for their
 * org, at their deadline, or at stop; an announcement that came before registering makes the
 * registration fail so the caller queries again.
 */
#include "core/dfdg.h"
#include "exchange/feedwait.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <unistd.h>

struct waiter_ctx {
    pthread_mutex_t lock;
    int wakes;        /* times woken */
    int suspends;     /* times before_wait ran */
    int64_t woken_at; /* monotonic us of the first wake */
};

static void
before_wait(void *p)
{
    struct waiter_ctx *c = p;
    pthread_mutex_lock(&c->lock);
    c->suspends++;
    pthread_mutex_unlock(&c->lock);
}

static void
wake(void *p)
{
    struct waiter_ctx *c = p;
    pthread_mutex_lock(&c->lock);
    if (c->wakes++ == 0)
        c->woken_at = dfdg_feedwait_now();
    pthread_mutex_unlock(&c->lock);
}

static int
wakes(struct waiter_ctx *c)
{
    pthread_mutex_lock(&c->lock);
    int n = c->wakes;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void
ctx_init(struct waiter_ctx *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
}

static void
test_announcement_wakes_only_its_org(void **state)
{
    (void)state;
    struct dfdg_feedwait *w;
    assert_int_equal(dfdg_feedwait_new(&w), DFDG_OK);
    struct waiter_ctx a, b;
    ctx_init(&a);
    ctx_init(&b);
    int64_t far = dfdg_feedwait_now() + 60 * 1000000;
    assert_true(dfdg_feedwait_register(w, "akasse:3f", 0, far, before_wait, wake, &a));
    assert_true(dfdg_feedwait_register(w, "kommune:101", 0, far, before_wait, wake, &b));
    assert_int_equal(a.suspends, 1);
    assert_int_equal(dfdg_feedwait_count(w), 2);
    dfdg_feedwait_announce(w, "akasse:3f", 5);
    assert_int_equal(wakes(&a), 1);
    assert_int_equal(wakes(&b), 0);
    assert_int_equal(dfdg_feedwait_count(w), 1);
    dfdg_feedwait_announce(w, "akasse:3f", 6); /* a's waiter is gone: no second wake */
    assert_int_equal(wakes(&a), 1);
    dfdg_feedwait_free(w); /* stop wakes b */
    assert_int_equal(wakes(&b), 1);
}

static void
test_news_before_registering_fails_registration(void **state)
{
    (void)state;
    struct dfdg_feedwait *w;
    assert_int_equal(dfdg_feedwait_new(&w), DFDG_OK);
    struct waiter_ctx a;
    ctx_init(&a);
    int64_t far = dfdg_feedwait_now() + 60 * 1000000;
    dfdg_feedwait_announce(w, "akasse:3f", 10);
    /* A consumer whose query saw up to 7 missed 8..10: it must query again, not wait. */
    assert_false(dfdg_feedwait_register(w, "akasse:3f", 7, far, before_wait, wake, &a));
    assert_int_equal(a.suspends, 0);
    /* One that saw 10 waits. */
    assert_true(dfdg_feedwait_register(w, "akasse:3f", 10, far, before_wait, wake, &a));
    dfdg_feedwait_stop(w);
    assert_int_equal(wakes(&a), 1);
    /* After stop nothing registers. */
    struct waiter_ctx b;
    ctx_init(&b);
    assert_false(dfdg_feedwait_register(w, "akasse:3f", 10, far, before_wait, wake, &b));
    dfdg_feedwait_free(w);
    assert_int_equal(wakes(&b), 0);
}

static void
test_deadline_wakes(void **state)
{
    (void)state;
    struct dfdg_feedwait *w;
    assert_int_equal(dfdg_feedwait_new(&w), DFDG_OK);
    struct waiter_ctx a, b;
    ctx_init(&a);
    ctx_init(&b);
    int64_t t0 = dfdg_feedwait_now();
    assert_true(dfdg_feedwait_register(w, "x", 0, t0 + 200000, before_wait, wake, &a));
    assert_true(dfdg_feedwait_register(w, "y", 0, t0 + 60 * 1000000, before_wait, wake, &b));
    for (int i = 0; i < 300 && wakes(&a) == 0; i++)
        usleep(10000);
    assert_int_equal(wakes(&a), 1);
    assert_true(a.woken_at >= t0 + 200000);
    assert_int_equal(wakes(&b), 0); /* the later deadline has not passed */
    dfdg_feedwait_free(w);
    assert_int_equal(wakes(&b), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announcement_wakes_only_its_org),
        cmocka_unit_test(test_news_before_registering_fails_registration),
        cmocka_unit_test(test_deadline_wakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
