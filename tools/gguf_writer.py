"""gguf_writer.py: write GGUF v3 files with plain numpy.

Written from the GGUF format description (header, metadata key/values, tensor
table, aligned data section) and ggml's public block layouts; the `gguf` pip
package is not available here, and a small writer of our own is easier to
audit than a vendored one.

    w = GGUFWriter("model.gguf", "llama")
    w.add_u32("llama.block_count", 2)
    w.add_array("tokenizer.ggml.tokens", ["a", "b"], GGUFValueType.STRING)
    w.add_tensor("token_embd.weight", np.zeros((256, 64), np.float32), GGMLType.Q8_0)
    w.write()

A numpy array of shape (rows, cols) is stored with GGUF dims [cols, rows]
(ne[0] is the contiguous axis), which is what llama-family loaders expect
for a weight matrix of shape (out, in).

Quantizers here aim to produce valid blocks, not the best possible ones: the
reference tests compare against the dequantized weights (gguf_read.py).
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3


class GGUFValueType:
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


class GGMLType:
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q8_0 = 8
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    BF16 = 30


# type -> (block size in elements, bytes per block)
BLOCK = {
    GGMLType.F32: (1, 4),
    GGMLType.F16: (1, 2),
    GGMLType.BF16: (1, 2),
    GGMLType.Q8_0: (32, 34),
    GGMLType.Q4_0: (32, 18),
    GGMLType.Q4_K: (256, 144),
    GGMLType.Q5_K: (256, 176),
    GGMLType.Q6_K: (256, 210),
}

TYPE_NAMES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "BF16": 30}

_SCALAR_FMT = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}


def _f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def _safe_inv(s):
    s = np.asarray(s, dtype=np.float32)
    out = np.zeros_like(s)
    nz = s != 0
    out[nz] = 1.0 / s[nz]
    return out


def quant_bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r.tobytes()


def quant_q8_0(x):
    b = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(b).max(axis=1)
    d = amax / 127.0
    q = np.clip(np.round(b * _safe_inv(d)[:, None]), -127, 127).astype(np.int8)
    out = np.zeros((b.shape[0], 34), np.uint8)
    out[:, 0:2] = _f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quant_q4_0(x):
    b = x.reshape(-1, 32).astype(np.float32)
    idx = np.abs(b).argmax(axis=1)
    mx = b[np.arange(b.shape[0]), idx]  # signed value of largest magnitude
    d = mx / -8.0
    q = np.clip(np.floor(b * _safe_inv(d)[:, None] + 8.5), 0, 15).astype(np.uint8)
    out = np.zeros((b.shape[0], 18), np.uint8)
    out[:, 0:2] = _f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def _kquant_scales_mins(b, qmax):
    """b: (nb, 8, 32). Returns d, dmin (f16-rounded float32), sc, m (uint8 0..63),
    and q (nb, 8, 32) in 0..qmax, for y = d*sc*q - dmin*m."""
    mn = np.minimum(b.min(axis=2), 0.0)
    mx = b.max(axis=2)
    scale = (mx - mn) / qmax
    mins = -mn
    d = _f16(scale.max(axis=1) / 63.0).astype(np.float32)
    dmin = _f16(mins.max(axis=1) / 63.0).astype(np.float32)
    sc = np.clip(np.round(scale * _safe_inv(d)[:, None]), 0, 63).astype(np.uint8)
    m = np.clip(np.round(mins * _safe_inv(dmin)[:, None]), 0, 63).astype(np.uint8)
    es = d[:, None] * sc
    em = dmin[:, None] * m
    q = np.clip(np.round((b + em[:, :, None]) * _safe_inv(es)[:, :, None]), 0, qmax).astype(np.uint8)
    return d, dmin, sc, m, q


def _pack_scales(sc, m):
    s = np.zeros((sc.shape[0], 12), np.uint8)
    for j in range(4):
        s[:, j] = (sc[:, j] & 63) | ((sc[:, j + 4] >> 4) << 6)
        s[:, j + 4] = (m[:, j] & 63) | ((m[:, j + 4] >> 4) << 6)
        s[:, j + 8] = (sc[:, j + 4] & 0xF) | ((m[:, j + 4] & 0xF) << 4)
    return s


def quant_q4_k(x):
    b = x.reshape(-1, 8, 32).astype(np.float32)
    d, dmin, sc, m, q = _kquant_scales_mins(b, 15)
    q = q.reshape(-1, 4, 2, 32)  # chunk of 64: low half, high half
    qs = (q[:, :, 0, :] | (q[:, :, 1, :] << 4)).reshape(-1, 128)
    out = np.zeros((b.shape[0], 144), np.uint8)
    out[:, 0:2] = _f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = _f16(dmin).view(np.uint8).reshape(-1, 2)
    out[:, 4:16] = _pack_scales(sc, m)
    out[:, 16:] = qs
    return out.tobytes()


def quant_q5_k(x):
    b = x.reshape(-1, 8, 32).astype(np.float32)
    d, dmin, sc, m, q = _kquant_scales_mins(b, 31)
    q = q.reshape(-1, 4, 2, 32)
    lo = q & 0xF
    hi = (q >> 4) & 1
    qs = (lo[:, :, 0, :] | (lo[:, :, 1, :] << 4)).reshape(-1, 128)
    qh = np.zeros((b.shape[0], 32), np.uint8)
    for c in range(4):
        qh |= hi[:, c, 0, :] << (2 * c)
        qh |= hi[:, c, 1, :] << (2 * c + 1)
    out = np.zeros((b.shape[0], 176), np.uint8)
    out[:, 0:2] = _f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = _f16(dmin).view(np.uint8).reshape(-1, 2)
    out[:, 4:16] = _pack_scales(sc, m)
    out[:, 16:48] = qh
    out[:, 48:] = qs
    return out.tobytes()


def quant_q6_k(x):
    b = x.reshape(-1, 16, 16).astype(np.float32)
    s = np.abs(b).max(axis=2) / 31.0
    d = _f16(s.max(axis=1) / 127.0).astype(np.float32)
    sc = np.clip(np.round(s * _safe_inv(d)[:, None]), -128, 127).astype(np.int8)
    es = d[:, None] * sc.astype(np.float32)
    q = np.clip(np.round(b * _safe_inv(es)[:, :, None]), -32, 31).astype(np.int16) + 32
    q = q.astype(np.uint8).reshape(-1, 2, 4, 32)  # half, quarter, l
    ql = np.zeros((b.shape[0], 2, 64), np.uint8)
    qh = np.zeros((b.shape[0], 2, 32), np.uint8)
    ql[:, :, :32] = (q[:, :, 0] & 0xF) | ((q[:, :, 2] & 0xF) << 4)
    ql[:, :, 32:] = (q[:, :, 1] & 0xF) | ((q[:, :, 3] & 0xF) << 4)
    qh[:] = (q[:, :, 0] >> 4) | ((q[:, :, 1] >> 4) << 2) | ((q[:, :, 2] >> 4) << 4) | ((q[:, :, 3] >> 4) << 6)
    out = np.zeros((b.shape[0], 210), np.uint8)
    out[:, 0:128] = ql.reshape(-1, 128)
    out[:, 128:192] = qh.reshape(-1, 64)
    out[:, 192:208] = sc.view(np.uint8)
    out[:, 208:210] = _f16(d).view(np.uint8).reshape(-1, 2)
    return out.tobytes()


def quantize(arr, ggml_type):
    """Bytes of arr (float) in ggml_type; the last axis must be a multiple of the block size."""
    a = np.ascontiguousarray(arr, dtype=np.float32)
    bs = BLOCK[ggml_type][0]
    if a.shape[-1] % bs:
        raise ValueError("last dim %d not a multiple of block size %d" % (a.shape[-1], bs))
    if ggml_type == GGMLType.F32:
        return a.tobytes()
    if ggml_type == GGMLType.F16:
        return a.astype(np.float16).tobytes()
    if ggml_type == GGMLType.BF16:
        return quant_bf16(a)
    return {
        GGMLType.Q8_0: quant_q8_0, GGMLType.Q4_0: quant_q4_0,
        GGMLType.Q4_K: quant_q4_k, GGMLType.Q5_K: quant_q5_k, GGMLType.Q6_K: quant_q6_k,
    }[ggml_type](a)


class GGUFWriter:
    def __init__(self, path, arch, alignment=32):
        self.path = path
        self.alignment = alignment
        self.kv = []       # (key, type, encoded value bytes)
        self.tensors = []  # (name, dims, type, data bytes)
        self.add_string("general.architecture", arch)
        if alignment != 32:
            self.add_u32("general.alignment", alignment)

    @staticmethod
    def _str(s):
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        return struct.pack("<Q", len(b)) + b

    def _val(self, vtype, v):
        if vtype == GGUFValueType.STRING:
            return self._str(v)
        return struct.pack(_SCALAR_FMT[vtype], v)

    def add_kv(self, key, vtype, value):
        self.kv.append((key, struct.pack("<I", vtype) + self._val(vtype, value)))

    def add_string(self, key, v): self.add_kv(key, GGUFValueType.STRING, v)
    def add_u32(self, key, v): self.add_kv(key, GGUFValueType.UINT32, int(v))
    def add_i32(self, key, v): self.add_kv(key, GGUFValueType.INT32, int(v))
    def add_u64(self, key, v): self.add_kv(key, GGUFValueType.UINT64, int(v))
    def add_f32(self, key, v): self.add_kv(key, GGUFValueType.FLOAT32, float(v))
    def add_bool(self, key, v): self.add_kv(key, GGUFValueType.BOOL, bool(v))

    def add_array(self, key, values, vtype):
        """An array of scalars or strings (vtype is the element type)."""
        vals = list(values)
        if vtype == GGUFValueType.STRING:
            body = b"".join(self._str(s) for s in vals)
        else:
            fmt = _SCALAR_FMT[vtype]
            body = np.array(vals, dtype=np.dtype(fmt)).tobytes() if vals else b""
        enc = struct.pack("<IIQ", GGUFValueType.ARRAY, vtype, len(vals)) + body
        self.kv.append((key, enc))

    def add_tensor(self, name, array, ggml_type=GGMLType.F32):
        a = np.asarray(array)
        dims = list(reversed(a.shape))
        self.tensors.append((name, dims, ggml_type, quantize(a, ggml_type)))

    def add_tensor_raw(self, name, dims, ggml_type, data):
        """Pre-encoded data; dims in GGUF order (ne[0] first)."""
        self.tensors.append((name, list(dims), ggml_type, bytes(data)))

    def _pad(self, n):
        return (-n) % self.alignment

    def write(self):
        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, enc in self.kv:
            out += self._str(key) + enc
        off = 0
        offsets = []
        for name, dims, t, data in self.tensors:
            offsets.append(off)
            out += self._str(name) + struct.pack("<I", len(dims))
            out += b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", t, off)
            off += len(data) + self._pad(len(data))
        out += b"\0" * self._pad(len(out))
        with open(self.path, "wb") as f:
            f.write(out)
            for name, dims, t, data in self.tensors:
                f.write(data)
                f.write(b"\0" * self._pad(len(data)))
