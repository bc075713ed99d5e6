/* cmd_generate.c - `recscope generate OUTDIR`: writes a sample data set (see
 * engine/synth.h) that `recscope import` reads back. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "synth.h"

static const char generate_usage[] =
    "usage: recscope generate OUTDIR [options]\n"
    "\n"
    "Writes a made-up, MovieLens-like data set to OUTDIR (created if missing):\n"
    "items.csv, users.csv, interactions.csv and generator.txt. The same\n"
    "options always give the same files. Load it with 'recscope import DB OUTDIR'.\n"
    "\n"
    "options:\n"
    "  --users N         number of users (default 943)\n"
    "  --items N         number of items (default 1682)\n"
    "  --interactions N  number of ratings, at least one per user and at most\n"
    "                    users x items (default 100000)\n"
    "  --seed S          random seed, 0 to 2^64-1 (default 42)\n"
    "  -q, --quiet       print nothing on success\n"
    "  -h, --help        this help\n";

/* A positive size for --NAME. */
static int parse_size(const char *name, const char *s, size_t *out)
{
    long v;
    if (cli_parse_long(s, &v) || v <= 0)
        return cli_usage_error("generate", "--%s wants a positive whole number, not '%s'", name,
                               s);
    *out = (size_t)v;
    return 0;
}

/* The full unsigned 64-bit range, decimal. */
static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *s == '+' || *end || errno)
        return cli_usage_error("generate", "--seed wants a whole number from 0 to %" PRIu64
                               ", not '%s'", UINT64_MAX, s);
    *out = (uint64_t)v;
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"users", required_argument, NULL, 'u'}, {"items", required_argument, NULL, 'i'},
        {"interactions", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    SynthParams p;
    synth_params_default(&p);
    int quiet = 0, c;
    optind = 0; /* glibc: start afresh, so the command can run more than once per process */
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'u': rc = parse_size("users", optarg, &p.users); break;
        case 'i': rc = parse_size("items", optarg, &p.items); break;
        case 'n': rc = parse_size("interactions", optarg, &p.interactions); break;
        case 's': rc = parse_seed(optarg, &p.seed); break;
        case 'q': quiet = 1; break;
        case 'h': fputs(generate_usage, stdout); return CLI_OK;
        default: return cli_usage_error("generate", "bad option");
        }
        if (rc)
            return rc;
    }
    if (argc - optind < 1)
        return cli_usage_error("generate", "expected an OUTDIR");
    if (argc - optind > 1)
        return cli_usage_error("generate", "unexpected argument '%s'", argv[optind + 1]);
    const char *outdir = argv[optind];
    RsErr err = {0};
    if (synth_params_check(&p, &err))
        return cli_usage_error("generate", "%s", err.msg);

    CliProgress prog = {"generate", 0};
    int show = !quiet && isatty(STDERR_FILENO);
    int rc = synth_generate(outdir, &p, show ? cli_progress : NULL, &prog, &err);
    if (show)
        cli_progress_end(&prog);
    if (rc)
        return cli_fail(&err);
    if (!quiet)
        printf("wrote %zu interactions, %zu users, %zu items to %s\n", p.interactions, p.users,
               p.items, outdir);
    return CLI_OK;
}
