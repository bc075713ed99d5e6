/*
 * tui.h - the interactive terminal front end.
 */
#ifndef RS_TUI_H
#define RS_TUI_H

/* Opens the TUI on the database at db_path (which must exist) and runs
 * until the user quits. config_path names the settings file (config.h),
 * read at start and rewritten when a setting changes; NULL for none.
 * Returns the process exit code (0 ok, 1 error); on error a message has
 * been printed to stderr after the terminal was restored. */
int tui_run(const char *db_path, const char *config_path);

#endif
