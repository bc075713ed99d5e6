/*
 * tui_jobs.h - training runs in the background while the analyst browses.
 *
 * Each job is a worker thread that opens its own read-write Store on the
 * database file, loads the dataset and the split (creating a default
 * random 80/20 split first when asked), records the run as 'running',
 * fits the model, saves its blob and finishes the run (done, failed or
 * cancelled), then evaluates it (full-ranking protocol, K = 10) and stores
 * the metrics. The job owns its model from start to end: the UI never sees
 * it, only copied snapshots (tui_jobs_get) published under a mutex.
 *
 * Every change of a snapshot (at most every 100 ms per job, and always
 * when a job ends) writes a byte to one self-pipe (tui_jobs_fd), so the
 * event loop sleeps in poll() and wakes only when there is news.
 * tui_jobs_generation() grows each time a run row changes in the store
 * (created, finished, evaluated), so screens know when to re-list.
 * Cancellation is an atomic flag per job that the fit checks often.
 *
 * All functions are for the UI thread; the workers touch only their own
 * job under its mutex.
 */
#ifndef RS_TUI_JOBS_H
#define RS_TUI_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "model.h"

#define TUI_JOBS_MAX 8
#define TUI_JOB_NAME 128
#define TUI_JOB_MAXKV MODEL_MAX_PARAMS

typedef enum TuiJobState {
    TUI_JOB_RUNNING = 0, /* loading, training or evaluating */
    TUI_JOB_DONE,
    TUI_JOB_FAILED,
    TUI_JOB_CANCELLED,
} TuiJobState;

/* What to train: like `recscope train`. */
typedef struct TuiJobSpec {
    char algo[32];
    char kv[TUI_JOB_MAXKV][96]; /* "key=value" */
    size_t nkv;
    char split[TUI_JOB_NAME];
    int create_split;           /* make split as random 80/20 (seed 42) if missing */
    char device[8];             /* "auto", "cpu", "gpu" */
    uint64_t seed;
    char name[TUI_JOB_NAME];    /* empty: ALGO-N */
    int evaluate;               /* store full-protocol metrics at K = 10 after */
    int nthreads;               /* <= 0: all cores */
} TuiJobSpec;

/* A copied snapshot of one job. */
typedef struct TuiJobSnap {
    int id;                 /* 1, 2, ... in the order started */
    TuiJobState state;
    char name[TUI_JOB_NAME]; /* the run's name; empty until the run exists */
    char algo[32];
    char phase[32];          /* "loading", "epoch", "evaluating", ... */
    int epoch, epochs;
    double fraction;         /* of the fit, [0, 1] */
    double loss;             /* latest training loss, NAN when none */
    double elapsed;          /* seconds since the job started */
    double eta;              /* seconds left, NAN when unknown */
    int64_t run_id;          /* 0 until the run exists */
    char error[RS_ERRLEN];
} TuiJobSnap;

typedef struct TuiJobs TuiJobs;

/* A job list for the database file db (copied). NULL when out of memory
 * or no pipe can be made (err filled). */
TuiJobs *tui_jobs_new(const char *db, RsErr *err);
/* Cancels every running job, waits for them and frees js. NULL is a no-op. */
void tui_jobs_free(TuiJobs *js);

/* Checks spec against the registry (algorithm, parameters through
 * params_parse, device) without starting anything: RS_EUSAGE with a
 * message listing what is valid. */
int tui_jobs_validate(const TuiJobSpec *spec, RsErr *err);
/* Validates spec and starts a job; *id receives its id. RS_EUSAGE for a
 * bad spec or when TUI_JOBS_MAX jobs are running; RS_EIO when no thread
 * can start. Errors that happen in the worker (no such split, a name in
 * use, a failed fit) end the job as failed with its message. */
int tui_jobs_start(TuiJobs *js, const TuiJobSpec *spec, int *id, RsErr *err);

/* The self-pipe: readable when a snapshot changed. tui_jobs_drain reads
 * it dry. */
int tui_jobs_fd(const TuiJobs *js);
void tui_jobs_drain(TuiJobs *js);

/* Number of jobs (running or ended) started in this session; snapshots by
 * position 0..count-1, or by id / by run name (0 when found, -1 not). */
size_t tui_jobs_count(TuiJobs *js);
int tui_jobs_get(TuiJobs *js, size_t k, TuiJobSnap *out);
int tui_jobs_find(TuiJobs *js, int id, TuiJobSnap *out);
int tui_jobs_find_run(TuiJobs *js, const char *run_name, TuiJobSnap *out);
/* How many jobs are still running. */
size_t tui_jobs_running(TuiJobs *js);
/* Grows whenever a run row was created or changed by a job. */
unsigned tui_jobs_generation(TuiJobs *js);
/* Copies up to cap losses of job id (one per progress report that had
 * one) into out; returns how many it has in all (0 for an unknown id). */
size_t tui_jobs_losses(TuiJobs *js, int id, double *out, size_t cap);
/* Asks job id to stop (atomic; the run ends as cancelled). -1 when there
 * is no such running job. */
int tui_jobs_cancel(TuiJobs *js, int id);

/* Formats a short progress text of a snapshot: "als-1 42% ETA 3s loss
 * 0.123". Returns buf. */
char *tui_job_brief(const TuiJobSnap *s, char *buf, size_t n);

/* The status-line text of the running jobs into buf, at most maxcols
 * columns: "training: als-1 42% ETA 3s loss 0.123 | bpr-1 ..." (jobs cut
 * from the right as "+N"), "" when none runs. Returns buf. */
char *tui_jobs_status(TuiJobs *js, char *buf, size_t n, int maxcols);

#endif
