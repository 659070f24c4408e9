"""Interleaved A/B of the judge's 2x2 pooling inside the l0 search (eps 30, test digits 200-239, one thread), 3 rounds.
Run from the repository root: INVARIANCE_THREADS=1 PYTHONPATH=$PWD python docs/evidence/geninv-budget-2032/pooling_ab.py
(log: pooling_ab.log beside it)."""

import time

import numpy as np
import torch
import torch.nn.functional as F

import core.geninv.judge as J
from core.data import load_mnist
from core.geninv.api import suggest_batch

torch.set_num_threads(1)
x, y = load_mnist("test")
idx = list(range(200, 240))
imgs = x[idx].astype(np.float32) / 255
new = J._max_pool_2x2


def old(h: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(h, 2)


suggest_batch(imgs[:8], y[idx][:8], "l0", 30.0, k=1, device="cpu")
for rnd in range(3):
    for name, f in (("max_pool2d", old), ("four phases", new)):
        J._max_pool_2x2 = f
        t = time.perf_counter()
        suggest_batch(imgs, y[idx], "l0", 30.0, k=1, device="cpu")
        print(rnd, name, "%.3f s/example" % ((time.perf_counter() - t) / 40), flush=True)
