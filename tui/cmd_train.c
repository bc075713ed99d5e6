/*
 * cmd_train.c - `recscope train` (a model fitted on a split's training part
 * by a background job, with a progress line, Ctrl-C to cancel) and
 * `recscope runs`.
 */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "job.h"
#include "parallel.h"
#include "session.h"

#define MAX_PARAMS 64

static const char train_usage[] =
    "usage: recscope train DB --algo ALGO --split NAME [options]\n"
    "\n"
    "Fits a model on the training part of a split, in a background thread, and\n"
    "stores it as a run. Ctrl-C cancels (the run is recorded as cancelled).\n"
    "\n"
    "options:\n"
    "  --algo ALGO        the algorithm (see 'recscope train --list')\n"
    "  --split NAME       the split to train on (see 'recscope split')\n"
    "  --name RUN         name of the run (default ALGO-N)\n"
    "  --param KEY=VALUE  a hyper-parameter (repeatable); others keep their defaults\n"
    "  --seed S           random seed (default 42)\n"
    "  --device D         auto (default), cpu or gpu\n"
    "  --threads N        worker threads (default: all cores)\n"
    "  --init-from RUNS   start from trained runs of the same split (neumf: a gmf\n"
    "                     run and an mlp run, comma-separated: the paper's\n"
    "                     pre-training)\n"
    "  --list             list the algorithms and their parameters\n"
    "  -q, --quiet        no progress, no summary\n"
    "  -h, --help         this help\n";

static void list_algorithms(void)
{
    for (size_t k = 0; k < model_class_count(); k++) {
        const ModelClass *c = model_class_at(k);
        printf("%-10s %s\n", c->name, c->title);
        for (size_t p = 0; p < c->nparams; p++) {
            const ParamSpec *s = &c->params[p];
            char def[64];
            if (s->type == PARAM_ENUM) {
                const char *q = s->choices;
                for (int i = 0; i < (int)s->def && *q; i++)
                    q += strcspn(q, "|") + (q[strcspn(q, "|")] == '|');
                snprintf(def, sizeof def, "%.*s", (int)strcspn(q, "|"), q);
            } else if (s->type == PARAM_BOOL) {
                snprintf(def, sizeof def, "%s", s->def ? "true" : "false");
            } else {
                snprintf(def, sizeof def, "%g", s->def);
            }
            printf("    %-16s %-10s %s", s->name, def, s->help);
            if (s->type == PARAM_ENUM)
                printf(" (%s)", s->choices);
            else if (s->type != PARAM_BOOL)
                printf(" [%g, %g]", s->min, s->max);
            printf("\n");
        }
    }
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void draw_progress(const RsJobStatus *st)
{
    char bar[21];
    int fill = (int)(st->fraction * 20 + 0.5);
    for (int k = 0; k < 20; k++)
        bar[k] = k < fill ? '=' : ' ';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[Ktrain: [%s] %3.0f%% %s", bar, st->fraction * 100, st->phase);
    if (st->epochs)
        fprintf(stderr, " %d/%d", st->epoch, st->epochs);
    if (!isnan(st->loss))
        fprintf(stderr, " loss %.5g", st->loss);
    if (!isnan(st->valid))
        fprintf(stderr, " %s %.4f", st->valid_name, st->valid);
    if (!isnan(st->eta) && st->eta > 0)
        fprintf(stderr, " ETA %.0fs", st->eta);
}

/* Waits for the job, drawing progress when show; Ctrl-C cancels it. */
static void follow(RsJob *j, int show)
{
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    RsJobStatus st;
    for (;;) {
        job_status(j, &st);
        if (st.state != JOB_RUNNING)
            break;
        if (interrupted) {
            job_cancel(j);
            interrupted = 0;
        }
        if (show)
            draw_progress(&st);
        struct pollfd pfd = {job_fd(j), POLLIN, 0};
        poll(&pfd, 1, 250); /* at most four redraws a second */
        job_drain(j);
    }
    if (show)
        fputs("\r\033[K", stderr);
    sigaction(SIGINT, &old, NULL);
}

/* The device to train on: "cpu", or "gpu" when asked for (or auto) and both
 * a device and a GPU version of the algorithm exist. --device gpu without
 * them is an error; auto falls back to the CPU, saying why when a GPU
 * version exists but no device does. *name gets the device's name. */
static int pick_device(const char *want, const ModelClass *cls, int quiet, const char **dev,
                       char *name, size_t cap, RsErr *err)
{
    *dev = "cpu";
    snprintf(name, cap, "cpu");
    if (!strcmp(want, "cpu"))
        return RS_OK;
    RsGpuInfo gi;
    gpu_probe(&gi);
    int has_gpu_code = (cls->flags & MODEL_GPU) != 0;
    if (gi.devices > 0 && has_gpu_code) {
        *dev = "gpu";
        snprintf(name, cap, "gpu: %s", gi.name);
        if (!quiet && !strcmp(want, "auto"))
            fprintf(stderr, "recscope: training %s on the GPU (%s)\n", cls->name, gi.name);
        return RS_OK;
    }
    if (!strcmp(want, "gpu"))
        return rs_err_set(err, RS_EGPU, "--device gpu: %s",
                          !has_gpu_code ? "this algorithm has no GPU version; use --device cpu"
                                        : gi.message);
    if (has_gpu_code && !quiet && gi.built)
        fprintf(stderr, "recscope: %s; training %s on the CPU\n", gi.message, cls->name);
    return RS_OK;
}

typedef struct TrainArgs {
    const char *db, *algo, *split, *name, *device, *init_from;
    const char *params[MAX_PARAMS];
    size_t nparams;
    uint64_t seed;
    long threads;
    int quiet;
} TrainArgs;

static int parse_train(int argc, char **argv, TrainArgs *a)
{
    static const struct option opts[] = {
        {"algo", required_argument, NULL, 'a'},  {"split", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},  {"param", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 'S'},  {"device", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 't'}, {"list", no_argument, NULL, 'l'},
        {"init-from", required_argument, NULL, 'i'},
        {"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->seed = 42;
    a->device = "auto";
    int c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': a->algo = optarg; break;
        case 's': a->split = optarg; break;
        case 'n': a->name = optarg; break;
        case 'p':
            if (a->nparams == MAX_PARAMS)
                return cli_usage_error("train", "too many --param");
            a->params[a->nparams++] = optarg;
            break;
        case 'S':
            if (cli_parse_u64(optarg, &a->seed))
                return cli_usage_error("train", "bad --seed '%s'", optarg);
            break;
        case 'd':
            if (strcmp(optarg, "auto") && strcmp(optarg, "cpu") && strcmp(optarg, "gpu"))
                return cli_usage_error("train", "bad --device '%s' (auto, cpu, gpu)", optarg);
            a->device = optarg;
            break;
        case 't':
            if (cli_parse_long(optarg, &a->threads) || a->threads < 1 || a->threads > 256)
                return cli_usage_error("train", "bad --threads '%s'", optarg);
            break;
        case 'i': a->init_from = optarg; break;
        case 'l': list_algorithms(); return -1;
        case 'q': a->quiet = 1; break;
        case 'h': fputs(train_usage, stdout); return -1;
        default: return cli_usage_error("train", "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("train", "expected DB");
    a->db = argv[optind];
    if (!a->algo || !a->split)
        return cli_usage_error("train", "--algo and --split are required");
    const ModelClass *cls = model_class_find(a->algo);
    if (!cls)
        return cli_usage_error("train", "unknown algorithm '%s' (valid: %s)", a->algo,
                               model_class_names());
    if (a->init_from && !(cls->flags & MODEL_INIT))
        return cli_usage_error("train", "%s cannot start from other runs (--init-from)",
                               cls->name);
    return CLI_OK;
}

#define MAX_INIT 4

/* The runs named in --init-from (comma-separated), trained on the split of
 * this training: their models into init[], their names appended to the
 * run's parameters JSON (*json, reallocated) as "init_from". */
static int load_init(Session *se, const char *list, RsModel **init, size_t *ninit, char **json,
                     RsErr *err)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = RS_OK;
    for (char *name = strtok_r(copy, ",", &save); name && !rc;
         name = strtok_r(NULL, ",", &save)) {
        if (*ninit == MAX_INIT) {
            rc = rs_err_set(err, RS_EUSAGE, "--init-from: at most %d runs", MAX_INIT);
            break;
        }
        StoreRun r;
        if ((rc = store_run_get(se->store, name, 1, &r, err)))
            break;
        if (strcmp(r.status, "done") != 0)
            rc = rs_err_set(err, RS_EUSAGE, "--init-from: run \"%s\" is %s", name, r.status);
        else if (r.split_id != se->split.id)
            rc = rs_err_set(err, RS_EUSAGE,
                            "--init-from: run \"%s\" was trained on split \"%s\", not \"%s\" "
                            "(its model has seen this split's test items)",
                            name, r.split_name ? r.split_name : "?", se->split.name);
        else if ((rc = model_load(r.model, r.model_len, se->d->all->U, se->d->all->I,
                                  &init[*ninit], err)) == RS_OK)
            ++*ninit;
        else {
            RsErr inner = *err;
            rs_err_set(err, rc, "--init-from: run \"%s\": %s", name, inner.msg);
        }
        store_run_done(&r);
    }
    free(copy);
    if (rc)
        return rc;
    /* {"factors":8,...} -> {"factors":8,...,"init_from":"gmf-1,mlp-1"} */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    size_t jl = strlen(*json);
    fwrite(*json, 1, jl > 0 ? jl - 1 : 0, f);
    fputs(jl > 2 ? ",\"init_from\":" : "\"init_from\":", f);
    json_str(f, list);
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    free(*json);
    *json = buf;
    return RS_OK;
}

/* Fits and records the run; returns a CLI exit code. */
static int run_training(Session *se, const TrainArgs *a, RsErr *err)
{
    const ModelClass *cls = model_class_find(a->algo);
    ParamValues pv;
    int rc = params_parse(cls->params, cls->nparams, a->params, a->nparams, &pv, err);
    if (rc)
        return rc;
    char name[128];
    if (a->name)
        snprintf(name, sizeof name, "%s", a->name);
    else if ((rc = store_run_fresh_name(se->store, cls->name, name, sizeof name, err)))
        return rc;
    RsModel *m;
    if ((rc = model_new(cls, se->d->all->U, se->d->all->I, &pv, a->seed, &m, err)))
        return rc;
    const char *device;
    char devname[160];
    if ((rc = pick_device(a->device, cls, a->quiet, &device, devname, sizeof devname, err))) {
        model_free(m);
        return rc;
    }
    char *json = params_to_json(cls->params, cls->nparams, &pv);
    RsModel *init[MAX_INIT];
    size_t ninit = 0;
    if (!json)
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    else if (a->init_from)
        rc = load_init(se, a->init_from, init, &ninit, &json, err);
    if (!rc && ninit)
        rc = model_check_init(m, (const RsModel *const *)init, ninit, err);
    if (rc) {
        for (size_t k = 0; k < ninit; k++)
            model_free(init[k]);
        free(json);
        model_free(m);
        return rc;
    }
    int64_t run_id = 0;
    rc = store_run_create(se->store, name, cls->name, json, se->split.id, devname, a->seed,
                          &run_id, err);
    free(json);
    if (rc) {
        for (size_t k = 0; k < ninit; k++)
            model_free(init[k]);
        model_free(m);
        return rc;
    }
    FitContext ctx = {.train = se->train, .valid = se->valid, .cat = se->d->cat,
                      .nthreads = a->threads ? (int)a->threads : rs_ncpus(),
                      .device = !strcmp(device, "gpu") ? RS_DEVICE_GPU : RS_DEVICE_CPU,
                      .init = (const RsModel *const *)init, .ninit = ninit};
    RsJob *j;
    if ((rc = job_start_fit(m, &ctx, &j, err))) {
        for (size_t k = 0; k < ninit; k++)
            model_free(init[k]);
        model_free(m);
        store_run_finish(se->store, run_id, "failed", err->msg, NAN, NULL, 0, 0, NULL);
        return rc;
    }
    follow(j, !a->quiet && isatty(STDERR_FILENO));
    rc = job_wait(j, err);
    RsJobStatus st;
    job_status(j, &st);
    RsModel *trained = job_take_model(j);
    job_free(j);
    for (size_t k = 0; k < ninit; k++)
        model_free(init[k]);
    RsBlob b = {0};
    if (!rc)
        rc = model_save(trained, &b, err);
    const char *status = !rc ? "done" : rc == RS_ECANCEL ? "cancelled" : "failed";
    RsErr ferr = {0};
    int frc = store_run_finish(se->store, run_id, status, rc ? err->msg : NULL, st.elapsed,
                               b.data, b.len, (int)cls->format_version, &ferr);
    blob_done(&b);
    model_free(trained);
    if (!rc && frc) {
        *err = ferr;
        rc = frc;
    }
    if (!rc && !a->quiet)
        printf("trained %s (%s) on split %s in %.2f s; evaluate it with 'recscope eval %s "
               "--run %s'\n", name, cls->name, se->split.name, st.elapsed, a->db, name);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    TrainArgs a;
    int rc = parse_train(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Session se;
    RsErr err = {0};
    rc = session_open(&se, a.db, 0, &err);
    if (!rc)
        rc = session_split(&se, a.split, &err);
    if (!rc)
        rc = run_training(&se, &a, &err);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- runs ----------------------------------------------------------------- */

static const char runs_usage[] =
    "usage: recscope runs DB [--format text|tsv|json]\n"
    "\n"
    "Every run: name, algorithm, status, split, device, training time, NDCG@10\n"
    "under the full-ranking protocol when evaluated, and parameters.\n";

static double headline(Store *s, int64_t run_id, const char *metric, int k)
{
    StoreMetric *m;
    size_t n;
    double v = NAN;
    if (store_metrics_get(s, run_id, "full", &m, &n, NULL) == RS_OK) {
        for (size_t j = 0; j < n; j++)
            if (!strcmp(m[j].name, metric) && m[j].k == k)
                v = m[j].value;
        free(m);
    }
    return v;
}

int cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    OutFormat fmt = OUT_TEXT;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (cli_parse_format(optarg, &fmt))
                return cli_usage_error("runs", "unknown format '%s'", optarg);
            break;
        case 'h': fputs(runs_usage, stdout); return CLI_OK;
        default: return cli_usage_error("runs", "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("runs", "expected DB");
    Store *s;
    RsErr err = {0};
    StoreRun *runs = NULL;
    size_t n = 0;
    /* read-write to record interrupted runs; a read-only file or folder is
     * listed all the same */
    int rc = store_open(&s, argv[optind], 0, &err);
    if (rc == RS_EIO)
        rc = store_open(&s, argv[optind], STORE_OPEN_READONLY, &err);
    if (!rc)
        rc = store_runs_list(s, &runs, &n, &err);
    if (rc) {
        store_close(s);
        return cli_fail(&err);
    }
    if (fmt == OUT_JSON)
        printf("[");
    else if (fmt == OUT_TSV)
        printf("run\talgorithm\tstatus\tsplit\tdevice\ttrain_seconds\tndcg@10\tparams\n");
    else
        printf("%-20s %-9s %-11s %-14s %-6s %8s %8s  %s\n", "RUN", "ALGO", "STATUS", "SPLIT",
               "DEVICE", "TRAIN s", "NDCG@10", "PARAMS");
    for (size_t k = 0; k < n; k++) {
        StoreRun *r = &runs[k];
        double ndcg = headline(s, r->id, "ndcg", 10);
        if (fmt == OUT_JSON) {
            printf("%s{\"run\":", k ? "," : "");
            json_str(stdout, r->name);
            printf(",\"algorithm\":");
            json_str(stdout, r->algorithm);
            printf(",\"status\":");
            json_str(stdout, r->status);
            printf(",\"split\":");
            json_str(stdout, r->split_name);
            printf(",\"device\":");
            json_str(stdout, r->device);
            printf(",\"train_seconds\":");
            isnan(r->train_seconds) ? printf("null") : printf("%.4f", r->train_seconds);
            printf(",\"ndcg@10\":");
            isnan(ndcg) ? printf("null") : printf("%.6f", ndcg);
            printf(",\"params\":%s}", r->params ? r->params : "{}");
        } else if (fmt == OUT_TSV) {
            printf("%s\t%s\t%s\t%s\t%s\t", r->name, r->algorithm, r->status,
                   r->split_name ? r->split_name : "", r->device ? r->device : "");
            if (!isnan(r->train_seconds))
                printf("%.4f", r->train_seconds);
            putchar('\t');
            if (!isnan(ndcg))
                printf("%.6f", ndcg);
            printf("\t%s\n", r->params ? r->params : "{}");
        } else {
            char c1[64], c2[64];
            printf("%-20s %-9s %-11s %-14s %-6s ", cli_clean(r->name, c1, 21), r->algorithm,
                   r->status, cli_clean(r->split_name, c2, 15), r->device ? r->device : "-");
            isnan(r->train_seconds) ? printf("%8s", "-") : printf("%8.2f", r->train_seconds);
            isnan(ndcg) ? printf(" %8s", "-") : printf(" %8.4f", ndcg);
            printf("  %s\n", r->params ? r->params : "");
        }
    }
    if (fmt == OUT_JSON)
        printf("]\n");
    store_runs_free(runs, n);
    store_close(s);
    return CLI_OK;
}
