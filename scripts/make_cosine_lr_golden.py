#!/usr/bin/env python3
"""Writes tests/worker/golden/cosine_lr.json: the learning rate of every epoch as CoOp trains, taken
from PyTorch's own CosineAnnealingLR (its recursive update), so worker/lr_schedule.cpp is checked for
bit-identity against the reference rather than against itself.

CoOp (Dassl) wraps the cosine in a constant warm-up with warmup_recount: epochs < WARMUP_EPOCH run at
WARMUP_CONS_LR; then the optimizer's lr is set to the cosine's last lr (the base lr, its step 0), and the
cosine steps once per epoch from there, each step computed from the optimizer's current lr.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make_cosine_lr_golden.py
"""
import json
import os

import torch

CASES = [  # (base_lr, max_epochs, warmup_epochs, warmup_lr)
    (0.002, 50, 1, 1e-5),    # CoOp, 1 shot
    (0.002, 100, 1, 1e-5),   # 2 and 4 shots
    (0.002, 200, 1, 1e-5),   # 8 and 16 shots
    (0.0035, 7, 1, 1e-5),
    (0.01, 13, 2, 3e-4),
    (0.002, 10, 0, 1e-5),    # no warm-up: the cosine from epoch 0
]


def epoch_lrs(base_lr, max_epochs, warmup_epochs, warmup_lr):
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=base_lr)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    lrs = [warmup_lr] * warmup_epochs
    for group in optimizer.param_groups:  # the warm-up hands over the cosine's last lr
        group["lr"] = cosine.get_last_lr()[0]
    while len(lrs) < max_epochs:
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        cosine.step()
    return lrs


def main():
    cases = []
    for base_lr, max_epochs, warmup_epochs, warmup_lr in CASES:
        cases.append({"base_lr": base_lr, "max_epochs": max_epochs, "warmup_epochs": warmup_epochs,
                      "warmup_lr": warmup_lr, "lr": epoch_lrs(base_lr, max_epochs, warmup_epochs, warmup_lr)})
    out = os.path.join(os.path.dirname(__file__), "..", "tests", "worker", "golden", "cosine_lr.json")
    with open(out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
