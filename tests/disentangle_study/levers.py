"Prototype training levers + evaluation for the disentanglement study (moved into the package once chosen)."
import json, time, math, sys
from pathlib import Path
import numpy as np, pandas as pd, torch
import torch.nn.functional as F
from fastai.callback.core import Callback
from stellar_nbs.train import BottleneckLoss
from stellar_nbs.ccf import C_KMS

class CapacityLoss(BottleneckLoss):
    "Burgess et al. 2018: recon + w_kl * |KL - C| (C set by a callback)."
    capacity = None
    def __call__(self, preds, target, valid):
        rec, kl_nodes = self.parts(preds, target, valid)
        kl = (kl_nodes.sum(1) if self.kl_reduction == 'sum' else kl_nodes.mean(1)).mean()
        self.recon, self.kl = rec.detach(), kl.detach()
        pen = kl if self.capacity is None else (kl - self.capacity).abs()
        return rec + self.w_kl * pen

class Capacity(Callback):
    "Capacity C linear from 0 at `start` to `c_max` nats at `end` (fractions of the run); swaps in CapacityLoss."
    order = -9
    def __init__(self, c_max=20., start=0.0, end=0.5): self.c_max, self.start, self.end = c_max, start, end
    def before_fit(self):
        old = self.learn.loss_func
        self.learn.loss_func = CapacityLoss(old.w_kl, old.kl_reduction)
        self.total = self.n_epoch * len(self.dls.train)
    def before_batch(self):
        t = self.learn.iteration / max(1, self.total)
        f = min(1., max(0., (t - self.start) / max(1e-9, self.end - self.start)))
        self.learn.loss_func.capacity = self.c_max * f

def gauss_blur(x, v, sigma):
    "Masked Gaussian blur (normalised convolution) of (B,1,L) x with validity v, sigma in pixels."
    if sigma < 0.3: return x
    r = int(math.ceil(3 * sigma)); t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2); k = (k / k.sum())[None, None]
    vf = v.to(x.dtype)
    num = F.conv1d(x * vf, k, padding=r); den = F.conv1d(vf, k, padding=r)
    return torch.where(den > 1e-3, num / den.clamp_min(1e-3), x) * vf

class Smoothing(Callback):
    "Curriculum by smoothing on the data: blur input and target with sigma(t) = sigma0 * (1 - t/end), training only."
    order = -14   # after ZeroInvalid
    def __init__(self, sigma=4., end=0.5): self.sigma, self.end = sigma, end
    def before_fit(self): self.total = self.n_epoch * len(self.dls.train)
    def before_batch(self):
        if not self.training: return
        t = self.learn.iteration / max(1, self.total)
        s = self.sigma * max(0., 1 - t / self.end)
        if s < 0.3: return
        x, v = self.xb[0], self.yb[-1]
        xs = gauss_blur(x, v, s)
        self.learn.xb = (xs,); self.learn.yb = (xs,) + tuple(self.yb[1:])

# The other levers of the study are in the package (they were prototyped here first, then moved):
# DopplerAugment -> stellar_nbs.train.DopplerAugment; GroupKL -> BottleneckLoss(kl_reduction='group');
# ShiftEquivariance(v_max, lam, min_norm, lam_dec) -> stellar_nbs.train.DopplerPairs.
from stellar_nbs.train import DopplerAugment, DopplerPairs as ShiftEquivariance

class GroupKL(Callback):
    "Swap in the group-lasso KL (`kl_reduction='group'`)."
    order = -9
    def before_fit(self): self.learn.loss_func.kl_reduction = 'group'
