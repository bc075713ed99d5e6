/*
 * tui_jobs.c - background training for the TUI (see tui_jobs.h).
 *
 * Design: a fixed array of job slots, each with a worker thread, a mutex
 * over its snapshot and loss history, and an atomic cancel flag. The
 * worker does everything that may take time or write (opening its own
 * read-write store, loading, splitting, fitting, saving, evaluating), so
 * the UI thread only copies snapshots. Run names are chosen and created
 * under one process-wide mutex, so two jobs of one algorithm started
 * together get different names. A shared non-blocking self-pipe wakes the
 * UI (Redis bio.c).
 */
#include "tui_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "metrics.h"
#include "parallel.h"
#include "session.h"
#include "split.h"

typedef struct TuiJob {
    TuiJobs *owner;
    TuiJobSpec spec;
    pthread_t thread;
    int started;             /* thread created, not joined */
    pthread_mutex_t mu;
    TuiJobSnap snap;         /* guarded by mu */
    double *losses;          /* guarded by mu */
    size_t nloss, cap;
    double t0, last_signal;  /* worker only */
    atomic_int cancel;
} TuiJob;

struct TuiJobs {
    char *db;
    int pipe_r, pipe_w;
    TuiJob *jobs[TUI_JOBS_MAX * 4];
    size_t n;
    atomic_uint generation;
};

static void wake(TuiJob *j, int force)
{
    double t = rs_now();
    if (!force && t - j->last_signal < 0.1)
        return;
    j->last_signal = t;
    char c = 1;
    ssize_t w = write(j->owner->pipe_w, &c, 1); /* a full pipe is fine */
    (void)w;
}

static void set_phase(TuiJob *j, const char *phase)
{
    pthread_mutex_lock(&j->mu);
    snprintf(j->snap.phase, sizeof j->snap.phase, "%s", phase);
    j->snap.elapsed = rs_now() - j->t0;
    pthread_mutex_unlock(&j->mu);
    wake(j, 1);
}

static void bump(TuiJob *j)
{
    atomic_fetch_add(&j->owner->generation, 1u);
    wake(j, 1);
}

static int on_progress(void *arg, const FitProgress *p)
{
    TuiJob *j = arg;
    pthread_mutex_lock(&j->mu);
    TuiJobSnap *s = &j->snap;
    snprintf(s->phase, sizeof s->phase, "%s", p->phase ? p->phase : "training");
    s->epoch = p->epoch;
    s->epochs = p->epochs;
    s->fraction = p->fraction < 0 ? 0 : p->fraction > 1 ? 1 : p->fraction;
    s->loss = p->loss;
    s->elapsed = rs_now() - j->t0;
    s->eta = s->fraction > 0.01 || (s->fraction > 0 && s->elapsed > 1)
                 ? s->elapsed * (1 - s->fraction) / s->fraction : NAN;
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
    wake(j, 0);
    return atomic_load(&j->cancel);
}

static pthread_mutex_t jobs_name_mu = PTHREAD_MUTEX_INITIALIZER;

/* The split, made as random 80/20 (seed 42) first when asked and missing
 * (checked and made under jobs_name_mu, so two jobs started together make
 * it once; one made meanwhile by another process is loaded instead). */
static int load_split(Session *se, const TuiJobSpec *sp, RsErr *err)
{
    StoreSplitInfo info;
    pthread_mutex_lock(&jobs_name_mu);
    int rc = RS_OK;
    if (sp->create_split && store_split_info(se->store, sp->split, &info, NULL) != RS_OK) {
        SplitParams p = { .method = SPLIT_RANDOM, .test_frac = 0.2, .seed = 42 };
        uint8_t *part = calloc(se->d->all->NNZ ? se->d->all->NNZ : 1, 1);
        if (!part) {
            pthread_mutex_unlock(&jobs_name_mu);
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        }
        rc = split_make(se->d->all, &p, part, err);
        if (!rc)
            rc = store_split_save(se->store, sp->split, "random",
                                  "{\"test_frac\":0.2,\"valid_frac\":0}", 42, se->d, part, 0, err);
        free(part);
    }
    pthread_mutex_unlock(&jobs_name_mu);
    if (rc && store_split_info(se->store, sp->split, &info, NULL) != RS_OK)
        return rc;
    return session_split(se, sp->split, err);
}

/* auto: the GPU when there is one and the class has GPU code. */
static int pick_device(const char *want, const ModelClass *cls, int *dev, char *name, size_t cap,
                       RsErr *err)
{
    *dev = RS_DEVICE_CPU;
    snprintf(name, cap, "cpu");
    if (!strcmp(want, "cpu"))
        return RS_OK;
    RsGpuInfo gi;
    gpu_probe(&gi);
    if (gi.devices > 0 && (cls->flags & MODEL_GPU)) {
        *dev = RS_DEVICE_GPU;
        snprintf(name, cap, "gpu: %s", gi.name);
        return RS_OK;
    }
    if (!strcmp(want, "gpu"))
        return rs_err_set(err, RS_EGPU, "device gpu: %s",
                          !(cls->flags & MODEL_GPU) ? "this algorithm has no GPU version"
                                                    : gi.message);
    return RS_OK;
}

/* Creates the run under a fresh or the given name. */
static int create_run(TuiJob *j, Session *se, const ModelClass *cls, const ParamValues *pv,
                      const char *devname, RsErr *err)
{
    char name[TUI_JOB_NAME];
    char *json = params_to_json(cls->params, cls->nparams, pv);
    int64_t id = 0;
    if (!json)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    pthread_mutex_lock(&jobs_name_mu);
    int rc = RS_OK;
    if (j->spec.name[0])
        snprintf(name, sizeof name, "%s", j->spec.name);
    else
        rc = store_run_fresh_name(se->store, cls->name, name, sizeof name, err);
    if (!rc)
        rc = store_run_create(se->store, name, cls->name, json, se->split.id, devname,
                              j->spec.seed, &id, err);
    pthread_mutex_unlock(&jobs_name_mu);
    free(json);
    if (rc)
        return rc;
    pthread_mutex_lock(&j->mu);
    snprintf(j->snap.name, sizeof j->snap.name, "%s", name);
    j->snap.run_id = id;
    pthread_mutex_unlock(&j->mu);
    bump(j);
    return RS_OK;
}

/* Evaluates the trained model (full protocol, K = 10) and stores the
 * metrics under "full". */
static int evaluate(TuiJob *j, Session *se, const RsModel *m, int64_t run_id, RsErr *err)
{
    EvalOptions o;
    EvalResult *r = NULL;
    eval_options_default(&o);
    o.ks[0] = 10;
    o.nks = 1;
    o.nthreads = j->spec.nthreads;
    o.cancel = &j->cancel;
    /* a factor model ranks on the GPU unless the form said cpu; any GPU
     * failure falls back to the CPU */
    RsGpuInfo gi;
    RsErr why;
    gpu_probe(&gi);
    if (strcmp(j->spec.device, "cpu") != 0 && gi.devices > 0 &&
        eval_gpu_usable(m, o.protocol, 10, &why) == RS_OK)
        o.device = RS_DEVICE_GPU;
    set_phase(j, o.device == RS_DEVICE_GPU ? "evaluating on the GPU" : "evaluating");
    int rc = eval_model(m, se->train, se->test, se->d->cat, &o, &r, err);
    if (rc == RS_EGPU) {
        o.device = RS_DEVICE_CPU;
        rs_err_clear(err);
        set_phase(j, "evaluating");
        rc = eval_model(m, se->train, se->test, se->d->cat, &o, &r, err);
    }
    if (rc)
        return rc;
    StoreMetric *sm = calloc(r->n_metrics ? r->n_metrics : 1, sizeof *sm);
    if (!sm) {
        eval_result_free(r);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < r->n_metrics; k++) {
        const EvalMetric *em = &r->metrics[k];
        size_t len = strcspn(em->name, "@");
        snprintf(sm[k].name, sizeof sm[k].name, "%.*s", (int)len, em->name);
        sm[k].k = (int)em->k;
        sm[k].value = em->value;
    }
    rc = store_metrics_save(se->store, run_id, eval_protocol_name(EVAL_FULL), sm, r->n_metrics,
                            err);
    free(sm);
    eval_result_free(r);
    return rc;
}

/* Everything after loading: the run, the fit, the blob, the metrics.
 * Returns the fit's result; *finished tells whether the run was ended. */
static int train(TuiJob *j, Session *se, RsErr *err)
{
    const TuiJobSpec *sp = &j->spec;
    const ModelClass *cls = model_class_find(sp->algo);
    const char *kv[TUI_JOB_MAXKV];
    ParamValues pv;
    int dev;
    char devname[160];
    RsModel *m = NULL;
    for (size_t k = 0; k < sp->nkv; k++)
        kv[k] = sp->kv[k];
    int rc = params_parse(cls->params, cls->nparams, kv, sp->nkv, &pv, err);
    if (!rc)
        rc = pick_device(sp->device, cls, &dev, devname, sizeof devname, err);
    if (!rc)
        rc = model_new(cls, se->d->all->U, se->d->all->I, &pv, sp->seed, &m, err);
    if (!rc)
        rc = create_run(j, se, cls, &pv, devname, err);
    if (rc) {
        model_free(m);
        return rc;
    }
    int64_t run_id = j->snap.run_id; /* written by this thread only */
    FitContext ctx = { .train = se->train, .valid = se->valid, .cat = se->d->cat,
                       .nthreads = sp->nthreads > 0 ? sp->nthreads : rs_ncpus(),
                       .progress = on_progress, .progress_ctx = j, .cancel = &j->cancel,
                       .device = dev };
    set_phase(j, "training");
    double t0 = rs_now();
    rc = model_fit(m, &ctx, err);
    double secs = rs_now() - t0;
    RsBlob b = { 0 };
    if (!rc)
        rc = model_save(m, &b, err);
    const char *status = !rc ? "done" : rc == RS_ECANCEL ? "cancelled" : "failed";
    RsErr ferr = { 0 };
    int frc = store_run_finish(se->store, run_id, status, rc ? err->msg : NULL, secs, b.data,
                               b.len, (int)cls->format_version, &ferr);
    blob_done(&b);
    bump(j);
    if (!rc && frc) {
        *err = ferr;
        rc = frc;
    }
    if (!rc && sp->evaluate) {
        RsErr eerr = { 0 };
        if (evaluate(j, se, m, run_id, &eerr) == RS_OK)
            bump(j);
    }
    model_free(m);
    return rc;
}

static void *job_main(void *arg)
{
    TuiJob *j = arg;
    Session se;
    RsErr err = { 0 };
    set_phase(j, "loading");
    int rc = session_open(&se, j->owner->db, 0, &err);
    if (!rc && atomic_load(&j->cancel))
        rc = rs_err_set(&err, RS_ECANCEL, "cancelled");
    if (!rc)
        rc = load_split(&se, &j->spec, &err);
    if (!rc && atomic_load(&j->cancel))
        rc = rs_err_set(&err, RS_ECANCEL, "cancelled");
    if (!rc)
        rc = train(j, &se, &err);
    session_close(&se);
    pthread_mutex_lock(&j->mu);
    j->snap.state = !rc ? TUI_JOB_DONE : rc == RS_ECANCEL ? TUI_JOB_CANCELLED : TUI_JOB_FAILED;
    j->snap.elapsed = rs_now() - j->t0;
    j->snap.eta = 0;
    if (!rc)
        j->snap.fraction = 1;
    snprintf(j->snap.phase, sizeof j->snap.phase, "%s",
             !rc ? "done" : rc == RS_ECANCEL ? "cancelled" : "failed");
    if (rc)
        snprintf(j->snap.error, sizeof j->snap.error, "%s", err.msg);
    pthread_mutex_unlock(&j->mu);
    bump(j);
    return NULL;
}

/* --- the UI side ---------------------------------------------------------------- */

TuiJobs *tui_jobs_new(const char *db, RsErr *err)
{
    TuiJobs *js = calloc(1, sizeof *js);
    int fds[2];
    if (!js || !(js->db = strdup(db))) {
        free(js);
        rs_err_set(err, RS_ENOMEM, "out of memory");
        return NULL;
    }
    if (pipe(fds) != 0) {
        rs_err_set(err, RS_EIO, "cannot create a pipe: %s", strerror(errno));
        free(js->db);
        free(js);
        return NULL;
    }
    js->pipe_r = fds[0];
    js->pipe_w = fds[1];
    fcntl(js->pipe_r, F_SETFL, O_NONBLOCK);
    fcntl(js->pipe_w, F_SETFL, O_NONBLOCK);
    fcntl(js->pipe_r, F_SETFD, FD_CLOEXEC);
    fcntl(js->pipe_w, F_SETFD, FD_CLOEXEC);
    atomic_init(&js->generation, 0u);
    return js;
}

static void job_free(TuiJob *j)
{
    if (j->started) {
        atomic_store(&j->cancel, 1);
        pthread_join(j->thread, NULL);
    }
    pthread_mutex_destroy(&j->mu);
    free(j->losses);
    free(j);
}

void tui_jobs_free(TuiJobs *js)
{
    if (!js)
        return;
    for (size_t k = 0; k < js->n; k++)
        atomic_store(&js->jobs[k]->cancel, 1);
    for (size_t k = 0; k < js->n; k++)
        job_free(js->jobs[k]);
    close(js->pipe_r);
    close(js->pipe_w);
    free(js->db);
    free(js);
}

int tui_jobs_validate(const TuiJobSpec *spec, RsErr *err)
{
    const ModelClass *cls = model_class_find(spec->algo);
    if (!cls)
        return rs_err_set(err, RS_EUSAGE, "unknown algorithm '%s' (valid: %s)", spec->algo,
                          model_class_names());
    const char *kv[TUI_JOB_MAXKV];
    ParamValues pv;
    for (size_t k = 0; k < spec->nkv && k < TUI_JOB_MAXKV; k++)
        kv[k] = spec->kv[k];
    int rc = params_parse(cls->params, cls->nparams, kv, spec->nkv, &pv, err);
    if (rc)
        return rc;
    if (strcmp(spec->device, "auto") && strcmp(spec->device, "cpu") && strcmp(spec->device, "gpu"))
        return rs_err_set(err, RS_EUSAGE, "bad device '%s' (auto, cpu, gpu)", spec->device);
    if (!spec->split[0])
        return rs_err_set(err, RS_EUSAGE, "no split chosen");
    return RS_OK;
}

/* Joins the threads of ended jobs and forgets the oldest ended ones when
 * the array is full. */
static void reap(TuiJobs *js)
{
    if (js->n < RS_ARRAY_LEN(js->jobs))
        return;
    for (size_t k = 0; k < js->n; k++) {
        TuiJob *j = js->jobs[k];
        pthread_mutex_lock(&j->mu);
        int ended = j->snap.state != TUI_JOB_RUNNING;
        pthread_mutex_unlock(&j->mu);
        if (ended) {
            job_free(j);
            memmove(&js->jobs[k], &js->jobs[k + 1], (js->n - k - 1) * sizeof js->jobs[0]);
            js->n--;
            return;
        }
    }
}

int tui_jobs_start(TuiJobs *js, const TuiJobSpec *spec, int *id, RsErr *err)
{
    static int next_id = 1;
    int rc = tui_jobs_validate(spec, err);
    if (rc)
        return rc;
    if (tui_jobs_running(js) >= TUI_JOBS_MAX)
        return rs_err_set(err, RS_EUSAGE, "%d trainings are running already: wait for one",
                          TUI_JOBS_MAX);
    reap(js);
    if (js->n == RS_ARRAY_LEN(js->jobs))
        return rs_err_set(err, RS_EUSAGE, "too many trainings");
    TuiJob *j = calloc(1, sizeof *j);
    if (!j)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    j->owner = js;
    j->spec = *spec;
    pthread_mutex_init(&j->mu, NULL);
    atomic_init(&j->cancel, 0);
    j->snap.id = next_id;
    j->snap.state = TUI_JOB_RUNNING;
    j->snap.loss = j->snap.eta = NAN;
    snprintf(j->snap.algo, sizeof j->snap.algo, "%s", spec->algo);
    snprintf(j->snap.phase, sizeof j->snap.phase, "starting");
    j->t0 = rs_now();
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        pthread_mutex_destroy(&j->mu);
        free(j);
        return rs_err_set(err, RS_EIO, "cannot start a thread");
    }
    j->started = 1;
    js->jobs[js->n++] = j;
    if (id)
        *id = next_id;
    next_id++;
    return RS_OK;
}

int tui_jobs_fd(const TuiJobs *js) { return js->pipe_r; }

void tui_jobs_drain(TuiJobs *js)
{
    char buf[64];
    while (read(js->pipe_r, buf, sizeof buf) > 0)
        ;
}

size_t tui_jobs_count(TuiJobs *js) { return js ? js->n : 0; }

static void snap_of(TuiJob *j, TuiJobSnap *out)
{
    pthread_mutex_lock(&j->mu);
    *out = j->snap;
    if (out->state == TUI_JOB_RUNNING)
        out->elapsed = rs_now() - j->t0;
    pthread_mutex_unlock(&j->mu);
}

int tui_jobs_get(TuiJobs *js, size_t k, TuiJobSnap *out)
{
    if (!js || k >= js->n)
        return -1;
    snap_of(js->jobs[k], out);
    return 0;
}

int tui_jobs_find(TuiJobs *js, int id, TuiJobSnap *out)
{
    for (size_t k = 0; js && k < js->n; k++)
        if (js->jobs[k]->snap.id == id) { /* id never changes */
            snap_of(js->jobs[k], out);
            return 0;
        }
    return -1;
}

int tui_jobs_find_run(TuiJobs *js, const char *run_name, TuiJobSnap *out)
{
    for (size_t k = js ? js->n : 0; k-- > 0;) {
        snap_of(js->jobs[k], out);
        if (out->name[0] && !strcmp(out->name, run_name))
            return 0;
    }
    return -1;
}

size_t tui_jobs_running(TuiJobs *js)
{
    size_t n = 0;
    TuiJobSnap s;
    for (size_t k = 0; js && k < js->n; k++) {
        snap_of(js->jobs[k], &s);
        n += s.state == TUI_JOB_RUNNING;
    }
    return n;
}

unsigned tui_jobs_generation(TuiJobs *js) { return js ? atomic_load(&js->generation) : 0; }

size_t tui_jobs_losses(TuiJobs *js, int id, double *out, size_t cap)
{
    for (size_t k = 0; js && k < js->n; k++) {
        TuiJob *j = js->jobs[k];
        if (j->snap.id != id)
            continue;
        pthread_mutex_lock(&j->mu);
        size_t n = j->nloss;
        if (out && cap && j->losses) /* no loss reported yet: nothing to copy */
            memcpy(out, j->losses, (n < cap ? n : cap) * sizeof *out);
        pthread_mutex_unlock(&j->mu);
        return n;
    }
    return 0;
}

int tui_jobs_cancel(TuiJobs *js, int id)
{
    TuiJobSnap s;
    for (size_t k = 0; js && k < js->n; k++) {
        if (js->jobs[k]->snap.id != id)
            continue;
        snap_of(js->jobs[k], &s);
        if (s.state != TUI_JOB_RUNNING)
            return -1;
        atomic_store(&js->jobs[k]->cancel, 1);
        return 0;
    }
    return -1;
}

/* "12s", "3m05s", "1h02m" */
static char *fmt_secs(char *buf, size_t n, double s)
{
    if (isnan(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
    return buf;
}

char *tui_job_brief(const TuiJobSnap *s, char *buf, size_t n)
{
    char eta[16];
    const char *name = s->name[0] ? s->name : s->algo;
    size_t o = (size_t)snprintf(buf, n, "%s %.0f%%", name, s->fraction * 100);
    if (o < n && s->state == TUI_JOB_RUNNING && strcmp(s->phase, "training") &&
        strcmp(s->phase, "epoch") && s->fraction <= 0)
        o += (size_t)snprintf(buf + o, n - o, " %s", s->phase);
    if (o < n && !isnan(s->eta) && s->state == TUI_JOB_RUNNING)
        o += (size_t)snprintf(buf + o, n - o, " ETA %s", fmt_secs(eta, sizeof eta, s->eta));
    if (o < n && !isnan(s->loss))
        snprintf(buf + o, n - o, " loss %.4g", s->loss);
    return buf;
}

/* The status text with the first `full` running jobs in full and the
 * rest as "NAME PCT%"; jobs that do not fit become "+N". */
static size_t status_try(TuiJobs *js, char *buf, size_t n, int maxcols, size_t full,
                         size_t *hidden)
{
    char one[TUI_JOB_NAME + 64];
    size_t o = 0, shown = 0, running = 0;
    TuiJobSnap s;
    buf[0] = '\0';
    for (size_t k = 0; js && k < js->n; k++) {
        snap_of(js->jobs[k], &s);
        if (s.state != TUI_JOB_RUNNING)
            continue;
        running++;
        if (shown < full)
            tui_job_brief(&s, one, sizeof one);
        else
            snprintf(one, sizeof one, "%s %.0f%%", s.name[0] ? s.name : s.algo,
                     s.fraction * 100);
        const char *pre = o ? " | " : "training: ";
        if (o + strlen(pre) + strlen(one) + 4 > (size_t)maxcols && shown)
            continue;
        o += (size_t)snprintf(buf + o, n - o, "%s%s", pre, one);
        o = o < n ? o : n - 1;
        shown++;
    }
    if (running > shown)
        o += (size_t)snprintf(buf + o, n - o, " +%zu", running - shown);
    *hidden = running - shown;
    return o < n ? o : n - 1;
}

char *tui_jobs_status(TuiJobs *js, char *buf, size_t n, int maxcols)
{
    size_t full = TUI_JOBS_MAX * 4, hidden = 0;
    while ((status_try(js, buf, n, maxcols, full, &hidden) > (size_t)maxcols || hidden) &&
           full > 0)
        full = full > 1 ? 1 : 0;
    return buf;
}
