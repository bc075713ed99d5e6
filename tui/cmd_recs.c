/*
 * cmd_recs.c - what a trained run says: `recommend`, `explain`, `similar`,
 * `whatif` and `export-recs`.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cli.h"
#include "session.h"
#include "split.h"

typedef struct RecArgs {
    const char *db, *run, *user, *item, *items, *device;
    long k;
    int include_seen;
    OutFormat fmt;
} RecArgs;

enum { NEED_USER = 1, NEED_ITEM = 2, NEED_ITEMS = 4, TAKES_SEEN = 8, TAKES_FORMAT = 16,
       TAKES_K = 32, TAKES_DEVICE = 64 };

static int parse_rec(int argc, char **argv, const char *usage, int need, long def_k, RecArgs *a)
{
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'r'},   {"user", required_argument, NULL, 'u'},
        {"item", required_argument, NULL, 'i'},  {"items", required_argument, NULL, 'I'},
        {"k", required_argument, NULL, 'k'},     {"format", required_argument, NULL, 'f'},
        {"include-seen", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {"device", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    memset(a, 0, sizeof *a);
    a->k = def_k;
    a->device = "auto";
    a->fmt = OUT_TEXT;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': a->run = optarg; break;
        case 'u': a->user = optarg; break;
        case 'i': a->item = optarg; break;
        case 'I': a->items = optarg; break;
        case 'k':
            if (cli_parse_long(optarg, &a->k) || a->k < 1 || a->k > 100000)
                return cli_usage_error(cmd, "bad --k '%s' (1 to 100000)", optarg);
            break;
        case 'f':
            if (cli_parse_format(optarg, &a->fmt))
                return cli_usage_error(cmd, "unknown format '%s' (valid: text, tsv, json)",
                                       optarg);
            break;
        case 's': a->include_seen = 1; break;
        case 'd':
            if (!(need & TAKES_DEVICE))
                return cli_usage_error(cmd, "--device is not an option of %s", cmd);
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
    if (a->include_seen && !(need & TAKES_SEEN))
        return cli_usage_error(cmd, "--include-seen is not an option of %s", cmd);
    if (a->fmt != OUT_TEXT && !(need & TAKES_FORMAT))
        return cli_usage_error(cmd, "--format is not an option of %s", cmd);
    if (a->k != def_k && !(need & TAKES_K))
        return cli_usage_error(cmd, "--k is not an option of %s", cmd);
    if ((a->user && !(need & NEED_USER)) || (a->item && !(need & NEED_ITEM)) ||
        (a->items && !(need & NEED_ITEMS)))
        return cli_usage_error(cmd, "%s is not an option of %s",
                               a->user && !(need & NEED_USER) ? "--user"
                               : a->item && !(need & NEED_ITEM) ? "--item" : "--items", cmd);
    if (!a->run)
        return cli_usage_error(cmd, "--run is required");
    if ((need & NEED_USER) && !a->user)
        return cli_usage_error(cmd, "--user is required");
    if ((need & NEED_ITEM) && !a->item)
        return cli_usage_error(cmd, "--item is required");
    if ((need & NEED_ITEMS) && !a->items)
        return cli_usage_error(cmd, "--items is required");
    return CLI_OK;
}

/* Is item i a held-out test item of user u? */
static int is_hit(const Session *se, uint32_t u, uint32_t i)
{
    return rs_matrix_find(se->test, u, i) != (size_t)-1;
}

static void print_recs(const Session *se, const RsRec *r, size_t n, long user, OutFormat fmt)
{
    const RsCatalog *c = se->d->cat;
    char b1[64], b2[256];
    if (fmt == OUT_JSON)
        printf("[");
    else if (fmt == OUT_TSV)
        printf("rank\titem\tscore\ttest\ttitle\n");
    else
        printf("%4s  %-10s %10s  %-4s %s\n", "RANK", "ITEM", "SCORE", "TEST", "TITLE");
    for (size_t k = 0; k < n; k++) {
        uint32_t i = r[k].item;
        int hit = user >= 0 && is_hit(se, (uint32_t)user, i);
        if (fmt == OUT_JSON) {
            printf("%s{\"rank\":%zu,\"item\":", k ? "," : "", k + 1);
            json_str(stdout, c->item_ext[i]);
            printf(",\"score\":%.6g,\"test\":%s,\"title\":", r[k].score, hit ? "true" : "false");
            json_str(stdout, c->item_title[i]);
            printf("}");
        } else if (fmt == OUT_TSV) {
            printf("%zu\t", k + 1);
            tsv_str(stdout, c->item_ext[i]);
            printf("\t%.6g\t%d\t", r[k].score, hit);
            tsv_str(stdout, c->item_title[i]);
            putchar('\n');
        } else {
            printf("%4zu  %-10s %10.4g  %-4s %s\n", k + 1, cli_clean(c->item_ext[i], b1, 11),
                   r[k].score, hit ? "hit" : "", cli_clean(c->item_title[i], b2, sizeof b2));
        }
    }
    if (fmt == OUT_JSON)
        printf("]\n");
}

static int open_run(Session *se, const RecArgs *a, RsErr *err)
{
    int rc = session_open(se, a->db, 1, err);
    return rc ? rc : session_run(se, a->run, err);
}

/* ---- recommend ------------------------------------------------------------------ */

static const char recommend_usage[] =
    "usage: recscope recommend DB --run RUN --user USER [--k N] [--include-seen]\n"
    "                          [--format text|tsv|json]\n"
    "\n"
    "The top N items (default 10) of a trained run for a user, leaving out the\n"
    "user's training items unless --include-seen. Items in the user's held-out\n"
    "test part are marked as hits.\n";

int cmd_recommend(int argc, char **argv)
{
    RecArgs a;
    int rc = parse_rec(argc, argv, recommend_usage, NEED_USER | TAKES_SEEN | TAKES_FORMAT | TAKES_K, 10, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Session se;
    RsErr err = {0};
    uint32_t u = 0;
    RsRec *rec = NULL;
    size_t n = 0;
    rc = open_run(&se, &a, &err);
    if (!rc)
        rc = session_user(&se, a.user, &u, &err);
    if (!rc && !(rec = malloc((size_t)a.k * sizeof *rec)))
        rc = rs_err_set(&err, RS_ENOMEM, "out of memory");
    if (!rc)
        rc = model_recommend(se.model, se.train, u, (size_t)a.k, !a.include_seen, rec, &n, &err);
    if (!rc)
        print_recs(&se, rec, n, u, a.fmt);
    free(rec);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- explain ----------------------------------------------------------------------- */

static const char explain_usage[] =
    "usage: recscope explain DB --run RUN --user USER --item ITEM [--format text|json]\n"
    "\n"
    "Why the run recommends ITEM to USER: the score, the item's rank among the\n"
    "user's unseen items, and what contributed (history items, neighbours,\n"
    "terms or factors) with each one's share of the score.\n";

static const char *contrib_label(const Session *se, const RsContribution *c, char *buf,
                                 size_t cap)
{
    const RsCatalog *cat = se->d->cat;
    switch (c->kind) {
    case EXPL_ITEM:
        snprintf(buf, cap, "item %s: %s", cat->item_ext[c->index],
                 cat->item_title[c->index] ? cat->item_title[c->index] : "");
        break;
    case EXPL_USER:
        snprintf(buf, cap, "user %s", cat->user_ext[c->index]);
        break;
    case EXPL_FACTOR:
        snprintf(buf, cap, "factor %u", c->index);
        break;
    default:
        snprintf(buf, cap, "%s", c->label);
    }
    return buf;
}

static const char *kind_name(ExplKind k)
{
    static const char *const names[] = {"item", "user", "term", "factor", "part"};
    return (size_t)k < RS_ARRAY_LEN(names) ? names[k] : "?";
}

static int cmp_similarity(const void *a, const void *b)
{
    float x = (*(const RsContribution *const *)a)->similarity;
    float y = (*(const RsContribution *const *)b)->similarity;
    return (x < y) - (x > y);
}

static uint32_t u_index(const Session *se, const RecArgs *a)
{
    uint32_t u = 0;
    session_user(se, a->user, &u, NULL);
    return u;
}

static void print_explanation(const Session *se, const RecArgs *a, uint32_t item,
                              const RsExplanation *e)
{
    char buf[512], c1[256];
    double total = 0;
    for (size_t k = 0; k < e->n; k++)
        total += fabs(e->c[k].value);
    if (a->fmt == OUT_JSON) {
        printf("{\"run\":");
        json_str(stdout, a->run);
        printf(",\"user\":");
        json_str(stdout, a->user);
        printf(",\"item\":");
        json_str(stdout, se->d->cat->item_ext[item]);
        printf(",\"score\":%.6g,\"rank\":%ld,\"additive\":%s,\"bias\":%.6g,\"method\":", e->score,
               e->rank, e->additive ? "true" : "false", e->bias);
        json_str(stdout, e->method);
        printf(",\"contributions\":[");
        for (size_t k = 0; k < e->n; k++) {
            const RsContribution *c = &e->c[k];
            printf("%s{\"kind\":\"%s\",\"id\":", k ? "," : "", kind_name(c->kind));
            if (c->kind == EXPL_ITEM)
                json_str(stdout, se->d->cat->item_ext[c->index]);
            else if (c->kind == EXPL_USER)
                json_str(stdout, se->d->cat->user_ext[c->index]);
            else
                printf("%u", c->index);
            printf(",\"label\":");
            json_str(stdout, contrib_label(se, c, buf, sizeof buf));
            printf(",\"value\":%.6g,\"similarity\":", c->value);
            isnan(c->similarity) ? printf("null") : printf("%.6g", c->similarity);
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("%s for user %s under %s\n", cli_clean(session_item_label(se, item), c1, sizeof c1),
           a->user, a->run);
    printf("  score %.6g", e->score);
    if (e->rank > 0)
        printf(", rank %ld among the user's unseen items", e->rank);
    else if (rs_matrix_find(se->train, u_index(se, a), item) != (size_t)-1)
        printf(" (already in the user's training history)");
    else
        printf(" (not ranked: the model gives it no score)");
    printf("\n  %s\n", e->method);
    if (e->additive)
        printf("  the contributions%s add up to the score\n",
               e->bias != 0 ? " plus the baseline" : "");
    if (e->bias != 0)
        printf("  baseline %.6g\n", e->bias);
    size_t shown = 0, near = 0;
    for (size_t k = 0; k < e->n; k++) {
        const RsContribution *c = &e->c[k];
        if (c->value == 0 && !isnan(c->similarity)) {
            near++; /* listed below */
            continue;
        }
        if (++shown > 20)
            continue;
        double share = total > 0 ? fabs(c->value) / total : 0;
        char bar[21];
        int fill = (int)(share * 20 + 0.5);
        for (int j = 0; j < 20; j++)
            bar[j] = j < fill ? '#' : ' ';
        bar[20] = '\0';
        printf("  %+10.4g  %5.1f%% [%s] %s", c->value, share * 100, bar,
               cli_clean(contrib_label(se, c, buf, sizeof buf), c1, 60));
        if (!isnan(c->similarity))
            printf("  (sim %.3f)", c->similarity);
        printf("\n");
    }
    if (shown > 20)
        printf("  ... and %zu smaller contributions\n", shown - 20);
    if (!near)
        return;
    printf("  nearest history items (similarity, no share of the score):\n");
    const RsContribution **nc = malloc(near * sizeof *nc);
    size_t nn = 0;
    for (size_t k = 0; nc && k < e->n; k++)
        if (e->c[k].value == 0 && !isnan(e->c[k].similarity))
            nc[nn++] = &e->c[k];
    qsort(nc, nn, sizeof *nc, cmp_similarity);
    for (size_t j = 0; j < nn && j < 10; j++)
        printf("    %6.3f  %s\n", nc[j]->similarity,
               cli_clean(contrib_label(se, nc[j], buf, sizeof buf), c1, 60));
    free(nc);
}

int cmd_explain(int argc, char **argv)
{
    RecArgs a;
    int rc = parse_rec(argc, argv, explain_usage, NEED_USER | NEED_ITEM | TAKES_FORMAT, 10, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (a.fmt == OUT_TSV)
        return cli_usage_error("explain", "explain writes text or json");
    Session se;
    RsErr err = {0};
    uint32_t u = 0, i = 0;
    RsExplanation e;
    rs_explanation_init(&e);
    rc = open_run(&se, &a, &err);
    if (!rc)
        rc = session_user(&se, a.user, &u, &err);
    if (!rc)
        rc = session_item(&se, a.item, &i, &err);
    if (!rc)
        rc = model_explain(se.model, se.train, se.d->cat, u, NULL, i, &e, &err);
    if (!rc) {
        rs_explanation_sort(&e, 0);
        print_explanation(&se, &a, i, &e);
    }
    rs_explanation_done(&e);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- similar ------------------------------------------------------------------------ */

static const char similar_usage[] =
    "usage: recscope similar DB --run RUN --item ITEM [--k N] [--format text|tsv|json]\n"
    "\n"
    "The N items (default 10) most similar to ITEM under a run's model.\n";

int cmd_similar(int argc, char **argv)
{
    RecArgs a;
    int rc = parse_rec(argc, argv, similar_usage, NEED_ITEM | TAKES_FORMAT | TAKES_K, 10, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Session se;
    RsErr err = {0};
    uint32_t i = 0;
    float *scores = NULL;
    RsRec *rec = NULL;
    rc = open_run(&se, &a, &err);
    if (!rc)
        rc = session_item(&se, a.item, &i, &err);
    if (!rc && !se.model->cls->similar)
        rc = rs_err_set(&err, RS_EUSAGE, "%s has no notion of item similarity",
                        se.model->cls->name);
    if (!rc && (!(scores = malloc(se.d->all->I * sizeof *scores)) ||
                !(rec = malloc((size_t)a.k * sizeof *rec))))
        rc = rs_err_set(&err, RS_ENOMEM, "out of memory");
    if (!rc)
        rc = se.model->cls->similar(se.model, se.train, i, scores, &err);
    if (!rc) {
        scores[i] = -INFINITY;
        size_t n = topk(scores, se.d->all->I, NULL, (size_t)a.k, rec);
        print_recs(&se, rec, n, -1, a.fmt);
    }
    free(scores);
    free(rec);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- whatif ------------------------------------------------------------------------- */

static const char whatif_usage[] =
    "usage: recscope whatif DB --run RUN --items I1,I2,... [--k N] [--format text|tsv|json]\n"
    "\n"
    "Recommendations for a new user who interacted with the listed items (fold-in:\n"
    "no retraining). The cold-start demo.\n";

int cmd_whatif(int argc, char **argv)
{
    RecArgs a;
    int rc = parse_rec(argc, argv, whatif_usage, NEED_ITEMS | TAKES_FORMAT | TAKES_K, 10, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Session se;
    RsErr err = {0};
    uint32_t *items = NULL;
    size_t n = 0, nrec = 0;
    RsRec *rec = NULL;
    char *list = strdup(a.items);
    rc = open_run(&se, &a, &err);
    if (!rc && (!list || !(items = malloc((strlen(a.items) + 1) * sizeof *items)) ||
                !(rec = malloc((size_t)a.k * sizeof *rec))))
        rc = rs_err_set(&err, RS_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *t = rc ? NULL : strtok_r(list, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
        rc = session_item(&se, t, &items[n++], &err);
    if (!rc && n == 0)
        rc = rs_err_set(&err, RS_EUSAGE, "--items lists no item");
    if (!rc) {
        RsProfile p = {n, items, NULL};
        rc = model_recommend_profile(se.model, se.train, &p, (size_t)a.k, !a.include_seen, rec,
                                     &nrec, &err);
    }
    if (!rc)
        print_recs(&se, rec, nrec, -1, a.fmt);
    free(list);
    free(items);
    free(rec);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ---- export-recs ---------------------------------------------------------------------- */

static const char export_recs_usage[] =
    "usage: recscope export-recs DB --run RUN [--k K] [--device auto|cpu|gpu]\n"
    "\n"
    "Writes the top K (default 10) recommendations of every evaluated user (users\n"
    "with at least one test interaction) as TSV: user, item, rank, score.\n"
    "--device: where a factor model's (als, bpr, mf) lists are computed: auto\n"
    "(default) on a GPU when there is one (the rest on the CPU if the GPU fails\n"
    "part-way), cpu never, gpu or fail.\n";

#define EXPORT_GPU_USERS 65536 /* users per GPU call: bounds the host buffers */

static void print_rec(const Session *se, uint32_t u, uint32_t item, size_t rank, float score)
{
    tsv_str(stdout, se->d->cat->user_ext[u]);
    putchar('\t');
    tsv_str(stdout, se->d->cat->item_ext[item]);
    printf("\t%zu\t%.6g\n", rank, score);
}

/* The lists of the test users on the GPU, EXPORT_GPU_USERS at a time
 * (gpu_topk_factors blocks them further on the device). *from: the first
 * user whose list is not written yet (all of them when it returns RS_OK). */
static int export_gpu(const Session *se, size_t K, uint32_t *from, RsErr *err)
{
    float *X = NULL, *Y = NULL;
    size_t D = 0, U = se->d->all->U, I = se->d->all->I;
    int rc = se->model->cls->factors(se->model, &X, &Y, &D, err);
    if (rc)
        return rc;
    uint32_t *users = malloc(EXPORT_GPU_USERS * sizeof *users);
    uint32_t *items = malloc(EXPORT_GPU_USERS * K * sizeof *items);
    float *scores = malloc(EXPORT_GPU_USERS * K * sizeof *scores);
    uint32_t *counts = malloc(EXPORT_GPU_USERS * sizeof *counts);
    if (!users || !items || !scores || !counts)
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t u0 = 0; !rc && u0 < U;) {
        size_t n = 0;
        *from = (uint32_t)u0;
        for (; u0 < U && n < EXPORT_GPU_USERS; u0++)
            if (rs_user_count(se->test, (uint32_t)u0) > 0)
                users[n++] = (uint32_t)u0;
        if (n == 0 || (rc = gpu_topk_factors(X, U, Y, I, D, se->train, users, n, K, items,
                                             scores, counts, err)))
            continue;
        for (size_t b = 0; b < n; b++)
            for (size_t r = 0; r < counts[b]; r++)
                print_rec(se, users[b], items[b * K + r], r + 1, scores[b * K + r]);
    }
    if (!rc)
        *from = (uint32_t)U;
    free(X);
    free(Y);
    free(users);
    free(items);
    free(scores);
    free(counts);
    return rc;
}

int cmd_export_recs(int argc, char **argv)
{
    RecArgs a;
    int rc = parse_rec(argc, argv, export_recs_usage, TAKES_K | TAKES_DEVICE, 10, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Session se;
    RsErr err = {0};
    RsRec *rec = NULL;
    rc = open_run(&se, &a, &err);
    int gpu = 0;
    if (!rc && strcmp(a.device, "cpu") != 0) {
        RsGpuInfo gi;
        gpu_probe(&gi);
        const char *why = gi.devices == 0            ? gi.message
                          : !se.model->cls->factors ? "not a factor model"
                          : a.k > GPU_TOPK_MAX      ? "--k above 512"
                                                    : NULL;
        if (!why) {
            gpu = 1;
            fprintf(stderr, "recscope: ranking on the GPU (%s)\n", gi.name);
        } else if (!strcmp(a.device, "gpu")) {
            rc = rs_err_set(&err, RS_EGPU, "--device gpu: %s", why);
        }
    }
    uint32_t from = 0; /* the first user whose list is not written yet */
    if (!rc)
        printf("user\titem\trank\tscore\n");
    if (!rc && gpu) {
        rc = export_gpu(&se, (size_t)a.k, &from, &err);
        if (rc == RS_EGPU && !strcmp(a.device, "auto")) { /* say why, then the CPU */
            fprintf(stderr, "recscope: %s; ranking the remaining users on the CPU\n", err.msg);
            rs_err_clear(&err);
            rc = RS_OK;
            gpu = 0;
        }
        if (fflush(stdout) != 0 && !rc)
            rc = rs_err_set(&err, RS_EIO, "writing the recommendations failed");
    }
    if (!rc && !gpu && !(rec = malloc((size_t)a.k * sizeof *rec)))
        rc = rs_err_set(&err, RS_ENOMEM, "out of memory");
    for (uint32_t u = from; !rc && !gpu && u < se.d->all->U; u++) {
        if (rs_user_count(se.test, u) == 0)
            continue;
        size_t n;
        if ((rc = model_recommend(se.model, se.train, u, (size_t)a.k, 1, rec, &n, &err)))
            break;
        for (size_t k = 0; k < n; k++)
            print_rec(&se, u, rec[k].item, k + 1, rec[k].score);
    }
    free(rec);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}
