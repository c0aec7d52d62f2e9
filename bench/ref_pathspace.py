#!/usr/bin/env python3
"""PyTorch (CPU) reference for pflow's `pis` training step: the same
Fourier-feature MLP (width W, `depth` hidden layers, F frequencies, GELU,
zero-initialized output), the score coefficient c(t) network, the PIS SDE
(Brownian reference from 0, sigma, T) and the log-variance loss as
sde_sampler computes it (control w = u.detach() drives the states, R
accumulates u.(w - u/2) dt + u.dW through the graph, loss = var(R)), Adam,
gradient-norm clipping at 1, on the grid9 Gaussian mixture.

Prints "torch_traj_steps_per_s <rate>" (trajectory steps = batch x Euler
steps per training step, per second of training).  Usage:
  ref_pathspace.py [--batch 512] [--steps 100] [--iters 20] [--threads 2]
"""
import argparse
import math
import time

import torch

torch.set_default_dtype(torch.float64)


class TimeEmb(torch.nn.Module):
    def __init__(self, width, nfreq, fmax):
        super().__init__()
        self.register_buffer("freq", torch.linspace(0.1, fmax, nfreq))
        self.phase = torch.nn.Parameter(torch.randn(nfreq))
        self.l1 = torch.nn.Linear(2 * nfreq, width)
        self.l2 = torch.nn.Linear(width, width)

    def forward(self, t):
        a = self.freq * t + self.phase
        f = torch.cat([torch.sin(a), torch.cos(a)])
        return self.l2(torch.nn.functional.gelu(self.l1(f)))


class FourierMLP(torch.nn.Module):
    def __init__(self, d_in, d_out, width, depth, nfreq, fmax, out_bias=0.0):
        super().__init__()
        self.temb = TimeEmb(width, nfreq, fmax)
        self.inp = torch.nn.Linear(d_in, width) if d_in > 0 else None
        self.bin = torch.nn.Parameter(torch.zeros(width)) if d_in == 0 else None
        self.hid = torch.nn.ModuleList(
            [torch.nn.Linear(width, width) for _ in range(depth)])
        self.out = torch.nn.Linear(width, d_out)
        torch.nn.init.zeros_(self.out.weight)
        torch.nn.init.constant_(self.out.bias, out_bias)

    def forward(self, x, t):
        h = self.temb(t)
        h = self.inp(x) + h if self.inp is not None else (self.bin + h)[None]
        for l in self.hid:
            h = l(torch.nn.functional.gelu(h))
        return self.out(torch.nn.functional.gelu(h))


def grid9_logp(x):
    m = torch.tensor([[a, b] for a in (-5.0, 0.0, 5.0) for b in (-5.0, 0.0, 5.0)])
    v = 0.3
    q = ((x[:, None, :] - m[None]) ** 2).sum(-1) / v
    return torch.logsumexp(-0.5 * q, 1) - math.log(9) - math.log(2 * math.pi * v)


def score(x):
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(grid9_logp(x).sum(), x)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--nfreq", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    d, sigma, T, clip = 2, math.sqrt(0.2), 5.0, 100.0
    net = FourierMLP(d, d, a.width, a.depth, a.nfreq, 100.0)
    coef = FourierMLP(0, 1, a.width, a.depth, a.nfreq, 100.0, 0.01)
    params = list(net.parameters()) + list(coef.parameters())
    opt = torch.optim.Adam(params, lr=5e-3)
    dt = T / a.steps

    def train_step():
        x = torch.zeros(a.batch, d)
        R = torch.zeros(a.batch)
        for k in range(a.steps):
            t = torch.tensor(k * dt)
            s = score(x).clamp(-clip, clip)
            u = net(x, t).clamp(-clip, clip) + coef(None, t)[0] * s
            w = u.detach()
            dW = torch.randn(a.batch, d) * math.sqrt(dt)
            R = R + (u * (w - 0.5 * u)).sum(1) * dt + (u * dW).sum(1)
            x = x + sigma * w * dt + sigma * dW
        var = sigma ** 2 * T
        R = R - 0.5 * (x ** 2).sum(1) / var - 0.5 * d * math.log(
            2 * math.pi * var) - grid9_logp(x)
        loss = R.var()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    train_step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.iters):
        train_step()
    el = time.perf_counter() - t0
    print("torch_traj_steps_per_s %.4g" % (a.iters * a.batch * a.steps / el))


if __name__ == "__main__":
    main()
