"""torch_ref.py: reference logits for a llama/qwen2 GGUF, computed with PyTorch.

    /usr/bin/python3 tools/torch_ref.py MODEL.gguf --tokens 1,2,3 [--greedy N]
    /usr/bin/python3 tools/torch_ref.py MODEL.gguf --tokens 1,2,3 --compare C_OUT --tol T [--greedy N]

Independent of the C engine: the file is read and dequantized by gguf_read.py
(numpy, from the format description) and the transformer is written here in
torch (float64, so the reference itself adds no rounding). With --compare it
reads the engine's output (lines "logits POS v..." and "greedy t...") and
exits 0 when max|c - ref| / max|ref| <= tol for every position (and the greedy
tokens match when asked), printing the measured error either way.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_read  # noqa: E402

torch.set_num_threads(1)


class Model:
    def __init__(self, path):
        f = gguf_read.GGUFFile(path)
        m = f.meta
        a = m["general.architecture"]
        self.arch = a
        self.d = m[a + ".embedding_length"]
        self.L = m[a + ".block_count"]
        self.H = m[a + ".attention.head_count"]
        self.KV = m.get(a + ".attention.head_count_kv", self.H)
        self.hd = self.d // self.H
        self.eps = m.get(a + ".attention.layer_norm_rms_epsilon", 1e-5)
        base = m.get(a + ".rope.freq_base", 10000.0)
        self.neox = a == "qwen2"
        T = lambda n: torch.tensor(f.tensor(n), dtype=torch.float64)  # noqa: E731
        self.emb = T("token_embd.weight")
        self.out_norm = T("output_norm.weight")
        self.out = T("output.weight") if "output.weight" in f.tensors else self.emb
        self.layers = []
        for i in range(self.L):
            p = "blk.%d." % i
            g = lambda n: T(p + n) if (p + n) in f.tensors else None  # noqa: E731
            self.layers.append({k: g(k) for k in (
                "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_q.bias",
                "attn_k.bias", "attn_v.bias", "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight",
                "ffn_up.weight", "ffn_down.weight")})
        rot = m.get(a + ".rope.dimension_count", self.hd)
        freqs = [base ** (-2.0 * i / rot) for i in range(rot // 2)]
        if m.get(a + ".rope.scaling.type") == "llama3":
            factor = m[a + ".rope.scaling.factor"]
            lo = m.get(a + ".rope.scaling.low_freq_factor", 1.0)
            hi = m.get(a + ".rope.scaling.high_freq_factor", 4.0)
            orig = m.get(a + ".rope.scaling.original_context_length", 8192)
            out = []
            for fr in freqs:
                wl = 2 * math.pi / fr
                if wl < orig / hi:
                    out.append(fr)
                elif wl > orig / lo:
                    out.append(fr / factor)
                else:
                    s = (orig / wl - lo) / (hi - lo)
                    out.append((1 - s) * fr / factor + s * fr)
            freqs = out
        self.freqs = torch.tensor(freqs, dtype=torch.float64)
        self.rot = rot

    def rms(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):
        # x: [T, heads, hd]
        ang = pos[:, None].double() * self.freqs[None, :]  # [T, rot/2]
        c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
        x = x.clone()
        h = self.rot // 2
        if self.neox:
            a, b = x[..., :h].clone(), x[..., h:self.rot].clone()
            x[..., :h], x[..., h:self.rot] = a * c - b * s, a * s + b * c
        else:
            a, b = x[..., 0:self.rot:2].clone(), x[..., 1:self.rot:2].clone()
            x[..., 0:self.rot:2], x[..., 1:self.rot:2] = a * c - b * s, a * s + b * c
        return x

    def forward(self, toks):
        T = len(toks)
        pos = torch.arange(T)
        x = self.emb[torch.tensor(toks)]
        mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
        for ly in self.layers:
            h = self.rms(x, ly["attn_norm.weight"])
            q = h @ ly["attn_q.weight"].T
            k = h @ ly["attn_k.weight"].T
            v = h @ ly["attn_v.weight"].T
            if ly["attn_q.bias"] is not None:
                q, k, v = q + ly["attn_q.bias"], k + ly["attn_k.bias"], v + ly["attn_v.bias"]
            q = self.rope(q.view(T, self.H, self.hd), pos)
            k = self.rope(k.view(T, self.KV, self.hd), pos)
            v = v.view(T, self.KV, self.hd)
            rep = self.H // self.KV
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            att = torch.einsum("thd,shd->hts", q, k) / math.sqrt(self.hd) + mask
            att = torch.softmax(att, dim=-1)
            o = torch.einsum("hts,shd->thd", att, v).reshape(T, self.H * self.hd)
            x = x + o @ ly["attn_output.weight"].T
            h = self.rms(x, ly["ffn_norm.weight"])
            g = h @ ly["ffn_gate.weight"].T
            u = h @ ly["ffn_up.weight"].T
            x = x + (torch.nn.functional.silu(g) * u) @ ly["ffn_down.weight"].T
        return self.rms(x, self.out_norm) @ self.out.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--greedy", type=int, default=0)
    ap.add_argument("--compare")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(",")]
    m = Model(a.model)
    with torch.no_grad():
        ref = m.forward(toks).numpy()
        greedy = []
        seq = list(toks)
        for _ in range(a.greedy):
            nxt = int(np.argmax(m.forward(seq)[-1].numpy()))
            greedy.append(nxt)
            seq.append(nxt)
    if not a.compare:
        for i, row in enumerate(ref):
            print("logits %d %s" % (i, " ".join("%.8g" % v for v in row)))
        if a.greedy:
            print("greedy " + " ".join(map(str, greedy)))
        return
    got = {}
    cg = None
    for line in open(a.compare):
        p = line.split()
        if p and p[0] == "logits":
            got[int(p[1])] = np.array([float(v) for v in p[2:]])
        elif p and p[0] == "greedy":
            cg = [int(v) for v in p[1:]]
    if sorted(got) != list(range(len(toks))):
        print("engine printed positions %s, expected 0..%d" % (sorted(got), len(toks) - 1))
        sys.exit(1)
    err = max(np.abs(got[i] - ref[i]).max() / np.abs(ref[i]).max() for i in range(len(toks)))
    ok = err <= a.tol
    msg = "max relative error %.3g (tolerance %.3g)" % (err, a.tol)
    if a.greedy:
        same = cg == greedy
        msg += "; greedy %s (engine %s, torch %s)" % ("identical" if same else "DIFFERENT", cg, greedy)
        ok = ok and same
    print(msg)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
