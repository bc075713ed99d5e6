/*
 * job.h - training a model on a worker thread.
 *
 * The job owns the model while it trains; the caller gets it back with
 * job_take_model() once the job has finished. Progress is published as a
 * copied snapshot under a mutex (job_status), with the history of the loss
 * for live curves, and a self-pipe becomes readable whenever it changes
 * (at most every 100 ms), so a UI can sleep in poll() instead of spinning
 * (the Redis bio.c pattern). Cancellation is an atomic flag the model's fit
 * checks often.
 *
 * job_status, job_cancel and job_fd are thread-safe; the other calls are
 * for the thread that started the job.
 */
#ifndef RS_JOB_H
#define RS_JOB_H

#include <stddef.h>

#include "model.h"

typedef enum { JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } JobState;

typedef struct RsJobStatus {
    JobState state;
    char phase[32];
    int epoch, epochs;
    double fraction;      /* of the whole fit, [0, 1] */
    double loss;          /* latest training loss, NAN when none */
    double valid;         /* latest validation metric, NAN when none */
    char valid_name[16];
    double elapsed;       /* seconds since the start */
    double eta;           /* seconds left (estimate), NAN when unknown */
    int rc;               /* RS_OK while running and on success */
    char error[RS_ERRLEN];
} RsJobStatus;

typedef struct RsJob RsJob;

/* Starts fitting m with ctx on a new thread. Takes ownership of m until
 * job_take_model(); ctx is copied, but the matrices and catalogue it points
 * to must outlive the job. ctx->cancel and ctx->progress are replaced by the
 * job's own (ctx->progress, when set, is still called from the worker). */
int job_start_fit(RsModel *m, const FitContext *ctx, RsJob **out, RsErr *err);
void job_status(RsJob *j, RsJobStatus *out);
/* Copies up to cap losses (one per progress report that had one) into
 * out; returns how many there are in all. */
size_t job_loss_history(RsJob *j, double *out, size_t cap);
void job_cancel(RsJob *j);
/* A file descriptor that becomes readable when the status changed; read
 * it dry with job_drain(). */
int job_fd(RsJob *j);
void job_drain(RsJob *j);
/* Waits for the worker to finish; returns its result code. */
int job_wait(RsJob *j, RsErr *err);
/* After job_wait(): the trained model (ownership passes to the caller), or
 * NULL when the fit failed or was cancelled (the model is then freed by
 * job_free). */
RsModel *job_take_model(RsJob *j);
/* Waits for the job if it still runs (cancelling it first) and frees it. */
void job_free(RsJob *j);

#endif
