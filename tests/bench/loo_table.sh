#!/bin/sh
# loo_table.sh BINARY - the next-item table of the README: MovieLens-100K,
# each user's last interaction by time held out (split loo, seed 1), every
# model trained through the real commands (train, eval) and measured under
# the NCF/SASRec protocol (the held-out item among 99 sampled items the user
# never interacted with: HR@10, NDCG@10) and under full ranking (NDCG@10,
# HR@10), with the training time. Prints a Markdown table; skips without
# ML-100K. Part of `make bench` (a few minutes on 2 cores).
#   LOO_MODELS="pop bpr ..."  the rows (default: every deep model and the
#                             baselines this build has)
set -u
BIN=$(readlink -f "$1")
ML=${RECSCOPE_ML100K:-}
[ -z "$ML" ] && for d in ../shared/datasets/ml-100k "$(dirname "$0")/../../../shared/datasets/ml-100k"; do
    [ -f "$d/u.data" ] && ML=$(readlink -f "$d") && break
done
if [ -z "$ML" ] || [ ! -f "$ML/u.data" ]; then
    echo "next-item table: skipped (MovieLens-100K not found)"
    exit 0
fi
T=$(mktemp -d /tmp/recscope-loo.XXXXXX)
trap 'rm -rf "$T"' EXIT
DB=$T/ml.db
"$BIN" import "$DB" "$ML" -q
"$BIN" split "$DB" --name loo --method loo --seed 1 -q
json_get() { grep -o "\"$2\":[-0-9.e+]*" "$1" | head -1 | cut -d: -f2; }
# name, algorithm and parameters of each row
specs=${LOO_MODELS:-"pop:pop: itemknn:itemknn: als:als: bpr:bpr: gmf:gmf:epochs=20 mlp:mlp:epochs=20 neumf:neumf:epochs=20 neumf-pre:neumf:epochs=5,lr=0.0001,init=gmf+mlp neumf-8neg:neumf:epochs=12,lr=0.002,negatives=8 neumf-avg:neumf:epochs=16,lr=0.002,negatives=8,average_last=8 gru4rec:gru4rec:epochs=6 sasrec:sasrec:epochs=60,lr=0.002,blocks=1"}
echo "| model | parameters | HR@10 (sampled) | NDCG@10 (sampled) | HR@10 (full) | NDCG@10 (full) | train s |"
echo "|---|---|---|---|---|---|---|"
for spec in $specs; do
    name=${spec%%:*}
    rest=${spec#*:}
    algo=${rest%%:*}
    params=${rest#*:}
    "$BIN" train --list | grep -q "^$algo " || continue
    set --
    init=
    for kv in $(echo "$params" | tr ',' ' '); do
        case $kv in
        init=*) init=$(echo "${kv#init=}" | tr '+' ',') ;;
        *) set -- "$@" --param "$kv" ;;
        esac
    done
    [ -n "$init" ] && set -- "$@" --init-from "$init"
    if ! "$BIN" train "$DB" --algo "$algo" --split loo --name "$name" -q "$@" 2>"$T/err"; then
        echo "| $name | $params | failed: $(head -c 80 "$T/err") | | | | |"
        continue
    fi
    secs=$("$BIN" runs "$DB" --format json | grep -o "\"run\":\"$name\"[^}]*" |
        grep -o '"train_seconds":[0-9.]*' | cut -d: -f2)
    "$BIN" eval "$DB" --run "$name" --protocol sampled --k 10 --device cpu --format json >"$T/s.json"
    "$BIN" eval "$DB" --run "$name" --k 10 --device cpu --format json >"$T/f.json"
    printf '| %s | %s | %.4f | %.4f | %.4f | %.4f | %.1f |\n' "$name" "${params:--}" \
        "$(json_get "$T/s.json" 'hr@10')" "$(json_get "$T/s.json" 'ndcg@10')" \
        "$(json_get "$T/f.json" 'hr@10')" "$(json_get "$T/f.json" 'ndcg@10')" "${secs:-0}"
done
