"""PyTorch side of `loom bench train`: the same Llama-style model, data and optimizer as Loom's
TrainBenchmark, trained for a fixed number of steps; prints one JSON object on stdout.

Model: token embedding (tied with the output head), L pre-norm blocks of
    h = x + o_proj(attn(rope(q_proj(rmsnorm(x))), rope(k_proj(.)), v_proj(.)))   causal, KV heads = heads
    y = h + down_proj(silu(gate_proj(rmsnorm(h))) * up_proj(rmsnorm(h)))
then a final RMSNorm (eps 1e-5) and logits = x @ embed^T. RoPE theta 10000 in the NeoX ("rotate half")
layout. No biases, no dropout. Init: every matrix N(0, 0.02), o_proj/down_proj N(0, 0.02/sqrt(2L)), norms 1.
Data: character level, vocab = sorted distinct code points of the text, train on the first
floor(0.9 N) characters, random windows as nanoGPT. AdamW (decay on matrices only), grad clip.

Run with Debian's PyTorch (1.13): /usr/bin/python3 tools/bench/train_torch.py --data data/corpus/moby-dick.txt.gz ...
One thread count per process: OpenBLAS (Debian's pthread build) does not follow torch.set_num_threads, so the
caller sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS to --threads as well (loom bench train does).
"""
import argparse
import gzip
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def load_chars(path):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    k = int(0.9 * len(ids))
    return ids[:k], ids[k:], len(vocab)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(context, head_dim, theta=10000.0):
    half = head_dim // 2
    inv = 1.0 / (theta ** (torch.arange(0, half, dtype=torch.float64) * 2 / head_dim))
    ang = torch.arange(context, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().float(), ang.sin().float()   # (T, D/2)


def rope(x, cos, sin):   # x: (B, H, T, D)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, dim, heads, ffn):
        super().__init__()
        self.heads = heads
        self.input_layernorm = RMSNorm(dim)
        self.q_proj = torch.nn.Linear(dim, dim, bias=False)
        self.k_proj = torch.nn.Linear(dim, dim, bias=False)
        self.v_proj = torch.nn.Linear(dim, dim, bias=False)
        self.o_proj = torch.nn.Linear(dim, dim, bias=False)
        self.post_attention_layernorm = RMSNorm(dim)
        self.gate_proj = torch.nn.Linear(dim, ffn, bias=False)
        self.up_proj = torch.nn.Linear(dim, ffn, bias=False)
        self.down_proj = torch.nn.Linear(ffn, dim, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, c = x.shape
        d = c // self.heads
        n = self.input_layernorm(x)
        q = rope(self.q_proj(n).view(b, t, self.heads, d).transpose(1, 2), cos, sin)
        k = rope(self.k_proj(n).view(b, t, self.heads, d).transpose(1, 2), cos, sin)
        v = self.v_proj(n).view(b, t, self.heads, d).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
        s = s.masked_fill(mask[:t, :t], float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        h = x + self.o_proj(a)
        n2 = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(n2)) * self.up_proj(n2))


class Model(torch.nn.Module):
    def __init__(self, vocab, layers, heads, dim, ffn, context):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(vocab, dim)
        self.layers = torch.nn.ModuleList([Block(dim, heads, ffn) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        cos, sin = rope_tables(context, dim // heads)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.register_buffer("mask", torch.triu(torch.ones(context, context, dtype=torch.bool), 1), persistent=False)
        residual_std = 0.02 / math.sqrt(2 * layers)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                torch.nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                torch.nn.init.normal_(p, 0.0, residual_std)
            else:
                torch.nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.embed_tokens(idx)
        cos, sin = self.cos[:t], self.sin[:t]
        for layer in self.layers:
            x = layer(x, cos, sin, self.mask)
        logits = self.norm(x) @ self.embed_tokens.weight.T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def lr_at(step, peak, warmup, total, min_lr):
    """Same schedule as Loom's LrSchedule: linear warm-up, then cosine to min_lr."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (peak - min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model, a):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        return torch.optim.AdamW(groups, lr=a.lr, betas=(a.beta1, a.beta2), eps=1e-8, foreach=True)
    except (TypeError, RuntimeError):
        return torch.optim.AdamW(groups, lr=a.lr, betas=(a.beta1, a.beta2), eps=1e-8)


@torch.no_grad()
def evaluate(model, val, context, batch=32):
    """Mean loss (nats/char) over every validation character after the first: consecutive windows of
    `context` inputs, each predicting its next characters (the last window may be shorter)."""
    model.eval()
    total, count = 0.0, 0
    rows = (len(val) - 1) // context
    xs = val[:rows * context].view(rows, context)
    ys = val[1:rows * context + 1].view(rows, context)
    for i in range(0, rows, batch):
        x, y = xs[i:i + batch], ys[i:i + batch]
        total += model(x, y).item() * x.numel()
        count += x.numel()
    tail = len(val) - 1 - rows * context
    if tail > 0:
        x = val[rows * context:rows * context + tail][None]
        y = val[rows * context + 1:][None]
        total += model(x, y).item() * tail
        count += tail
    model.train()
    return total / count


def run(train, val, vocab, threads, a):
    torch.set_num_threads(threads)
    torch.manual_seed(a.seed)
    model = Model(vocab, a.layers, a.heads, a.dim, a.ffn, a.context)
    opt = make_optimizer(model, a)
    gen = torch.Generator().manual_seed(a.seed + 1)
    total_steps = a.warmup + a.steps
    times, losses, phases = [], [], []

    def step_once(step):
        lr = lr_at(step, a.lr, min(a.lr_warmup, total_steps), total_steps, a.min_lr) if a.schedule else a.lr
        for g in opt.param_groups:
            g["lr"] = lr
        t0 = time.perf_counter()
        ix = torch.randint(len(train) - a.context, (a.batch,), generator=gen)
        x = torch.stack([train[i:i + a.context] for i in ix.tolist()])
        y = torch.stack([train[i + 1:i + 1 + a.context] for i in ix.tolist()])
        t1 = time.perf_counter()
        loss = model(x, y)
        lv = loss.item()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        if not math.isfinite(lv):
            raise SystemExit(f"loss became {lv} at step {step + 1}")
        return lv, t5 - t0, [1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2), 1e3 * (t4 - t3), 1e3 * (t5 - t4)]

    for step in range(total_steps):
        lv, dt, ph = step_once(step)
        losses.append(lv)
        if step >= a.warmup:
            times.append(dt)
            phases.append(ph)
    tokens = a.batch * a.context
    result = {
        "threads": threads,
        "tokens_per_s": statistics.median(tokens / t for t in times) if times else None,
        "mean_tokens_per_s": tokens * len(times) / sum(times) if times else None,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    if phases:
        names = ["data_ms", "forward_ms", "backward_ms", "clip_ms", "optimizer_ms"]
        result["phases"] = {n: statistics.median(p[i] for p in phases) for i, n in enumerate(names)}
    if a.eval:
        result["val_loss"] = evaluate(model, val, a.context)
    if a.profile:
        n = 3
        with torch.autograd.profiler.profile() as prof:
            for i in range(n):
                step_once(total_steps + i)
        ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:20]
        result["ops"] = [{"op": e.key, "self_ms": e.self_cpu_time_total / 1e3 / n, "count": e.count // n} for e in ops]
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--ffn", type=int, required=True)
    p.add_argument("--context", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before the timed ones")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (set OPENBLAS_NUM_THREADS alike)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--lr-warmup", type=int, default=100)
    p.add_argument("--schedule", action="store_true", help="warm-up + cosine over all steps (else constant lr)")
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--eval", action="store_true", help="also report the validation loss (nats/char) after training")
    p.add_argument("--profile", action="store_true", help="after the timed steps, 3 steps under the autograd profiler: top ops")
    a = p.parse_args()
    train, val, vocab = load_chars(a.data)
    r = run(train, val, vocab, a.threads, a)
    out = {
        "torch_version": torch.__version__,
        "vocab": vocab,
        "params": sum(p.numel() for p in Model(vocab, a.layers, a.heads, a.dim, a.ffn, a.context).parameters()),
        **r,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
