#!/usr/bin/python3
"""Trains the default image model (pixel-space text-to-image diffusion) and exports safetensors.

The architecture is a small version of Stable Diffusion 1.5's UNet (same block layout:
ResBlocks with timestep embedding, SpatialTransformers with self-attention, cross-attention
to the text encoding and a GEGLU feed-forward, strided-conv downsampling, nearest upsampling,
one skip connection per block) working directly on 32x32 RGB pixels, conditioned on a small
word-level transformer text encoder trained jointly. The C engine (src/engine/image/) reads
the hyperparameters from the file's metadata ("atelier.arch", "atelier.vocab") so this file
and unet.c must agree on tensor names and on the forward pass; tools/image_ref.py checks it.

Usage (about 70 minutes on one core):
  /usr/bin/python3 tools/make_shapes.py --n 40000 --out /tmp/shapes.npz
  nohup /usr/bin/python3 tools/train_diffusion.py --data /tmp/shapes.npz --minutes 70 \
      --out models/shapes-diffusion.safetensors > /tmp/train_diffusion.log 2>&1 &
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_shapes  # noqa: E402

DEFAULT_ARCH = {
    "kind": "atelier-unet-v1",
    "image_size": 32,
    "in_channels": 3,
    "out_channels": 3,
    "channels": 32,
    "channel_mult": [1, 2, 2],
    "attention": [0, 0, 1],
    "num_res_blocks": 1,
    "groups": 8,
    "heads": 4,
    "time_sin_dim": 64,
    "time_dim": 128,
    "gn_eps": 1e-5,
    "ln_eps": 1e-5,
    "text_dim": 64,
    "text_layers": 2,
    "text_heads": 4,
    "text_ff": 256,
    "max_tokens": make_shapes.MAX_TOKENS,
    "vocab_size": len(make_shapes.VOCAB),
    "prediction": "epsilon",
    "timesteps": 1000,
    "schedule": "cosine",
    "pooled_text": True,
}


# ---------------------------------------------------------------- text encoder
class TextLayer(nn.Module):
    def __init__(self, d, heads, ff, eps):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)

    def forward(self, x):  # x [B, L, D]
        B, L, D = x.shape
        h = self.ln1(x)
        q, k, v = self.qkv(h).split(D, dim=-1)
        q = q.view(B, L, self.heads, -1).transpose(1, 2)
        k = k.view(B, L, self.heads, -1).transpose(1, 2)
        v = v.view(B, L, self.heads, -1).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v
        x = x + self.out(a.transpose(1, 2).reshape(B, L, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TextEncoder(nn.Module):
    def __init__(self, a):
        super().__init__()
        d = a["text_dim"]
        self.tok_emb = nn.Parameter(torch.randn(a["vocab_size"], d) * 0.02)
        self.pos_emb = nn.Parameter(torch.randn(a["max_tokens"], d) * 0.02)
        self.layers = nn.ModuleList(TextLayer(d, a["text_heads"], a["text_ff"], a["ln_eps"])
                                    for _ in range(a["text_layers"]))
        self.ln_f = nn.LayerNorm(d, eps=a["ln_eps"])

    def forward(self, ids):  # ids [B, L] -> [B, L, D]
        x = self.tok_emb[ids] + self.pos_emb[None]
        for layer in self.layers:
            x = layer(x)
        return self.ln_f(x)


# ---------------------------------------------------------------- UNet
class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, c, cctx, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(c, c, bias=False)
        self.k = nn.Linear(cctx, c, bias=False)
        self.v = nn.Linear(cctx, c, bias=False)
        self.out = nn.Linear(c, c)

    def forward(self, x, ctx):  # x [B, N, C], ctx [B, M, Cctx]
        B, N, C = x.shape
        M = ctx.shape[1]
        q = self.q(x).view(B, N, self.heads, -1).transpose(1, 2)
        k = self.k(ctx).view(B, M, self.heads, -1).transpose(1, 2)
        v = self.v(ctx).view(B, M, self.heads, -1).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v
        return self.out(a.transpose(1, 2).reshape(B, N, C))


class SpatialTransformer(nn.Module):
    def __init__(self, c, cctx, heads, groups, gn_eps, ln_eps):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=gn_eps)
        self.proj_in = nn.Linear(c, c)
        self.ln1 = nn.LayerNorm(c, eps=ln_eps)
        self.attn1 = Attention(c, c, heads)
        self.ln2 = nn.LayerNorm(c, eps=ln_eps)
        self.attn2 = Attention(c, cctx, heads)
        self.ln3 = nn.LayerNorm(c, eps=ln_eps)
        self.ff1 = nn.Linear(c, 8 * c)  # GEGLU: first half value, second half gate
        self.ff2 = nn.Linear(4 * c, c)
        self.proj_out = nn.Linear(c, c)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.norm(x).view(B, C, H * W).transpose(1, 2)
        h = self.proj_in(h)
        h1 = self.ln1(h)
        h = h + self.attn1(h1, h1)
        h = h + self.attn2(self.ln2(h), ctx)
        a, g = self.ff1(self.ln3(h)).chunk(2, dim=-1)
        h = h + self.ff2(a * F.gelu(g))
        h = self.proj_out(h)
        return x + h.transpose(1, 2).reshape(B, C, H, W)


class Level(nn.Module):
    pass


class UNet(nn.Module):
    def __init__(self, a):
        super().__init__()
        C, T, g = a["channels"], a["time_dim"], a["groups"]
        ge, le, hd, cctx = a["gn_eps"], a["ln_eps"], a["heads"], a["text_dim"]
        self.a = a
        self.time_lin1 = nn.Linear(a["time_sin_dim"], T)
        self.time_lin2 = nn.Linear(T, T)
        if a.get("pooled_text"):
            # the caption's mean encoding joins the timestep embedding: every ResBlock sees it
            self.pool_proj = nn.Linear(cctx, T)
        self.conv_in = nn.Conv2d(a["in_channels"], C, 3, padding=1)
        chans = [C * m for m in a["channel_mult"]]
        nl = len(chans)
        skip_ch = [C]
        cur = C
        self.down = nn.ModuleList()
        for i in range(nl):
            lv = Level()
            lv.res = nn.ModuleList()
            lv.attn = nn.ModuleList()
            for _ in range(a["num_res_blocks"]):
                lv.res.append(ResBlock(cur, chans[i], T, g, ge))
                cur = chans[i]
                if a["attention"][i]:
                    lv.attn.append(SpatialTransformer(cur, cctx, hd, g, ge, le))
                skip_ch.append(cur)
            if i != nl - 1:
                lv.downsample = nn.Conv2d(cur, cur, 3, stride=2, padding=1)
                skip_ch.append(cur)
            self.down.append(lv)
        self.mid_res1 = ResBlock(cur, cur, T, g, ge)
        self.mid_attn = SpatialTransformer(cur, cctx, hd, g, ge, le)
        self.mid_res2 = ResBlock(cur, cur, T, g, ge)
        self.up = nn.ModuleList()
        for i in reversed(range(nl)):
            lv = Level()
            lv.res = nn.ModuleList()
            lv.attn = nn.ModuleList()
            for _ in range(a["num_res_blocks"] + 1):
                lv.res.append(ResBlock(cur + skip_ch.pop(), chans[i], T, g, ge))
                cur = chans[i]
                if a["attention"][i]:
                    lv.attn.append(SpatialTransformer(cur, cctx, hd, g, ge, le))
            if i != 0:
                lv.upsample = nn.Conv2d(cur, cur, 3, padding=1)
            self.up.append(lv)  # up.0 is the deepest level
        self.out_norm = nn.GroupNorm(g, cur, eps=ge)
        self.conv_out = nn.Conv2d(cur, a["out_channels"], 3, padding=1)

    def time_embedding(self, t):  # t [B] float -> [B, time_sin_dim], cos first then sin
        half = self.a["time_sin_dim"] // 2
        f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        e = t.float()[:, None] * f[None]
        return torch.cat([torch.cos(e), torch.sin(e)], dim=1).to(self.time_lin1.weight.dtype)

    def forward(self, x, t, ctx):
        temb = self.time_lin2(F.silu(self.time_lin1(self.time_embedding(t))))
        if self.a.get("pooled_text"):
            temb = temb + self.pool_proj(ctx.mean(dim=1))
        h = self.conv_in(x)
        skips = [h]
        for lv in self.down:
            for j, res in enumerate(lv.res):
                h = res(h, temb)
                if len(lv.attn):
                    h = lv.attn[j](h, ctx)
                skips.append(h)
            if hasattr(lv, "downsample"):
                h = lv.downsample(h)
                skips.append(h)
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, temb), ctx), temb)
        for lv in self.up:
            for j, res in enumerate(lv.res):
                h = res(torch.cat([h, skips.pop()], dim=1), temb)
                if len(lv.attn):
                    h = lv.attn[j](h, ctx)
            if hasattr(lv, "upsample"):
                h = lv.upsample(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.out_norm(h)))


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.text = TextEncoder(a)
        self.unet = UNet(a)


def cosine_alphas_cumprod(T):
    s = 0.008
    x = np.arange(T + 1, dtype=np.float64)
    f = np.cos(((x / T) + s) / (1 + s) * math.pi / 2) ** 2
    ac = f / f[0]
    betas = np.clip(1 - ac[1:] / ac[:-1], 0, 0.999)
    return np.cumprod(1 - betas)


# ---------------------------------------------------------------- safetensors
def save_safetensors(path, tensors, metadata, dtype="F32"):
    """Writes tensors (dict name -> torch tensor) as F32 or F16 in the safetensors layout
    (schedule.* always F32)."""
    header = {"__metadata__": metadata}
    off = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu().numpy()
        dt = "F32" if dtype == "F32" or name.startswith("schedule.") else "F16"
        b = t.astype("<f4" if dt == "F32" else "<f2").tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16}[h["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).astype(np.float32).reshape(h["shape"]).copy())
    return out, meta


def export(model, arch, path, extra_meta=None, dtype="F32"):
    sd = {k: v for k, v in model.state_dict().items()}
    sd["schedule.alphas_cumprod"] = torch.tensor(cosine_alphas_cumprod(arch["timesteps"]), dtype=torch.float32)
    meta = {"atelier.arch": json.dumps(arch), "atelier.vocab": json.dumps(make_shapes.VOCAB),
            "format": "pt"}
    if extra_meta:
        meta.update(extra_meta)
    save_safetensors(path, sd, meta, dtype)


def load_model(path):
    sd, meta = load_safetensors(path)
    arch = json.loads(meta["atelier.arch"])
    m = Model(arch)
    ac = sd.pop("schedule.alphas_cumprod")
    m.load_state_dict(sd)
    m.eval()
    return m, arch, ac, meta


# ---------------------------------------------------------------- training
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/shapes.npz")
    ap.add_argument("--out", default="models/shapes-diffusion.safetensors")
    ap.add_argument("--ckpt", default="/tmp/diffusion_ckpt.pt")
    ap.add_argument("--minutes", type=float, default=70)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    arch = dict(DEFAULT_ARCH)
    model = Model(arch)
    ema = Model(arch)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"params {nparam} ({nparam * 4 / 1e6:.1f} MB F32)", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    ac = torch.tensor(cosine_alphas_cumprod(arch["timesteps"]), dtype=torch.float32)
    if a.bench:
        x = torch.randn(a.batch, 3, 32, 32)
        ids = torch.randint(0, arch["vocab_size"], (a.batch, 16))
        for i in range(4):
            t0 = time.time()
            loss = F.mse_loss(model.unet(x, torch.randint(0, 1000, (a.batch,)), model.text(ids)), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            print(f"step {time.time() - t0:.3f}s", flush=True)
        return
    d = np.load(a.data)
    imgs = torch.from_numpy(d["imgs"]).permute(0, 3, 1, 2).float() / 127.5 - 1
    toks = torch.from_numpy(d["toks"])
    n = imgs.shape[0]
    step, elapsed0, losses = 0, 0.0, []
    if os.path.exists(a.ckpt):
        ck = torch.load(a.ckpt)
        missing = model.load_state_dict(ck["model"], strict=False).missing_keys
        ema.load_state_dict(ck["ema"], strict=False)
        if missing:
            # warm start from a checkpoint without the newer parts (pool_proj): those
            # start at zero, so the model begins exactly where the checkpoint was
            with torch.no_grad():
                for name in missing:
                    model.state_dict()[name].zero_()
                    ema.state_dict()[name].zero_()
            print(f"warm start: new parameters {missing}", flush=True)
        else:
            opt.load_state_dict(ck["opt"])
        step, elapsed0 = ck["step"], ck["elapsed"]
        print(f"resumed at step {step}, {elapsed0 / 60:.1f} min", flush=True)
    t_start = time.time() - elapsed0
    limit = a.minutes * 60
    g = torch.Generator().manual_seed(a.seed + step)
    while True:
        elapsed = time.time() - t_start
        if elapsed >= limit:
            break
        frac = elapsed / limit
        lr = a.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(0, n, (a.batch,), generator=g)
        x0 = imgs[idx]
        ids = toks[idx].clone()
        drop = torch.rand(a.batch, generator=g) < 0.1
        ids[drop] = 0
        t = torch.randint(0, arch["timesteps"], (a.batch,), generator=g)
        eps = torch.randn(x0.shape, generator=g)
        abar = ac[t][:, None, None, None]
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        pred = model.unet(xt, t.float(), model.text(ids))
        loss = F.mse_loss(pred, eps)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dec = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(dec).add_(pm, alpha=1 - dec)
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {np.mean(losses[-50:]):.4f} lr {lr:.2e} {elapsed / 60:.1f} min", flush=True)
        if step % 250 == 0:
            torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                        "step": step, "elapsed": time.time() - t_start}, a.ckpt)
            export(ema, arch, a.out, {"atelier.train_steps": str(step),
                                      "atelier.train_loss": f"{np.mean(losses[-250:]):.4f}"})
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "step": step, "elapsed": time.time() - t_start}, a.ckpt)
    final = float(np.mean(losses[-250:])) if losses else float("nan")
    export(ema, arch, a.out, {"atelier.train_steps": str(step), "atelier.train_loss": f"{final:.4f}"})
    print(f"done: {step} steps, final loss {final:.4f}, wrote {a.out}", flush=True)


if __name__ == "__main__":
    main()
