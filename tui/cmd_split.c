/* cmd_split.c - `recscope split` and `recscope export-split`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"
#include "split.h"

static const char split_usage[] =
    "usage: recscope split DB --name NAME --method random|loo|temporal|file|kfold [options]\n"
    "\n"
    "Makes a train/test split of every interaction and stores it in DB, so that\n"
    "runs are compared on the same data. Seeded and reproducible.\n"
    "\n"
    "methods:\n"
    "  random     per-user random holdout of --test-frac of each user's interactions\n"
    "  loo        leave the last interaction (by timestamp) of each user out\n"
    "  temporal   global cut in time: the latest --test-frac of all interactions\n"
    "             are the test part (no future leakage into training)\n"
    "  file       the test interactions listed in --test-file (e.g. ML-100K u1.test)\n"
    "  kfold      --folds folds over all interactions, for 'recscope cv'\n"
    "\n"
    "options:\n"
    "  --name NAME        name of the split (required)\n"
    "  --method M         how to split (default random)\n"
    "  --test-frac F      share of interactions for testing (default 0.2)\n"
    "  --valid-frac F     share held out from training for validation / early\n"
    "                     stopping (default 0: none)\n"
    "  --test-file PATH   file of test interactions (method file)\n"
    "  --folds K          number of folds (method kfold, default 5)\n"
    "  --seed S           random seed (default 42)\n"
    "  -q, --quiet        print nothing on success\n"
    "  -h, --help         this help\n";

static int parse_frac(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= 0 && v < 1))
        return -1;
    *out = v;
    return 0;
}

int cmd_split(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},       {"method", required_argument, NULL, 'm'},
        {"test-frac", required_argument, NULL, 't'},  {"valid-frac", required_argument, NULL, 'v'},
        {"test-file", required_argument, NULL, 'f'},  {"folds", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, 's'},       {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    SplitParams sp = {.method = SPLIT_RANDOM, .test_frac = 0.2, .folds = 5, .seed = 42};
    const char *name = NULL, *file = NULL;
    int quiet = 0, c;
    long v;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': name = optarg; break;
        case 'm':
            if (split_parse_method(optarg, &sp.method))
                return cli_usage_error("split", "unknown method '%s' (valid: random, loo, "
                                       "temporal, file, kfold)", optarg);
            break;
        case 't':
            if (parse_frac(optarg, &sp.test_frac) || sp.test_frac <= 0)
                return cli_usage_error("split", "bad --test-frac '%s' (between 0 and 1)", optarg);
            break;
        case 'v':
            if (parse_frac(optarg, &sp.valid_frac))
                return cli_usage_error("split", "bad --valid-frac '%s' (0 up to 1)", optarg);
            break;
        case 'f': file = optarg; break;
        case 'k':
            if (cli_parse_long(optarg, &v) || v < 2 || v > 100)
                return cli_usage_error("split", "bad --folds '%s' (2 to 100)", optarg);
            sp.folds = (int)v;
            break;
        case 's':
            if (cli_parse_u64(optarg, &sp.seed))
                return cli_usage_error("split", "bad --seed '%s'", optarg);
            break;
        case 'q': quiet = 1; break;
        case 'h': fputs(split_usage, stdout); return CLI_OK;
        default: return cli_usage_error("split", "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("split", "expected DB");
    if (!name || !*name)
        return cli_usage_error("split", "--name is required");
    if ((sp.method == SPLIT_FILE) != (file != NULL))
        return cli_usage_error("split", file ? "--test-file goes with --method file"
                                             : "--method file needs --test-file PATH");
    Session se;
    RsErr err = {0};
    int rc = session_open(&se, argv[optind], 0, &err);
    uint8_t *part = NULL;
    size_t marked = 0;
    char params[256];
    if (!rc && !(part = calloc(se.d->all->NNZ, 1)))
        rc = rs_err_set(&err, RS_ENOMEM, "out of memory");
    if (!rc) {
        switch (sp.method) {
        case SPLIT_FILE:
            rc = store_split_file(file, se.d, part, &marked, &err);
            if (!rc && sp.valid_frac > 0)
                rc = split_add_validation(se.d->all, sp.valid_frac, sp.seed, part, &err);
            snprintf(params, sizeof params, "{\"test_file\":\"%.200s\",\"valid_frac\":%g}", file,
                     sp.valid_frac);
            break;
        case SPLIT_KFOLD:
            rc = split_kfold(se.d->all, sp.folds, sp.seed, part, &err);
            snprintf(params, sizeof params, "{\"folds\":%d}", sp.folds);
            break;
        default:
            rc = split_make(se.d->all, &sp, part, &err);
            snprintf(params, sizeof params, "{\"test_frac\":%g,\"valid_frac\":%g}", sp.test_frac,
                     sp.valid_frac);
        }
    }
    if (!rc)
        rc = store_split_save(se.store, name, split_method_name(sp.method), params, sp.seed, se.d,
                              part, sp.method == SPLIT_KFOLD ? sp.folds : 0, &err);
    size_t ntr = 0, nte = 0, nva = 0;
    if (!rc && sp.method != SPLIT_KFOLD)
        split_counts(part, se.d->all->NNZ, &ntr, &nte, &nva);
    if (!rc && !quiet) {
        if (sp.method == SPLIT_KFOLD)
            printf("split %s: %d folds over %zu interactions (seed %llu)\n", name, sp.folds,
                   se.d->all->NNZ, (unsigned long long)sp.seed);
        else
            printf("split %s (%s): %zu train, %zu test, %zu validation (seed %llu)\n", name,
                   split_method_name(sp.method), ntr, nte, nva, (unsigned long long)sp.seed);
    }
    free(part);
    session_close(&se);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const char export_split_usage[] =
    "usage: recscope export-split DB --split NAME [--part train|test|valid]\n"
    "\n"
    "Writes one part of a split as TSV: user, item, rating, timestamp\n"
    "(external ids; empty rating or timestamp when unknown). Default part: test.\n";

int cmd_export_split(int argc, char **argv)
{
    static const struct option opts[] = {{"split", required_argument, NULL, 's'},
                                         {"part", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *split = NULL;
    int which = SPLIT_TEST, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': split = optarg; break;
        case 'p':
            if (!strcmp(optarg, "train"))
                which = SPLIT_TRAIN;
            else if (!strcmp(optarg, "test"))
                which = SPLIT_TEST;
            else if (!strcmp(optarg, "valid"))
                which = SPLIT_VALID;
            else
                return cli_usage_error("export-split", "bad --part '%s' (train, test, valid)",
                                       optarg);
            break;
        case 'h': fputs(export_split_usage, stdout); return CLI_OK;
        default: return cli_usage_error("export-split", "bad option");
        }
    }
    if (argc - optind != 1 || !split)
        return cli_usage_error("export-split", "expected DB and --split NAME");
    Session se;
    RsErr err = {0};
    int rc = session_open(&se, argv[optind], 1, &err);
    if (!rc)
        rc = session_split(&se, split, &err);
    if (rc) {
        session_close(&se);
        return cli_fail(&err);
    }
    const RsMatrix *m = which == SPLIT_TRAIN ? se.train : which == SPLIT_TEST ? se.test : se.valid;
    printf("user\titem\trating\ttimestamp\n");
    for (size_t u = 0; m && u < m->U; u++)
        for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++) {
            tsv_str(stdout, se.d->cat->user_ext[u]);
            putchar('\t');
            tsv_str(stdout, se.d->cat->item_ext[m->u_items[k]]);
            putchar('\t');
            if (m->u_rating[k] == m->u_rating[k])
                printf("%g", m->u_rating[k]);
            putchar('\t');
            if (m->u_ts[k] != RS_NO_TS)
                printf("%lld", (long long)m->u_ts[k]);
            putchar('\n');
        }
    session_close(&se);
    return CLI_OK;
}
