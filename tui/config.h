/*
 * config.h - the TUI's settings file, $XDG_CONFIG_HOME/recscope/config
 * (main.c finds the path; this module never reads the environment).
 *
 * Format: one `key = value` a line; blank lines and lines starting with #
 * are ignored, as is a # that begins a value's trailing comment. Keys:
 *   theme     = default | mono      (mono: bold/reverse/underline only)
 *   default_k = 1..100              (the K of recommendation lists)
 *   mouse     = on | off            (off by default; on: the wheel moves
 *                                    the cursor, clicks do nothing)
 * An unknown key or a bad value keeps the default and is reported as a
 * one-line warning (the first one met, with its line number); a missing
 * file gives the defaults without a warning.
 *
 * The process-wide settings (config_current) belong to the UI thread.
 */
#ifndef RS_TUI_CONFIG_H
#define RS_TUI_CONFIG_H

#include <stddef.h>

#include "common.h"

#define CONFIG_K_MAX 100

typedef enum ConfigTheme { CONFIG_THEME_DEFAULT = 0, CONFIG_THEME_MONO } ConfigTheme;

typedef struct Config {
    ConfigTheme theme;
    int default_k; /* 1..CONFIG_K_MAX */
    int mouse;     /* 0 off, 1 on */
    char path[1024]; /* where the settings came from and are saved; "" none */
} Config;

/* Sets c to the defaults (theme default, default_k 10, mouse off, no path). */
void config_defaults(Config *c);

/* Applies the settings in text (NUL-terminated) over c. Problems do not
 * stop the parse: the first is described in warn (warnsz bytes, may be
 * NULL) as "line N: ..."; warn is "" when there is none. Returns the number
 * of problems. */
int config_parse(Config *c, const char *text, char *warn, size_t warnsz);

/* Resets c to the defaults and reads the file at path over them, keeping
 * path in c->path. A missing file is no error. warn as for config_parse.
 * Returns RS_OK, or RS_EIO (unreadable) /
 * RS_EPARSE (too large) with err filled; c then holds the defaults. */
int config_load(Config *c, const char *path, char *warn, size_t warnsz, RsErr *err);

/* Writes every setting of c to path (c->path when path is NULL) atomically:
 * a temporary file in the same folder, flushed to disk, then renamed over
 * the old one. The folder and its parents are created when missing (mode
 * 0700). Returns RS_OK, RS_EUSAGE when there is no path, or RS_EIO with
 * err filled (the old file is then untouched). */
int config_save(const Config *c, const char *path, RsErr *err);

/* The settings of this process: the defaults until the TUI loads its
 * file. UI thread only. */
Config *config_current(void);

#endif
