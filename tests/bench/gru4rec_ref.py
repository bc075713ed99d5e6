#!/usr/bin/python3
"""gru4rec_ref.py - the same GRU4Rec epoch as tests/bench/bench_gru4rec.c in
PyTorch on the CPU: each user's ML-100K history in time order (ties by
item), inputs / next-item targets cut from the end into windows of 50,
shuffled, batches of 32 windows (time-major, padded); item embedding 64,
one GRU layer of 64, dropout 0.2 on its output, scores = output embedding
dot h + output bias against the target and 256 negatives shared by the
batch (128 targets of the batch, 128 uniform; a negative equal to the
target masked out), cross-entropy, Adam 2e-3 (dense; recscope's is lazy on
the embedding rows a batch touched). Prints predicted positions (samples)
per second, the median of RUNS epochs.

    /usr/bin/python3 tests/bench/gru4rec_ref.py [ML100K_DIR [RUNS [THREADS]]]
"""
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

H = D = 64
MAXLEN, BATCH, NEG = 50, 32, 256


class GRU4Rec(nn.Module):
    def __init__(self, I):
        super().__init__()
        self.E = nn.Embedding(I, D)
        self.Q = nn.Embedding(I, H)
        self.b = nn.Embedding(I, 1)
        for e in (self.E, self.Q):
            nn.init.normal_(e.weight, std=0.1)
        nn.init.zeros_(self.b.weight)
        self.gru = nn.GRU(D, H)
        self.drop = nn.Dropout(0.2)

    def forward(self, x, live, tgt, neg):
        h, _ = self.gru(self.E(x))             # (T, B, H)
        h = self.drop(h[live])                  # (N, H) the positions inside their windows
        pos = (h * self.Q(tgt)).sum(1, keepdim=True) + self.b(tgt)
        z = torch.cat([pos, h @ self.Q(neg).T + self.b(neg).T], 1)
        z[:, 1:][neg[None, :] == tgt[:, None]] = float("-inf")
        return nn.functional.cross_entropy(z, torch.zeros(len(z), dtype=torch.long))


def windows(a):
    order = np.lexsort((a[:, 1], a[:, 3], a[:, 0]))  # by user, time, item
    a = a[order]
    out = []
    for u in np.unique(a[:, 0]):
        s = a[a[:, 0] == u, 1] - 1
        end = len(s) - 1
        while end > 0:
            begin = max(0, end - MAXLEN)
            out.append(s[begin:end + 1])
            end = begin
    return out


def batches(wins, rng):
    perm = rng.permutation(len(wins))
    for b in range(0, len(perm), BATCH):
        ws = [wins[k] for k in perm[b:b + BATCH]]
        T = max(len(w) - 1 for w in ws)
        x = np.zeros((T, len(ws)), np.int64)
        y = np.zeros((T, len(ws)), np.int64)
        live = np.zeros((T, len(ws)), bool)
        for k, w in enumerate(ws):
            x[:len(w) - 1, k] = w[:-1]
            y[:len(w) - 1, k] = w[1:]
            live[:len(w) - 1, k] = True
        yield torch.from_numpy(x), torch.from_numpy(live), torch.from_numpy(y[live])


def epoch_time(wins, I, runs):
    out = []
    for r in range(runs):
        torch.manual_seed(42)
        rng = np.random.default_rng(42)
        model = GRU4Rec(I)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        t0 = time.perf_counter()
        for x, live, tgt in batches(wins, rng):
            neg = torch.cat([tgt[torch.from_numpy(rng.integers(0, len(tgt), NEG // 2))],
                             torch.from_numpy(rng.integers(0, I, NEG - NEG // 2))])
            opt.zero_grad()
            loss = model(x, live, tgt, neg)
            loss.backward()
            opt.step()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-100k"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(threads)
    try:
        a = np.loadtxt(d + "/u.data", dtype=np.int64)
    except OSError:
        print("pytorch gru4rec epoch ml-100k: skipped (u.data not found)")
        return
    wins = windows(a)
    n = sum(len(w) - 1 for w in wins)
    t = epoch_time(wins, 1682, runs)
    print(f"pytorch {torch.__version__} gru4rec epoch ml-100k {n} samples, {threads} thread(s): "
          f"{t:.3f} s, {n / t:.0f} samples/s")


if __name__ == "__main__":
    main()
