"""make_gguf.py IN.json OUT.gguf: tokenizer-only GGUF from extract.mjs's JSON.

Written with tools/gguf_writer.py so the C side reads the same metadata keys a
real model file has (tokenizer.ggml.*), through the engine's GGUF reader.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools"))
from gguf_writer import GGUFWriter, GGUFValueType as V  # noqa: E402

src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    j = json.load(f)
w = GGUFWriter(dst, "llama")
w.add_string("general.name", os.path.basename(src))
w.add_string("tokenizer.ggml.model", j["model"])
w.add_string("tokenizer.ggml.pre", j["pre"])
w.add_array("tokenizer.ggml.tokens", j["tokens"], V.STRING)
if j["scores"]:
    w.add_array("tokenizer.ggml.scores", j["scores"], V.FLOAT32)
w.add_array("tokenizer.ggml.token_type", j["types"], V.INT32)
if j["merges"]:
    w.add_array("tokenizer.ggml.merges", j["merges"], V.STRING)
for k in ("bos", "eos", "unk"):
    if j[k] >= 0:
        w.add_u32({"bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
                   "unk": "tokenizer.ggml.unknown_token_id"}[k], j[k])
w.add_bool("tokenizer.ggml.add_bos_token", j["add_bos"])
w.write()
