#!/bin/sh
# check_layers.sh - the dependency rules between modules:
# engine/ includes neither ncurses nor SQLite (nor store/ or tui/ headers),
# store/ does not include ncurses or tui/ headers, gpu/ sees engine/ only.
bad=0
check() { # DIR PATTERN WHAT
    hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" "$1"/*.[ch] "$1"/*.cu 2>/dev/null)
    if [ -n "$hits" ]; then
        echo "layering: $1/ must not include $3:"
        echo "$hits"
        bad=1
    fi
}
check engine 'n?curses|ncursesw/|sqlite3|csv\.h|store\.h|query\.h|import\.h|tui\.h|cli\.h' "ncurses, SQLite, libcsv, store/ or tui/ headers"
check store 'n?curses|ncursesw/|tui\.h|cli\.h' "ncurses or tui/ headers"
check gpu 'n?curses|sqlite3|store\.h|tui\.h' "ncurses, SQLite, store/ or tui/ headers"
exit $bad
