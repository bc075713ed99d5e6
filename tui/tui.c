/*
 * tui.c - the terminal side of the TUI: opening the store, setting up and
 * always restoring the terminal, the layout, the title and key-hint bars,
 * and the event loop over a stack of screens (see tui_screen.h).
 *
 * The loop sleeps in poll() on the terminal and on the background jobs'
 * self-pipe (tui_jobs.h), with no timeout when nothing runs and no screen
 * asked for a timer, so an idle TUI uses no CPU. Job news redraws at most
 * four times a second (the status indicator in the title bar, the job
 * view); a run row that a job created or ended makes every screen's tick
 * hook re-list; so does the end of a load of the model screens' dataset
 * or a run (tui_models.h), which the loop also polls for. A key becomes an intent through tui_dispatch_key(); the
 * loop alone acts on intents and draws. A GOTO intent (the o, u and i keys) goes back down the stack to
 * the nearest screen of its kind, or opens one, so the stack stays short
 * however long the analyst browses. SIGINT, SIGTERM and SIGHUP interrupt
 * the read and end the loop, so the terminal is restored on every way out.
 */
#include "tui.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "browse.h"
#include "config.h"
#include "store.h"
#include "tui_jobs.h"
#include "tui_models.h"
#include "tui_screen.h"
#include "tui_theme.h"

#define TUI_MAX_DEPTH 16

typedef struct Tui {
    const char *db_path;
    Store *store;       /* NULL for an empty file */
    SCREEN *term;
    TuiLayout lay;
    TuiScreen *stack[TUI_MAX_DEPTH];
    int depth;
    TuiJobs *jobs;          /* NULL when training is off */
    char why_no_jobs[160];  /* why, for the Runs screen */
    unsigned jobs_gen;      /* tui_jobs_generation() last acted on */
    double last_draw;       /* monotonic seconds */
    double next_tick;       /* when the top screen's tick is due; 0: none */
    int draw_pending;       /* job news not drawn yet */
    char notice[200];       /* a settings-file warning for the title; "" none */
} Tui;

static volatile sig_atomic_t tui_signalled;

static const int tui_signals[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction tui_old_actions[RS_ARRAY_LEN(tui_signals)];

/* --- layout and chrome ----------------------------------------------------- */

void tui_layout_compute(TuiLayout *lay, int lines, int cols)
{
    memset(lay, 0, sizeof *lay);
    lay->lines = lines > 0 ? lines : 0;
    lay->cols = cols > 0 ? cols : 0;
    lay->too_small = lines < TUI_MIN_LINES || cols < TUI_MIN_COLS;
    lay->title = (TuiRect) { 0, 0, 1, lay->cols };
    lay->hints = (TuiRect) { lay->lines - 1, 0, 1, lay->cols };
    lay->body = (TuiRect) { 1, 0, lay->lines - 2, lay->cols };
    if (lay->too_small)
        lay->body.h = 0;
}

/* The topmost screen that is not an overlay: the one the title names. */
static TuiScreen *tui_base_screen(const Tui *t)
{
    for (int i = t->depth - 1; i >= 0; i--)
        if (!t->stack[i]->cls->overlay)
            return t->stack[i];
    return t->depth ? t->stack[0] : NULL;
}

/* The longest tail of s that fits in cols columns, cut at a character. */
static const char *text_tail(const char *s, int cols)
{
    while (*s && tui_text_width(s) > cols) {
        s++;
        while (((unsigned char) *s & 0xC0) == 0x80)
            s++;
    }
    return s;
}

/* " recscope — PATH ... [training: JOBS  ]SCREEN", the path cut from the
 * left when long; the running jobs take at most 3/5 of the width. */
static void draw_title(const Tui *t)
{
    const TuiRect *r = &t->lay.title;
    const TuiScreen *base = tui_base_screen(t);
    char path[512], jobs[512];
    tui_fill(r, 0, COL_TITLE);
    int name_x = r->w - 1 - tui_put_right(r, 0, r->w - 1, COL_TITLE, base ? base->cls->name : "");
    tui_jobs_status(t->jobs, jobs, sizeof jobs, r->w * 3 / 5);
    if (jobs[0] && name_x > 2) {
        TuiRect room = { r->y, r->x, 1, name_x - 2 };
        name_x = room.w - tui_put_right(&room, 0, room.w, COL_TITLE_DIM, jobs);
    }
    TuiRect left = { r->y, r->x, 1, name_x - 2 > 0 ? name_x - 2 : 0 };
    int x = 1 + tui_printf(&left, 0, 1, COL_TITLE, "recscope%s", tui_glyphs()->dash);
    int room = left.w - x;
    if (t->notice[0]) { /* until the first key */
        tui_printf(&left, 0, x, COL_ERROR, "settings %s", t->notice);
    } else if (tui_text_width(t->db_path) <= room) {
        tui_put(&left, 0, x, COL_TITLE, t->db_path);
    } else if (room > 1) {
        snprintf(path, sizeof path, "%s%s", tui_glyphs()->ellipsis,
                 text_tail(t->db_path, room - 1));
        tui_put(&left, 0, x, COL_TITLE, path);
    }
}

static void draw_hints(const Tui *t)
{
    const TuiRect *r = &t->lay.hints;
    const TuiKey *hints[16];
    size_t n = tui_key_hints(t->stack[t->depth - 1], hints, RS_ARRAY_LEN(hints));
    int depth = t->depth, col = 0;
    tui_fill(r, 0, COL_HINT);
    for (size_t i = 0; i < n; i++) {
        const char *help = tui_key_help(hints[i], depth);
        int need = tui_text_width(hints[i]->name) + tui_text_width(help) + 3;
        if (col + need > r->w)
            break;
        col += tui_printf(r, 0, col, COL_HINT_KEY, " %s", hints[i]->name);
        col += tui_printf(r, 0, col, COL_HINT, " %s ", help);
    }
}

static void draw_too_small(const Tui *t)
{
    TuiRect all = { 0, 0, t->lay.lines, t->lay.cols };
    const char *msg = "terminal too small";
    char need[48];
    snprintf(need, sizeof need, "need %dx%d", TUI_MIN_COLS, TUI_MIN_LINES);
    int row = all.h / 2 - 1 > 0 ? all.h / 2 - 1 : 0;
    int w = tui_text_width(msg), nw = tui_text_width(need);
    tui_put(&all, row, w < all.w ? (all.w - w) / 2 : 0, COL_ERROR, msg);
    tui_put(&all, row + 1, nw < all.w ? (all.w - nw) / 2 : 0, COL_DIM, need);
}

/* The terminal cursor, moved last: on the selected row or at a prompt
 * when the top screen asked for it (tui_cursor_want), else parked at the
 * start of the body's first row (the screen's heading), or on the "too
 * small" message. */
static void place_cursor(const Tui *t)
{
    int y, x;
    if (t->lay.too_small || !tui_cursor_get(&y, &x) || y >= t->lay.lines || x >= t->lay.cols) {
        y = t->lay.too_small ? (t->lay.lines / 2 - 1 > 0 ? t->lay.lines / 2 - 1 : 0)
                             : t->lay.body.y;
        x = 0;
    }
    move(y, x);
}

static void tui_draw(Tui *t)
{
    erase();
    if (t->lay.too_small) {
        draw_too_small(t);
    } else {
        int from = t->depth - 1;
        while (from > 0 && t->stack[from]->cls->overlay)
            from--;
        for (int i = from; i < t->depth; i++) {
            tui_cursor_reset(); /* an overlay's cursor, or none, hides the one beneath */
            t->stack[i]->cls->draw(t->stack[i], &t->lay.body);
        }
        draw_title(t);
        draw_hints(t);
    }
    attrset(A_NORMAL);
    place_cursor(t);
    refresh();
    t->last_draw = rs_now();
    t->draw_pending = 0;
}

static void tui_relayout(Tui *t)
{
    tui_layout_compute(&t->lay, LINES, COLS);
    for (int i = 0; i < t->depth; i++)
        if (t->stack[i]->cls->resize)
            t->stack[i]->cls->resize(t->stack[i], &t->lay.body);
}

/* --- the screen stack -------------------------------------------------------- */

static int tui_push(Tui *t, TuiScreen *s)
{
    if (!s)
        return -1;
    if (t->depth == TUI_MAX_DEPTH) {
        s->cls->free(s);
        return -1;
    }
    t->stack[t->depth++] = s;
    if (s->cls->resize)
        s->cls->resize(s, &t->lay.body);
    return 0;
}

static void tui_pop(Tui *t)
{
    if (t->depth > 0) {
        TuiScreen *s = t->stack[--t->depth];
        s->cls->free(s);
    }
}

static TuiScreen *tui_screen_new(Tui *t, int kind)
{
    switch (kind) {
    case TUI_SCREEN_USERS: return tui_users_new(t->store);
    case TUI_SCREEN_ITEMS: return tui_items_new(t->store);
    case TUI_SCREEN_RUNS: return tui_runs_new(t->store, t->jobs, t->why_no_jobs);
    default: return tui_models_screen_new(t->store, kind); /* compare, what-if, runs picker */
    }
}

/* A one-line notice over the screen, shown at once: for work that keeps
 * the loop from reading keys for a while. */
static void tui_notice(const Tui *t, const char *msg)
{
    int w = tui_text_width(msg) + 4;
    w = w < t->lay.body.w ? w : t->lay.body.w;
    TuiRect box = { t->lay.body.y + t->lay.body.h / 2 - 1, t->lay.body.x + (t->lay.body.w - w) / 2,
                    3, w };
    if (t->lay.too_small || box.h > t->lay.body.h)
        return;
    tui_clear(&box);
    tui_frame(&box, NULL);
    tui_put(&box, 1, 2, COL_VALUE, msg);
    attrset(A_NORMAL);
    refresh();
}

/* Back to the topmost screen of that kind, or a new one on top. */
static void tui_goto(Tui *t, int kind)
{
    for (int i = t->depth - 1; i >= 0; i--) {
        if (t->stack[i]->cls->kind == kind) {
            while (t->depth > i + 1)
                tui_pop(t);
            return;
        }
    }
    /* a database imported without the browse cache: built once, seconds
     * on tens of millions of interactions */
    if (t->store && !browse_cache_ready(t->store))
        tui_notice(t, "Indexing users and items for browsing (once)...");
    tui_push(t, tui_screen_new(t, kind));
}

/* Acts on an intent. Returns 1 when the loop should end. */
static int tui_apply(Tui *t, TuiIntent in)
{
    /* quitting cancels the trainings: ask first, unless that is the answer */
    size_t running = tui_jobs_running(t->jobs);
    int leaving = (in.flags & TUI_INTENT_QUIT) || ((in.flags & TUI_INTENT_CLOSE) && t->depth == 1);
    if (leaving && running && !tui_quit_confirm_is(t->stack[t->depth - 1])) {
        if (in.open)
            in.open->cls->free(in.open);
        return tui_apply(t, tui_intent_open(tui_quit_confirm_new(running)));
    }
    if (in.flags & TUI_INTENT_QUIT) {
        if (in.open)
            in.open->cls->free(in.open);
        return 1;
    }
    if (in.flags & TUI_INTENT_CLOSE)
        tui_pop(t);
    if (t->depth == 0)
        return 1;
    if (in.flags & TUI_INTENT_OPEN)
        tui_push(t, in.open);
    if (in.flags & TUI_INTENT_GOTO)
        tui_goto(t, in.go);
    if (in.flags & TUI_INTENT_HELP)
        tui_push(t, tui_help_new(t->stack[t->depth - 1], t->depth));
    if (in.flags & TUI_INTENT_RESIZE)
        tui_relayout(t);
    if (in.flags & TUI_INTENT_FULL_REDRAW)
        clearok(curscr, TRUE);
    if (in.flags != TUI_INTENT_NONE)
        tui_draw(t);
    return 0;
}

/* --- terminal ---------------------------------------------------------------- */

static void on_signal(int sig)
{
    tui_signalled = sig;
}

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < RS_ARRAY_LEN(tui_signals); i++)
        sigaction(tui_signals[i], &sa, &tui_old_actions[i]);
}

static void signals_restore(void)
{
    for (size_t i = 0; i < RS_ARRAY_LEN(tui_signals); i++)
        sigaction(tui_signals[i], &tui_old_actions[i], NULL);
}

/* UTF-8 output unless the locale's codeset is something else or
 * RECSCOPE_ASCII=1; colours unless NO_COLOR is set (no-color.org) or the
 * settings ask for the mono theme. */
static void term_setup_look(void)
{
    const char *ascii = getenv("RECSCOPE_ASCII");
    const char *nocolor = getenv("NO_COLOR");
    int utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    tui_glyphs_init(utf8 && !(ascii && strcmp(ascii, "1") == 0));
    tui_theme_init(!(nocolor && *nocolor) && config_current()->theme != CONFIG_THEME_MONO);
}

/* mouse = on: the wheel reports as button 4 / 5 presses (clicks are not
 * used yet); off leaves the terminal's own selection alone. */
static void term_setup_mouse(void)
{
    if (!config_current()->mouse)
        return;
    mmask_t want = BUTTON4_PRESSED;
#ifdef BUTTON5_PRESSED
    want |= BUTTON5_PRESSED;
#endif
    mousemask(want, NULL);
}

/* A mouse event as the key it stands for: the wheel moves the cursor;
 * anything else is ERR (ignored). */
static int mouse_key(void)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return ERR;
    if (ev.bstate & BUTTON4_PRESSED)
        return KEY_UP;
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED)
        return KEY_DOWN;
#endif
    return ERR;
}

static int term_start(Tui *t)
{
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");
    tui_signalled = 0;
    signals_install();
    t->term = newterm(NULL, stdout, stdin);
    if (!t->term) {
        signals_restore();
        return -1;
    }
    set_term(t->term);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(1); /* on the selected row: screen readers follow it */
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    term_setup_look();
    term_setup_mouse();
    return 0;
}

static void term_stop(Tui *t)
{
    if (t->term) {
        endwin();
        delscreen(t->term);
        t->term = NULL;
        signals_restore();
    }
}

/* The top screen's timer: due tick_ms after it was (re)armed. */
static void tick_arm(Tui *t, double now)
{
    const TuiScreen *top = t->depth ? t->stack[t->depth - 1] : NULL;
    t->next_tick = top && top->cls->tick && top->cls->tick_ms > 0
                       ? now + top->cls->tick_ms / 1000.0 : 0;
}

/* What the background asks for: re-listing after a job changed a run,
 * the top screen's timer, job progress (drawn at most every 250 ms).
 * Draws when needed. */
static void tui_background(Tui *t, int news)
{
    unsigned flags = 0;
    double now = rs_now();
    unsigned gen = tui_jobs_generation(t->jobs);
    if (gen != t->jobs_gen) {
        t->jobs_gen = gen;
        for (int i = 0; i < t->depth; i++)
            if (t->stack[i]->cls->tick)
                flags |= t->stack[i]->cls->tick(t->stack[i]);
        flags |= TUI_INTENT_REDRAW;
    }
    TuiScreen *top = t->depth ? t->stack[t->depth - 1] : NULL;
    if (t->next_tick > 0 && now >= t->next_tick && top && top->cls->tick) {
        flags |= top->cls->tick(top);
        tick_arm(t, now);
    }
    if (news)
        t->draw_pending = 1;
    if (flags & TUI_INTENT_REDRAW)
        tui_draw(t);
    else if (t->draw_pending && now - t->last_draw >= 0.25)
        tui_draw(t);
}

/* The model loader finished (tui_models.h): every screen re-reads the run
 * list (its tick), and the screens shown make their lists again as they
 * are drawn. */
static void tui_models_loaded(Tui *t)
{
    for (int i = 0; i < t->depth; i++)
        if (t->stack[i]->cls->tick)
            t->stack[i]->cls->tick(t->stack[i]);
    tui_draw(t);
}

/* How long poll() may sleep: -1 (for ever) unless a timer or a throttled
 * redraw is due. */
static int tui_wait_ms(const Tui *t)
{
    double now = rs_now(), due = -1;
    if (t->draw_pending)
        due = t->last_draw + 0.25;
    if (t->next_tick > 0 && (due < 0 || t->next_tick < due))
        due = t->next_tick;
    if (due < 0)
        return -1;
    return due <= now ? 0 : (int)((due - now) * 1000) + 1;
}

/* Runs one key. Returns 1 when the loop should end. */
static int tui_key(Tui *t, int ch)
{
    const TuiScreen *before = t->depth ? t->stack[t->depth - 1] : NULL;
    int quit;
    if (ch == KEY_MOUSE && (ch = mouse_key()) == ERR)
        return 0;
    if (ch != KEY_RESIZE)
        t->notice[0] = '\0';
    if (ch == KEY_RESIZE)
        quit = tui_apply(t, tui_intent(TUI_INTENT_RESIZE | TUI_INTENT_REDRAW));
    else
        quit = tui_apply(t, tui_dispatch_key(t->stack[t->depth - 1], t->depth, ch));
    if (!quit && t->depth && t->stack[t->depth - 1] != before)
        tick_arm(t, rs_now());
    return quit;
}

/* Sleeps in poll() on the terminal and the jobs' pipe; reads every key
 * curses has, then does what the background asks for. Ends on an intent,
 * a signal, or a terminal that keeps reporting input without keys. */
static void tui_loop(Tui *t)
{
    int empty_wakes = 0;
    tui_relayout(t);
    tui_draw(t);
    tick_arm(t, rs_now());
    timeout(0);
    while (!tui_signalled && empty_wakes < 100) {
        struct pollfd pfd[3] = { { STDIN_FILENO, POLLIN, 0 },
                                 { t->jobs ? tui_jobs_fd(t->jobs) : -1, POLLIN, 0 },
                                 { tui_models_fd(tui_models_current()), POLLIN, 0 } };
        int n = poll(pfd, 3, tui_wait_ms(t));
        if (n < 0 && errno != EINTR)
            break;
        int news = n > 0 && (pfd[1].revents & POLLIN);
        if (news)
            tui_jobs_drain(t->jobs);
        if (n > 0 && (pfd[2].revents & POLLIN) && tui_models_drain(tui_models_current()))
            tui_models_loaded(t);
        int keys = 0;
        for (int ch; (ch = getch()) != ERR; keys++)
            if (tui_key(t, ch))
                return;
        if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && !keys)
            empty_wakes++; /* input closed: the terminal went away */
        else if (keys)
            empty_wakes = 0;
        tui_background(t, news);
    }
}

/* Training needs a database this process can write (the worker opens its
 * own read-write connection; the UI's stays read-only): the file and its
 * folder (for the journal) writable. Otherwise says why in t. */
static void jobs_setup(Tui *t)
{
    char dir[4096];
    RsErr err;
    rs_err_clear(&err);
    snprintf(dir, sizeof dir, "%s", t->db_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    if (!t->store)
        snprintf(t->why_no_jobs, sizeof t->why_no_jobs,
                 "Training is off: this database has no data yet.");
    else if (access(t->db_path, W_OK) != 0 || access(dir, W_OK) != 0)
        snprintf(t->why_no_jobs, sizeof t->why_no_jobs,
                 "Training is off: the database (or its folder) is read-only.");
    else if (!(t->jobs = tui_jobs_new(t->db_path, &err)))
        snprintf(t->why_no_jobs, sizeof t->why_no_jobs, "Training is off: %.120s", err.msg);
}

/* A file of zero bytes: what `touch new.db` or an interrupted first write
 * leaves. It has no recscope schema yet, so the store refuses it. */
static int file_is_empty(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0;
}

int tui_run(const char *db_path, const char *config_path)
{
    Tui t = { .db_path = db_path };
    Store *store = NULL;
    RsErr err;
    int rc = 1;
    rs_err_clear(&err);
    if (config_path && config_load(config_current(), config_path, t.notice, sizeof t.notice,
                                   &err) < 0) {
        snprintf(t.notice, sizeof t.notice, "ignored: %.180s", err.msg);
        rs_err_clear(&err);
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "recscope: the interactive view needs a terminal "
                        "(see recscope --help for the commands)\n");
        return 1;
    }
    if (store_open(&store, db_path, STORE_OPEN_READONLY, &err) < 0) {
        store = NULL;
        if (!file_is_empty(db_path)) /* an empty file shows how to import */
            goto done;
    }
    t.store = store;
    jobs_setup(&t);
    if (tui_push(&t, tui_overview_new(store, db_path, &err)) < 0)
        goto done;
    if (term_start(&t) < 0) {
        rs_err_set(&err, RS_EIO, "cannot use this terminal (TERM=%s)",
                   getenv("TERM") ? getenv("TERM") : "unset");
        goto done;
    }
    tui_loop(&t);
    rc = 0;
done:
    term_stop(&t);
    while (t.depth > 0)
        tui_pop(&t);
    tui_jobs_free(t.jobs); /* cancels and waits for running trainings */
    store_close(store);
    if (rc != 0)
        fprintf(stderr, "recscope: %s\n", err.msg[0] ? err.msg : "cannot start the TUI");
    return rc;
}
