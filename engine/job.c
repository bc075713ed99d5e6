/* job.c - a training job on a worker thread with a progress snapshot. */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct RsJob {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    RsJobStatus st;       /* guarded by mu */
    double *losses;       /* guarded by mu */
    size_t nloss, cap;
    double t0, last_signal;
    atomic_int cancel;
    int pipe_r, pipe_w;
    RsModel *model;
    FitContext ctx;       /* the caller's, with our callback and flag */
    FitProgressFn user_progress;
    void *user_ctx;
    RsErr err;
};

static void signal_change(RsJob *j, int force)
{
    double t = rs_now();
    if (!force && t - j->last_signal < 0.1)
        return;
    j->last_signal = t;
    char c = 1;
    ssize_t w = write(j->pipe_w, &c, 1); /* non-blocking: a full pipe is fine */
    (void)w;
}

static int on_progress(void *arg, const FitProgress *p)
{
    RsJob *j = arg;
    pthread_mutex_lock(&j->mu);
    RsJobStatus *s = &j->st;
    snprintf(s->phase, sizeof s->phase, "%s", p->phase ? p->phase : "");
    s->epoch = p->epoch;
    s->epochs = p->epochs;
    s->fraction = p->fraction < 0 ? 0 : p->fraction > 1 ? 1 : p->fraction;
    s->loss = p->loss;
    s->valid = p->valid;
    snprintf(s->valid_name, sizeof s->valid_name, "%s", p->valid_name ? p->valid_name : "");
    s->elapsed = rs_now() - j->t0;
    s->eta = s->fraction > 0.01 ? s->elapsed * (1 - s->fraction) / s->fraction : NAN;
    if (!isnan(p->loss)) {
        if (j->nloss == j->cap) {
            size_t nc = j->cap ? j->cap * 2 : 64;
            double *nl = realloc(j->losses, nc * sizeof *nl);
            if (nl) {
                j->losses = nl;
                j->cap = nc;
            }
        }
        if (j->nloss < j->cap)
            j->losses[j->nloss++] = p->loss;
    }
    pthread_mutex_unlock(&j->mu);
    signal_change(j, 0);
    return j->user_progress ? j->user_progress(j->user_ctx, p) : 0;
}

static void *job_main(void *arg)
{
    RsJob *j = arg;
    int rc = model_fit(j->model, &j->ctx, &j->err);
    pthread_mutex_lock(&j->mu);
    j->st.rc = rc;
    j->st.elapsed = rs_now() - j->t0;
    j->st.eta = 0;
    if (rc == RS_OK) {
        j->st.state = JOB_DONE;
        j->st.fraction = 1;
    } else {
        j->st.state = rc == RS_ECANCEL ? JOB_CANCELLED : JOB_FAILED;
        snprintf(j->st.error, sizeof j->st.error, "%s", j->err.msg);
    }
    pthread_mutex_unlock(&j->mu);
    signal_change(j, 1);
    return NULL;
}

int job_start_fit(RsModel *m, const FitContext *ctx, RsJob **out, RsErr *err)
{
    *out = NULL;
    RsJob *j = calloc(1, sizeof *j);
    if (!j)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int fds[2];
    if (pipe(fds) != 0) {
        free(j);
        return rs_err_set(err, RS_EIO, "cannot create a pipe: %s", strerror(errno));
    }
    j->pipe_r = fds[0];
    j->pipe_w = fds[1];
    fcntl(j->pipe_r, F_SETFL, O_NONBLOCK);
    fcntl(j->pipe_w, F_SETFL, O_NONBLOCK);
    pthread_mutex_init(&j->mu, NULL);
    atomic_init(&j->cancel, 0);
    j->model = m;
    j->ctx = *ctx;
    j->user_progress = ctx->progress;
    j->user_ctx = ctx->progress_ctx;
    j->ctx.progress = on_progress;
    j->ctx.progress_ctx = j;
    j->ctx.cancel = &j->cancel;
    j->st.state = JOB_RUNNING;
    j->st.loss = j->st.valid = j->st.eta = NAN;
    snprintf(j->st.phase, sizeof j->st.phase, "starting");
    j->t0 = rs_now();
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        j->model = NULL; /* still the caller's */
        job_free(j);
        return rs_err_set(err, RS_EIO, "cannot start a thread");
    }
    j->started = 1;
    *out = j;
    return RS_OK;
}

void job_status(RsJob *j, RsJobStatus *out)
{
    pthread_mutex_lock(&j->mu);
    *out = j->st;
    if (out->state == JOB_RUNNING)
        out->elapsed = rs_now() - j->t0;
    pthread_mutex_unlock(&j->mu);
}

size_t job_loss_history(RsJob *j, double *out, size_t cap)
{
    pthread_mutex_lock(&j->mu);
    size_t n = j->nloss;
    if (out)
        memcpy(out, j->losses, (n < cap ? n : cap) * sizeof *out);
    pthread_mutex_unlock(&j->mu);
    return n;
}

void job_cancel(RsJob *j) { atomic_store(&j->cancel, 1); }

int job_fd(RsJob *j) { return j->pipe_r; }

void job_drain(RsJob *j)
{
    char buf[64];
    while (read(j->pipe_r, buf, sizeof buf) > 0)
        ;
}

int job_wait(RsJob *j, RsErr *err)
{
    if (j->started) {
        pthread_join(j->thread, NULL);
        j->started = 0;
    }
    if (j->st.rc && err)
        *err = j->err;
    return j->st.rc;
}

RsModel *job_take_model(RsJob *j)
{
    if (j->started || j->st.state != JOB_DONE)
        return NULL;
    RsModel *m = j->model;
    j->model = NULL;
    return m;
}

void job_free(RsJob *j)
{
    if (!j)
        return;
    if (j->started) {
        job_cancel(j);
        job_wait(j, NULL);
    }
    model_free(j->model);
    close(j->pipe_r);
    close(j->pipe_w);
    pthread_mutex_destroy(&j->mu);
    free(j->losses);
    free(j);
}
