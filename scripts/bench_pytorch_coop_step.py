#!/usr/bin/env python3
"""ms per CoOp training step in Python PyTorch, for comparing with `promptgrid bench`.

The reference's math, eager: CoOp's PromptLearner prompts [SOT, ctx, class tokens, '.', EOT] for every
class, CLIP's text transformer over all of them (nn.MultiheadAttention under a causal mask, sequence first,
QuickGELU, LayerNorm in fp32), the EOT row @ text_projection, logit_scale * cosine with the image
features, cross-entropy, backward to the context and an SGD step (momentum 0.9, weight decay 5e-4).
Prompts are cut after the last EOT (`--tokens`, 22 for 16 context vectors and 3-token names), as
`promptgrid bench`'s "whole prompts, truncated" row; the random weights have the shapes of ViT-B/16's
text tower (the speed does not depend on their values). Timed as the C++ benchmark: `--warmup` untimed
steps, then the median of `--steps`, on `--threads` threads.

  /usr/bin/python3 scripts/bench_pytorch_coop_step.py --classes 100 --threads 2
  promptgrid bench --classes 100 --threads 2 --truncate on

Needs PyTorch (Debian: apt-get install python3-torch).
"""

import argparse
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    sys.exit("bench_pytorch_coop_step.py: PyTorch is not installed (Debian: apt-get install python3-torch)")

# CLIP's LayerNorm and ResidualAttentionBlock, as the tower benchmark writes them (scripts/ is on the path).
from bench_pytorch_towers import Block  # noqa: E402
from bench_pytorch_towers import LayerNormFp32  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--embed-dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--n-ctx", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=22, help="prompt length after truncation")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    width, length = args.width, args.tokens
    mask = torch.full((length, length), float("-inf")).triu_(1)
    blocks = nn.Sequential(*[Block(width, width // 64, mask) for _ in range(args.layers)])
    ln_final = LayerNormFp32(width)
    positional = torch.randn(length, width) * 0.01
    projection = torch.randn(width, args.embed_dim) * width ** -0.5
    for p in list(blocks.parameters()) + list(ln_final.parameters()):
        p.requires_grad_(False)

    ctx = nn.Parameter(torch.randn(args.n_ctx, width) * 0.02)
    prefix = torch.randn(args.classes, 1, width) * 0.02  # SOT
    suffix = torch.randn(args.classes, length - 1 - args.n_ctx, width) * 0.02  # name, '.', EOT
    eot = torch.full((args.classes,), length - 1)
    images = torch.randn(args.batch, args.embed_dim)
    labels = torch.randint(args.classes, (args.batch,))
    optimizer = torch.optim.SGD([ctx], lr=0.002, momentum=0.9, weight_decay=5e-4)

    def step():
        prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(args.classes, -1, -1), suffix], 1)
        x = blocks((prompts + positional).permute(1, 0, 2)).permute(1, 0, 2)
        text = ln_final(x)[torch.arange(args.classes), eot] @ projection
        text = text / text.norm(dim=-1, keepdim=True)
        image = images / images.norm(dim=-1, keepdim=True)
        loss = F.cross_entropy(100.0 * image @ text.t(), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    times = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        step()
        if i >= args.warmup:
            times.append(1000 * (time.perf_counter() - start))
    print(f"PyTorch {torch.__version__} eager, width {width}, {args.layers} layers, {args.classes} classes, "
          f"{length} tokens, batch {args.batch}, {torch.get_num_threads()} threads: "
          f"{statistics.median(times):.2f} ms/step")


if __name__ == "__main__":
    main()
