#!/usr/bin/python3
"""Procedural captioned shapes data set for the default image model.

Each sample is a 32x32 RGB image of one to three shapes of one colour, placed
in one region (a quadrant or the centre), on a plain background, with a caption
such as "two red circles on a black background, top left". Everything is drawn
here from a seeded generator, so the data set needs no download and carries no
third-party licence.

A fixed list of caption tuples (HELDOUT) never appears in training: the C
engine's caption test (tests/ref/image.sh) generates from those.

Usage:
  /usr/bin/python3 tools/make_shapes.py --n 40000 --out /tmp/shapes.npz
  /usr/bin/python3 tools/make_shapes.py --heldout        # prints held-out captions
"""
import argparse
import itertools
import random

import numpy as np

SIZE = 32
COUNTS = ["one", "two", "three"]
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 230),
    "yellow": (235, 215, 40),
    "purple": (150, 60, 200),
    "orange": (245, 140, 30),
}
BACKGROUNDS = {
    "black": (12, 12, 12),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
}
SHAPES = ["circle", "square", "triangle"]
POSITIONS = ["top left", "top right", "bottom left", "bottom right", "center"]

# Word-level vocabulary; index 0 is padding (also the empty caption used for
# classifier-free guidance), 1 is unknown. Stored in the weights file.
VOCAB = (["<pad>", "<unk>", "a", "an", "one", "two", "three", "on", "background",
          "the", "in", "at", "top", "bottom", "left", "right", "center", "centre",
          "middle"]
         + list(COLOURS) + list(BACKGROUNDS) + ["grey"]
         + [s for sh in SHAPES for s in (sh, sh + "s")])
MAX_TOKENS = 16


def tokenize(text):
    """Lower-case, split on anything that is not a letter, map to ids, pad to MAX_TOKENS."""
    words, cur = [], []
    for ch in text.lower():
        if "a" <= ch <= "z":
            cur.append(ch)
        elif cur:
            words.append("".join(cur))
            cur = []
    if cur:
        words.append("".join(cur))
    ids = [VOCAB.index(w) if w in VOCAB else 1 for w in words][:MAX_TOKENS]
    return ids + [0] * (MAX_TOKENS - len(ids))


def caption(count, colour, shape, pos, bg, rng=None):
    n = COUNTS.index(count) + 1
    word = count
    if n == 1 and rng is not None and rng.random() < 0.5:
        word = "a"
    noun = shape if n == 1 else shape + "s"
    return f"{word} {colour} {noun} on a {bg} background, {pos}"


def all_tuples():
    return list(itertools.product(COUNTS, COLOURS, SHAPES, POSITIONS, BACKGROUNDS))


def heldout():
    """20 tuples kept out of training, chosen by a fixed seed, every colour and position covered."""
    r = random.Random(1234)
    tuples = all_tuples()
    r.shuffle(tuples)
    out = []
    for i in range(20):
        colour = list(COLOURS)[i % 6]
        pos = POSITIONS[i % 5]
        t = next(t for t in tuples if t[1] == colour and t[3] == pos and t not in out)
        out.append(t)
    return out


def region(pos):
    h = SIZE // 2
    return {"top left": (0, 0), "top right": (h, 0), "bottom left": (0, h),
            "bottom right": (h, h), "center": (SIZE // 4, SIZE // 4)}[pos]


def render(count, colour, shape, pos, bg, rng, ss=2):
    """Draws one image (uint8 HxWx3), supersampled ss times per axis for soft edges."""
    n = COUNTS.index(count) + 1
    S = SIZE * ss
    ys, xs = np.mgrid[0:S, 0:S].astype(np.float32) / ss + 0.5 / ss
    mask = np.zeros((S, S), np.float32)
    x0, y0 = region(pos)
    half = SIZE // 2
    r = rng.uniform(3.5, 5.0) if n == 1 else (rng.uniform(3.0, 4.0) if n == 2 else rng.uniform(2.5, 3.3))
    centres = []
    for _ in range(n):
        for _try in range(60):
            cx = x0 + rng.uniform(r + 0.5, half - r - 0.5)
            cy = y0 + rng.uniform(r + 0.5, half - r - 0.5)
            if all((cx - a) ** 2 + (cy - b) ** 2 > (2.1 * r) ** 2 for a, b in centres):
                break
        centres.append((cx, cy))
        if shape == "circle":
            m = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
        elif shape == "square":
            m = (np.abs(xs - cx) <= 0.85 * r) & (np.abs(ys - cy) <= 0.85 * r)
        else:
            top, bot = cy - r, cy + 0.8 * r
            frac = (ys - top) / (bot - top)
            m = (frac >= 0) & (frac <= 1) & (np.abs(xs - cx) <= frac * r)
        mask = np.maximum(mask, m.astype(np.float32))
    mask = mask.reshape(SIZE, ss, SIZE, ss).mean(axis=(1, 3))[..., None]
    fg = np.array(COLOURS[colour], np.float32) + rng.uniform(-12, 12, 3)
    bgc = np.array(BACKGROUNDS[bg], np.float32) + rng.uniform(-8, 8, 3)
    img = bgc * (1 - mask) + fg * mask
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def make(n, seed):
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    held = set(heldout())
    tuples = [t for t in all_tuples() if t not in held]
    imgs = np.zeros((n, SIZE, SIZE, 3), np.uint8)
    toks = np.zeros((n, MAX_TOKENS), np.int64)
    caps = []
    for i in range(n):
        t = tuples[prng.randrange(len(tuples))]
        imgs[i] = render(*t, rng)
        c = caption(*t, rng=prng)
        caps.append(c)
        toks[i] = tokenize(c)
    return imgs, toks, caps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/shapes.npz")
    ap.add_argument("--heldout", action="store_true", help="print the held-out captions and exit")
    ap.add_argument("--png", help="write the first 64 samples as a PNG grid here")
    a = ap.parse_args()
    if a.heldout:
        for t in heldout():
            print(f"{t[1]}\t{t[3]}\t{caption(*t)}")
        return
    imgs, toks, caps = make(a.n, a.seed)
    np.savez_compressed(a.out, imgs=imgs, toks=toks, caps=np.array(caps))
    print(f"wrote {a.n} samples to {a.out}; vocab {len(VOCAB)} words")
    if a.png:
        from PIL import Image
        g = imgs[:64].reshape(8, 8, SIZE, SIZE, 3).transpose(0, 2, 1, 3, 4).reshape(8 * SIZE, 8 * SIZE, 3)
        Image.fromarray(g).resize((8 * SIZE * 3, 8 * SIZE * 3), Image.NEAREST).save(a.png)
        for c in caps[:8]:
            print(c)


if __name__ == "__main__":
    main()
