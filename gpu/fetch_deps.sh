#!/bin/sh
# fetch_deps.sh [DIR] - unpacks the Debian packages `make gpu-test` and
# `make bench-gpu` need into DIR (default .gpu-deps, git-ignored), so they
# build on a GPU machine that has the CUDA toolkit but none of Debian's -dev
# packages and no network: OpenBLAS (headers, libopenblas.so, its LAPACK) and
# the gfortran runtime it links. Run it here, where apt works; carry DIR to
# the GPU machine. The packages land in DIR/usr/..., never in the system.
set -eu
dir=${1:-.gpu-deps}
pkgs="libopenblas0-pthread libopenblas-dev libopenblas-pthread-dev libgfortran5 libquadmath0"
mkdir -p "$dir/debs"
dir=$(cd "$dir" && pwd)
cd "$dir/debs"
for p in $pkgs; do
    ls "$p"_*.deb >/dev/null 2>&1 || apt-get download "$p" 2>/dev/null || {
        echo "fetch_deps: apt-get download $p failed" >&2
        exit 1
    }
done
for f in *.deb; do dpkg -x "$f" "$dir"; done
rm -rf "$dir/debs"
lib=$dir/usr/lib/x86_64-linux-gnu
# Keep it small enough to travel: the shared libraries and headers only.
rm -rf "$dir/usr/share" "$lib/openblas-pthread/cmake" "$lib/openblas-pthread/pkgconfig" \
    "$lib"/openblas-pthread/*.a "$lib"/openblas-pthread/libblas.* "$lib"/openblas-pthread/liblapack.*
[ -f "$lib/openblas-pthread/libopenblas.so.0" ] || { echo "fetch_deps: no libopenblas.so.0 in $lib" >&2; exit 1; }
# The -dev package's libopenblas.so link points through /etc/alternatives;
# give the linker a link it can follow inside DIR.
ln -sf libopenblas.so.0 "$lib/openblas-pthread/libopenblas.so"
echo "fetch_deps: OpenBLAS and the gfortran runtime unpacked into $dir"
