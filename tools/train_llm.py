#!/usr/bin/python3
"""train_llm.py: train Atelier's tiny default language model and export it as GGUF.

Atelier must chat out of the box with no download, so it ships a model it made
itself. This script does every step, from data that a Debian package ships to
a standard llama-architecture GGUF file:

  1. data:      Jane Austen's six novels from the Debian package r-cran-janeaustenr
                (the novels are in the public domain; the package is MIT). The
                package stores them as R data (a "lazy-load" database of XDR
                serialized character vectors); a small reader below decodes that
                format so R itself is not needed.
  2. tokenizer: a byte-level BPE (the GPT-2 scheme: byte-to-unicode mapping,
                GPT-2 pre-tokenizer regex, merges ranked by order) trained here.
  3. model:     llama architecture (RMSNorm, RoPE, SwiGLU, grouped-query attention)
                trained with PyTorch on one CPU thread, under a wall-clock budget;
                the learning rate follows a cosine over that time budget, so a run
                always ends annealed. Part of the data is reformatted as ChatML
                conversations (consecutive lines of dialogue as user/assistant turns)
                so the chat template the GGUF declares is one it was trained on.
  4. export:    GGUF v3 through tools/gguf_writer.py, F16 matrices and F32 norms,
                Q and K weights permuted to the interleaved-pair RoPE layout that
                llama.cpp's converter writes (see permute_rope()).

Usage:
  /usr/bin/python3 tools/train_llm.py --minutes 55 --work build/train      # tokenizer + training
  /usr/bin/python3 tools/train_llm.py --export --work build/train --out models/atelier-tiny.gguf
  /usr/bin/python3 tools/train_llm.py --eval models/atelier-tiny.gguf      # held-out loss from the GGUF
  /usr/bin/python3 tools/train_llm.py --encode "text" --model models/atelier-tiny.gguf  # token ids

The data directory defaults to where the Debian package installs it; without the
package installed, `apt-get download r-cran-janeaustenr && dpkg-deb -x *.deb x/`
and pass --data x/usr/lib/R/site-library/janeaustenr/data.
"""
import argparse
import gzip
import json
import math
import os
import random
import struct
import sys
import time
import zlib

# Debian's torch calls the system BLAS; with libopenblas0-pthread installed it is
# ~30x faster than the reference BLAS. One thread: the machine's 2 cores are shared.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

try:
    import regex as re_u  # python3-regex: \p{L}, \p{N} like PCRE2 with UCP
except ImportError:  # only --eval of an existing file works without it
    re_u = None

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

DEFAULT_DATA = "/usr/lib/R/site-library/janeaustenr/data"
NOVELS = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma",
          "northangerabbey", "persuasion"]

# The GPT-2 pre-tokenizer (tokenizer.ggml.pre = "gpt-2").
GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


# ---------------------------------------------------------------- R data reader

class _RReader:
    """Just enough of R's XDR serialization (format 2 and 3) for character vectors."""

    def __init__(self, b):
        self.b, self.p, self.refs = b, 0, []

    def i32(self):
        (v,) = struct.unpack(">i", self.b[self.p:self.p + 4])
        self.p += 4
        return v

    def item(self):
        f = self.i32()
        t, has_attr, has_tag = f & 0xFF, f & (1 << 9), f & (1 << 10)
        if t == 254 or t in (241, 242, 250, 251, 252, 253):  # NULL and special environments
            return None
        if t == 255:  # reference to an earlier symbol
            return self.refs[(f >> 8) - 1]
        if t == 1:  # symbol
            v = ("sym", self.item())
            self.refs.append(v)
            return v
        if t == 9:  # CHARSXP
            n = self.i32()
            if n < 0:
                return None
            v = self.b[self.p:self.p + n]
            self.p += n
            return v.decode("utf-8" if f & (1 << 15) else "latin-1")
        if t in (2, 6, 23):  # pairlist: returned as a dict tag -> value
            if has_attr:
                self.item()
            tag = self.item() if has_tag else None
            car, cdr = self.item(), self.item()
            d = {tag[1] if tag else 0: car}
            if isinstance(cdr, dict):
                d.update(cdr)
            return d
        if t in (16, 19, 20):  # character vector, list, expression
            v = [self.item() for _ in range(self.i32())]
            if has_attr:
                a = self.item()
                if isinstance(a, dict) and "names" in a:
                    return dict(zip(a["names"], v))
            return v
        if t in (10, 13, 14):  # logical, integer, double
            n = self.i32()
            w, fmt = (8, "d") if t == 14 else (4, "i")
            v = list(struct.unpack(">%d%s" % (n, fmt), self.b[self.p:self.p + w * n]))
            self.p += w * n
            if has_attr:
                self.item()
            return v
        if t == 238:  # ALTREP: class info, state, attributes
            self.item()
            st = self.item()
            self.item()
            return st
        raise ValueError("R data: unsupported type %d" % t)


def _unserialize(b):
    if b[:2] != b"X\n":
        raise ValueError("R data: not XDR format")
    r = _RReader(b)
    r.p = 2
    ver = r.i32()
    r.i32()
    r.i32()
    if ver == 3:
        r.p += 4 + struct.unpack(">i", b[r.p:r.p + 4])[0]
    return r.item()


def load_novels(data_dir):
    """{name: [lines]} from janeaustenr's Rdata.rdx/.rdb (zlib blocks with a length prefix)."""
    with open(os.path.join(data_dir, "Rdata.rdx"), "rb") as f:
        index = _unserialize(gzip.decompress(f.read()))
    index = index["variables"] if isinstance(index, dict) else index[0]
    with open(os.path.join(data_dir, "Rdata.rdb"), "rb") as f:
        db = f.read()
    out = {}
    for name in NOVELS:
        off, ln = (int(x) for x in index[name])
        out[name] = _unserialize(zlib.decompress(db[off + 4:off + ln]))
    return out


def paragraphs(lines):
    """Unwrap the hard-wrapped Gutenberg lines into paragraphs; drop _italics_ marks."""
    paras, cur = [], []
    for ln in lines + [""]:
        ln = (ln or "").strip()
        if ln:
            cur.append(ln)
        elif cur:
            paras.append(" ".join(cur).replace("_", ""))
            cur = []
    return paras


def build_corpus(data_dir, holdout=0.05):
    """Train and held-out prose (last `holdout` of each novel), and chat dialogues from the train part."""
    novels = load_novels(data_dir)
    train, held, chats = [], [], []
    for name in NOVELS:
        ps = paragraphs(novels[name])
        cut = int(len(ps) * (1 - holdout))
        train.append("\n".join(ps[:cut]))
        held.append("\n".join(ps[cut:]))
        chats.extend(dialogues(ps[:cut]))
    return train, held, chats


def dialogues(paras):
    """Runs of consecutive spoken paragraphs become conversations.

    Only the quoted words are kept ("My dear Mr. Bennet," said his lady, "have you
    heard..." becomes `My dear Mr. Bennet, have you heard...`), so each turn reads
    as something a person says; turns alternate user/assistant.
    """
    convs, run = [], []
    for p in paras + [""]:
        if p.startswith('"'):
            said = " ".join(s.strip() for s in re_u.findall(r'"([^"]+)"?', p)).strip()
            if said:
                run.append(said)
                continue
        if len(run) >= 2:
            convs.append(run[:6])
        run = []
    out = []
    for run in convs:
        s = ""
        for k, said in enumerate(run if len(run) % 2 == 0 else run[:-1]):
            role = "user" if k % 2 == 0 else "assistant"
            s += "<|im_start|>%s\n%s<|im_end|>\n" % (role, said)
        out.append(s)
    return out


# ---------------------------------------------------------------- byte-level BPE

def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}


def pretokenize(text):
    return re_u.findall(GPT2_PAT, text)


def train_bpe(texts, vocab_size):
    """Merges (list of (a, b)) learnt on the pre-tokenized texts, most frequent pair first.

    Incremental pair counts: each merge touches only the words that contain the pair.
    """
    from collections import Counter, defaultdict
    freq = Counter()
    for t in texts:
        for w in pretokenize(t):
            freq[w] += 1
    words = [[B2U[b] for b in w.encode("utf-8")] for w in freq]
    counts = list(freq.values())
    pairs = Counter()
    where = defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += counts[i]
            where[(a, b)].add(i)
    merges = []
    n_merges = vocab_size - len(SPECIALS) - 256
    while len(merges) < n_merges and pairs:
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        a, b = best
        ab = a + b
        for i in list(where[best]):
            w = words[i]
            c = counts[i]
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] -= c
                if pairs[(x, y)] <= 0:
                    del pairs[(x, y)]
            nw, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(ab)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for x, y in zip(nw, nw[1:]):
                pairs[(x, y)] += c
                where[(x, y)].add(i)
        del where[best]
    return merges


class BPE:
    def __init__(self, tokens, merges):
        self.tokens = tokens
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
        self.cache = {}

    @classmethod
    def from_merges(cls, merges):
        tokens = list(SPECIALS) + [B2U[b] for b in range(256)] + [a + b for a, b in merges]
        return cls(tokens, ["%s %s" % m for m in merges])

    def _word(self, w):
        if w in self.cache:
            return self.cache[w]
        parts = [B2U[b] for b in w.encode("utf-8")]
        while len(parts) > 1:
            best, bi = None, -1
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
        ids = [self.ids[p] for p in parts]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        """Special tokens are recognised in the text; everything else goes through BPE."""
        out = []
        pat = "(" + "|".join(re_u.escape(s) for s in SPECIALS) + ")"
        for k, seg in enumerate(re_u.split(pat, text)):
            if k % 2:
                out.append(self.ids[seg])
            elif seg:
                for w in pretokenize(seg):
                    out.extend(self._word(w))
        return out

    def decode(self, ids):
        bs = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in SPECIALS:
                bs += t.encode()
            else:
                bs += bytes(U2B[c] for c in t)
        return bs.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- model

def make_model(cfg):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class RMSNorm(nn.Module):
        def __init__(self, d, eps):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))
            self.eps = eps

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def rope(x, cos, sin):
        # "rotate half" (Hugging Face) layout: pairs are (i, i + head_dim/2).
        h = x.shape[-1] // 2
        x1, x2 = x[..., :h], x[..., h:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d, hd = cfg["dim"], cfg["dim"] // cfg["n_heads"]
            self.attn_norm = RMSNorm(d, cfg["eps"])
            self.wq = nn.Linear(d, cfg["n_heads"] * hd, bias=False)
            self.wk = nn.Linear(d, cfg["n_kv_heads"] * hd, bias=False)
            self.wv = nn.Linear(d, cfg["n_kv_heads"] * hd, bias=False)
            self.wo = nn.Linear(cfg["n_heads"] * hd, d, bias=False)
            self.ffn_norm = RMSNorm(d, cfg["eps"])
            self.w_gate = nn.Linear(d, cfg["ffn"], bias=False)
            self.w_up = nn.Linear(d, cfg["ffn"], bias=False)
            self.w_down = nn.Linear(cfg["ffn"], d, bias=False)

        def forward(self, x, cos, sin, mask):
            B, T, _ = x.shape
            nh, nkv = cfg["n_heads"], cfg["n_kv_heads"]
            hd = cfg["dim"] // nh
            h = self.attn_norm(x)
            q = self.wq(h).view(B, T, nh, hd).transpose(1, 2)
            k = self.wk(h).view(B, T, nkv, hd).transpose(1, 2)
            v = self.wv(h).view(B, T, nkv, hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            # query head j reads KV head j // (nh / nkv), as llama.cpp does
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hd) + mask[:T, :T]
            o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + self.wo(o)
            h = self.ffn_norm(x)
            return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(cfg["vocab"], cfg["dim"])
            self.blocks = nn.ModuleList(Block() for _ in range(cfg["n_layers"]))
            self.norm = RMSNorm(cfg["dim"], cfg["eps"])
            self.out = nn.Linear(cfg["dim"], cfg["vocab"], bias=False)
            hd = cfg["dim"] // cfg["n_heads"]
            inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))
            ang = torch.outer(torch.arange(cfg["ctx"]).float(), inv)
            self.register_buffer("cos", ang.cos(), persistent=False)
            self.register_buffer("sin", ang.sin(), persistent=False)
            m = torch.full((cfg["ctx"], cfg["ctx"]), float("-inf")).triu(1)
            self.register_buffer("mask", m, persistent=False)
            for n, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * cfg["n_layers"]) if n.endswith(("wo.weight", "w_down.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)

        def forward(self, idx, targets=None):
            T = idx.shape[1]
            x = self.tok(idx)
            for b in self.blocks:
                x = b(x, self.cos[:T], self.sin[:T], self.mask)
            logits = self.out(self.norm(x))
            if targets is None:
                return logits
            return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))

    return Llama()


DEFAULT_CFG = dict(dim=256, n_layers=6, n_heads=8, n_kv_heads=4, ffn=704, vocab=4096,
                   ctx=512, eps=1e-5, rope_theta=10000.0)


# ---------------------------------------------------------------- GGUF export and reading

def permute_rope(w, n_head):
    """Rows of a Q or K weight from the rotate-half layout to llama.cpp's interleaved layout.

    GGUF llama files use RoPE on adjacent pairs (2i, 2i+1) of each head; models
    trained with the rotate-half convention pair (i, i + head_dim/2). llama.cpp's
    convert_hf_to_gguf.py reorders the output rows of attn_q (n_head heads) and
    attn_k (n_head_kv heads) per head with reshape(n, 2, hd/2, in).swapaxes(1, 2),
    so row i of the first half lands at 2i and row i of the second half at 2i+1.
    """
    out, inp = w.shape
    return w.reshape(n_head, 2, out // n_head // 2, inp).swapaxes(1, 2).reshape(out, inp)


def unpermute_rope(w, n_head):
    out, inp = w.shape
    return w.reshape(n_head, out // n_head // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def export_gguf(state, cfg, tokens, merges, path, name="atelier-tiny"):
    from gguf_writer import GGUFWriter, GGUFValueType as V, GGMLType as G
    w = GGUFWriter(path, "llama")
    w.add_string("general.name", name)
    w.add_u32("general.file_type", 1)  # mostly F16
    w.add_u32("llama.context_length", cfg["ctx"])
    w.add_u32("llama.embedding_length", cfg["dim"])
    w.add_u32("llama.block_count", cfg["n_layers"])
    w.add_u32("llama.feed_forward_length", cfg["ffn"])
    w.add_u32("llama.attention.head_count", cfg["n_heads"])
    w.add_u32("llama.attention.head_count_kv", cfg["n_kv_heads"])
    w.add_u32("llama.rope.dimension_count", cfg["dim"] // cfg["n_heads"])
    w.add_u32("llama.vocab_size", cfg["vocab"])
    w.add_f32("llama.rope.freq_base", cfg["rope_theta"])
    w.add_f32("llama.attention.layer_norm_rms_epsilon", cfg["eps"])
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "gpt-2")
    w.add_array("tokenizer.ggml.tokens", tokens, V.STRING)
    w.add_array("tokenizer.ggml.token_type", [3 if t in SPECIALS else 1 for t in tokens], V.INT32)
    w.add_array("tokenizer.ggml.merges", merges, V.STRING)
    w.add_u32("tokenizer.ggml.bos_token_id", tokens.index("<|endoftext|>"))
    w.add_u32("tokenizer.ggml.eos_token_id", tokens.index("<|im_end|>"))
    w.add_u32("tokenizer.ggml.padding_token_id", tokens.index("<|endoftext|>"))
    w.add_bool("tokenizer.ggml.add_bos_token", False)
    w.add_string("tokenizer.chat_template", CHAT_TEMPLATE)

    def t(k):
        return state[k].detach().float().cpu().numpy()
    nh, nkv = cfg["n_heads"], cfg["n_kv_heads"]
    w.add_tensor("token_embd.weight", t("tok.weight"), G.F16)
    for i in range(cfg["n_layers"]):
        p = "blocks.%d." % i
        b = "blk.%d." % i
        w.add_tensor(b + "attn_norm.weight", t(p + "attn_norm.weight"), G.F32)
        w.add_tensor(b + "attn_q.weight", permute_rope(t(p + "wq.weight"), nh), G.F16)
        w.add_tensor(b + "attn_k.weight", permute_rope(t(p + "wk.weight"), nkv), G.F16)
        w.add_tensor(b + "attn_v.weight", t(p + "wv.weight"), G.F16)
        w.add_tensor(b + "attn_output.weight", t(p + "wo.weight"), G.F16)
        w.add_tensor(b + "ffn_norm.weight", t(p + "ffn_norm.weight"), G.F32)
        w.add_tensor(b + "ffn_gate.weight", t(p + "w_gate.weight"), G.F16)
        w.add_tensor(b + "ffn_up.weight", t(p + "w_up.weight"), G.F16)
        w.add_tensor(b + "ffn_down.weight", t(p + "w_down.weight"), G.F16)
    w.add_tensor("output_norm.weight", t("norm.weight"), G.F32)
    w.add_tensor("output.weight", t("out.weight"), G.F16)
    w.write()


def load_gguf(path):
    """(cfg, state dict of torch tensors in training layout, tokens, merges) from a GGUF file."""
    import torch
    from gguf_read import GGUFFile
    g = GGUFFile(path)
    m = g.meta
    cfg = dict(dim=m["llama.embedding_length"], n_layers=m["llama.block_count"],
               n_heads=m["llama.attention.head_count"], n_kv_heads=m["llama.attention.head_count_kv"],
               ffn=m["llama.feed_forward_length"], vocab=len(m["tokenizer.ggml.tokens"]),
               ctx=m["llama.context_length"], eps=m["llama.attention.layer_norm_rms_epsilon"],
               rope_theta=m["llama.rope.freq_base"])
    st = {"tok.weight": g.tensor("token_embd.weight"), "norm.weight": g.tensor("output_norm.weight"),
          "out.weight": g.tensor("output.weight")}
    for i in range(cfg["n_layers"]):
        p, b = "blocks.%d." % i, "blk.%d." % i
        st[p + "attn_norm.weight"] = g.tensor(b + "attn_norm.weight")
        st[p + "wq.weight"] = unpermute_rope(g.tensor(b + "attn_q.weight"), cfg["n_heads"])
        st[p + "wk.weight"] = unpermute_rope(g.tensor(b + "attn_k.weight"), cfg["n_kv_heads"])
        st[p + "wv.weight"] = g.tensor(b + "attn_v.weight")
        st[p + "wo.weight"] = g.tensor(b + "attn_output.weight")
        st[p + "ffn_norm.weight"] = g.tensor(b + "ffn_norm.weight")
        st[p + "w_gate.weight"] = g.tensor(b + "ffn_gate.weight")
        st[p + "w_up.weight"] = g.tensor(b + "ffn_up.weight")
        st[p + "w_down.weight"] = g.tensor(b + "ffn_down.weight")
    st = {k: torch.tensor(np.ascontiguousarray(v)).reshape(v.shape) for k, v in st.items()}
    for k in st:
        if k.endswith("norm.weight"):
            st[k] = st[k].reshape(-1)
    return cfg, st, m["tokenizer.ggml.tokens"], m["tokenizer.ggml.merges"]


# ---------------------------------------------------------------- training and evaluation

def eval_loss(model, ids, seq):
    """Mean cross-entropy (nats/token) over consecutive non-overlapping windows of ids."""
    import torch
    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(ids) - seq - 1, seq):
            x = torch.tensor(ids[s:s + seq])[None]
            y = torch.tensor(ids[s + 1:s + seq + 1])[None]
            tot += model(x, y).item() * seq
            n += seq
    model.train()
    return tot / max(n, 1)


def held_ids(bpe, held):
    return [i for t in held for i in [bpe.ids["<|endoftext|>"]] + bpe.encode(t)]


def cmd_train(a):
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    log = open(os.path.join(a.work, "train.log"), "a")

    def say(s):
        print(s, flush=True)
        log.write(s + "\n")
        log.flush()

    cfg = dict(DEFAULT_CFG)
    train, held, chats = build_corpus(a.data)
    say("data: %d chars train, %d held-out, %d dialogues" %
        (sum(map(len, train)), sum(map(len, held)), len(chats)))
    tokpath = os.path.join(a.work, "tokenizer.json")
    if os.path.exists(tokpath):
        with open(tokpath) as f:
            merges = [tuple(m.split(" ")) for m in json.load(f)["merges"]]
    else:
        t0 = time.time()
        merges = train_bpe(train, cfg["vocab"])
        with open(tokpath, "w") as f:
            json.dump({"merges": ["%s %s" % m for m in merges]}, f)
        say("tokenizer: %d merges in %.0f s" % (len(merges), time.time() - t0))
    bpe = BPE.from_merges(merges)
    cfg["vocab"] = len(bpe.tokens)
    eot = bpe.ids["<|endoftext|>"]
    prose = []
    for t in train:
        prose += [eot] + bpe.encode(t)
    chat = []
    for c in chats:
        chat += bpe.encode(c)
    hid = held_ids(bpe, held)
    say("tokens: %d prose, %d chat, %d held-out (%.2f chars/token)" %
        (len(prose), len(chat), len(hid), sum(map(len, train)) / max(1, len(prose))))
    prose_t, chat_t = torch.tensor(prose), torch.tensor(chat)

    model = make_model(cfg)
    nparams = sum(p.numel() for p in model.parameters())
    say("model: %s, %.2fM parameters" % (json.dumps(cfg), nparams / 1e6))
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    ckpt = os.path.join(a.work, "ckpt.pt")
    step, elapsed = 0, 0.0
    if os.path.exists(ckpt) and not a.fresh:
        c = torch.load(ckpt)
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        step, elapsed = c["step"], c["elapsed"]
        say("resumed at step %d (%.0f s)" % (step, elapsed))
    budget = a.minutes * 60.0
    seq, bs = a.seq, a.batch
    t_start = time.time() - elapsed
    avg = None
    while True:
        elapsed = time.time() - t_start
        if elapsed >= budget:
            break
        frac = elapsed / budget
        warm = min(1.0, (step + 1) / 100)
        lr = a.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        xs = []
        for _ in range(bs):
            src = chat_t if random.random() < a.chat_frac else prose_t
            s = random.randrange(0, len(src) - seq - 1)
            xs.append(src[s:s + seq + 1])
        batch = torch.stack(xs)
        loss = model(batch[:, :-1], batch[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
        if step % 20 == 0:
            say("step %d  %.0fs  lr %.2e  loss %.3f" % (step, elapsed, lr, avg))
        if step % 200 == 0:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "elapsed": time.time() - t_start, "cfg": cfg}, ckpt)
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "elapsed": time.time() - t_start, "cfg": cfg}, ckpt)
    say("done: step %d, held-out loss %.4f" % (step, eval_loss(model, hid[:a.eval_tokens], seq)))


def cmd_export(a):
    import torch
    c = torch.load(os.path.join(a.work, "ckpt.pt"))
    with open(os.path.join(a.work, "tokenizer.json")) as f:
        merges = json.load(f)["merges"]
    bpe = BPE.from_merges([tuple(m.split(" ")) for m in merges])
    export_gguf(c["model"], c["cfg"], bpe.tokens, merges, a.out)
    print("wrote %s (%d bytes), step %d" % (a.out, os.path.getsize(a.out), c["step"]))


def cmd_eval(a):
    import torch
    torch.set_num_threads(a.threads)
    cfg, st, tokens, merges = load_gguf(a.eval)
    bpe = BPE(tokens, merges)
    _, held, _ = build_corpus(a.data)
    model = make_model(cfg)
    model.load_state_dict(st)
    hid = held_ids(bpe, held)[:a.eval_tokens]
    loss = eval_loss(model, hid, a.seq)
    print("held-out: %d tokens, loss %.4f nats/token, perplexity %.2f" % (len(hid), loss, math.exp(loss)))


def cmd_encode(a):
    _, _, tokens, merges = load_gguf_tokenizer(a.model)
    text = a.encode
    if a.encode_file:
        with open(a.encode_file, "rb") as f:
            text = f.read().decode("utf-8")
    print(" ".join(str(i) for i in BPE(tokens, merges).encode(text)))


def load_gguf_tokenizer(path):
    from gguf_read import GGUFFile
    m = GGUFFile(path).meta
    return None, None, m["tokenizer.ggml.tokens"], m["tokenizer.ggml.merges"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="janeaustenr's data/ directory")
    ap.add_argument("--work", default="build/train", help="tokenizer, checkpoint and log")
    ap.add_argument("--minutes", type=float, default=55.0, help="wall-clock training budget")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--chat-frac", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-tokens", type=int, default=40000)
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--export", action="store_true", help="write the GGUF from the checkpoint")
    ap.add_argument("--out", default="models/atelier-tiny.gguf")
    ap.add_argument("--eval", metavar="GGUF", help="print the held-out loss of a GGUF model")
    ap.add_argument("--encode", metavar="TEXT", help="print the token ids of TEXT (with --model)")
    ap.add_argument("--encode-file", metavar="PATH", help="like --encode, the text read from PATH")
    ap.add_argument("--model", default="models/atelier-tiny.gguf")
    a = ap.parse_args()
    if a.eval:
        cmd_eval(a)
    elif a.export:
        cmd_export(a)
    elif a.encode is not None or a.encode_file:
        cmd_encode(a)
    else:
        cmd_train(a)


if __name__ == "__main__":
    main()
