/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_writer.c: the group-commit writer. Concurrent submissions share transactions; every
 * request is answered once, after its commit; a failing request is rolled back alone; a full
 * queue refuses with DFDG_BUSY; stop drains the queue.
 */
#include "core/dfdg.h"
#include "core/when.h"
#include "exchange/writer.h"
#include "store/store.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <unistd.h>

struct job {
    struct dfdg_write_req wr; /* first: the writer hands this back */
    int n;                    /* which job */
    bool fail;                /* apply inserts, then reports a store failure */
    int done_calls;           /* done calls for this job */
    pthread_mutex_t lock;     /* guards finished */
    pthread_cond_t cond;      /* signalled by done */
    bool finished;            /* done has run */
};

static char *
make_store(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s-%d.db", DFDG_TEST_TMP, name, (int)getpid());
    unlink(path);
    struct dfdg_store *s = NULL;
    assert_int_equal(dfdg_store_open(path, DFDG_STORE_CREATE, &s, NULL), DFDG_OK);
    dfdg_store_close(s);
    return path;
}

static dfdg_err
apply(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    struct dfdg_store *s = tx->store;
    int64_t tx_time = tx->time;
    struct job *j = (struct job *)wr;
    char key[32];
    snprintf(key, sizeof key, "job-%d", j->n);
    dfdg_err rc = dfdg_store_meta_put(s, key, &tx_time, sizeof tx_time);
    if (rc != DFDG_OK)
        return rc;
    return j->fail ? DFDG_IO : DFDG_OK;
}

static void
done(struct dfdg_write_req *wr)
{
    struct job *j = (struct job *)wr;
    /* The waiter may free j as soon as it sees finished: touch nothing after the unlock. */
    pthread_mutex_lock(&j->lock);
    j->done_calls++;
    j->finished = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

static void
job_init(struct job *j, int n, bool fail)
{
    memset(j, 0, sizeof *j);
    j->wr.apply = apply;
    j->wr.done = done;
    j->n = n;
    j->fail = fail;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
}

static void
job_wait(struct job *j)
{
    pthread_mutex_lock(&j->lock);
    while (!j->finished)
        pthread_cond_wait(&j->cond, &j->lock);
    pthread_mutex_unlock(&j->lock);
}

static void
job_cleanup(struct job *j)
{
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
}

#define THREADS 16
#define PER_THREAD 50

struct submitter {
    struct dfdg_writer *w;
    struct job jobs[PER_THREAD];
    int base;
};

static void *
submit_thread(void *arg)
{
    struct submitter *sb = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        job_init(&sb->jobs[i], sb->base + i, false);
        while (dfdg_writer_submit(sb->w, &sb->jobs[i].wr) == DFDG_BUSY)
            usleep(100);
        job_wait(&sb->jobs[i]); /* like an HTTP client: next request after the answer */
    }
    return NULL;
}

static void
test_group_commit_under_concurrency(void **state)
{
    (void)state;
    const char *path = make_store("writer-group");
    struct dfdg_writer *w = NULL;
    assert_int_equal(dfdg_writer_start(path, 1024, &w, NULL), DFDG_OK);
    static struct submitter sb[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        sb[t].w = w;
        sb[t].base = t * PER_THREAD;
        pthread_create(&th[t], NULL, submit_thread, &sb[t]);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    struct dfdg_writer_stats st;
    dfdg_writer_get_stats(w, &st);
    dfdg_writer_stop(w);
    assert_int_equal(st.requests, THREADS * PER_THREAD);
    assert_int_equal(st.failed, 0);
    /* 16 clients waiting on their commits: groups must be shared. */
    assert_true(st.groups < st.requests);
    struct dfdg_store *s = NULL;
    assert_int_equal(dfdg_store_open(path, DFDG_STORE_OPEN, &s, NULL), DFDG_OK);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            struct job *j = &sb[t].jobs[i];
            assert_int_equal(j->done_calls, 1);
            assert_int_equal(j->wr.rc, DFDG_OK);
            /* Answered only after the commit: the write is visible to a new connection. */
            char key[32];
            int64_t v = 0;
            size_t len = sizeof v;
            snprintf(key, sizeof key, "job-%d", j->n);
            assert_int_equal(dfdg_store_meta_get(s, key, &v, &len), DFDG_OK);
            assert_true(v == j->wr.tx_time);
            job_cleanup(j);
        }
    }
    dfdg_store_close(s);
}

static void
test_failing_request_rolled_back_alone(void **state)
{
    (void)state;
    const char *path = make_store("writer-fail");
    struct dfdg_writer *w = NULL;
    assert_int_equal(dfdg_writer_start(path, 16, &w, NULL), DFDG_OK);
    struct job jobs[3];
    job_init(&jobs[0], 0, false);
    job_init(&jobs[1], 1, true);
    job_init(&jobs[2], 2, false);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dfdg_writer_submit(w, &jobs[i].wr), DFDG_OK);
    for (int i = 0; i < 3; i++)
        job_wait(&jobs[i]);
    dfdg_writer_stop(w);
    assert_int_equal(jobs[0].wr.rc, DFDG_OK);
    assert_int_equal(jobs[1].wr.rc, DFDG_IO);
    assert_int_equal(jobs[2].wr.rc, DFDG_OK);
    struct dfdg_store *s = NULL;
    assert_int_equal(dfdg_store_open(path, DFDG_STORE_OPEN, &s, NULL), DFDG_OK);
    int64_t v;
    size_t len = sizeof v;
    assert_int_equal(dfdg_store_meta_get(s, "job-0", &v, &len), DFDG_OK);
    len = sizeof v;
    assert_int_equal(dfdg_store_meta_get(s, "job-1", &v, &len), DFDG_NOT_FOUND);
    len = sizeof v;
    assert_int_equal(dfdg_store_meta_get(s, "job-2", &v, &len), DFDG_OK);
    dfdg_store_close(s);
    for (int i = 0; i < 3; i++)
        job_cleanup(&jobs[i]);
}

static void
test_tx_time_increases(void **state)
{
    (void)state;
    const char *path = make_store("writer-time");
    struct dfdg_writer *w = NULL;
    assert_int_equal(dfdg_writer_start(path, 16, &w, NULL), DFDG_OK);
    int64_t last = 0;
    for (int i = 0; i < 20; i++) {
        struct job j;
        job_init(&j, i, false);
        assert_int_equal(dfdg_writer_submit(w, &j.wr), DFDG_OK);
        job_wait(&j);
        assert_true(j.wr.tx_time > last);
        last = j.wr.tx_time;
        job_cleanup(&j);
    }
    dfdg_writer_stop(w);
}

/* A job whose apply blocks until released: keeps the writer busy so the queue fills. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static bool gate_entered;

static dfdg_err
apply_gate(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    pthread_mutex_lock(&gate_lock);
    gate_entered = true;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return apply(tx, wr);
}

static void
test_full_queue_is_busy_and_stop_drains(void **state)
{
    (void)state;
    const char *path = make_store("writer-busy");
    struct dfdg_writer *w = NULL;
    assert_int_equal(dfdg_writer_start(path, 2, &w, NULL), DFDG_OK);
    struct job gate, q[3];
    job_init(&gate, 100, false);
    gate.wr.apply = apply_gate;
    assert_int_equal(dfdg_writer_submit(w, &gate.wr), DFDG_OK);
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    for (int i = 0; i < 3; i++)
        job_init(&q[i], i, false);
    assert_int_equal(dfdg_writer_submit(w, &q[0].wr), DFDG_OK);
    assert_int_equal(dfdg_writer_submit(w, &q[1].wr), DFDG_OK);
    assert_int_equal(dfdg_writer_submit(w, &q[2].wr), DFDG_BUSY);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    struct dfdg_writer_stats st;
    dfdg_writer_get_stats(w, &st);
    assert_int_equal(st.rejected, 1);
    dfdg_writer_stop(w); /* drains q[0], q[1] */
    assert_true(gate.finished && q[0].finished && q[1].finished && !q[2].finished);
    assert_int_equal(q[0].wr.rc, DFDG_OK);
    job_cleanup(&gate);
    for (int i = 0; i < 3; i++)
        job_cleanup(&q[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_under_concurrency),
        cmocka_unit_test(test_failing_request_rolled_back_alone),
        cmocka_unit_test(test_tx_time_increases),
        cmocka_unit_test(test_full_queue_is_busy_and_stop_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
