/*
 * cmd_eval.c - measuring runs: `eval` (metrics of a run, stored with their
 * per-user values), `cv` (k-fold cross-validation of an algorithm, mean and
 * standard deviation over folds) and `compare` (runs side by side with a
 * paired test against the first, or their lists for one user).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "metrics.h"
#include "parallel.h"
#include "session.h"
#include "split.h"
#include "stats.h"

/* "ndcg@10" -> ("ndcg", 10); "rmse" -> ("rmse", 0). */
static void split_name(const char *full, char *name, size_t cap, int *k)
{
    const char *at = strchr(full, '@');
    *k = at ? atoi(at + 1) : 0;
    snprintf(name, cap, "%.*s", at ? (int)(at - full) : (int)strlen(full), full);
}

static void print_num(double v)
{
    if (isnan(v))
        printf("null");
    else
        printf("%.6g", v);
}

typedef struct EvalArgs {
    const char *db, *run, *runs, *algo, *user, *device;
    EvalOptions o;
    OutFormat fmt;
    int no_save, folds, rating_only;
    uint64_t seed;
    const char *params[64];
    size_t nparams;
    long k;
} EvalArgs;

static int parse_eval(int argc, char **argv, const char *usage, EvalArgs *a)
{
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'r'},       {"runs", required_argument, NULL, 'R'},
        {"algo", required_argument, NULL, 'a'},      {"user", required_argument, NULL, 'u'},
        {"k", required_argument, NULL, 'k'},         {"protocol", required_argument, NULL, 'p'},
        {"relevance-threshold", required_argument, NULL, 't'},
        {"negatives", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"folds", required_argument, NULL, 'f'},     {"param", required_argument, NULL, 'P'},
        {"format", required_argument, NULL, 'F'},    {"no-save", no_argument, NULL, 'N'},
        {"rating-only", no_argument, NULL, 'O'},     {"device", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    memset(a, 0, sizeof *a);
    eval_options_default(&a->o);
    a->folds = 5;
    a->seed = 42;
    a->k = 10;
    a->device = "auto";
    RsErr err = {0};
    int c;
    long v;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': a->run = optarg; break;
        case 'R': a->runs = optarg; break;
        case 'a': a->algo = optarg; break;
        case 'u': a->user = optarg; break;
        case 'k':
            if (eval_parse_ks(optarg, &a->o, &err))
                return cli_usage_error(cmd, "%s", err.msg);
            a->k = (long)a->o.ks[0];
            break;
        case 'p':
            if (eval_protocol_parse(optarg, &a->o.protocol, &err))
                return cli_usage_error(cmd, "%s", err.msg);
            break;
        case 't':
            a->o.relevance_threshold = strtod(optarg, &end);
            if (!*optarg || *end || !isfinite(a->o.relevance_threshold))
                return cli_usage_error(cmd, "bad --relevance-threshold '%s'", optarg);
            break;
        case 'n':
            if (cli_parse_long(optarg, &v) || v < 1 || v > 100000)
                return cli_usage_error(cmd, "bad --negatives '%s'", optarg);
            a->o.negatives = (size_t)v;
            break;
        case 's':
            if (cli_parse_u64(optarg, &a->seed))
                return cli_usage_error(cmd, "bad --seed '%s'", optarg);
            a->o.seed = a->seed;
            break;
        case 'f':
            if (cli_parse_long(optarg, &v) || v < 2 || v > 100)
                return cli_usage_error(cmd, "bad --folds '%s' (2 to 100)", optarg);
            a->folds = (int)v;
            break;
        case 'P':
            if (a->nparams == 64)
                return cli_usage_error(cmd, "too many --param");
            a->params[a->nparams++] = optarg;
            break;
        case 'F':
            if (cli_parse_format(optarg, &a->fmt) || a->fmt == OUT_TSV)
                return cli_usage_error(cmd, "unknown format '%s' (valid: text, json)", optarg);
            break;
        case 'N': a->no_save = 1; break;
        case 'O': a->rating_only = 1; break;
        case 'D':
            if (strcmp(cmd, "eval") != 0)
                return cli_usage_error(cmd, "--device is an option of eval");
            if (strcmp(optarg, "auto") && strcmp(optarg, "cpu") && strcmp(optarg, "gpu"))
                return cli_usage_error(cmd, "bad --device '%s' (auto, cpu, gpu)", optarg);
            a->device = optarg;
            break;
        case 'h': fputs(usage, stdout); return -1;
        default: return cli_usage_error(cmd, "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cmd, "expected DB");
    a->db = argv[optind];
    return CLI_OK;
}

/* ---- eval ------------------------------------------------------------------------ */

static const char eval_usage[] =
    "usage: recscope eval DB --run RUN [--k 5,10,20] [--protocol full|sampled]\n"
    "                     [--relevance-threshold R] [--negatives N] [--seed S]\n"
    "                     [--device auto|cpu|gpu] [--no-save] [--format text|json]\n"
    "\n"
    "Evaluates a run on the test part of its split and stores the metrics (and\n"
    "each user's values, for paired tests) with the run. Protocols: full\n"
    "ranking over every item not in the user's training set (default), or\n"
    "sampled: each test item ranked against N (default 99) items the user never\n"
    "interacted with. See 'man recscope' for the definitions.\n"
    "\n"
    "--device: where the full protocol ranks a factor model's items (als, bpr,\n"
    "mf): auto (default) uses a GPU when there is one, cpu never, gpu or fail.\n";

/* Per-user values kept in the store (for compare and the TUI). */
static int keep_per_user(const char *base)
{
    static const char *const kept[] = {"ndcg", "recall", "precision", "map", "mrr", "hr",
                                       "auc",  "rmse",   "mae"};
    for (size_t k = 0; k < RS_ARRAY_LEN(kept); k++)
        if (!strcmp(base, kept[k]))
            return 1;
    return 0;
}

/* The protocol as stored: "full", "sampled", or with the relevance
 * threshold "full;relevance>=4" (so a filtered evaluation never replaces
 * the unfiltered numbers). */
static const char *stored_protocol(const EvalResult *r, char *buf, size_t cap)
{
    if (isnan(r->relevance_threshold))
        return eval_protocol_name(r->protocol);
    snprintf(buf, cap, "%s;relevance>=%g", eval_protocol_name(r->protocol),
             r->relevance_threshold);
    return buf;
}

static int save_eval(Session *se, const EvalResult *r, RsErr *err)
{
    StoreMetric *sm = calloc(r->n_metrics ? r->n_metrics : 1, sizeof *sm);
    if (!sm)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    char pbuf[64];
    const char *proto = stored_protocol(r, pbuf, sizeof pbuf);
    for (size_t k = 0; k < r->n_metrics; k++) {
        split_name(r->metrics[k].name, sm[k].name, sizeof sm[k].name, &sm[k].k);
        sm[k].value = r->metrics[k].value;
    }
    int rc = store_metrics_save(se->store, se->run.id, proto, sm, r->n_metrics, err);
    for (size_t k = 0; !rc && k < r->n_metrics; k++)
        if (r->metrics[k].per_user && keep_per_user(sm[k].name))
            rc = store_user_metrics_save(se->store, se->run.id, proto, sm[k].name, sm[k].k,
                                         se->d->cat, r->users, r->metrics[k].per_user,
                                         r->n_users, err);
    free(sm);
    return rc;
}

static void print_eval(const EvalArgs *a, const Session *se, const EvalResult *r)
{
    const char *proto = eval_protocol_name(r->protocol);
    if (a->fmt == OUT_JSON) {
        printf("{\"run\":");
        json_str(stdout, a->run);
        printf(",\"algorithm\":");
        json_str(stdout, se->run.algorithm);
        printf(",\"split\":");
        json_str(stdout, se->split.name);
        printf(",\"protocol\":\"%s\",\"users\":%zu,", proto, r->n_users);
        if (!isnan(r->relevance_threshold))
            printf("\"relevance_threshold\":%g,", r->relevance_threshold);
        printf("\"metrics\":{");
        for (size_t k = 0; k < r->n_metrics; k++) {
            printf("%s\"%s\":", k ? "," : "", r->metrics[k].name);
            print_num(r->metrics[k].value);
        }
        printf("}}\n");
        return;
    }
    printf("%s (%s) on split %s, %s protocol", a->run, se->run.algorithm, se->split.name, proto);
    if (r->protocol == EVAL_SAMPLED)
        printf(" (each test item among %zu sampled negatives)", r->negatives);
    printf(", %zu users", r->n_users);
    if (!isnan(r->relevance_threshold))
        printf(", relevant: rating >= %g", r->relevance_threshold);
    printf("\n");
    for (size_t k = 0; k < r->n_metrics; k++)
        printf("  %-20s %.4f\n", r->metrics[k].name, r->metrics[k].value);
}

/* The device of an evaluation (see eval_usage): sets a->o.device; RS_EGPU
 * for --device gpu when it cannot be used. */
static int pick_eval_device(EvalArgs *a, const Session *se, RsErr *err)
{
    a->o.device = RS_DEVICE_CPU;
    if (!strcmp(a->device, "cpu"))
        return RS_OK;
    size_t maxK = a->o.nks ? a->o.ks[a->o.nks - 1] : 20; /* ascending; default 5,10,20 */
    RsErr why = {0};
    RsGpuInfo gi;
    gpu_probe(&gi);
    int usable = eval_gpu_usable(se->model, a->o.protocol, maxK, &why) == RS_OK;
    if (gi.devices > 0 && usable) {
        a->o.device = RS_DEVICE_GPU;
        if (a->fmt != OUT_JSON)
            fprintf(stderr, "recscope: ranking on the GPU (%s)\n", gi.name);
        return RS_OK;
    }
    if (!strcmp(a->device, "gpu"))
        return rs_err_set(err, RS_EGPU, "--device gpu: %s", !usable ? why.msg : gi.message);
    return RS_OK;
}

int cmd_eval(int argc, char **argv)
{
    EvalArgs a;
    int rc = parse_eval(argc, argv, eval_usage, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!a.run)
        return cli_usage_error("eval", "--run is required");
    Session se;
    RsErr err = {0};
    EvalResult *r = NULL;
    CliProgress prog = {"eval", 0};
    if (isatty(STDERR_FILENO)) {
        a.o.progress = cli_progress;
        a.o.progress_ctx = &prog;
    }
    rc = session_open(&se, a.db, 0, &err);
    if (!rc)
        rc = session_run(&se, a.run, &err);
    if (!rc)
        rc = pick_eval_device(&a, &se, &err);
    if (!rc) {
        rc = eval_model(se.model, se.train, se.test, se.d->cat, &a.o, &r, &err);
        if (rc == RS_EGPU && !strcmp(a.device, "auto")) { /* say why, then the CPU */
            fprintf(stderr, "recscope: %s; evaluating on the CPU\n", err.msg);
            a.o.device = RS_DEVICE_CPU;
            rs_err_clear(&err);
            rc = eval_model(se.model, se.train, se.test, se.d->cat, &a.o, &r, &err);
        }
    }
    if (a.o.progress)
        cli_progress_end(&prog);
    if (!rc && !a.no_save)
        rc = save_eval(&se, r, &err);
    if (!rc)
        print_eval(&a, &se, r);
    eval_result_free(r);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- cv --------------------------------------------------------------------------- */

static const char cv_usage[] =
    "usage: recscope cv DB --algo ALGO [--folds 5] [--param KEY=VALUE]... [--seed S]\n"
    "                   [--k 10] [--rating-only] [--format text|json]\n"
    "\n"
    "k-fold cross-validation (the protocol of Surprise's benchmark table): all\n"
    "interactions are shuffled with the seed and dealt into k folds; each fold in\n"
    "turn is the test part and the others train a model. Prints the mean and\n"
    "standard deviation of each metric over the folds (RMSE and MAE for models\n"
    "that predict ratings, ranking metrics under the full protocol) and the\n"
    "total time. Nothing is stored. --rating-only measures RMSE and MAE alone\n"
    "(what Surprise times), for models that predict ratings.\n";

typedef struct CvAcc {
    char name[EVAL_NAME_LEN];
    double sum, sum2;
    int n;
} CvAcc;

static void cv_add(CvAcc *acc, size_t *nacc, const EvalResult *r)
{
    for (size_t k = 0; k < r->n_metrics; k++) {
        if (isnan(r->metrics[k].value))
            continue;
        size_t j = 0;
        while (j < *nacc && strcmp(acc[j].name, r->metrics[k].name))
            j++;
        if (j == *nacc) {
            if (*nacc == 64)
                continue;
            memset(&acc[j], 0, sizeof acc[j]);
            snprintf(acc[j].name, sizeof acc[j].name, "%s", r->metrics[k].name);
            (*nacc)++;
        }
        acc[j].sum += r->metrics[k].value;
        acc[j].sum2 += r->metrics[k].value * r->metrics[k].value;
        acc[j].n++;
    }
}

/* RMSE and MAE over the rated test entries, in an EvalResult of two global
 * metrics (for cv --rating-only). */
static int rating_errors(const RsModel *m, const RsMatrix *train, const RsMatrix *test,
                         EvalResult **out, RsErr *err)
{
    if (!(m->cls->flags & MODEL_RATINGS) || !m->cls->predict)
        return rs_err_set(err, RS_EUSAGE, "%s does not predict ratings (--rating-only)",
                          m->cls->name);
    double se = 0, ae = 0;
    size_t n = 0;
    for (uint32_t u = 0; u < test->U; u++)
        for (size_t k = test->u_ptr[u]; k < test->u_ptr[u + 1]; k++) {
            float p;
            if (isnan(test->u_rating[k]))
                continue;
            int rc = m->cls->predict(m, train, u, test->u_items[k], &p);
            if (rc)
                return rs_err_set(err, rc, "%s: prediction failed", m->cls->name);
            double d = (double)p - test->u_rating[k];
            se += d * d;
            ae += fabs(d);
            n++;
        }
    EvalResult *r = calloc(1, sizeof *r);
    EvalMetric *mm = calloc(2, sizeof *mm);
    if (!r || !mm) {
        free(r);
        free(mm);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    snprintf(mm[0].name, sizeof mm[0].name, "rmse");
    mm[0].value = n ? sqrt(se / (double)n) : NAN;
    snprintf(mm[1].name, sizeof mm[1].name, "mae");
    mm[1].value = n ? ae / (double)n : NAN;
    r->metrics = mm;
    r->n_metrics = 2;
    r->n_rated = n;
    *out = r;
    return RS_OK;
}

/* Fits and evaluates fold f; adds its metrics to acc. */
static int cv_fold(Session *se, const ModelClass *cls, const ParamValues *pv, const EvalArgs *a,
                   const uint8_t *fold, int f, CvAcc *acc, size_t *nacc, RsErr *err)
{
    const RsMatrix *all = se->d->all;
    uint8_t *part = malloc(all->NNZ ? all->NNZ : 1);
    RsMatrix *train = NULL, *test = NULL;
    RsModel *m = NULL;
    EvalResult *r = NULL;
    int rc = part ? RS_OK : rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < all->NNZ; k++)
        part[k] = fold[k] == f ? SPLIT_TEST : SPLIT_TRAIN;
    if (!rc)
        rc = rs_matrix_select(all, part, SPLIT_TRAIN, &train, err);
    if (!rc)
        rc = rs_matrix_select(all, part, SPLIT_TEST, &test, err);
    if (!rc)
        rc = model_new(cls, all->U, all->I, pv, a->seed, &m, err);
    if (!rc) {
        FitContext ctx = {.train = train, .cat = se->d->cat, .nthreads = rs_ncpus()};
        rc = model_fit(m, &ctx, err);
    }
    if (!rc && a->rating_only)
        rc = rating_errors(m, train, test, &r, err);
    else if (!rc)
        rc = eval_model(m, train, test, se->d->cat, &a->o, &r, err);
    if (!rc)
        cv_add(acc, nacc, r);
    eval_result_free(r);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
    free(part);
    return rc;
}

static void print_cv(const EvalArgs *a, const CvAcc *acc, size_t nacc, double secs)
{
    if (a->fmt == OUT_JSON) {
        printf("{\"algorithm\":\"%s\",\"folds\":%d,\"seed\":%llu,\"protocol\":\"%s\","
               "\"seconds\":%.4f,\"metrics\":{", a->algo, a->folds, (unsigned long long)a->seed,
               a->rating_only ? "rating" : eval_protocol_name(a->o.protocol), secs);
        for (size_t k = 0; k < nacc; k++) {
            printf("%s\"%s\":", k ? "," : "", acc[k].name);
            print_num(acc[k].sum / acc[k].n);
        }
        printf("},\"std\":{");
        for (size_t k = 0; k < nacc; k++) {
            double mean = acc[k].sum / acc[k].n;
            double var = acc[k].n > 1 ? (acc[k].sum2 - acc[k].n * mean * mean) / (acc[k].n - 1) : 0;
            printf("%s\"%s\":", k ? "," : "", acc[k].name);
            print_num(sqrt(var > 0 ? var : 0));
        }
        printf("}}\n");
        return;
    }
    printf("%s, %d-fold cross-validation (seed %llu), %s, %.2f s in all\n", a->algo, a->folds,
           (unsigned long long)a->seed,
           a->rating_only ? "rating prediction only" : a->o.protocol == EVAL_SAMPLED
                                                        ? "sampled protocol" : "full protocol",
           secs);
    printf("  %-20s %10s %10s\n", "metric", "mean", "std");
    for (size_t k = 0; k < nacc; k++) {
        double mean = acc[k].sum / acc[k].n;
        double var = acc[k].n > 1 ? (acc[k].sum2 - acc[k].n * mean * mean) / (acc[k].n - 1) : 0;
        printf("  %-20s %10.4f %10.4f\n", acc[k].name, mean, sqrt(var > 0 ? var : 0));
    }
}

int cmd_cv(int argc, char **argv)
{
    EvalArgs a;
    int rc = parse_eval(argc, argv, cv_usage, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!a.algo)
        return cli_usage_error("cv", "--algo is required");
    const ModelClass *cls = model_class_find(a.algo);
    if (!cls)
        return cli_usage_error("cv", "unknown algorithm '%s' (valid: %s)", a.algo,
                               model_class_names());
    if (a.o.nks == 0) {
        a.o.ks[0] = 10;
        a.o.nks = 1;
    }
    ParamValues pv;
    Session se;
    RsErr err = {0};
    uint8_t *fold = NULL;
    CvAcc acc[64];
    size_t nacc = 0;
    double t0 = rs_now();
    rc = params_parse(cls->params, cls->nparams, a.params, a.nparams, &pv, &err);
    if (!rc)
        rc = session_open(&se, a.db, 1, &err);
    else
        memset(&se, 0, sizeof se);
    if (!rc && !(fold = malloc(se.d->all->NNZ)))
        rc = rs_err_set(&err, RS_ENOMEM, "out of memory");
    if (!rc)
        rc = split_kfold(se.d->all, a.folds, a.seed, fold, &err);
    for (int f = 0; !rc && f < a.folds; f++)
        rc = cv_fold(&se, cls, &pv, &a, fold, f, acc, &nacc, &err);
    if (!rc)
        print_cv(&a, acc, nacc, rs_now() - t0);
    free(fold);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- compare ------------------------------------------------------------------------ */

static const char compare_usage[] =
    "usage: recscope compare DB --runs A,B[,C] [--k 10] [--protocol full|sampled]\n"
    "                        [--user U] [--format text|json]\n"
    "\n"
    "Runs side by side. Without --user: their metrics at K, each against the\n"
    "first run with a paired test over users (bootstrap 95% confidence interval\n"
    "of the mean difference, Wilcoxon signed-rank p-value). With --user: the\n"
    "runs' top-K lists for that user side by side, items in every list marked\n"
    "'=', held-out test items marked '*'.\n";

#define MAX_RUNS 3

static int load_runs(const char *list, Session *se, const char *db, char names[][128],
                     size_t *n, RsErr *err)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_RUNS)
            return rs_err_set(err, RS_EUSAGE, "compare takes two or three runs");
        snprintf(names[*n], 128, "%s", t);
        int rc = session_open(&se[*n], db, 1, err);
        (*n)++;
        if (!rc)
            rc = session_run(&se[*n - 1], t, err);
        if (rc)
            return rc;
    }
    if (*n < 2)
        return rs_err_set(err, RS_EUSAGE, "compare takes two or three runs (--runs A,B[,C])");
    return RS_OK;
}

static void compare_metrics(const EvalArgs *a, Session *se, char names[][128], size_t n,
                            EvalResult **r)
{
    static const char *const shown[] = {"ndcg", "recall", "precision", "map", "mrr", "hr"};
    int same_split = 1;
    for (size_t j = 1; j < n; j++)
        same_split &= se[j].split.id == se[0].split.id;
    int json = a->fmt == OUT_JSON;
    if (json)
        printf("{\"protocol\":\"%s\",\"k\":%ld,\"runs\":[", eval_protocol_name(r[0]->protocol),
               a->k);
    else
        printf("%s protocol, K = %ld, split %s%s\n", eval_protocol_name(r[0]->protocol), a->k,
               se[0].split.name, same_split ? "" : " (runs on different splits: no paired test)");
    for (size_t j = 0; j < n; j++) {
        if (json) {
            printf("%s{\"run\":", j ? "," : "");
            json_str(stdout, names[j]);
            printf(",\"algorithm\":");
            json_str(stdout, se[j].run.algorithm);
            printf(",\"metrics\":{");
        } else {
            printf("%s%-16s (%s)\n", j ? "" : "", names[j], se[j].run.algorithm);
        }
        for (size_t m = 0; m < RS_ARRAY_LEN(shown); m++) {
            char key[EVAL_NAME_LEN];
            snprintf(key, sizeof key, "%s@%ld", shown[m], a->k);
            const EvalMetric *mj = eval_result_find(r[j], key), *m0 = eval_result_find(r[0], key);
            if (!mj)
                continue;
            StatsBootstrap bs = {0};
            StatsWilcoxon wx = {0};
            int paired = j > 0 && same_split && m0 && mj->per_user && m0->per_user &&
                         r[0]->n_users == r[j]->n_users &&
                         !memcmp(r[0]->users, r[j]->users, r[j]->n_users * sizeof *r[j]->users) &&
                         !stats_paired_bootstrap(m0->per_user, mj->per_user, r[j]->n_users,
                                                 STATS_BOOTSTRAP_DEFAULT_R, 0.95, 42, &bs, NULL) &&
                         !stats_wilcoxon(m0->per_user, mj->per_user, r[j]->n_users, &wx, NULL);
            if (json) {
                printf("%s\"%s\":{\"value\":", m ? "," : "", key);
                print_num(mj->value);
                if (paired)
                    printf(",\"diff\":%.6g,\"ci95\":[%.6g,%.6g],\"p\":%.4g,\"significant\":%s",
                           bs.mean_diff, bs.lo, bs.hi, wx.p,
                           wx.p < 0.05 && (bs.lo > 0 || bs.hi < 0) ? "true" : "false");
                printf("}");
            } else {
                printf("  %-14s %.4f", key, mj->value);
                if (paired)
                    printf("   %+.4f vs %s, 95%% CI [%+.4f, %+.4f], Wilcoxon p = %.3g%s",
                           bs.mean_diff, names[0], bs.lo, bs.hi, wx.p,
                           wx.p < 0.05 && (bs.lo > 0 || bs.hi < 0) ? "  significant" : "");
                printf("\n");
            }
        }
        if (json)
            printf("}}");
    }
    if (json)
        printf("]}\n");
}

static void compare_user(const EvalArgs *a, Session *se, char names[][128], size_t n,
                         uint32_t u)
{
    RsRec rec[MAX_RUNS][100];
    size_t nr[MAX_RUNS] = {0};
    size_t K = a->k > 100 ? 100 : (size_t)a->k;
    for (size_t j = 0; j < n; j++)
        if (model_recommend(se[j].model, se[j].train, u, K, 1, rec[j], &nr[j], NULL))
            nr[j] = 0;
    printf("user %s: top %zu of each run; '*' a held-out test item, '=' in every list\n",
           a->user, K);
    for (size_t j = 0; j < n; j++)
        printf("  %-36.36s", names[j]);
    printf("\n");
    for (size_t k = 0; k < K; k++) {
        for (size_t j = 0; j < n; j++) {
            if (k >= nr[j]) {
                printf("  %-36s", "");
                continue;
            }
            uint32_t i = rec[j][k].item;
            int everywhere = 1;
            for (size_t o = 0; o < n; o++) {
                int found = 0;
                for (size_t q = 0; q < nr[o]; q++)
                    found |= rec[o][q].item == i;
                everywhere &= found;
            }
            char c1[64], cell[80];
            snprintf(cell, sizeof cell, "%2zu %c%c %s", k + 1,
                     rs_matrix_find(se[j].test, u, i) != (size_t)-1 ? '*' : ' ',
                     everywhere ? '=' : ' ', cli_clean(session_item_label(&se[j], i), c1, 30));
            printf("  %-36s", cell);
        }
        printf("\n");
    }
}

int cmd_compare(int argc, char **argv)
{
    EvalArgs a;
    int rc = parse_eval(argc, argv, compare_usage, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!a.runs)
        return cli_usage_error("compare", "--runs A,B[,C] is required");
    if (a.o.nks == 0) {
        a.o.ks[0] = 10;
        a.o.nks = 1;
    }
    Session se[MAX_RUNS];
    memset(se, 0, sizeof se);
    char names[MAX_RUNS][128];
    size_t n = 0;
    EvalResult *r[MAX_RUNS] = {NULL};
    RsErr err = {0};
    rc = load_runs(a.runs, se, a.db, names, &n, &err);
    if (!rc && a.user) {
        uint32_t u;
        rc = session_user(&se[0], a.user, &u, &err);
        if (!rc)
            compare_user(&a, se, names, n, u);
    } else {
        for (size_t j = 0; !rc && j < n; j++)
            rc = eval_model(se[j].model, se[j].train, se[j].test, se[j].d->cat, &a.o, &r[j], &err);
        if (!rc)
            compare_metrics(&a, se, names, n, r);
    }
    for (size_t j = 0; j < MAX_RUNS; j++) {
        eval_result_free(r[j]);
        session_close(&se[j]);
    }
    return rc ? cli_fail(&err) : CLI_OK;
}
