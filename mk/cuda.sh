#!/bin/sh
# cuda.sh - find the CUDA toolkit: prints "NVCC CUDA_HOME" on one line, or
# nothing when there is no usable toolkit (or NO_CUDA=1).
# nvcc may be a wrapper script (say /usr/local/bin/nvcc exec'ing the real
# one), so the root is asked of nvcc itself (its TOP), then looked for in the
# usual places; the first root that has the static CUDA runtime wins.
set -u
[ "${NO_CUDA:-0}" = 1 ] && exit 0
nvcc=$(command -v nvcc 2>/dev/null || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
[ -z "$nvcc" ] && exit 0
has_cudart() {
    [ -f "$1/lib64/libcudart_static.a" ] || ls "$1"/targets/*/lib/libcudart_static.a >/dev/null 2>&1
}
top=$("$nvcc" --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n 1)
[ -n "$top" ] && top=$(readlink -f "$top" 2>/dev/null || echo "$top")
for c in "$top" "${CUDA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$nvcc")")")" /usr/local/cuda; do
    if [ -n "$c" ] && has_cudart "$c"; then
        echo "$nvcc $c"
        exit 0
    fi
done
echo "cuda.sh: $nvcc found but no libcudart_static.a beside it; building without CUDA" >&2
