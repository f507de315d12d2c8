#!/usr/bin/env python3
"""The engine benchmark's reference: the same two models as bench/engine/run.ts
(src/models/wrn.ts and src/models/tlm.ts), written in PyTorch with the same
ops, run on the same libtorch (Debian python3-torch) and thread count.
Prints one JSON object: median step and forward times in ms."""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if (cin != cout or stride != 1) else None

    def forward(self, x):
        o1 = F.relu(self.bn1(x))
        skip = self.shortcut(o1) if self.shortcut is not None else x
        o2 = F.relu(self.bn2(self.conv1(o1)))
        return self.conv2(o2) + skip


class WRN(nn.Module):
    def __init__(self, depth, widen, cin=3, classes=10):
        super().__init__()
        n = (depth - 4) // 6
        w = [16, 16 * widen, 32 * widen, 64 * widen]
        self.stem = nn.Conv2d(cin, w[0], 3, 1, 1, bias=False)
        blocks, c = [], w[0]
        for s in range(3):
            for b in range(n):
                blocks.append(Block(c, w[s + 1], 2 if (b == 0 and s > 0) else 1))
                c = w[s + 1]
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        h = self.blocks(self.stem(x))
        h = F.relu(self.bn(h))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class Layer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.heads = d // 32
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        n, t, d = x.shape
        hd = d // self.heads
        qkv = self.qkv(self.ln1(x))
        heads = lambda z: z.reshape(n, t, self.heads, hd).transpose(1, 2)
        q, k, v = heads(qkv[:, :, :d]), heads(qkv[:, :, d:2 * d]), heads(qkv[:, :, 2 * d:])
        scores = torch.matmul(q, k.transpose(2, 3)) * (1 / math.sqrt(hd)) + mask
        att = torch.matmul(torch.softmax(scores, -1), v)
        x1 = x + self.proj(att.transpose(1, 2).reshape(n, t, d))
        return x1 + self.fc2(F.gelu(self.fc1(self.ln2(x1))))


class TLM(nn.Module):
    def __init__(self, layers, d, vocab, max_len):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(max_len, d) * 0.01)
        self.layers = nn.ModuleList([Layer(d) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)

    def forward(self, tokens):
        t = tokens.shape[1]
        mask = torch.triu(torch.full((t, t), float('-inf'), device=tokens.device), 1)
        x = self.tok(tokens) + self.pos[:t]
        for layer in self.layers:
            x = layer(x, mask)
        return F.linear(self.ln(x), self.tok.weight)


def timeit(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--model', choices=['convnet', 'transformer', 'both'], default='both')
    ap.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32')
    a = ap.parse_args()
    # bf16: the forward pass and the loss under CPU autocast, as the engine's --precision bf16.
    cast = lambda: torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.precision == 'bf16')
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    res = {'threads': torch.get_num_threads(), 'version': torch.__version__, 'precision': a.precision}
    if a.model in ('convnet', 'both'):
        m = WRN(16, 2)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))

        def step():
            opt.zero_grad(set_to_none=True)
            with cast():
                loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()

        def fwd():
            with torch.no_grad(), cast():
                m(x)

        res['convnet'] = {'stepMs': timeit(step, a.warmup, a.steps), 'forwardMs': timeit(fwd, 1, a.steps)}
    if a.model in ('transformer', 'both'):
        lm = TLM(2, 128, 10000, 64)
        opt = torch.optim.AdamW(lm.parameters(), lr=1e-3)
        tok, tgt = torch.randint(0, 10000, (32, 64)), torch.randint(0, 10000, (32 * 64,))

        def step():
            opt.zero_grad(set_to_none=True)
            with cast():
                loss = F.cross_entropy(lm(tok).reshape(-1, 10000), tgt)
            loss.backward()
            opt.step()

        def fwd():
            with torch.no_grad(), cast():
                lm(tok)

        res['transformer'] = {'stepMs': timeit(step, a.warmup, a.steps), 'forwardMs': timeit(fwd, 1, a.steps)}
    print(json.dumps(res))


if __name__ == '__main__':
    main()
