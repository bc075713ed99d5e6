#!/usr/bin/python3
"""sasrec_ref.py - the same SASRec epoch as tests/bench/bench_sasrec.c in
PyTorch on the CPU: each user's last 51 items of MovieLens-100K in time
order (ties by item) give one sequence of 50 inputs and 50 targets,
right-aligned; item embeddings (scaled by sqrt(50)) plus learned
positions, 2 pre-LayerNorm blocks of causal self-attention (1 head, key
padding masked) and a ReLU feed-forward of 50 units, dropout 0.2, a final
LayerNorm, logits against the shared item embedding, one sampled negative
per position (not in the user's items), binary cross-entropy summed over
both and averaged over the non-padding positions, Adam (1e-3, betas 0.9 /
0.98), batches of 128 shuffled users. Prints the median of RUNS epochs
(negative sampling included) in seconds and samples (positions) per second.

    /usr/bin/python3 tests/bench/sasrec_ref.py [ML100K_DIR [RUNS [THREADS]]]
"""
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

T, C, H, L, P = 50, 50, 1, 2, 0.2


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.o = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.w1, self.w2 = nn.Linear(C, C), nn.Linear(C, C)
        self.drop = nn.Dropout(P)

    def forward(self, x, allowed):
        n = x.shape[0]
        a = self.ln1(x)
        q, k, v = (z.reshape(n, T, H, C // H).transpose(1, 2) for z in self.qkv(a).split(C, -1))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(C // H)
        att = torch.softmax(s.masked_fill(~allowed[:, None], -1e9), -1)
        y = (att @ v).transpose(1, 2).reshape(n, T, C)
        h = x + self.drop(self.o(y))
        return h + self.drop(self.w2(self.drop(torch.relu(self.w1(self.ln2(h))))))


class SASRec(nn.Module):
    def __init__(self, I):
        super().__init__()
        self.item = nn.Embedding(I + 1, C)  # row I: padding (never trained)
        self.pos = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln = nn.LayerNorm(C)
        self.drop = nn.Dropout(P)
        self.I = I

    def forward(self, seq):
        valid = seq != self.I
        x = self.item(seq) * math.sqrt(C) + self.pos.weight[None]
        x = self.drop(x * valid[..., None])
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = causal[None] & valid[:, None, :]
        for b in self.blocks:
            x = b(x, allowed)
        return self.ln(x), valid


def sequences(d):
    a = np.loadtxt(d + "/u.data", dtype=np.int64)
    a = a[np.lexsort((a[:, 1], a[:, 3], a[:, 0]))]  # user, then time, then item
    U, I = 943, 1682
    inp = np.full((U, T), I, np.int64)
    tgt = np.full((U, T), I, np.int64)
    rows = []
    starts = np.searchsorted(a[:, 0], np.arange(1, U + 2))
    seen = np.zeros((U, I), bool)
    for u in range(U):
        items = a[starts[u]:starts[u + 1], 1] - 1
        seen[u, items] = True
        if len(items) < 2:
            continue
        k = min(len(items) - 1, T)
        inp[u, T - k:] = items[len(items) - 1 - k:len(items) - 1]
        tgt[u, T - k:] = items[len(items) - k:]
        rows.append(u)
    return torch.from_numpy(inp), torch.from_numpy(tgt), seen, np.array(rows), I


def negatives(tgt, seen, I, rng):
    neg = rng.integers(0, I, tgt.shape)
    users = np.arange(tgt.shape[0])[:, None].repeat(T, 1)
    bad = seen[users, neg]
    while bad.any():
        neg[bad] = rng.integers(0, I, int(bad.sum()))
        bad = seen[users, neg]
    return torch.from_numpy(neg)


def epoch_time(d, runs):
    inp, tgt, seen, rows, I = sequences(d)
    n_samples = int((inp[rows] != I).sum())
    out = []
    for r in range(runs):
        torch.manual_seed(42)
        rng = np.random.default_rng(42 + r)
        model = SASRec(I)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
        t0 = time.perf_counter()
        neg = negatives(tgt.numpy(), seen, I, rng)
        order = torch.from_numpy(rng.permutation(rows))
        for b in range(0, len(order), 128):
            idx = order[b:b + 128]
            f, valid = model(inp[idx])
            e = model.item.weight
            zp = (f * e[tgt[idx]]).sum(-1)
            zn = (f * e[neg[idx]]).sum(-1)
            loss = (nn.functional.softplus(-zp) + nn.functional.softplus(zn))[valid].sum() / valid.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), n_samples


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-100k"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(threads)
    try:
        t, n = epoch_time(d, runs)
    except OSError:
        print("pytorch sasrec epoch ml-100k: skipped (u.data not found)")
        return
    print(f"pytorch {torch.__version__} sasrec epoch ml-100k {n} samples, {threads} thread(s): "
          f"{t:.3f} s, {n / t:.0f} samples/s")


if __name__ == "__main__":
    main()
