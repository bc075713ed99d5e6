#!/usr/bin/python3
"""ref_models.py - plain numpy/scipy references for recscope's model
benchmarks, timed the same way (median of runs).

usage: ref_models.py itemknn TRAIN.tsv [k=100] [runs=3]
       ref_models.py ease TRAIN.tsv [lambda=400] [runs=3]
       ref_models.py bpr TRAIN.tsv [epochs=5] [threads=2] [runs=3]
TRAIN: `recscope export-split` TSV or a generated interactions.csv
(user, item, ...; header first).

itemknn: cosine similarity of the item columns by a sparse product
(X^T X, normalised) and the top k neighbours of every item.
ease: Steck 2019 closed form, B = -P / diag(P), P = (X^T X + lambda I)^-1.
bpr: BPR-MF (Rendle et al. 2009) in PyTorch, recscope's defaults (64 factors,
item biases, lr 0.05, reg 0.02, init std 0.1), each epoch NNZ (u, i, j)
triples drawn like recscope's (a random interaction, a random item the user
has not interacted with), plain SGD in minibatches of 1024 (index_add_ for
the updates); torch.set_num_threads(threads).
"""
import sys
import time

import numpy as np
import scipy.sparse as sp


def load(path):
    users, items = {}, {}
    rows, cols = [], []
    with open(path) as f:
        next(f)
        for line in f:
            u, i = line.replace(",", "\t").split("\t", 2)[:2]
            rows.append(users.setdefault(u, len(users)))
            cols.append(items.setdefault(i, len(items)))
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(users), len(items)))


def itemknn(X, k):
    Xc = X.tocsc()
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0))).ravel()
    norms[norms == 0] = 1
    N = Xc @ sp.diags(1.0 / norms)
    S = (N.T @ N).tocsr()
    S.setdiag(0)
    S.eliminate_zeros()
    # keep the k largest per row
    out = []
    for r in range(S.shape[0]):
        lo, hi = S.indptr[r], S.indptr[r + 1]
        vals = S.data[lo:hi]
        if hi - lo > k:
            keep = np.argpartition(-vals, k)[:k]
            out.append((S.indices[lo:hi][keep], vals[keep]))
        else:
            out.append((S.indices[lo:hi], vals))
    return out


def ease(X, lam):
    G = (X.T @ X).toarray().astype(np.float64)
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    B[np.diag_indices_from(B)] = 0
    return B


def bpr(X, epochs, threads, K=64, lr=0.05, reg=0.02, batch=1024):
    import torch
    torch.set_num_threads(threads)
    rng = np.random.default_rng(1)
    U, I = X.shape
    users = np.repeat(np.arange(U), np.diff(X.indptr))
    items = X.indices
    nnz = len(items)
    keys = np.sort(users.astype(np.int64) * I + items)
    P = torch.randn(U, K) * 0.1
    Q = torch.randn(I, K) * 0.1
    b = torch.zeros(I)
    for _ in range(epochs):
        pick = rng.integers(0, nnz, nnz)
        u, i = users[pick], items[pick]
        j = rng.integers(0, I, nnz)
        while True:  # redraw the negatives the user has seen
            q = u.astype(np.int64) * I + j
            pos = np.minimum(np.searchsorted(keys, q), nnz - 1)
            bad = np.flatnonzero(keys[pos] == q)
            if len(bad) == 0:
                break
            j[bad] = rng.integers(0, I, len(bad))
        u, i, j = torch.from_numpy(u), torch.from_numpy(i.astype(np.int64)), torch.from_numpy(j)
        for s in range(0, nnz, batch):
            uu, ii, jj = u[s:s + batch], i[s:s + batch], j[s:s + batch]
            pu, qi, qj = P[uu], Q[ii], Q[jj]
            bi, bj = b[ii], b[jj]
            g = torch.sigmoid(-((pu * (qi - qj)).sum(1) + bi - bj))  # d ln sigmoid(x) / dx
            P.index_add_(0, uu, lr * (g[:, None] * (qi - qj) - reg * pu))
            Q.index_add_(0, ii, lr * (g[:, None] * pu - reg * qi))
            Q.index_add_(0, jj, lr * (-g[:, None] * pu - reg * qj))
            b.index_add_(0, ii, lr * (g - reg * bi))
            b.index_add_(0, jj, lr * (-g - reg * bj))
    return P, Q, b


def main():
    what, path = sys.argv[1], sys.argv[2]
    args = dict(a.split("=") for a in sys.argv[3:])
    runs = int(args.get("runs", 3))
    X = load(path)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        if what == "itemknn":
            itemknn(X, int(args.get("k", 100)))
        elif what == "bpr":
            bpr(X, int(args.get("epochs", 5)), int(args.get("threads", 2)))
        else:
            ease(X, float(args.get("lambda", 400)))
        times.append(time.perf_counter() - t0)
        print("reference %s fit: %.3f s" % (what, times[-1]))
    print("median %.3f s" % sorted(times)[len(times) // 2])


if __name__ == "__main__":
    main()
