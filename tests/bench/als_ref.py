#!/usr/bin/python3
"""als_ref.py - the reference for recscope's ALS benchmark: implicit ALS
(Hu, Koren & Volinsky 2008) with the conjugate-gradient solver (Takacs et
al. 2011) in numpy/scipy, written as a numpy user would: every CG step for
all rows at once with sparse-matrix products (no Python loop over users).

usage: als_ref.py TRAIN.tsv [factors=64] [iterations=15] [reg=20] [alpha=1]
       [cg_steps=3] [runs=3]
TRAIN: `recscope export-split` TSV or a generated interactions.csv
(user, item, ...; header first).
Prints each fit's seconds and the median. Binary confidence c = 1 + alpha.
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


def cg_sweep(C, X, Y, reg, alpha, steps):
    """One ALS half-step: X <- argmin for fixed Y, with `steps` CG steps
    warm-started from X. C is the binary interaction matrix (rows of X)."""
    YtY = Y.T @ Y + reg * np.eye(Y.shape[1], dtype=np.float32)
    # entries in CSR order, so the weighted matrix reuses C's structure
    r_idx = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    c_idx = C.indices

    def apply_A(P):
        # A_u p_u = (YtY + reg I) p_u + sum_i alpha y_i (y_i . p_u)
        dots = np.einsum("ij,ij->i", P[r_idx], Y[c_idx]) * alpha
        S = sp.csr_matrix((dots, C.indices, C.indptr), shape=C.shape)
        return P @ YtY + S @ Y

    b = (1.0 + alpha) * (C @ Y)          # sum_i c_ui y_i (p_ui = 1)
    r = b - apply_A(X)
    p = r.copy()
    rs = np.einsum("ij,ij->i", r, r)
    for _ in range(steps):
        Ap = apply_A(p)
        a = rs / np.maximum(np.einsum("ij,ij->i", p, Ap), 1e-20)
        X += a[:, None] * p
        r -= a[:, None] * Ap
        rs_new = np.einsum("ij,ij->i", r, r)
        p = r + (rs_new / np.maximum(rs, 1e-20))[:, None] * p
        rs = rs_new
    return X


def fit(C, factors, iterations, reg, alpha, steps, seed=42):
    rng = np.random.default_rng(seed)
    U, I = C.shape
    X = (rng.standard_normal((U, factors)) * 0.01).astype(np.float32)
    Y = (rng.standard_normal((I, factors)) * 0.01).astype(np.float32)
    Ct = C.T.tocsr()
    for _ in range(iterations):
        Y = cg_sweep(Ct, Y, X, reg, alpha, steps)
        X = cg_sweep(C, X, Y, reg, alpha, steps)
    return X, Y


def main():
    args = dict(a.split("=") for a in sys.argv[2:])
    factors = int(args.get("factors", 64))
    iterations = int(args.get("iterations", 15))
    reg = float(args.get("reg", 20))
    alpha = float(args.get("alpha", 1))
    steps = int(args.get("cg_steps", 3))
    runs = int(args.get("runs", 3))
    C = load(sys.argv[1])
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fit(C, factors, iterations, reg, alpha, steps)
        times.append(time.perf_counter() - t0)
        print("numpy ALS fit: %.3f s" % times[-1])
    print("median %.3f s" % sorted(times)[len(times) // 2])


if __name__ == "__main__":
    main()
