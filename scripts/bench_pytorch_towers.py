#!/usr/bin/env python3
"""Images/s of CLIP's image towers in Python PyTorch, for comparing with `promptgrid bench --image-tower`.

Builds ViT-B/16 or RN50 with the shapes of OpenAI's releases and random weights (the speed does not depend
on their values), written from the architecture's description (openai/CLIP model.py: a patch convolution,
class token, pre-LN transformer with nn.MultiheadAttention and QuickGELU; a 3-conv stem, anti-aliased
Bottlenecks with eval-mode BatchNorm, attention pooling), and times the forward pass the same way as the C++
benchmark: `--warmup` untimed batches, then the median of `--iterations` timed ones, under no_grad, with
the same batch and thread count.

  python3 scripts/bench_pytorch_towers.py --tower vit-b16 --batch-size 8 --threads 2
  promptgrid bench --image-tower vit-b16 --batch-size 8 --threads 2

Needs PyTorch (Debian: apt-get install python3-torch).
"""

import argparse
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    sys.exit("bench_pytorch_towers.py: PyTorch is not installed (Debian: apt-get install python3-torch)")


class LayerNormFp32(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.float()).to(x.dtype)


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln(x)), then x + mlp(ln(x)); sequence-first tensors."""

    def __init__(self, width, heads, mask=None):
        super().__init__()
        self.mask = mask  # additive attention mask (CLIP's text tower: causal); None for the image towers
        self.ln_1 = LayerNormFp32(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_2 = LayerNormFp32(width)
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.mask)[0]
        h = self.c_fc(self.ln_2(x))
        return x + self.c_proj(h * torch.sigmoid(1.702 * h))


class ViT(nn.Module):
    def __init__(self, width=768, layers=12, patch=16, resolution=224, embed_dim=512):
        super().__init__()
        grid = resolution // patch
        self.patchify = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.cls = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.pos = nn.Parameter(torch.randn(grid * grid + 1, width) * width ** -0.5)
        self.ln_pre = LayerNormFp32(width)
        self.blocks = nn.Sequential(*[Block(width, width // 64) for _ in range(layers)])
        self.ln_post = LayerNormFp32(width)
        self.proj = nn.Parameter(torch.randn(width, embed_dim) * width ** -0.5)

    def forward(self, images):
        x = self.patchify(images).flatten(2).transpose(1, 2)  # [n, grid^2, width]
        cls = self.cls.to(x.dtype).expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], 1) + self.pos.to(x.dtype))
        x = self.blocks(x.transpose(0, 1))  # sequence first, as nn.MultiheadAttention takes it
        return self.ln_post(x[0]) @ self.proj


class BatchNormFp32(nn.BatchNorm2d):
    def forward(self, x):
        return super().forward(x.float()).to(x.dtype)


def conv_bn(cin, cout, kernel):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), BatchNormFp32(cout))


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.branch1 = conv_bn(cin, planes, 1)
        self.branch2 = conv_bn(planes, planes, 3)
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.branch3 = conv_bn(planes, 4 * planes, 1)
        self.shortcut = None
        if stride > 1 or cin != 4 * planes:
            self.shortcut = nn.Sequential(nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                                          *conv_bn(cin, 4 * planes, 1))

    def forward(self, x):
        y = F.relu(self.branch1(x))
        y = self.pool(F.relu(self.branch2(y)))
        y = self.branch3(y)
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class AttentionPool(nn.Module):
    def __init__(self, grid, width, heads, out_dim):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(grid * grid + 1, width) / width ** 0.5)
        self.q, self.k, self.v = (nn.Linear(width, width) for _ in range(3))
        self.c_proj = nn.Linear(width, out_dim)
        self.heads = heads

    def forward(self, x):
        x = x.flatten(2).permute(2, 0, 1)  # [HW, n, C]
        x = torch.cat([x.mean(0, keepdim=True), x]) + self.pos[:, None, :].to(x.dtype)
        out, _ = F.multi_head_attention_forward(
            x[:1], x, x, x.shape[-1], self.heads,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q.bias, self.k.bias, self.v.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias, training=False,
            need_weights=False, use_separate_proj_weight=True,
            q_proj_weight=self.q.weight, k_proj_weight=self.k.weight, v_proj_weight=self.v.weight)
        return out[0]


class ResNet(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), width=64, resolution=224, embed_dim=1024):
        super().__init__()
        self.stem = nn.Sequential(
            *conv_bn(3, width // 2, 3), nn.ReLU(), *conv_bn(width // 2, width // 2, 3), nn.ReLU(),
            *conv_bn(width // 2, width, 3), nn.ReLU(), nn.AvgPool2d(2))
        self.stem[0].stride = (2, 2)  # the first stem convolution halves the image
        blocks, cin = [], width
        for i, count in enumerate(layers):
            planes = width << i
            for b in range(count):
                blocks.append(Bottleneck(cin, planes, 2 if b == 0 and i > 0 else 1))
                cin = 4 * planes
        self.blocks = nn.Sequential(*blocks)
        self.pool = AttentionPool(resolution // 32, 32 * width, width // 2, embed_dim)

    def forward(self, images):
        return self.pool(self.blocks(self.stem(images)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tower", choices=["vit-b16", "rn50"], default="vit-b16")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=5, help="timed batches (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: one per core)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["fp32", "fp16"], default="fp32")
    args = parser.parse_args()

    torch.set_num_threads(args.threads if args.threads > 0 else len(os.sched_getaffinity(0)))
    torch.manual_seed(1)
    model = ViT() if args.tower == "vit-b16" else ResNet()
    model.eval()
    dtype = torch.float16 if args.precision == "fp16" else torch.float32
    model.to(args.device, dtype)
    for module in model.modules():  # norms stay float32, as CLIP's convert_weights leaves them
        if isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            module.float()
    images = torch.randn(args.batch_size, 3, 224, 224).to(args.device)
    times = []
    with torch.no_grad():
        for i in range(args.warmup + args.iterations):
            start = time.perf_counter()
            model(images.to(dtype)).sum().item()  # reading a value back waits for the device
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1000
    print(f"PyTorch {torch.__version__} image tower {args.tower} (random weights), batch {args.batch_size}, "
          f"{args.precision} on {args.device} ({torch.get_num_threads()} threads), {args.warmup} warm-up + "
          f"{args.iterations} timed batches")
    print(f"{'':12} {'ms/batch':>12} {'images/s':>12}")
    print(f"{'median':12} {ms:12.2f} {1000 * args.batch_size / ms:12.2f}")


if __name__ == "__main__":
    main()
