/*
 * synth.c - the deterministic sample-data generator (see synth.h).
 *
 * Design. Generation runs in three passes, each driven by its own seeded
 * stream (derived from the seed, a pass tag and an index), so that a user's
 * rows depend only on (seed, catalogue, that user) and the same parameters
 * give the same bytes everywhere:
 *
 *   1. The catalogue: genre embeddings, Zipf popularity over a random
 *      permutation of the items (weight rank^-1.25), series (about 10% of the
 *      items, 2-6 consecutive ids with decaying popularity), then each item's
 *      genres, year, tags, title, description and latent factors; items.csv is
 *      written as it goes. Items are then filed into one pool per genre plus
 *      one of all items, each sorted by year with cumulative popularity, so
 *      "an item of genre g released by year Y, chosen in proportion to
 *      popularity" is one binary search.
 *   2. Per-user activity: min(20, NNZ/U) rows each plus a heavy-tailed share
 *      (Lomax weights, alpha 2) of the rest, capped at I/2 and then at I, and
 *      made to sum to exactly NNZ. A dry run of pass 3 over a sample of users
 *      fixes the rating thresholds so the ratings follow MovieLens-100K's
 *      histogram.
 *   3. Users one at a time, streamed to users.csv and interactions.csv: the
 *      user's profile (age, gender, occupation, a taste over 1-3 genres that
 *      may drift to another genre over the user's history, latent factors),
 *      an activity window with sessions of strictly increasing timestamps,
 *      and for each step an item drawn without replacement by genre taste x
 *      popularity among items already released, with a pull towards new
 *      releases and towards the session's genre, series started at part 1
 *      and continued in order a few steps later. Ratings come from a biased matrix-factorisation model (Koren,
 *      Bell & Volinsky, "Matrix factorization techniques for recommender
 *      systems", 2009, eq. 4) plus noise, cut at the calibrated thresholds.
 *
 * Determinism: only the RsRng stream, integer arithmetic and IEEE-exact
 * double operations (+ - * / sqrt) decide what is written; Gaussian deviates
 * come from an Irwin-Hall sum rather than libm's log/cos.
 */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include "synth.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rng.h"

/* ---- model constants ------------------------------------------------------ */

enum {
    K = 8,          /* latent factors */
    NGENRES = 18,   /* G */
    POOL_ALL = NGENRES,
    YEAR_MIN = 1930,
    YEAR_MAX = 2024,
    NYEARS = YEAR_MAX - YEAR_MIN + 1,
    MAX_TASTE = 4,  /* genres in one taste mixture */
    MAX_TAGS = 4,
    MAX_PENDING = 8, /* series continuations waiting in one user's queue */
    MIN_PER_USER = 20,
    GAP_MIN = 20,   /* seconds between two ratings of one session */
    GAP_MAX = 600,
    CALIB_ROWS = 200000,     /* rows the rating calibration aims for */
    CALIB_MIN_ROWS = 20000,  /* ... and will not do with fewer */
    PROGRESS_EVERY = 1 << 16,
};

#define T_START 852076800LL  /* 1997-01-01T00:00:00Z */
#define T_END 1735689600LL   /* 2025-01-01T00:00:00Z, exclusive */
#define DAY 86400LL
#define WINDOW_MAX_DAYS 3650.0
#define INV_SQRT_K 0.35355339059327373 /* 1 / sqrt(K) */

#define P_SERIES_START 0.027 /* per item position: ~10% of items in series */
#define SERIES_POP_DECAY 0.55
#define AFF_BASE 0.05        /* affinity of every user to every item */
#define P_NEW_RELEASE 0.15   /* draw among the last 3 years' releases */
#define P_REDIRECT 0.85      /* a later part drawn: start at the first unseen part */
#define P_CONTINUE 0.75      /* after a part, queue the next part */
#define P_DRIFT 0.5          /* a user's taste drifts to a new genre */
#define P_MOOD 0.6           /* draw from the session's genre */
#define ACTIVITY_CAP 40.0    /* largest activity weight (mean ~1) */
/* Rating model scales, set so that global / bias-baseline / MF RMSE come out
 * near MovieLens-100K's (about 1.13 / 0.94 / 0.92). */
#define NOISE_SD 0.7
#define ITEM_NOISE 0.8 /* item factors beyond their genres */
#define USER_NOISE 0.8 /* user factors beyond their tastes */
#define ITEM_BIAS_SD 0.4
#define USER_BIAS_SD 0.4

/* MovieLens-100K's rating histogram, cumulative: P(r <= 1..4). */
static const double RATING_CDF[4] = {0.061, 0.175, 0.446, 0.788};

/* Pass tags for stream_seed. */
enum { TAG_CATALOG = 1, TAG_ACTIVITY, TAG_USER, TAG_STEPS };

/* ---- word lists ------------------------------------------------------------ */

typedef struct GenreInfo {
    const char *name;
    const char *noun; /* as used in descriptions: "a tense <noun>" */
    int freq;         /* relative frequency among items (MovieLens-100K counts) */
    const char *adj[4];
    const char *who[4];
    const char *where[4];
    const char *tags[5];
    const char *title_words[4];
} GenreInfo;

static const GenreInfo GENRES[NGENRES] = {
    {"Action", "action film", 251,
     {"explosive", "relentless", "high-octane", "gritty"},
     {"a disgraced bodyguard", "an ex-special-forces pilot", "a getaway driver",
      "two estranged brothers"},
     {"across a collapsing megacity", "on a runaway freight train",
      "inside a locked-down skyscraper", "through the streets of Marseille"},
     {"car chase", "martial arts", "explosions", "shootout", "one-man army"},
     {"Fury", "Velocity", "Strike", "Impact"}},
    {"Adventure", "adventure", 135,
     {"sweeping", "daring", "globe-trotting", "breathless"},
     {"a young cartographer", "a washed-up treasure hunter", "a ship's cook",
      "a runaway heiress"},
     {"in the uncharted jungles of the Amazon", "across the frozen Arctic", "on a lost island",
      "along the Silk Road"},
     {"treasure hunt", "expedition", "jungle", "quest", "shipwreck"},
     {"Expedition", "Compass", "Horizon", "Voyage"}},
    {"Animation", "animated film", 42,
     {"colourful", "whimsical", "hand-drawn", "charming"},
     {"a curious little robot", "a fox who cannot run", "a paper crane", "a lonely cloud"},
     {"in a kingdom of toys", "beneath a busy city", "in a forest of talking trees",
      "on a floating island"},
     {"talking animals", "stop motion", "animal friends", "musical numbers", "hand-drawn"},
     {"Lantern", "Paper", "Whiskers", "Balloon"}},
    {"Children", "family film", 122,
     {"heartwarming", "playful", "gentle", "funny"},
     {"a shy ten-year-old", "a family of inventors", "a lost puppy", "three siblings"},
     {"at a summer camp", "in a small seaside town", "on grandmother's farm",
      "in a magical toy shop"},
     {"coming of age", "friendship", "family", "school", "pets"},
     {"Puppy", "Treehouse", "Rainbow", "Kite"}},
    {"Comedy", "comedy", 505,
     {"hilarious", "quirky", "screwball", "deadpan"},
     {"an unlucky wedding planner", "two rival chefs", "a lazy substitute teacher",
      "a bickering family"},
     {"in suburban New Jersey", "at a disastrous family reunion", "in a failing hotel",
      "on a cruise ship"},
     {"dark comedy", "satire", "slapstick", "witty dialogue", "parody"},
     {"Trouble", "Mischief", "Wedding", "Holiday"}},
    {"Crime", "crime story", 109,
     {"tense", "hard-boiled", "gritty", "stylish"},
     {"a retired detective", "a crew of bank robbers", "a corrupt police captain",
      "a young money launderer"},
     {"in a rain-soaked port city", "in 1970s Chicago", "in the Naples underworld",
      "in a sleepy desert town"},
     {"heist", "mafia", "organized crime", "police investigation", "con artist"},
     {"Heist", "Alibi", "Verdict", "Contract"}},
    {"Documentary", "documentary", 50,
     {"revealing", "intimate", "eye-opening", "sobering"},
     {"a team of marine biologists", "a jazz legend", "factory workers", "a mountain village"},
     {"in the Himalayas", "inside the fashion industry", "on the Great Barrier Reef",
      "in post-war Berlin"},
     {"nature", "history", "politics", "science", "music"},
     {"Truth", "Record", "Witness", "Planet"}},
    {"Drama", "drama", 725,
     {"moving", "quiet", "powerful", "bittersweet"},
     {"a grieving widower", "a struggling single mother", "an aging pianist", "two sisters"},
     {"in a small Irish village", "in post-war Tokyo", "in a Midwestern mill town",
      "at a boarding school"},
     {"family drama", "true story", "grief", "redemption", "character study"},
     {"Promise", "Silence", "Letters", "Garden"}},
    {"Fantasy", "fantasy epic", 22,
     {"enchanting", "epic", "mythic", "dark"},
     {"an apprentice sorceress", "an exiled prince", "a dragon keeper", "a blind oracle"},
     {"in a realm of endless winter", "beyond the enchanted forest",
      "in a city of floating towers", "in the land of the fae"},
     {"magic", "dragons", "sword and sorcery", "mythology", "fairy tale"},
     {"Dragon", "Crown", "Sorcerer", "Realm"}},
    {"Film-Noir", "film noir", 24,
     {"shadowy", "fatalistic", "moody", "cynical"},
     {"a down-on-his-luck private eye", "a femme fatale", "an insurance investigator",
      "a nightclub singer"},
     {"in 1940s Los Angeles", "in a smoky jazz club", "on the docks of San Francisco",
      "in a cheap downtown hotel"},
     {"noir", "femme fatale", "private detective", "black and white", "voiceover"},
     {"Shadow", "Double", "Dame", "Alley"}},
    {"Horror", "horror film", 92,
     {"terrifying", "eerie", "blood-soaked", "unsettling"},
     {"a group of college friends", "a young nurse", "a paranormal investigator",
      "a family of five"},
     {"in a haunted lighthouse", "in a remote cabin", "in an abandoned asylum",
      "in a cursed village"},
     {"haunted house", "supernatural", "slasher", "zombies", "gore"},
     {"Blood", "Haunting", "Curse", "Bones"}},
    {"Musical", "musical", 56,
     {"dazzling", "toe-tapping", "joyful", "lavish"},
     {"a small-town dancer", "a touring rock band", "a singing nun", "a Broadway understudy"},
     {"on the Broadway stage", "in 1950s Paris", "in a Harlem jazz club",
      "on a travelling showboat"},
     {"singing", "dance", "broadway", "great soundtrack", "jazz"},
     {"Melody", "Rhythm", "Song", "Serenade"}},
    {"Mystery", "mystery", 61,
     {"twisting", "puzzling", "atmospheric", "clever"},
     {"an amateur sleuth", "a forensic accountant", "a retired schoolteacher",
      "an eccentric inspector"},
     {"in a snowbound country manor", "aboard a night train", "on a foggy island",
      "in a sleepy English village"},
     {"whodunit", "detective", "puzzle", "conspiracy", "murder mystery"},
     {"Secret", "Riddle", "Clue", "Key"}},
    {"Romance", "romance", 247,
     {"tender", "sweeping", "passionate", "bittersweet"},
     {"two strangers", "a florist and a firefighter", "star-crossed lovers",
      "a widowed baker"},
     {"in Paris", "in a seaside town in Maine", "in wartime London",
      "at a vineyard in Tuscany"},
     {"love story", "romantic comedy", "love triangle", "wedding", "first love"},
     {"Heart", "Kiss", "Summer", "Valentine"}},
    {"Sci-Fi", "science-fiction film", 101,
     {"mind-bending", "cerebral", "futuristic", "visionary"},
     {"a lone astronaut", "a rogue android", "a team of time travellers",
      "a colony of survivors"},
     {"on a dying space station", "on a distant ice moon", "in a dystopian megacity",
      "aboard a generation ship"},
     {"space", "time travel", "robots", "dystopia", "aliens"},
     {"Orbit", "Signal", "Android", "Nebula"}},
    {"Thriller", "thriller", 251,
     {"gripping", "paranoid", "nail-biting", "taut"},
     {"a whistleblower", "a kidnapped journalist", "an undercover agent",
      "a hostage negotiator"},
     {"in Cold War Berlin", "inside a secret government lab", "on a hijacked airliner",
      "in a Moscow hotel"},
     {"espionage", "suspense", "mind games", "twist ending", "surveillance"},
     {"Target", "Cipher", "Pursuit", "Trap"}},
    {"War", "war film", 71,
     {"harrowing", "unflinching", "heroic", "epic"},
     {"a platoon of reluctant soldiers", "a field nurse", "a fighter pilot",
      "a resistance courier"},
     {"on the beaches of Normandy", "in the jungles of Vietnam", "behind enemy lines",
      "in occupied France"},
     {"world war ii", "vietnam", "soldiers", "resistance", "battle"},
     {"Battalion", "Trenches", "Frontline", "Valor"}},
    {"Western", "western", 27,
     {"dusty", "sweeping", "lawless", "classic"},
     {"a lone gunslinger", "a frontier sheriff", "a cattle rustler", "a widowed rancher"},
     {"on the Texas frontier", "in a lawless mining town", "along the Oregon Trail",
      "in the Arizona desert"},
     {"cowboys", "gunfight", "frontier", "revenge", "outlaws"},
     {"Rider", "Canyon", "Outlaw", "Frontier"}},
};

static const char *const GENERAL_TAGS[] = {
    "based on a book", "cult classic", "visually stunning", "slow burn", "ensemble cast",
    "award winner", "quotable", "feel-good", "atmospheric", "great acting",
};

static const char *const ADJS[] = {
    "Silent", "Last", "Broken", "Golden", "Hidden", "Lost", "Crimson", "Distant",
    "Forgotten", "Burning", "Endless", "Quiet", "Wild", "Hollow", "Secret", "Bitter",
    "Electric", "Velvet", "Savage", "Gentle", "Frozen", "Iron", "Silver", "Restless",
    "Lonely", "Fallen", "Sacred", "Stolen", "Wandering", "Blue", "Scarlet", "Northern",
    "Midnight", "Paper", "Glass", "Painted", "Sleeping", "Rising", "Invisible", "Final",
};

static const char *const NOUNS[] = {
    "Harbor", "Circus", "River", "Garden", "Station", "Mirror", "Kingdom", "Lighthouse",
    "Orchard", "Bridge", "Horizon", "Carnival", "Empire", "Frontier", "Voyage", "Island",
    "Highway", "Mountain", "Forest", "Desert", "City", "Tide", "Storm", "Winter",
    "Summer", "Hotel", "Theater", "Letter", "Promise", "Dream", "Season", "Road",
    "Journey", "Compass", "Country", "Shore", "Valley", "Window", "Door", "Machine",
};

static const char *const PERSONS[] = {
    "Keeper", "Stranger", "Daughter", "Thief", "Prince", "Widow", "Soldier",
    "Dancer", "Prophet", "Captain", "Teacher", "Hunter", "Witness", "Doctor",
    "Sailor", "King", "Queen", "Ghost", "Gambler", "Pilot",
};

static const char *const PLACES[] = {
    "Ashford", "Bellmare", "Cold Harbor", "Dunmore", "Eastwick", "Fairhaven", "Glenrock",
    "Havenport", "Ironvale", "Juniper Falls", "Kingsbridge", "Larkspur", "Marlow",
    "Northgate", "Oakridge", "Port Ellis", "Ravenna", "Silverlake", "Thornbury", "Westfield",
};

static const char *const NAMES[] = {
    "Margaret", "Charlie", "Eleanor", "Jonah", "Rosa", "Felix", "Ada", "Tomas",
    "Mira", "Oscar", "Lena", "Walter", "Iris", "Hugo", "Nadia", "Samuel",
};

static const char *const TIMES[] = {
    "Summer", "Winter", "One Night", "Last Days", "Autumn", "Spring", "Midnight",
    "A Weekend", "Christmas", "Sunday",
};

static const char *const SERIES_PREFIX[] = {
    "Star", "Iron", "Shadow", "Storm", "Frost", "Ember", "Moon", "Sun",
    "Night", "Stone", "Blood", "Silver", "Thunder", "Dawn", "Wolf", "Raven",
};
static const char *const SERIES_SUFFIX[] = {
    "fall", "forge", "keep", "born", "gate", "wind", "fire", "crest", "hold", "light",
    "song", "watch",
};
static const char *const SERIES_WORD[] = {
    "Chronicles", "Saga", "Legacy", "Files", "Cycle", "Quest", "Legends", "Adventures", "Tales",
};

typedef struct Occupation {
    const char *name;
    int freq;      /* MovieLens-100K counts */
    int favourite; /* genre index this occupation leans to */
} Occupation;

enum { G_ACTION = 0, G_ADVENTURE, G_ANIMATION, G_CHILDREN, G_COMEDY, G_CRIME, G_DOCUMENTARY,
       G_DRAMA, G_FANTASY, G_NOIR, G_HORROR, G_MUSICAL, G_MYSTERY, G_ROMANCE, G_SCIFI,
       G_THRILLER, G_WAR, G_WESTERN };

static const Occupation OCCUPATIONS[] = {
    {"administrator", 79, G_DRAMA},   {"artist", 28, G_NOIR},
    {"doctor", 7, G_DRAMA},           {"educator", 95, G_DOCUMENTARY},
    {"engineer", 67, G_SCIFI},        {"entertainment", 18, G_MUSICAL},
    {"executive", 32, G_THRILLER},    {"healthcare", 16, G_ROMANCE},
    {"homemaker", 7, G_ROMANCE},      {"lawyer", 12, G_CRIME},
    {"librarian", 51, G_MYSTERY},     {"marketing", 26, G_COMEDY},
    {"none", 9, G_ACTION},            {"other", 105, G_COMEDY},
    {"programmer", 66, G_SCIFI},      {"retired", 14, G_WESTERN},
    {"salesman", 12, G_ACTION},       {"scientist", 31, G_DOCUMENTARY},
    {"student", 196, G_COMEDY},       {"technician", 27, G_ACTION},
    {"writer", 45, G_DRAMA},
};
enum { OCC_RETIRED = 15, OCC_STUDENT = 18 }; /* indices into OCCUPATIONS */

#define PICK(r, list) ((list)[rng_below((r), RS_ARRAY_LEN(list))])

/* ---- random helpers -------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seeds r with the stream for (seed, pass tag, index). */
static void stream_seed(RsRng *r, uint64_t seed, uint64_t tag, uint64_t index)
{
    uint64_t h = mix64(seed + 0x9E3779B97F4A7C15ull * (tag + 1));
    rng_seed(r, mix64(h ^ (index + 0x632BE59BD9B4E019ull)));
}

/* Approximately standard normal: the Irwin-Hall sum of 12 uniforms minus 6
 * (mean 0, variance 1). Integer sums and one division keep it bit-identical
 * on every platform. */
static double approx_normal(RsRng *r)
{
    uint64_t s = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t x = rng_next(r);
        s += (x & 0xFFFF) + ((x >> 16) & 0xFFFF) + ((x >> 32) & 0xFFFF) + (x >> 48);
    }
    return ((double)s + 6.0) / 65536.0 - 6.0;
}

/* Uniform in (0, 1]. */
static double uniform_pos(RsRng *r) { return (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53; }

static int draw_genre(RsRng *r)
{
    int total = 0;
    for (int g = 0; g < NGENRES; g++)
        total += GENRES[g].freq;
    int x = (int)rng_below(r, (uint64_t)total);
    int g = 0;
    while (g < NGENRES - 1 && x >= GENRES[g].freq)
        x -= GENRES[g++].freq;
    return g;
}

/* ---- buffered CSV output ---------------------------------------------------- */

typedef struct Out {
    FILE *f;
    char *buf; /* (cap,) */
    size_t len, cap;
    int errnum; /* first write error, 0 if none */
    char tmp[PATH_MAX];
    char dst[PATH_MAX];
} Out;

static int out_open(Out *o, const char *dir, const char *name, RsErr *err)
{
    memset(o, 0, sizeof *o);
    int a = snprintf(o->dst, sizeof o->dst, "%s/%s", dir, name);
    int b = snprintf(o->tmp, sizeof o->tmp, "%s/.%s.part", dir, name);
    if (a < 0 || b < 0 || (size_t)b >= sizeof o->tmp) {
        o->tmp[0] = '\0'; /* nothing for out_abort to remove */
        return rs_err_set(err, RS_EIO, "%s/%s: path too long", dir, name);
    }
    o->cap = 1 << 16;
    o->buf = malloc(o->cap);
    if (!o->buf)
        return rs_err_set(err, RS_ENOMEM, "out of memory writing %s", o->dst);
    o->f = fopen(o->tmp, "wb");
    if (!o->f) {
        int e = errno;
        free(o->buf);
        o->buf = NULL;
        rs_err_set(err, RS_EIO, "cannot create %s: %s", o->tmp, strerror(e));
        o->tmp[0] = '\0';
        return RS_EIO;
    }
    return RS_OK;
}

static void out_flush(Out *o)
{
    if (o->len && !o->errnum && fwrite(o->buf, 1, o->len, o->f) != o->len)
        o->errnum = errno ? errno : EIO;
    o->len = 0;
}

static void out_bytes(Out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        out_flush(o);
        if (n > o->cap) {
            if (!o->errnum && fwrite(s, 1, n, o->f) != n)
                o->errnum = errno ? errno : EIO;
            return;
        }
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(Out *o, const char *s) { out_bytes(o, s, strlen(s)); }

static void out_char(Out *o, char c)
{
    if (o->len == o->cap)
        out_flush(o);
    o->buf[o->len++] = c;
}

static void out_u64(Out *o, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (o->len + (size_t)n > o->cap)
        out_flush(o);
    while (n)
        o->buf[o->len++] = tmp[--n];
}

/* One CSV field, quoted (RFC 4180, quotes doubled) only when it must be. */
static void out_field(Out *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        out_str(o, s);
        return;
    }
    out_char(o, '"');
    for (; *s; s++) {
        if (*s == '"')
            out_char(o, '"');
        out_char(o, *s);
    }
    out_char(o, '"');
}

/* Flushes and closes; RS_EIO naming the final path on any write error. */
static int out_close(Out *o, RsErr *err)
{
    int rc = RS_OK;
    if (o->f) {
        out_flush(o);
        if (fclose(o->f) != 0 && !o->errnum)
            o->errnum = errno ? errno : EIO;
        o->f = NULL;
        if (o->errnum)
            rc = rs_err_set(err, RS_EIO, "cannot write %s: %s", o->dst, strerror(o->errnum));
    }
    free(o->buf);
    o->buf = NULL;
    return rc;
}

static int out_commit(Out *o, RsErr *err)
{
    if (rename(o->tmp, o->dst) != 0)
        return rs_err_set(err, RS_EIO, "cannot rename %s to %s: %s", o->tmp, o->dst,
                          strerror(errno));
    o->tmp[0] = '\0';
    return RS_OK;
}

/* Closes (if open) and removes the temporary file (if any). */
static void out_abort(Out *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    free(o->buf);
    o->buf = NULL;
    if (o->tmp[0])
        unlink(o->tmp);
    o->tmp[0] = '\0';
}

/* ---- the catalogue ---------------------------------------------------------- */

typedef struct Item {
    float q[K];           /* item factors */
    float bias;           /* b_i */
    uint32_t genres;      /* bit g set: genre g */
    int32_t series_first; /* index of part 1, or -1 */
    int32_t series_next;  /* index of the next part, or -1 */
    uint16_t year;
    uint8_t part; /* 1.. within its series, 0 if none */
} Item;

/* The items of one genre (or all items), sorted by (year, index). */
typedef struct Pool {
    uint32_t *ids;        /* (n,) item indices */
    double *cum;          /* (n,) cumulative popularity */
    size_t n;
    size_t end[NYEARS];   /* entries with year <= YEAR_MIN + y */
} Pool;

typedef struct Catalog {
    size_t I;
    Item *items;              /* (I,) */
    double *pop;              /* (I,) popularity weight */
    float emb[NGENRES][K];    /* genre embeddings */
    Pool pools[NGENRES + 1];  /* per genre, then POOL_ALL */
} Catalog;

static void catalog_done(Catalog *c)
{
    free(c->items);
    free(c->pop);
    for (int g = 0; g <= NGENRES; g++) {
        free(c->pools[g].ids);
        free(c->pools[g].cum);
    }
    memset(c, 0, sizeof *c);
}

/* What one item row says, apart from its id. */
typedef struct ItemText {
    char title[160];
    char desc[512];
    const char *tags[MAX_TAGS];
    int ntags;
} ItemText;

static int draw_year(RsRng *r)
{
    /* max of two uniforms: density rising linearly towards the present */
    uint64_t a = rng_below(r, NYEARS), b = rng_below(r, NYEARS);
    return YEAR_MIN + (int)(a > b ? a : b);
}

/* 1-3 distinct genres; *lead is the first one drawn. */
static uint32_t draw_genres(RsRng *r, int *lead)
{
    uint64_t x = rng_below(r, 100);
    int n = x < 50 ? 1 : x < 85 ? 2 : 3;
    uint32_t mask = 0;
    *lead = draw_genre(r);
    mask |= 1u << *lead;
    while (__builtin_popcount(mask) < n)
        mask |= 1u << draw_genre(r);
    return mask;
}

static int mask_genre(RsRng *r, uint32_t mask)
{
    int n = __builtin_popcount(mask);
    int k = (int)rng_below(r, (uint64_t)n);
    for (int g = 0; g < NGENRES; g++)
        if ((mask >> g & 1) && k-- == 0)
            return g;
    return 0;
}

enum { WORD_TAG, WORD_WHERE };

/* A tag or a setting of one of the genres in mask. */
static const char *genre_word(RsRng *r, uint32_t mask, int kind)
{
    const GenreInfo *gi = &GENRES[mask_genre(r, mask)];
    if (kind == WORD_TAG)
        return gi->tags[rng_below(r, RS_ARRAY_LEN(gi->tags))];
    return gi->where[rng_below(r, RS_ARRAY_LEN(gi->where))];
}

static void draw_tags(RsRng *r, uint32_t mask, ItemText *t)
{
    uint64_t x = rng_below(r, 100);
    int want = x < 15 ? 0 : x < 40 ? 1 : x < 70 ? 2 : x < 90 ? 3 : 4;
    t->ntags = 0;
    for (int tries = 0; t->ntags < want && tries < 20; tries++) {
        const char *tag;
        if (rng_below(r, 4) == 0)
            tag = PICK(r, GENERAL_TAGS);
        else
            tag = genre_word(r, mask, WORD_TAG);
        int dup = 0;
        for (int i = 0; i < t->ntags; i++)
            dup |= strcmp(t->tags[i], tag) == 0;
        if (!dup)
            t->tags[t->ntags++] = tag;
    }
}

static int is_general_tag(const char *tag)
{
    for (size_t i = 0; i < RS_ARRAY_LEN(GENERAL_TAGS); i++)
        if (strcmp(GENERAL_TAGS[i], tag) == 0)
            return 1;
    return 0;
}

/* "A tense thriller and crime story about <who> <where>, with <tag> and <tag>." */
static void make_description(ItemText *t, int lead, uint32_t mask, const char *who,
                             const char *where, const char *adj)
{
    const char *second = NULL;
    for (int g = 0; g < NGENRES; g++)
        if ((mask >> g & 1) && g != lead) {
            second = GENRES[g].noun;
            break;
        }
    const char *gt[2];
    int ngt = 0;
    for (int i = 0; i < t->ntags && ngt < 2; i++)
        if (!is_general_tag(t->tags[i]))
            gt[ngt++] = t->tags[i];
    const char *article = strchr("aeiou", adj[0]) ? "An" : "A";
    char with[128] = "";
    if (ngt == 2)
        snprintf(with, sizeof with, ", with %s and %s", gt[0], gt[1]);
    else if (ngt == 1)
        snprintf(with, sizeof with, ", with %s", gt[0]);
    snprintf(t->desc, sizeof t->desc, "%s %s %s%s%s about %s %s%s.", article, adj,
             GENRES[lead].noun, second ? " and " : "", second ? second : "", who, where, with);
}

static void make_title(RsRng *r, int lead, char *buf, size_t size)
{
    /* a genre word instead of a generic noun ties titles to content */
    const char *noun = rng_below(r, 100) < 45 ? GENRES[lead].title_words[rng_below(r, 4)]
                                              : PICK(r, NOUNS);
    uint64_t x = rng_below(r, 100);
    /* one draw per statement: argument evaluation order is unspecified */
    const char *a, *b;
    if (x < 26)
        snprintf(buf, size, "The %s %s", PICK(r, ADJS), noun);
    else if (x < 46)
        snprintf(buf, size, "%s %s", PICK(r, ADJS), noun);
    else if (x < 58) {
        a = PICK(r, PERSONS);
        b = PICK(r, PLACES);
        snprintf(buf, size, "The %s of %s", a, b);
    } else if (x < 68) {
        a = PICK(r, TIMES);
        b = PICK(r, PLACES);
        snprintf(buf, size, "%s in %s", a, b);
    } else if (x < 78)
        snprintf(buf, size, "%s's %s", PICK(r, NAMES), noun);
    else if (x < 86)
        snprintf(buf, size, "%s %s", PICK(r, PLACES), noun);
    else if (x < 92)
        snprintf(buf, size, "The %s", noun);
    else if (x < 97)
        snprintf(buf, size, "%s and the %s", noun, PICK(r, PERSONS));
    else if (x < 99)
        snprintf(buf, size, "Goodbye, %s", PICK(r, PLACES));
    else
        snprintf(buf, size, "Farewell, %s", PICK(r, NAMES));
}

static void make_series_name(RsRng *r, char *buf, size_t size)
{
    if (rng_below(r, 100) < 60) {
        const char *a = PICK(r, SERIES_PREFIX), *b = PICK(r, SERIES_SUFFIX);
        snprintf(buf, size, "%s%s %s", a, b, PICK(r, SERIES_WORD));
    } else {
        const char *a = PICK(r, PLACES);
        snprintf(buf, size, "The %s %s", a, PICK(r, SERIES_WORD));
    }
}

static void write_item_row(Out *o, size_t idx, const Item *it, const ItemText *t)
{
    out_u64(o, idx + 1);
    out_char(o, ',');
    out_field(o, t->title);
    out_char(o, ',');
    out_u64(o, it->year);
    out_char(o, ',');
    int first = 1;
    for (int g = 0; g < NGENRES; g++)
        if (it->genres >> g & 1) {
            if (!first)
                out_char(o, '|');
            out_str(o, GENRES[g].name);
            first = 0;
        }
    out_char(o, ',');
    char tags[160] = "";
    size_t len = 0;
    for (int i = 0; i < t->ntags && len < sizeof tags; i++)
        len += (size_t)snprintf(tags + len, sizeof tags - len, "%s%s", i ? "|" : "", t->tags[i]);
    out_field(o, tags);
    out_char(o, ',');
    out_field(o, t->desc);
    out_char(o, '\n');
}

/* Part of b_i: popular items are rated a little higher (+-0.125). */
static double popularity_bias(uint32_t rank, size_t I)
{
    return 0.25 * (0.5 - (double)rank / (double)I);
}

/* Popularity of the item of rank r (0 = most popular): Zipf, (r + 1)^-1.25.
 * The exponent is a little over 1 because drawing without replacement,
 * genre tastes and release dates flatten what users end up rating. */
static double zipf_weight(uint32_t r)
{
    double x = (double)r + 1.0;
    return 1.0 / (x * sqrt(sqrt(x)));
}

/* q = mean genre embedding + ITEM_NOISE * noise / sqrt(K) */
static void item_factors(const Catalog *c, RsRng *r, uint32_t mask, float *q)
{
    int n = __builtin_popcount(mask);
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int g = 0; g < NGENRES; g++)
            if (mask >> g & 1)
                s += c->emb[g][k];
        q[k] = (float)(s / n + ITEM_NOISE * approx_normal(r) * INV_SQRT_K);
    }
}

/* A film outside any series at index i. */
static void make_single(Catalog *c, size_t i, const uint32_t *rank, RsRng *r, Out *o)
{
    Item *it = &c->items[i];
    ItemText t;
    int lead;
    it->genres = draw_genres(r, &lead);
    it->year = (uint16_t)draw_year(r);
    it->series_first = it->series_next = -1;
    it->part = 0;
    item_factors(c, r, it->genres, it->q);
    it->bias = (float)(ITEM_BIAS_SD * approx_normal(r) + popularity_bias(rank[i], c->I));
    c->pop[i] = zipf_weight(rank[i]);
    draw_tags(r, it->genres, &t);
    make_title(r, lead, t.title, sizeof t.title);
    const char *who = GENRES[lead].who[rng_below(r, 4)];
    const char *where = genre_word(r, it->genres, WORD_WHERE);
    const char *adj = GENRES[lead].adj[rng_below(r, 4)];
    make_description(&t, lead, it->genres, who, where, adj);
    write_item_row(o, i, it, &t);
}

/* Parts 1..L of a series at indices i..i+L-1: shared genres, story and
 * factors, years rising, popularity and quality fading with each sequel. */
static void make_series(Catalog *c, size_t i, size_t L, const uint32_t *rank, RsRng *r, Out *o)
{
    int lead;
    uint32_t mask = draw_genres(r, &lead);
    char name[96];
    make_series_name(r, name, sizeof name);
    const GenreInfo *gi = &GENRES[lead];
    const char *who = gi->who[rng_below(r, 4)];
    const char *where = genre_word(r, mask, WORD_WHERE);
    const char *adj = gi->adj[rng_below(r, 4)];
    float q0[K];
    item_factors(c, r, mask, q0);
    double bias0 = ITEM_BIAS_SD * approx_normal(r) + popularity_bias(rank[i], c->I);
    int year = draw_year(r);
    double pop = zipf_weight(rank[i]);
    for (size_t k = 0; k < L; k++) {
        Item *it = &c->items[i + k];
        ItemText t;
        it->genres = mask;
        it->year = (uint16_t)year;
        it->series_first = (int32_t)i;
        it->series_next = k + 1 < L ? (int32_t)(i + k + 1) : -1;
        it->part = (uint8_t)(k + 1);
        for (int d = 0; d < K; d++)
            it->q[d] = (float)(q0[d] + 0.1 * approx_normal(r) * INV_SQRT_K);
        it->bias = (float)(bias0 - 0.06 * (double)k);
        c->pop[i + k] = pop;
        draw_tags(r, mask, &t);
        snprintf(t.title, sizeof t.title, "%s: Part %zu", name, k + 1);
        make_description(&t, lead, mask, who, where, adj);
        write_item_row(o, i + k, it, &t);
        pop *= SERIES_POP_DECAY;
        year += 1 + (int)rng_below(r, 3);
        if (year > YEAR_MAX)
            year = YEAR_MAX;
    }
}

/* Files every item into its genres' pools and POOL_ALL, sorted by year. */
static int catalog_pools(Catalog *c)
{
    size_t I = c->I;
    size_t count[NGENRES + 1] = {0};
    for (size_t i = 0; i < I; i++) {
        for (int g = 0; g < NGENRES; g++)
            count[g] += c->items[i].genres >> g & 1;
        count[POOL_ALL]++;
    }
    for (int g = 0; g <= NGENRES; g++) {
        Pool *p = &c->pools[g];
        p->ids = malloc((count[g] ? count[g] : 1) * sizeof *p->ids);
        p->cum = malloc((count[g] ? count[g] : 1) * sizeof *p->cum);
        if (!p->ids || !p->cum)
            return RS_ENOMEM;
    }
    /* counting sort of the items by year, stable in index */
    size_t *start = calloc(NYEARS + 1, sizeof *start);
    uint32_t *order = malloc(I * sizeof *order); /* (I,) */
    if (!start || !order) {
        free(start);
        free(order);
        return RS_ENOMEM;
    }
    for (size_t i = 0; i < I; i++)
        start[c->items[i].year - YEAR_MIN + 1]++;
    for (int y = 0; y < NYEARS; y++)
        start[y + 1] += start[y];
    for (size_t i = 0; i < I; i++)
        order[start[c->items[i].year - YEAR_MIN]++] = (uint32_t)i;
    free(start);
    for (size_t j = 0; j < I; j++) {
        uint32_t i = order[j];
        const Item *it = &c->items[i];
        for (int g = 0; g <= NGENRES; g++) {
            if (g < NGENRES && !(it->genres >> g & 1))
                continue;
            Pool *p = &c->pools[g];
            p->cum[p->n] = (p->n ? p->cum[p->n - 1] : 0.0) + c->pop[i];
            p->ids[p->n++] = i;
        }
    }
    free(order);
    for (int g = 0; g <= NGENRES; g++) {
        Pool *p = &c->pools[g];
        size_t j = 0;
        for (int y = 0; y < NYEARS; y++) {
            while (j < p->n && c->items[p->ids[j]].year <= YEAR_MIN + y)
                j++;
            p->end[y] = j;
        }
    }
    return RS_OK;
}

/* Builds the catalogue and writes items.csv's rows to o. */
static int catalog_build(Catalog *c, size_t I, uint64_t seed, Out *o, RsErr *err)
{
    memset(c, 0, sizeof *c);
    c->I = I;
    c->items = calloc(I, sizeof *c->items);
    c->pop = calloc(I, sizeof *c->pop);
    uint32_t *rank = malloc(I * sizeof *rank); /* (I,) popularity rank, 0 = most popular */
    uint32_t *perm = malloc(I * sizeof *perm); /* (I,) */
    if (!c->items || !c->pop || !rank || !perm) {
        free(rank);
        free(perm);
        return rs_err_set(err, RS_ENOMEM, "out of memory for %zu items", I);
    }
    RsRng r;
    stream_seed(&r, seed, TAG_CATALOG, 0);
    for (int g = 0; g < NGENRES; g++)
        for (int k = 0; k < K; k++)
            c->emb[g][k] = (float)(approx_normal(&r) * INV_SQRT_K);
    for (size_t i = 0; i < I; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = I - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&r, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < I; i++)
        rank[perm[i]] = (uint32_t)i;
    free(perm);

    out_str(o, "item_id,title,year,genres,tags,description\n");
    size_t i = 0;
    while (i < I) {
        if (I - i >= 2 && rng_uniform(&r) < P_SERIES_START) {
            size_t L = 2 + (size_t)rng_below(&r, 5);
            if (L > I - i)
                L = I - i;
            make_series(c, i, L, rank, &r, o);
            i += L;
        } else {
            make_single(c, i, rank, &r, o);
            i++;
        }
    }
    free(rank);
    if (catalog_pools(c) != RS_OK)
        return rs_err_set(err, RS_ENOMEM, "out of memory for %zu items", I);
    return RS_OK;
}

/* An item from pool p released in years [ylo, yhi] (indices into NYEARS),
 * drawn in proportion to popularity; -1 if there is none. */
static int64_t pool_draw(const Pool *p, int ylo, int yhi, RsRng *r)
{
    size_t lo = ylo > 0 ? p->end[ylo - 1] : 0, hi = p->end[yhi];
    if (hi <= lo)
        return -1;
    double base = lo ? p->cum[lo - 1] : 0.0;
    double x = base + rng_uniform(r) * (p->cum[hi - 1] - base);
    /* first entry in [lo, hi) whose cumulative weight exceeds x */
    size_t a = lo, b = hi - 1;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (p->cum[m] > x)
            b = m;
        else
            a = m + 1;
    }
    return p->ids[a];
}

/* ---- users ------------------------------------------------------------------ */

/* A user's affinity to genres: theta[j] for genre g[j], summing to 1. */
typedef struct Taste {
    int n;
    int g[MAX_TASTE];
    double theta[MAX_TASTE];
} Taste;

typedef struct Profile {
    int age;
    char gender;
    int occ;
    Taste t0, t1;  /* taste at the start and at the end of the history */
    float p0[K];   /* user factors matching t0 */
    float p1[K];   /* ... and t1 */
    float bias;    /* b_u */
} Profile;

static int draw_occupation(RsRng *r)
{
    int n = (int)RS_ARRAY_LEN(OCCUPATIONS), total = 0;
    for (int i = 0; i < n; i++)
        total += OCCUPATIONS[i].freq;
    int x = (int)rng_below(r, (uint64_t)total);
    int i = 0;
    while (i < n - 1 && x >= OCCUPATIONS[i].freq)
        x -= OCCUPATIONS[i++].freq;
    return i;
}

/* A genre of t, drawn by theta. */
static int taste_genre(const Taste *t, RsRng *r)
{
    double x = rng_uniform(r);
    for (int j = 0; j < t->n - 1; j++) {
        if (x < t->theta[j])
            return t->g[j];
        x -= t->theta[j];
    }
    return t->g[t->n - 1];
}

static int taste_has(const int *g, int n, int genre)
{
    for (int j = 0; j < n; j++)
        if (g[j] == genre)
            return 1;
    return 0;
}

/* Normalises weights w[0..n) into t->theta and sets the user factors
 * p = sum_j theta_j E[g_j] + USER_NOISE * noise / sqrt(K). */
static void taste_finish(Taste *t, const double *w, const Catalog *c, const double *noise,
                         float *p)
{
    double total = 0;
    for (int j = 0; j < t->n; j++)
        total += w[j];
    for (int j = 0; j < t->n; j++)
        t->theta[j] = w[j] / total;
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int j = 0; j < t->n; j++)
            s += t->theta[j] * c->emb[t->g[j]][k];
        p[k] = (float)(s + USER_NOISE * noise[k] * INV_SQRT_K);
    }
}

/* User u's profile: a pure function of (seed, u, catalogue). */
static void profile_make(Profile *pr, const Catalog *c, uint64_t seed, size_t u)
{
    RsRng r;
    stream_seed(&r, seed, TAG_USER, u);
    double a = 29.0 + 10.0 * approx_normal(&r);
    if (rng_below(&r, 100) < 15)
        a = 16.0 + (double)rng_below(&r, 60);
    pr->age = a < 16.0 ? 16 : a > 75.0 ? 75 : (int)a;
    uint64_t x = rng_below(&r, 100);
    pr->gender = x < 58 ? 'M' : x < 96 ? 'F' : 'X';
    if (pr->age >= 60 && rng_below(&r, 100) < 60)
        pr->occ = OCC_RETIRED;
    else if (pr->age <= 22 && rng_below(&r, 100) < 65)
        pr->occ = OCC_STUDENT;
    else
        pr->occ = draw_occupation(&r);

    /* Dirichlet-like taste: 1-3 genres, weights skewed so one dominates */
    x = rng_below(&r, 100);
    int m = x < 30 ? 1 : x < 75 ? 2 : 3;
    int g[MAX_TASTE];
    double w[MAX_TASTE];
    g[0] = rng_below(&r, 100) < 35 ? OCCUPATIONS[pr->occ].favourite : draw_genre(&r);
    for (int j = 1; j < m; j++) {
        int h;
        do
            h = draw_genre(&r);
        while (taste_has(g, j, h));
        g[j] = h;
    }
    for (int j = 0; j < m; j++) {
        double v = rng_uniform(&r);
        w[j] = 0.15 + v * v;
    }
    for (int j = 1; j < m; j++) /* descending: the first-drawn genre leads */
        for (int i = j; i > 0 && w[i] > w[i - 1]; i--) {
            double t = w[i];
            w[i] = w[i - 1];
            w[i - 1] = t;
        }
    double noise[K];
    for (int k = 0; k < K; k++)
        noise[k] = approx_normal(&r);
    pr->bias = (float)(USER_BIAS_SD * approx_normal(&r));
    pr->t0.n = m;
    memcpy(pr->t0.g, g, sizeof g);
    taste_finish(&pr->t0, w, c, noise, pr->p0);

    /* drift: a new genre joins (or replaces the weakest) and comes to lead */
    if (rng_uniform(&r) < P_DRIFT) {
        int h;
        do
            h = draw_genre(&r);
        while (taste_has(g, m, h));
        int slot = m < 3 ? m++ : m - 1;
        g[slot] = h;
        w[slot] = 1.2 * w[0];
    }
    pr->t1.n = m;
    memcpy(pr->t1.g, g, sizeof g);
    taste_finish(&pr->t1, w, c, noise, pr->p1);
}

/* Predicted score of item it for a user f of the way through their history:
 * b_u + b_i + p(f)·q_i + noise, p(f) moving from p0 to p1. */
static double score(const Profile *pr, const Item *it, double f, double z)
{
    double d0 = 0, d1 = 0;
    for (int k = 0; k < K; k++) {
        d0 += (double)pr->p0[k] * it->q[k];
        d1 += (double)pr->p1[k] * it->q[k];
    }
    return (double)pr->bias + it->bias + (1.0 - f) * d0 + f * d1 + NOISE_SD * z;
}

static int rating_of(double s, const double *thr)
{
    return 1 + (s > thr[0]) + (s > thr[1]) + (s > thr[2]) + (s > thr[3]);
}

/* Per-user row counts: each at least min(20, NNZ/U, I), the rest shared by
 * heavy-tailed weights w = min(40, 1/sqrt(v) - 1) (Lomax, alpha 2, mean 1),
 * capped at max(min, I/2) and finally at I; the counts sum to NNZ. */
static int plan_counts(uint32_t *cnt, const SynthParams *p)
{
    size_t U = p->users, I = p->items, N = p->interactions;
    size_t lo = N / U;
    if (lo > MIN_PER_USER)
        lo = MIN_PER_USER;
    if (lo > I)
        lo = I;
    size_t soft = I / 2 > lo ? I / 2 : lo;
    double *w = malloc(U * sizeof *w); /* (U,) */
    if (!w)
        return RS_ENOMEM;
    RsRng r;
    stream_seed(&r, p->seed, TAG_ACTIVITY, 0);
    for (size_t u = 0; u < U; u++) {
        double x = 1.0 / sqrt(uniform_pos(&r)) - 1.0;
        w[u] = x < ACTIVITY_CAP ? x : ACTIVITY_CAP;
        cnt[u] = (uint32_t)lo;
    }
    size_t total = U * lo;
    /* proportional shares of what is left, among users under the soft cap */
    for (int pass = 0; pass < 4 && total < N; pass++) {
        double Wfree = 0;
        for (size_t u = 0; u < U; u++)
            if (cnt[u] < soft)
                Wfree += w[u];
        if (Wfree <= 0)
            break;
        size_t left = N - total, added = 0;
        for (size_t u = 0; u < U; u++) {
            if (cnt[u] >= soft)
                continue;
            size_t add = (size_t)((double)left * (w[u] / Wfree));
            if (add > soft - cnt[u])
                add = soft - cnt[u];
            if (add > left - added)
                add = left - added;
            cnt[u] += (uint32_t)add;
            added += add;
        }
        total += added;
        if (!added)
            break;
    }
    free(w);
    /* the remainder one by one, round robin: soft cap first, then I */
    size_t cap = soft, u = (size_t)rng_below(&r, U), since = 0;
    while (total < N) {
        if (cnt[u] < cap) {
            cnt[u]++;
            total++;
            since = 0;
        } else if (++since >= U) {
            cap = I;
            since = 0;
        }
        u = u + 1 < U ? u + 1 : 0;
    }
    return RS_OK;
}

/* ---- interactions ----------------------------------------------------------- */

typedef struct Gen {
    const SynthParams *p;
    Catalog cat;
    uint32_t *cnt;      /* (U,) rows per user */
    double thr[4];      /* score thresholds between ratings */
    uint32_t *mark;     /* (I,) u + 1 where user u has the item */
    int64_t *ts;        /* (max count,) one user's timestamps */
    uint64_t *sess;     /* (max count / 6 + 2,) session starts */
    uint32_t *rest;     /* (I,) unmarked items, for users who exhaust the catalogue */
    double *calib;      /* (ncalib,) scores collected by a dry run, or NULL */
    size_t ncalib;
    int64_t year_start[YEAR_MAX - 1997 + 2]; /* Unix time of 1 Jan, 1997..2025 */
} Gen;

static int64_t days_before_year(int y)
{
    int64_t p = y - 1;
    return 365LL * (y - 1970) + (p / 4 - p / 100 + p / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);
}

/* Year index (0 = YEAR_MIN) of the calendar year containing Unix time t,
 * for T_START <= t < T_END. */
static int year_index(const Gen *g, int64_t t)
{
    int n = (int)RS_ARRAY_LEN(g->year_start);
    int y = (int)((t - T_START) / 31556952); /* mean Gregorian year: y or y - 1 */
    if (y > n - 2)
        y = n - 2;
    if (y < 0)
        y = 0;
    while (y > 0 && g->year_start[y] > t)
        y--;
    while (y + 1 < n && g->year_start[y + 1] <= t)
        y++;
    int year = 1997 + y;
    return (year > YEAR_MAX ? YEAR_MAX : year) - YEAR_MIN;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* n strictly increasing timestamps in sessions inside one activity window:
 * window length skewed short (1 day to 10 years), sessions of ratings 20 s
 * to 10 min apart. Returns the number of sessions S; step j is in session
 * j * S / n. */
static size_t make_times(Gen *g, size_t n, RsRng *r)
{
    double v = rng_uniform(r);
    int64_t span = DAY * (1 + (int64_t)(WINDOW_MAX_DAYS * v * v * v));
    int64_t total = T_END - T_START;
    int64_t gmin = GAP_MIN, gmax = GAP_MAX; /* squeezed for absurdly active users */
    if ((int64_t)n * (gmax + 1) > total / 2) {
        gmax = total / 2 / (int64_t)n - 1;
        gmin = gmin < gmax ? gmin : gmax;
    }
    int64_t tail = (int64_t)n * (gmax + 1);
    if (span + tail >= total)
        span = total - tail - 1 > 0 ? total - tail - 1 : 0;
    int64_t start = T_START + (int64_t)rng_below(r, (uint64_t)(total - span - tail));
    size_t S = 1 + (size_t)rng_below(r, 1 + n / 6);
    for (size_t s = 0; s < S; s++)
        g->sess[s] = rng_below(r, (uint64_t)span + 1);
    qsort(g->sess, S, sizeof *g->sess, compare_u64);
    int64_t t = start - 1;
    size_t prev_s = SIZE_MAX;
    for (size_t j = 0; j < n; j++) {
        size_t s = (size_t)((uint64_t)j * S / n);
        if (s != prev_s) {
            int64_t at = start + (int64_t)g->sess[s];
            t = at > t ? at : t + 1;
            prev_s = s;
        } else {
            t += gmin + (int64_t)rng_below(r, (uint64_t)(gmax - gmin + 1));
        }
        g->ts[j] = t;
    }
    return S;
}

typedef struct UserState {
    uint32_t stamp; /* u + 1 */
    int mood;       /* this session's genre */
    int rest_mode;
    size_t nrest;
    int npending;
    struct {
        uint32_t item;
        size_t due;
    } pending[MAX_PENDING];
} UserState;

static int is_marked(const Gen *g, const UserState *s, size_t i) { return g->mark[i] == s->stamp; }

/* A queued series part that is due, released and not yet seen, or -1. */
static int64_t pending_take(Gen *g, UserState *s, size_t j, int yi)
{
    for (int k = 0; k < s->npending; k++) {
        uint32_t it = s->pending[k].item;
        int gone = is_marked(g, s, it);
        int ready = !gone && s->pending[k].due <= j && g->cat.items[it].year - YEAR_MIN <= yi;
        if (gone || ready) {
            memmove(&s->pending[k], &s->pending[k + 1],
                    (size_t)(s->npending - k - 1) * sizeof s->pending[0]);
            s->npending--;
            k--;
            if (ready)
                return it;
        }
    }
    return -1;
}

/* Someone drawn to a later part of a series usually starts at the first part
 * they have not seen. */
static int64_t series_redirect(const Gen *g, const UserState *s, int64_t id, RsRng *r)
{
    const Item *it = &g->cat.items[id];
    if (it->part <= 1)
        return id;
    int64_t q = it->series_first;
    while (q != id && is_marked(g, s, (size_t)q))
        q = g->cat.items[q].series_next;
    if (q != id && rng_uniform(r) < P_REDIRECT)
        return q;
    return id;
}

/* Popularity mass of pool p's items released by year index yi. */
static double pool_mass(const Pool *p, int yi)
{
    size_t n = p->end[yi];
    return n ? p->cum[n - 1] : 0.0;
}

/* Picks the pool to draw the next item from, so that an item i released by
 * year index yi is drawn with probability proportional to
 *   pop_i * (AFF_BASE + sum of theta_g over the genres g of i):
 * the pool of all items with weight AFF_BASE * its mass, genre g's pool with
 * weight theta_g * its mass. */
static const Pool *choose_pool(const Catalog *c, const Taste *t, int yi, RsRng *r)
{
    double w[MAX_TASTE];
    double total = AFF_BASE * pool_mass(&c->pools[POOL_ALL], yi);
    for (int j = 0; j < t->n; j++) {
        w[j] = t->theta[j] * pool_mass(&c->pools[t->g[j]], yi);
        total += w[j];
    }
    double x = rng_uniform(r) * total;
    for (int j = 0; j < t->n; j++) {
        if (x < w[j])
            return &c->pools[t->g[j]];
        x -= w[j];
    }
    return &c->pools[POOL_ALL];
}

/* The next new item: by taste x popularity among items released by year
 * index yi; after repeated misses, by popularity alone; for users who have
 * nearly exhausted the catalogue, uniformly among the unseen. */
static int64_t pick_item(Gen *g, UserState *s, const Profile *pr, double f, int yi, RsRng *r)
{
    const Catalog *c = &g->cat;
    if (!s->rest_mode) {
        for (int attempt = 0; attempt < 48; attempt++) {
            const Pool *pool = &c->pools[s->mood];
            if (rng_uniform(r) >= P_MOOD)
                pool = choose_pool(c, rng_uniform(r) < f ? &pr->t1 : &pr->t0, yi, r);
            int64_t id = -1;
            if (rng_uniform(r) < P_NEW_RELEASE)
                id = pool_draw(pool, yi >= 2 ? yi - 2 : 0, yi, r);
            if (id < 0)
                id = pool_draw(pool, 0, yi, r);
            if (id < 0)
                id = pool_draw(&c->pools[POOL_ALL], 0, yi, r);
            if (id < 0)
                break;
            id = series_redirect(g, s, id, r);
            if (!is_marked(g, s, (size_t)id))
                return id;
        }
        for (int attempt = 0; attempt < 16; attempt++) {
            int64_t id = pool_draw(&c->pools[POOL_ALL], 0, NYEARS - 1, r);
            if (!is_marked(g, s, (size_t)id))
                return id;
        }
        s->rest_mode = 1;
        s->nrest = 0;
        for (size_t i = 0; i < c->I; i++)
            if (!is_marked(g, s, i))
                g->rest[s->nrest++] = (uint32_t)i;
    }
    /* the caller asks for at most I items, so an unseen one is left */
    for (;;) {
        size_t k = (size_t)rng_below(r, s->nrest);
        uint32_t id = g->rest[k];
        g->rest[k] = g->rest[--s->nrest];
        if (!is_marked(g, s, id))
            return id;
    }
}

static void write_user_row(Out *o, size_t u, const Profile *pr)
{
    out_u64(o, u + 1);
    out_char(o, ',');
    out_u64(o, (uint64_t)pr->age);
    out_char(o, ',');
    out_char(o, pr->gender);
    out_char(o, ',');
    out_str(o, OCCUPATIONS[pr->occ].name);
    out_char(o, '\n');
}

/* Writes user u's users.csv row and n interactions.csv rows; with g->calib
 * set, only appends the rows' scores there (a dry run). */
static int gen_user(Gen *g, size_t u, size_t n, Out *users, Out *inter, size_t *done,
                    RsProgressFn progress, void *ctx)
{
    const Catalog *c = &g->cat;
    Profile pr;
    profile_make(&pr, c, g->p->seed, u);
    if (!g->calib)
        write_user_row(users, u, &pr);
    else
        inter = NULL;
    RsRng r;
    stream_seed(&r, g->p->seed, TAG_STEPS, u);
    size_t S = make_times(g, n, &r), session = SIZE_MAX;
    UserState s = {.stamp = (uint32_t)(u + 1)};
    for (size_t j = 0; j < n; j++) {
        double f = (double)j / (double)n;
        int yi = year_index(g, g->ts[j]);
        if ((uint64_t)j * S / n != session) {
            /* a session keeps to one genre of the user's current taste (the
             * short-term signal sequence models pick up) */
            session = (size_t)((uint64_t)j * S / n);
            s.mood = taste_genre(rng_uniform(&r) < f ? &pr.t1 : &pr.t0, &r);
        }
        int64_t id = pending_take(g, &s, j, yi);
        if (id < 0)
            id = pick_item(g, &s, &pr, f, yi, &r);
        g->mark[id] = s.stamp;
        const Item *it = &c->items[id];
        if (it->series_next >= 0 && !is_marked(g, &s, (size_t)it->series_next) &&
            s.npending < MAX_PENDING && rng_uniform(&r) < P_CONTINUE) {
            s.pending[s.npending].item = (uint32_t)it->series_next;
            s.pending[s.npending].due = j + 1 + (size_t)rng_below(&r, 3);
            s.npending++;
        }
        double sc = score(&pr, it, f, approx_normal(&r));
        if (!inter) {
            g->calib[g->ncalib++] = sc;
            continue;
        }
        int rating = rating_of(sc, g->thr);
        out_u64(inter, u + 1);
        out_char(inter, ',');
        out_u64(inter, (uint64_t)id + 1);
        out_char(inter, ',');
        out_char(inter, (char)('0' + rating));
        out_char(inter, ',');
        out_u64(inter, (uint64_t)g->ts[j]);
        out_char(inter, '\n');
        if (++*done % PROGRESS_EVERY == 0 && progress &&
            progress(ctx, (double)*done / (double)g->p->interactions, "generating"))
            return RS_ECANCEL;
    }
    return RS_OK;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sets the rating thresholds to the RATING_CDF quantiles of the scores that a
 * dry run produces: over every stride-th user (about CALIB_ROWS rows), then,
 * for small data sets, over made-up users U, U+1, ... with the real users'
 * counts until there are CALIB_MIN_ROWS. The ratings then follow MovieLens'
 * histogram whatever the parameters. Clears the marks it leaves. */
static int calibrate(Gen *g, size_t max_n)
{
    size_t U = g->p->users, N = g->p->interactions;
    size_t stride = N / CALIB_ROWS > 1 ? N / CALIB_ROWS : 1, total = 0;
    for (size_t u = 0; u < U; u += stride)
        total += g->cnt[u];
    g->calib = malloc((total + CALIB_MIN_ROWS + max_n) * sizeof *g->calib);
    if (!g->calib)
        return RS_ENOMEM;
    g->ncalib = 0;
    for (size_t u = 0; u < U; u += stride)
        gen_user(g, u, g->cnt[u], NULL, NULL, NULL, NULL, NULL);
    for (size_t v = 0; g->ncalib < CALIB_MIN_ROWS; v++)
        gen_user(g, U + v, g->cnt[v % U], NULL, NULL, NULL, NULL, NULL);
    qsort(g->calib, g->ncalib, sizeof *g->calib, compare_double);
    for (int k = 0; k < 4; k++)
        g->thr[k] = g->calib[(size_t)(RATING_CDF[k] * (double)g->ncalib)];
    free(g->calib);
    g->calib = NULL;
    memset(g->mark, 0, g->p->items * sizeof *g->mark);
    return RS_OK;
}

/* ---- files and the entry point -------------------------------------------- */

/* mkdir -p */
static int make_dirs(const char *path, RsErr *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return rs_err_set(err, RS_EIO, "bad output folder name '%s'", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return rs_err_set(err, RS_EIO, "cannot create folder %s: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return rs_err_set(err, RS_EIO, "cannot create folder %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return rs_err_set(err, RS_EIO, "%s exists and is not a folder", path);
    return RS_OK;
}

void synth_params_default(SynthParams *p)
{
    p->users = 943;
    p->items = 1682;
    p->interactions = 100000;
    p->seed = 42;
}

int synth_params_check(const SynthParams *p, RsErr *err)
{
    if (p->users == 0 || p->items == 0 || p->interactions == 0)
        return rs_err_set(err, RS_EUSAGE, "users, items and interactions must all be positive");
    if (p->users > SYNTH_MAX_USERS)
        return rs_err_set(err, RS_EUSAGE, "too many users (at most %zu)", SYNTH_MAX_USERS);
    if (p->items > SYNTH_MAX_ITEMS)
        return rs_err_set(err, RS_EUSAGE, "too many items (at most %zu)", SYNTH_MAX_ITEMS);
    if (p->interactions < p->users)
        return rs_err_set(err, RS_EUSAGE,
                          "%zu interactions cannot give each of %zu users one interaction",
                          p->interactions, p->users);
    if (p->interactions / p->users > p->items ||
        (p->interactions / p->users == p->items && p->interactions % p->users))
        return rs_err_set(err, RS_EUSAGE,
                          "%zu interactions exceed %zu users x %zu items (each pair at most once)",
                          p->interactions, p->users, p->items);
    return RS_OK;
}

static int write_generator_txt(const char *outdir, const SynthParams *p, Out *o, RsErr *err)
{
    int rc = out_open(o, outdir, "generator.txt", err);
    if (rc)
        return rc;
    char line[200];
    snprintf(line, sizeof line,
             "recscope generate --users %zu --items %zu --interactions %zu --seed %" PRIu64 "\n",
             p->users, p->items, p->interactions, p->seed);
    out_str(o, line);
    return out_close(o, err);
}

enum { OUT_ITEMS, OUT_USERS, OUT_INTER, OUT_GEN, NOUT };

int synth_generate(const char *outdir, const SynthParams *p, RsProgressFn progress, void *ctx,
                   RsErr *err)
{
    int rc = synth_params_check(p, err);
    if (rc)
        return rc;
    rc = make_dirs(outdir, err);
    if (rc)
        return rc;

    Out out[NOUT];
    memset(out, 0, sizeof out);
    Gen g;
    memset(&g, 0, sizeof g);
    g.p = p;
    for (int y = 0; y < (int)RS_ARRAY_LEN(g.year_start); y++)
        g.year_start[y] = DAY * days_before_year(1997 + y);

    rc = out_open(&out[OUT_ITEMS], outdir, "items.csv", err);
    if (rc)
        goto done;
    rc = catalog_build(&g.cat, p->items, p->seed, &out[OUT_ITEMS], err);
    if (rc)
        goto done;
    rc = out_close(&out[OUT_ITEMS], err);
    if (rc)
        goto done;

    g.cnt = malloc(p->users * sizeof *g.cnt);
    if (!g.cnt || plan_counts(g.cnt, p) != RS_OK) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for %zu users", p->users);
        goto done;
    }
    size_t max_n = 0;
    for (size_t u = 0; u < p->users; u++)
        max_n = g.cnt[u] > max_n ? g.cnt[u] : max_n;
    g.mark = calloc(p->items, sizeof *g.mark);
    g.rest = malloc(p->items * sizeof *g.rest);
    g.ts = malloc(max_n * sizeof *g.ts);
    g.sess = malloc((max_n / 6 + 2) * sizeof *g.sess);
    if (!g.mark || !g.rest || !g.ts || !g.sess || calibrate(&g, max_n) != RS_OK) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory generating %zu interactions",
                        p->interactions);
        goto done;
    }

    if ((rc = out_open(&out[OUT_USERS], outdir, "users.csv", err)) ||
        (rc = out_open(&out[OUT_INTER], outdir, "interactions.csv", err)))
        goto done;
    out_str(&out[OUT_USERS], "user_id,age,gender,occupation\n");
    out_str(&out[OUT_INTER], "user_id,item_id,rating,timestamp\n");
    if (progress && progress(ctx, 0.0, "generating")) {
        rc = RS_ECANCEL;
        goto done;
    }
    size_t done_rows = 0;
    for (size_t u = 0; u < p->users; u++) {
        rc = gen_user(&g, u, g.cnt[u], &out[OUT_USERS], &out[OUT_INTER], &done_rows, progress,
                      ctx);
        if (rc)
            goto done;
        if (out[OUT_INTER].errnum || out[OUT_USERS].errnum)
            break; /* reported by out_close */
    }
    if ((rc = out_close(&out[OUT_USERS], err)) || (rc = out_close(&out[OUT_INTER], err)) ||
        (rc = write_generator_txt(outdir, p, &out[OUT_GEN], err)))
        goto done;
    for (int k = 0; k < NOUT; k++)
        if ((rc = out_commit(&out[k], err)))
            goto done;
    if (progress)
        progress(ctx, 1.0, "generating");

done:
    if (rc == RS_ECANCEL)
        rs_err_set(err, RS_ECANCEL, "generating %s cancelled", outdir);
    for (int k = 0; k < NOUT; k++)
        out_abort(&out[k]);
    catalog_done(&g.cat);
    free(g.cnt);
    free(g.mark);
    free(g.rest);
    free(g.ts);
    free(g.sess);
    return rc;
}
