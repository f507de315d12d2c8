#!/usr/bin/env python3
"""bench:gpu's reference: the children of bench/gpu/run.ts written in PyTorch
(WRN and the Transformer LM are bench/engine/torch_reference.py's; ResNet-50
v1.5 is written here as src/models/resnet.ts builds it, so no torchvision is
needed), timed on one device in the precisions a PyTorch user would pick:
fp32, and bf16 autocast with channels-last activations for the ConvNets
(channels-last does nothing for a Transformer). `--dropout` adds F.dropout(p)
after every batch norm (what plain dropout costs in PyTorch).
Prints one JSON object: {model: {"fp32": ms, "bf16": ms}} per training step
(SGD + Nesterov for ConvNets, AdamW for language models), medians."""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'engine'))
from torch_reference import TLM, WRN  # noqa: E402  (the engine bench's models)


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (self.down(x) if self.down is not None else x))


class ResNet50(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for s, n in enumerate([3, 4, 6, 3]):
            width = 64 * 2 ** s
            for b in range(n):
                blocks.append(Bottleneck(cin, width, 2 if (b == 0 and s > 0) else 1))
                cin = width * 4
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def with_dropout(model, p):
    """F.dropout(p) after every BatchNorm2d of `model` (forward hooks)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(lambda _m, _i, out: F.dropout(out, p, training=True))
    return model


def build(name, batch, size, device):
    """The model, its optimizer, one batch and the loss, as bench/gpu/run.ts builds them."""
    g = torch.Generator().manual_seed(0)
    if name.startswith('wrn-'):
        depth, widen = (int(v) for v in name[4:].split('-'))
        m = WRN(depth, widen)
        x, y = torch.randn(batch, 3, size, size, generator=g), torch.randint(0, 10, (batch,), generator=g)
        opt = lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)  # noqa: E731
        loss = lambda mm, xx, yy: F.cross_entropy(mm(xx), yy)  # noqa: E731
    elif name == 'resnet-50':
        m = ResNet50()
        x, y = torch.randn(batch, 3, size, size, generator=g), torch.randint(0, 1000, (batch,), generator=g)
        opt = lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)  # noqa: E731
        loss = lambda mm, xx, yy: F.cross_entropy(mm(xx), yy)  # noqa: E731
    elif name.startswith('tlm-'):
        layers, d = (int(v) for v in name[4:].split('-'))
        vocab = 10000
        m = TLM(layers, d, vocab, size)
        x, y = torch.randint(0, vocab, (batch, size), generator=g), torch.randint(0, vocab, (batch * size,), generator=g)
        opt = lambda ps: torch.optim.AdamW(ps, lr=1e-3)  # noqa: E731
        loss = lambda mm, xx, yy: F.cross_entropy(mm(xx).reshape(-1, vocab), yy)  # noqa: E731
    else:
        raise SystemExit(f'torch_reference.py: unknown model {name}')
    return m.to(device), opt, x.to(device), y.to(device), loss


def time_steps(name, batch, size, device, precision, steps, warmup, dropout):
    m, make_opt, x, y, loss = build(name, batch, size, device)
    conv = not name.startswith('tlm-')
    if dropout > 0:
        with_dropout(m, dropout)
    if precision == 'bf16' and conv:
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = make_opt(m.parameters())
    m.train()
    dev_type = 'cuda' if device.startswith('cuda') else 'cpu'

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev_type, dtype=torch.bfloat16, enabled=precision == 'bf16'):
            out = loss(m, x, y)
        out.backward()
        opt.step()

    sync = torch.cuda.synchronize if dev_type == 'cuda' else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--threads', type=int, default=0, help='CPU threads (0: as PyTorch picks)')
    ap.add_argument('--precisions', default='fp32,bf16')
    ap.add_argument('runs', nargs='+', help='MODEL:BATCH:SIZE (SIZE: image side, or tokens per sequence)')
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.device.startswith('cuda'):
        torch.backends.cudnn.benchmark = True
    res = {'version': torch.__version__, 'device': a.device, 'models': {}}
    for spec in a.runs:
        name, batch, size = spec.split(':')
        res['models'][spec] = {p: time_steps(name, int(batch), int(size), a.device, p, a.steps, a.warmup, a.dropout) for p in a.precisions.split(',')}
    print(json.dumps(res))


if __name__ == '__main__':
    main()
