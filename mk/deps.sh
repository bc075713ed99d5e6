#!/bin/sh
# deps.sh - check for, and install, the Debian packages recscope builds with.
#   mk/deps.sh check    exit 0 when everything is present, else list what is missing
#   mk/deps.sh install  apt-get update && apt-get install the missing packages
#   mk/deps.sh ensure   check, and install only when something is missing
#   mk/deps.sh fuzz     ensure the extra packages of `make fuzz` (clang, libFuzzer)
#   mk/deps.sh memcheck ensure the extra package of `make memcheck` (valgrind)
# Plain `make` and `make test` need only the first list.
set -u

# package:probe pairs; a probe is a file that the package installs
PKGS="
libncurses-dev:/usr/include/ncursesw/curses.h
libsqlite3-dev:/usr/include/sqlite3.h
libopenblas-dev:/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h
libcsv-dev:/usr/include/csv.h
libcmocka-dev:/usr/include/cmocka.h
pkg-config:/usr/bin/pkg-config
tmux:/usr/bin/tmux
sqlite3:/usr/bin/sqlite3
"
# only for `make fuzz`: clang and its libFuzzer runtime
FUZZ_PKGS="
clang:/usr/bin/clang
libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a
"
# only for `make memcheck`
MEMCHECK_PKGS="
valgrind:/usr/bin/valgrind
"

missing() {
    for pair in ${1:-$PKGS}; do
        pkg=${pair%%:*}
        probe=${pair#*:}
        if [ "$pkg" = libopenblas-dev ]; then
            # the header lives under a per-architecture folder
            ls /usr/include/*/openblas-pthread/cblas.h >/dev/null 2>&1 && continue
        elif ls $probe >/dev/null 2>&1; then
            continue
        fi
        printf '%s\n' "$pkg"
    done
}

install() {
    list=$(missing "${1:-}")
    [ -z "$list" ] && { echo "deps: all Debian packages present"; return 0; }
    echo "deps: installing:" $list
    SUDO=
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
            echo "deps: need root to install:" $list >&2
            echo "deps: run as root: apt-get install" $list >&2
            return 1
        fi
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $list || return 1
    left=$(missing "${1:-}")
    if [ -n "$left" ]; then echo "deps: still missing:" $left >&2; return 1; fi
    return 0
}

case "${1:-check}" in
check)
    list=$(missing)
    if [ -n "$list" ]; then echo "deps: missing:" $list; exit 1; fi
    echo "deps: all Debian packages present"
    ;;
install | ensure)
    install || exit 1
    ;;
fuzz)
    install "$FUZZ_PKGS" || exit 1
    ;;
memcheck)
    install "$MEMCHECK_PKGS" || exit 1
    ;;
*)
    echo "usage: mk/deps.sh check|install|ensure|fuzz|memcheck" >&2
    exit 2
    ;;
esac
