#!/usr/bin/python3
"""PyTorch reference for the C image engine (tests/ref/image.sh).

  image_ref.py random OUT.safetensors [--dtype F16]   a small random-weight model that exercises
                                                      every block kind (2 res blocks, attention at
                                                      every level, a channel change in every skip)
  image_ref.py compute MODEL DIR                      reference tensors for fixed inputs, as raw
                                                      little-endian float32 files in DIR
  image_ref.py compare REF_DIR C_DIR                  TAP lines comparing the two
  image_ref.py analyse PNG... --captions FILE         caption agreement of generated images

The model code is tools/train_diffusion.py's (the code that trained the weights); the noise
generator below is an independent Python transcription of src/engine/image/scheduler.c, so a
seed means the same noise here and in C. Fixed inputs: caption REF_CAPTION, x = seeded normals
(seed 7), t = 500; sampling: DDIM and Euler ancestral, 4 steps, guidance 3, seed 42; each sampler
and img2img again with the negative prompt NEG_CAPTION as the unconditional input.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_shapes  # noqa: E402
import train_diffusion as TD  # noqa: E402

REF_CAPTION = "two red circles on a gray background, top left"
NEG_CAPTION = "red circles, bottom right"
I2I_CAPTION = "one blue square on a white background, center"
M64 = (1 << 64) - 1


class Rng:
    """xoshiro256** seeded by splitmix64; normals by Box-Muller in pairs (cos, then sin)."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))
        self.spare = None

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def normal(self, n):
        out = np.empty(n, np.float32)
        for i in range(n):
            if self.spare is not None:
                out[i] = np.float32(self.spare)
                self.spare = None
                continue
            u1 = ((self.next() >> 11) + 1.0) * 2.0 ** -53
            u2 = (self.next() >> 11) * 2.0 ** -53
            r = math.sqrt(-2.0 * math.log(u1))
            th = 6.283185307179586 * u2
            self.spare = r * math.sin(th)
            out[i] = np.float32(r * math.cos(th))
        return out


def timesteps(t_max, steps):
    if steps <= 1:
        return [t_max]
    return [(t_max * (steps - 1 - i) + (steps - 1) // 2) // (steps - 1) for i in range(steps)]


def tokenize(text, vocab, L):
    words, cur = [], []
    for ch in text.lower():
        if "a" <= ch <= "z":
            cur.append(ch)
        elif cur:
            words.append("".join(cur))
            cur = []
    if cur:
        words.append("".join(cur))
    ids = [vocab.index(w) if (w in vocab and vocab.index(w) >= 2) else 1 for w in words][:L]
    return ids + [0] * (L - len(ids))


@torch.no_grad()
def sample(model, arch, ac, vocab, prompt, steps, seed, guidance, sampler, init=None, strength=1.0, noise=None,
           t_max=0, meta_t_max=None, negative=""):
    S = arch["image_size"]
    L = arch["max_tokens"]
    rng = Rng(seed)
    ids = torch.tensor([tokenize(prompt, vocab, L)])
    ctx_c = model.text(ids)
    # the unconditional branch: the negative caption's encoding, or the empty caption's (all padding)
    ctx_u = model.text(torch.tensor([tokenize(negative, vocab, L)]) if negative else torch.zeros_like(ids))
    ts = timesteps(t_max if t_max else int(meta_t_max or arch["timesteps"] - 1), steps)
    n0 = rng.normal(3 * S * S) if noise is None else noise
    n0 = torch.from_numpy(n0.reshape(1, 3, S, S))
    start = 0
    if init is not None:
        start = min(max(steps - int(round(strength * steps)), 0), steps - 1)
        a = ac[ts[start]]
        x = a.sqrt() * init + (1 - a).sqrt() * n0
    else:
        x = n0.clone()
    for i in range(start, steps):
        t = ts[i]
        a = ac[t]
        an = ac[ts[i + 1]] if i + 1 < steps else torch.tensor(1.0)
        tt = torch.tensor([float(t)])
        eps = model.unet(x, tt, ctx_c)
        if guidance != 1.0:
            eu = model.unet(x, tt, ctx_u)
            eps = eu + guidance * (eps - eu)
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        if sampler == "ddim" or i + 1 == steps:
            x = an.sqrt() * x0 + (1 - an).sqrt() * eps
        else:
            sg = math.sqrt((1 - float(a)) / float(a))
            sn = math.sqrt((1 - float(an)) / float(an))
            up = min(sn, math.sqrt(sn * sn * (sg * sg - sn * sn) / (sg * sg)))
            down = math.sqrt(sn * sn - up * up)
            z = torch.from_numpy(rng.normal(3 * S * S).reshape(1, 3, S, S))
            x = an.sqrt() * (x0 + down * eps + up * z)
    return x


def cmd_random(out, dtype):
    torch.manual_seed(5)
    arch = dict(TD.DEFAULT_ARCH)
    arch.update({"image_size": 16, "channels": 16, "channel_mult": [1, 2], "attention": [1, 1],
                 "num_res_blocks": 2, "groups": 4, "heads": 2, "time_sin_dim": 32, "time_dim": 48,
                 "text_dim": 24, "text_layers": 2, "text_heads": 3, "text_ff": 40})
    m = TD.Model(arch)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" in name or name.split(".")[-2].startswith("ln"):
                p.add_(torch.randn_like(p) * 0.2)
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.05)
    TD.export(m, arch, out, {"atelier.note": "random weights for tests"}, dtype=dtype)


@torch.no_grad()
def cmd_compute(model_path, d):
    torch.set_num_threads(1)
    os.makedirs(d, exist_ok=True)
    m, arch, ac, meta = TD.load_model(model_path)
    m = m.double()  # the reference in float64: what C is compared against is the exact function
    vocab = json.loads(meta["atelier.vocab"])
    S, L = arch["image_size"], arch["max_tokens"]
    ids = torch.tensor([tokenize(REF_CAPTION, vocab, L)])
    ctx = m.text(ids)
    ctx.float()[0].T.contiguous().numpy().astype("<f4").tofile(f"{d}/ctx.f32")  # channel-major [D, L]
    x = torch.from_numpy(Rng(7).normal(3 * S * S).reshape(1, 3, S, S)).double()
    eps = m.unet(x, torch.tensor([500.0], dtype=torch.float64), ctx)
    eps.float().numpy().astype("<f4").tofile(f"{d}/eps.f32")
    m = m.float()
    acf = ac.float()
    mtm = meta.get("atelier.sample_t_max")
    for sampler in ("ddim", "euler"):
        xs = sample(m, arch, acf, vocab, REF_CAPTION, 4, 42, 3.0, sampler, meta_t_max=mtm)
        xs.numpy().astype("<f4").tofile(f"{d}/sample_{sampler}.f32")
        xs = sample(m, arch, acf, vocab, REF_CAPTION, 4, 42, 3.0, sampler, meta_t_max=mtm, negative=NEG_CAPTION)
        xs.numpy().astype("<f4").tofile(f"{d}/sample_{sampler}_neg.f32")
    # img2img from a fixed init pattern (byte (7 i + 50 c) mod 256 at pixel i, channel c), strength 0.5
    pat = np.array([[(7 * i + 50 * c) % 256 for c in range(3)] for i in range(S * S)], np.float32)
    init = torch.from_numpy(pat.T.reshape(1, 3, S, S).copy()) / 127.5 - 1
    xi = sample(m, arch, acf, vocab, I2I_CAPTION, 4, 9, 3.0, "ddim", init=init.float(), strength=0.5,
                meta_t_max=mtm)
    xi.numpy().astype("<f4").tofile(f"{d}/sample_img2img.f32")
    xi = sample(m, arch, acf, vocab, I2I_CAPTION, 4, 9, 3.0, "euler", init=init.float(), strength=0.5,
                meta_t_max=mtm, negative=NEG_CAPTION)
    xi.numpy().astype("<f4").tofile(f"{d}/sample_img2img_euler_neg.f32")
    Rng(42).normal(8).astype("<f4").tofile(f"{d}/noise8.f32")
    with open(f"{d}/ids.txt", "w") as f:
        f.write(" ".join(str(i) for i in ids[0].tolist()) + "\n")


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def cmd_compare(rd, cd):
    checks = [
        ("noise8.f32", 0.0, "seeded normals match the Python transcription bit for bit"),
        ("ctx.f32", 1e-4, "text encoding matches PyTorch (float64)"),
        ("eps.f32", 1e-3, "UNet output matches PyTorch (float64)"),
        # Sampling from pure noise starts at t = 999, where sqrt(alpha_bar) = 4.9e-5: the first
        # x0 estimate divides the float32 rounding of eps (the UNet check above: ~1e-6) by it,
        # a gain of 2e4, so two correct float32 implementations end ~1e-3 apart. img2img
        # starts at t = 500 (gain 1.4) and keeps the 1e-3 bound.
        ("sample_ddim.f32", 1e-2, "4-step DDIM sample (guidance 3, seed 42) matches PyTorch"),
        ("sample_euler.f32", 1e-2, "4-step Euler ancestral sample matches PyTorch"),
        ("sample_img2img.f32", 1e-3, "img2img (strength 0.5) matches PyTorch"),
        # the same with a negative prompt as the unconditional input (issue 8); img2img with Euler
        ("sample_ddim_neg.f32", 1e-2, "4-step DDIM sample with a negative prompt matches PyTorch"),
        ("sample_euler_neg.f32", 1e-2, "4-step Euler ancestral sample with a negative prompt matches PyTorch"),
        ("sample_img2img_euler_neg.f32", 1e-3, "img2img (Euler, strength 0.5) with a negative prompt matches PyTorch"),
    ]
    n = 0
    for f, tol, what in checks:
        n += 1
        a = np.fromfile(f"{cd}/{f}", "<f4") if os.path.exists(f"{cd}/{f}") else None
        b = np.fromfile(f"{rd}/{f}", "<f4")
        if a is None or a.shape != b.shape:
            print(f"not ok {n} - {what}: C output missing or wrong size")
            continue
        r = rel(a, b)
        ok = r <= tol
        print(f"{'ok' if ok else 'not ok'} {n} - {what}: max rel err {r:.2e} (tolerance {tol:g})")
    # the negative-prompt checks above mean something only if the negative prompt matters: in
    # both PyTorch and C it moves the sample by far more than the tolerance (about 1 for shapes)
    for s in ("ddim", "euler"):
        n += 1
        try:
            d = [rel(np.fromfile(f"{x}/sample_{s}_neg.f32", "<f4"), np.fromfile(f"{x}/sample_{s}.f32", "<f4"))
                 for x in (rd, cd)]
        except (OSError, ValueError):
            print(f"not ok {n} - a negative prompt changes the {s} sample: output missing or wrong size")
            continue
        ok = min(d) > 0.1
        print(f"{'ok' if ok else 'not ok'} {n} - a negative prompt changes the {s} sample: rel diff "
              f"{d[0]:.2e} in PyTorch, {d[1]:.2e} in C (need > 0.1)")
    ci = open(f"{cd}/ids.txt").read().split() if os.path.exists(f"{cd}/ids.txt") else None
    ri = open(f"{rd}/ids.txt").read().split()
    n += 1
    print(f"{'ok' if ci == ri else 'not ok'} {n} - tokenizer ids match ({' '.join(ri)})")


PALETTE = {k: np.array(v, np.float32) for k, v in make_shapes.COLOURS.items()}


def analyse(img):
    """(colour, position) of the dominant non-background colour of an HxWx3 uint8 image."""
    img = img.astype(np.float32)
    H, W, _ = img.shape
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    bg = np.median(border, axis=0)
    dist = np.linalg.norm(img - bg, axis=2)
    mask = dist > 60
    if mask.sum() < 3:
        return None, None
    px = img[mask]
    names = list(PALETTE)
    d = np.stack([np.linalg.norm(px - PALETTE[c], axis=1) for c in names], axis=1)
    votes = np.bincount(d.argmin(axis=1), minlength=len(names))
    colour = names[int(votes.argmax())]
    sel = mask.copy()
    sel[mask] = d.argmin(axis=1) == votes.argmax()
    ys, xs = np.nonzero(sel)
    cx, cy = xs.mean() + 0.5 - W / 2, ys.mean() + 0.5 - H / 2
    if max(abs(cx), abs(cy)) < W / 8:
        pos = "center"
    else:
        pos = ("top" if cy < 0 else "bottom") + " " + ("left" if cx < 0 else "right")
    return colour, pos


def cmd_analyse(pngs, captions):
    from PIL import Image
    want = [line.rstrip("\n").split("\t") for line in open(captions) if line.strip()]
    agree = 0
    n = 0
    for (colour, pos, cap), png in zip(want, pngs):
        c, p = analyse(np.asarray(Image.open(png).convert("RGB")))
        ok = c == colour and p == pos
        agree += ok
        n += 1
        print(f"# {'agree' if ok else 'DISAGREE'}: '{cap}' -> {c}, {p}")
    rate = agree / max(n, 1)
    print(f"# caption agreement {agree}/{n} = {rate:.0%}")
    print(f"{'ok' if n == len(want) and rate >= 0.8 else 'not ok'} 1 - held-out caption agreement "
          f"{agree}/{n} ({rate:.0%}, need 80%)")


def main():
    a = sys.argv[1:]
    if a[0] == "random":
        cmd_random(a[1], a[3] if len(a) > 3 and a[2] == "--dtype" else "F32")
    elif a[0] == "compute":
        cmd_compute(a[1], a[2])
    elif a[0] == "compare":
        cmd_compare(a[1], a[2])
    elif a[0] == "analyse":
        i = a.index("--captions")
        cmd_analyse(a[1:i], a[i + 1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
