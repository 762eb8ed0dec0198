"""gguf_read.py: read GGUF v3 files and dequantize tensors with numpy.

The reference side of the engine tests: torch_ref.py uses it to load the very
bytes the C engine loads and turn them into float32 by the block layouts of
ggml's format (stated here independently of the C code).
"""
import struct

import numpy as np

F32, F16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 8, 12, 13, 14, 30
BLOCK = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q8_0: (32, 34), Q4_0: (32, 18),
         Q4_K: (256, 144), Q5_K: (256, 176), Q6_K: (256, 210)}
_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
        10: "<Q", 11: "<q", 12: "<d"}


class GGUFFile:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self._take(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        version, nt, nkv = struct.unpack("<IQQ", self._take(20))
        if version != 3:
            raise ValueError("GGUF version %d" % version)
        self.meta = {}
        for _ in range(nkv):
            k = self._string()
            (t,) = struct.unpack("<I", self._take(4))
            self.meta[k] = self._value(t)
        align = int(self.meta.get("general.alignment", 32))
        infos = []
        for _ in range(nt):
            name = self._string()
            (nd,) = struct.unpack("<I", self._take(4))
            dims = list(struct.unpack("<%dQ" % nd, self._take(8 * nd)))
            t, off = struct.unpack("<IQ", self._take(12))
            infos.append((name, dims, t, off))
        data_start = (self.pos + align - 1) // align * align
        self.tensors = {}
        for name, dims, t, off in infos:
            n = int(np.prod(dims))
            bs, bb = BLOCK[t]
            size = n // bs * bb
            raw = self.buf[data_start + off: data_start + off + size]
            self.tensors[name] = (dims, t, raw)

    def _take(self, n):
        b = self.buf[self.pos:self.pos + n]
        if len(b) != n:
            raise ValueError("truncated")
        self.pos += n
        return b

    def _string(self):
        (n,) = struct.unpack("<Q", self._take(8))
        return self._take(n).decode("utf-8")

    def _value(self, t):
        if t == 8:
            return self._string()
        if t == 9:
            et, n = struct.unpack("<IQ", self._take(12))
            return [self._value(et) for _ in range(n)]
        fmt = _FMT[t]
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def tensor(self, name):
        """float32 array with numpy shape reversed(dims) (rows, cols)."""
        dims, t, raw = self.tensors[name]
        return dequantize(raw, t).reshape(list(reversed(dims)))


def _f16(b):
    return np.frombuffer(b.tobytes(), np.float16).astype(np.float32)


def _scale_min_k4(s):
    """s: (nb, 12) uint8 -> sc, m: (nb, 8) float32."""
    s = s.astype(np.int32)
    sc = np.zeros((s.shape[0], 8), np.float32)
    m = np.zeros((s.shape[0], 8), np.float32)
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63
            m[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 0xF) | ((s[:, j - 4] >> 6) << 4)
            m[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, m


def dequantize(raw, t):
    if t == F32:
        return np.frombuffer(raw, np.float32).copy()
    if t == F16:
        return np.frombuffer(raw, np.float16).astype(np.float32)
    if t == BF16:
        return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
    bs, bb = BLOCK[t]
    b = np.frombuffer(raw, np.uint8).reshape(-1, bb)
    if t == Q8_0:
        d = _f16(b[:, 0:2])
        q = b[:, 2:].view(np.int8).astype(np.float32)
        return (d[:, None] * q).reshape(-1)
    if t == Q4_0:
        d = _f16(b[:, 0:2])
        qs = b[:, 2:]
        q = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float32) - 8
        return (d[:, None] * q).reshape(-1)
    if t in (Q4_K, Q5_K):
        d = _f16(b[:, 0:2])
        dmin = _f16(b[:, 2:4])
        sc, m = _scale_min_k4(b[:, 4:16])
        if t == Q4_K:
            qs = b[:, 16:144]
            qh = None
        else:
            qh = b[:, 16:48].astype(np.int32)
            qs = b[:, 48:176]
        y = np.zeros((b.shape[0], 256), np.float32)
        for c in range(4):
            ql = qs[:, 32 * c:32 * c + 32].astype(np.int32)
            lo = ql & 0xF
            hi = ql >> 4
            if qh is not None:
                lo = lo + ((qh >> (2 * c)) & 1) * 16
                hi = hi + ((qh >> (2 * c + 1)) & 1) * 16
            j = 2 * c
            y[:, 64 * c:64 * c + 32] = (d * sc[:, j])[:, None] * lo - (dmin * m[:, j])[:, None]
            y[:, 64 * c + 32:64 * c + 64] = (d * sc[:, j + 1])[:, None] * hi - (dmin * m[:, j + 1])[:, None]
        return y.reshape(-1)
    if t == Q6_K:
        ql = b[:, 0:128].astype(np.int32)
        qh = b[:, 128:192].astype(np.int32)
        sc = b[:, 192:208].view(np.int8).astype(np.float32)
        d = _f16(b[:, 208:210])
        y = np.zeros((b.shape[0], 256), np.float32)
        for h in range(2):
            L = ql[:, 64 * h:64 * h + 64]
            H = qh[:, 32 * h:32 * h + 32]
            q1 = (L[:, :32] & 0xF) | ((H & 3) << 4)
            q2 = (L[:, 32:] & 0xF) | (((H >> 2) & 3) << 4)
            q3 = (L[:, :32] >> 4) | (((H >> 4) & 3) << 4)
            q4 = (L[:, 32:] >> 4) | (((H >> 6) & 3) << 4)
            for k, q in enumerate((q1, q2, q3, q4)):
                for half in range(2):
                    sub = 8 * h + 2 * k + half
                    y[:, 128 * h + 32 * k + 16 * half:128 * h + 32 * k + 16 * half + 16] = \
                        (d * sc[:, sub])[:, None] * (q[:, 16 * half:16 * half + 16] - 32)
        return y.reshape(-1)
    raise ValueError("unsupported type %d" % t)
