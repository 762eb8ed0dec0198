"""make_test_models.py: small random-weight GGUF models for the engine tests.

    /usr/bin/python3 tools/make_test_models.py OUTDIR [NAME...]

Writes OUTDIR/NAME.gguf for each model below (all by default). Weights are
random (seeded), so the files say nothing about language; they exist so the C
engine and tools/torch_ref.py can be compared on the very same bytes. Also
used by bench/llm.sh with --shape tinyllama for a full-size random model.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import GGUFWriter, GGMLType, GGUFValueType, TYPE_NAMES  # noqa: E402

SMALL = dict(dim=64, layers=2, heads=4, kv=2, ffn=128, vocab=259, ctx=256)
KQ = dict(dim=256, layers=2, heads=4, kv=2, ffn=512, vocab=259, ctx=256)
TINYLLAMA = dict(dim=2048, layers=22, heads=32, kv=4, ffn=5632, vocab=32000, ctx=2048)

MODELS = {
    "llama_f32": dict(arch="llama", type="F32", shape=SMALL),
    "llama_tied_f32": dict(arch="llama", type="F32", shape=SMALL, tied=True),
    "qwen2_f32": dict(arch="qwen2", type="F32", shape=SMALL, tied=True),
    "llama3_rope_f32": dict(arch="llama", type="F32", shape=SMALL, rope_base=500000.0, llama3_scaling=True),
    "llama_f16": dict(arch="llama", type="F16", shape=SMALL),
    "llama_bf16": dict(arch="llama", type="BF16", shape=SMALL),
    "llama_q8_0": dict(arch="llama", type="Q8_0", shape=SMALL),
    "llama_q4_0": dict(arch="llama", type="Q4_0", shape=SMALL),
    "qwen2_q8_0": dict(arch="qwen2", type="Q8_0", shape=SMALL),
    "llama_q4_k": dict(arch="llama", type="Q4_K", shape=KQ),
    "llama_q5_k": dict(arch="llama", type="Q5_K", shape=KQ),
    "llama_q6_k": dict(arch="llama", type="Q6_K", shape=KQ),
}


def vocab(n):
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    types = [2, 3, 3] + [6] * 256
    while len(toks) < n:
        toks.append("tok%d" % len(toks))
        types.append(1)
    return toks[:n], types[:n]


def write_model(path, arch, type_name, shape, tied=False, rope_base=10000.0, llama3_scaling=False, seed=0):
    t = TYPE_NAMES[type_name]
    rng = np.random.default_rng(seed)
    d, L, H, KV, F, V = (shape[k] for k in ("dim", "layers", "heads", "kv", "ffn", "vocab"))
    hd = d // H
    w = GGUFWriter(path, arch)
    w.add_string("general.name", os.path.basename(path))
    w.add_u32(arch + ".context_length", shape["ctx"])
    w.add_u32(arch + ".embedding_length", d)
    w.add_u32(arch + ".block_count", L)
    w.add_u32(arch + ".feed_forward_length", F)
    w.add_u32(arch + ".attention.head_count", H)
    w.add_u32(arch + ".attention.head_count_kv", KV)
    w.add_u32(arch + ".rope.dimension_count", hd)
    w.add_f32(arch + ".rope.freq_base", rope_base)
    w.add_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5 if arch == "llama" else 1e-6)
    if llama3_scaling:
        w.add_string(arch + ".rope.scaling.type", "llama3")
        w.add_f32(arch + ".rope.scaling.factor", 8.0)
        w.add_f32(arch + ".rope.scaling.low_freq_factor", 1.0)
        w.add_f32(arch + ".rope.scaling.high_freq_factor", 4.0)
        w.add_u32(arch + ".rope.scaling.original_context_length", 64)
    toks, types = vocab(V)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", toks, GGUFValueType.STRING)
    w.add_array("tokenizer.ggml.scores", [0.0] * V, GGUFValueType.FLOAT32)
    w.add_array("tokenizer.ggml.token_type", types, GGUFValueType.INT32)
    w.add_u32("tokenizer.ggml.bos_token_id", 1)
    w.add_u32("tokenizer.ggml.eos_token_id", 2)
    w.add_u32("tokenizer.ggml.unknown_token_id", 0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_string("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{m.role}}\n{{m.content}}<|im_end|>\n{% endfor %}")

    def mat(out_f, in_f):
        return (rng.standard_normal((out_f, in_f)) / np.sqrt(in_f)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w.add_tensor("token_embd.weight", rng.standard_normal((V, d)).astype(np.float32), t)
    w.add_tensor("output_norm.weight", norm(d), GGMLType.F32)
    if not tied:
        w.add_tensor("output.weight", mat(V, d), t)
    for i in range(L):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", norm(d), GGMLType.F32)
        w.add_tensor(p + "attn_q.weight", mat(H * hd, d), t)
        w.add_tensor(p + "attn_k.weight", mat(KV * hd, d), t)
        w.add_tensor(p + "attn_v.weight", mat(KV * hd, d), t)
        if arch == "qwen2":
            w.add_tensor(p + "attn_q.bias", 0.1 * rng.standard_normal(H * hd).astype(np.float32), GGMLType.F32)
            w.add_tensor(p + "attn_k.bias", 0.1 * rng.standard_normal(KV * hd).astype(np.float32), GGMLType.F32)
            w.add_tensor(p + "attn_v.bias", 0.1 * rng.standard_normal(KV * hd).astype(np.float32), GGMLType.F32)
        w.add_tensor(p + "attn_output.weight", mat(d, H * hd), t)
        w.add_tensor(p + "ffn_norm.weight", norm(d), GGMLType.F32)
        w.add_tensor(p + "ffn_gate.weight", mat(F, d), t)
        w.add_tensor(p + "ffn_up.weight", mat(F, d), t)
        w.add_tensor(p + "ffn_down.weight", mat(d, F), t)
    w.write()


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: make_test_models.py OUTDIR [NAME...] | --shape tinyllama TYPE OUT.gguf")
    if args[0] == "--shape":
        shape = {"tinyllama": TINYLLAMA}[args[1]]
        write_model(args[3], "llama", args[2], shape)
        return
    out = args[0]
    os.makedirs(out, exist_ok=True)
    for name in args[1:] or MODELS:
        spec = dict(MODELS[name])
        write_model(os.path.join(out, name + ".gguf"), spec.pop("arch"), spec.pop("type"), spec.pop("shape"), **spec)


if __name__ == "__main__":
    main()
