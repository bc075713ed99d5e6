#!/usr/bin/python3
"""neumf_ref.py - the same NeuMF epoch as tests/bench/bench_neumf.c in PyTorch
on the CPU: 8 GMF factors, MLP 64-32-16-8 (embeddings 32 per side), 4
sampled negatives per positive, BCE on logits, Adam 1e-3, batch 256,
shuffled. Prints samples/s, the median of RUNS epochs, for ML-100K and a
generated 1M-interaction data set (the same generator as the C bench in
spirit: Zipf-like items, users round-robin).

    /usr/bin/python3 tests/bench/neumf_ref.py [ML100K_DIR [RUNS [THREADS]]]
"""
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn


class NeuMF(nn.Module):
    def __init__(self, U, I, K=8):
        super().__init__()
        E = 4 * K
        self.pg, self.qg = nn.Embedding(U, K), nn.Embedding(I, K)
        self.pm, self.qm = nn.Embedding(U, E), nn.Embedding(I, E)
        for e in (self.pg, self.qg, self.pm, self.qm):
            nn.init.normal_(e.weight, std=0.01)
        self.mlp = nn.Sequential(nn.Linear(2 * E, 4 * K), nn.ReLU(), nn.Linear(4 * K, 2 * K),
                                 nn.ReLU(), nn.Linear(2 * K, K), nn.ReLU())
        self.h = nn.Linear(2 * K, 1)

    def forward(self, u, i):
        g = self.pg(u) * self.qg(i)
        a = self.mlp(torch.cat([self.pm(u), self.qm(i)], 1))
        return self.h(torch.cat([g, a], 1)).squeeze(1)


def samples(users, items, U, I, neg, rng):
    seen = set(zip(users.tolist(), items.tolist()))
    su, si, sy = [users], [items], [np.ones(len(users), np.float32)]
    for _ in range(neg):
        j = rng.integers(0, I, len(users))
        bad = np.array([(u, x) in seen for u, x in zip(users.tolist(), j.tolist())])
        while bad.any():
            j[bad] = rng.integers(0, I, bad.sum())
            bad[bad] = np.array([(u, x) in seen for u, x in zip(users[bad].tolist(), j[bad].tolist())])
        su.append(users)
        si.append(j)
        sy.append(np.zeros(len(users), np.float32))
    return (torch.from_numpy(np.concatenate(su)).long(), torch.from_numpy(np.concatenate(si)).long(),
            torch.from_numpy(np.concatenate(sy)))


def epoch_time(users, items, U, I, runs):
    rng = np.random.default_rng(42)
    u, i, y = samples(users, items, U, I, 4, rng)
    n = len(u)
    out = []
    for _ in range(runs):
        torch.manual_seed(42)
        model = NeuMF(U, I)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        lossf = nn.BCEWithLogitsLoss()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for b in range(0, n, 256):
            idx = perm[b:b + 256]
            opt.zero_grad()
            loss = lossf(model(u[idx], i[idx]), y[idx])
            loss.backward()
            opt.step()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), n


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-100k"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(threads)
    try:
        a = np.loadtxt(d + "/u.data", dtype=np.int64)
        t, n = epoch_time(a[:, 0] - 1, a[:, 1] - 1, 943, 1682, runs)
        print(f"pytorch {torch.__version__} neumf epoch ml-100k {n} samples, {threads} thread(s): "
              f"{t:.3f} s, {n / t:.0f} samples/s")
    except OSError:
        print("pytorch neumf epoch ml-100k: skipped (u.data not found)")
    rng = np.random.default_rng(42)
    U, I, N = 6040, 3706, 1000000
    users = np.arange(N) % U
    items = np.minimum((I * rng.random(N) ** 3).astype(np.int64), I - 1)
    pairs = np.unique(users * I + items)
    t, n = epoch_time(pairs // I, pairs % I, U, I, runs)
    print(f"pytorch {torch.__version__} neumf epoch gen-1m {n} samples, {threads} thread(s): "
          f"{t:.3f} s, {n / t:.0f} samples/s")


if __name__ == "__main__":
    main()
