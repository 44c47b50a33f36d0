"""gguf_build.py: test helpers for GGUF files (spec/semantics.md 9.3-9.4): a byte-level GGUF v3
writer, and NumPy reference encoders/decoders of GGML block types written from GGML's
reference formulas (independent of the C implementation under test)."""
import struct

import numpy as np

# metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
VALUE_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
             BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}

# GGML tensor types: id -> (elements per block, bytes per block)
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20),
        "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q8_1": (9, 32, 36),
        "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110), "Q4_K": (12, 256, 144),
        "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210), "Q8_K": (15, 256, 292),
        "I8": (24, 1, 1), "I16": (25, 1, 2), "I32": (26, 1, 4), "I64": (27, 1, 8),
        "F64": (28, 1, 8), "BF16": (30, 1, 2)}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv_value(vtype, value):
    """Encodes one metadata value; ARR takes (element type, list)."""
    if vtype == STR:
        return gstr(value)
    if vtype == ARR:
        et, items = value
        out = struct.pack("<IQ", et, len(items))
        for it in items:
            out += kv_value(et, it)
        return out
    return struct.pack(VALUE_FMT[vtype], value)


def gguf_bytes(tensors=(), kv=(), version=3, alignment=32, raw_kv=b""):
    """tensors: (name, type name, MLX shape, raw bytes); kv: (key, vtype, value)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv) + (1 if raw_kv else 0))
    for key, vt, val in kv:
        out += gstr(key) + struct.pack("<I", vt) + kv_value(vt, val)
    out += raw_kv
    offsets, off = [], 0
    for name, tname, shape, raw in tensors:
        off = (off + alignment - 1) // alignment * alignment
        offsets.append(off)
        off += len(raw)
    for (name, tname, shape, raw), o in zip(tensors, offsets):
        dims = list(reversed(shape))
        out += gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", GGML[tname][0], o)
    out += b"\0" * ((-len(out)) % alignment)
    data = b""
    for (name, tname, shape, raw), o in zip(tensors, offsets):
        data += b"\0" * (o - len(data)) + raw
    return out + data


def f16(x):
    return np.float16(x).tobytes()


def f16v(b, o):
    return float(np.frombuffer(b[o:o + 2], np.float16)[0])


# ---- reference decoders: one block (bytes) -> float32 values (GGML dequantize_row_*) ----

def deq_block(tname, b):
    y = np.zeros(GGML[tname][1], np.float32)
    if tname == "Q4_0":
        d = f16v(b, 0)
        for j in range(16):
            y[j] = ((b[2 + j] & 15) - 8) * d
            y[j + 16] = ((b[2 + j] >> 4) - 8) * d
    elif tname == "Q4_1":
        d, m = f16v(b, 0), f16v(b, 2)
        for j in range(16):
            y[j] = (b[4 + j] & 15) * d + m
            y[j + 16] = (b[4 + j] >> 4) * d + m
    elif tname in ("Q5_0", "Q5_1"):
        mn = tname == "Q5_1"
        d, m = f16v(b, 0), (f16v(b, 2) if mn else 0.0)
        p = 4 if mn else 2
        qh = struct.unpack("<I", b[p:p + 4])[0]
        qs = b[p + 4:]
        for j in range(16):
            x0 = (qs[j] & 15) | (((qh >> j) & 1) << 4)
            x1 = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)
            y[j] = x0 * d + m if mn else (x0 - 16) * d
            y[j + 16] = x1 * d + m if mn else (x1 - 16) * d
    elif tname in ("Q8_0", "Q8_1"):
        d = f16v(b, 0)
        q = np.frombuffer(b[(2 if tname == "Q8_0" else 4):][:32], np.int8)
        y[:] = q.astype(np.float32) * np.float32(d)
    elif tname == "Q2_K":
        sc, q = b[:16], b[16:80]
        d, dm = f16v(b, 80), f16v(b, 82)
        k = 0
        for half in range(2):
            qq = q[32 * half:32 * half + 32]
            for shift in range(0, 8, 2):
                for g in range(2):
                    s = sc[8 * half + shift + g]
                    for l in range(16):
                        y[k] = d * (s & 15) * ((qq[16 * g + l] >> shift) & 3) - dm * (s >> 4)
                        k += 1
    elif tname == "Q3_K":
        hm, q, sr = b[:32], b[32:96], b[96:108]
        d = f16v(b, 108)
        sc = []
        for i in range(16):  # 6-bit scales: low 4 bits, then 2 high bits
            lo = (sr[i] & 15) if i < 8 else (sr[i - 8] >> 4)
            hi = (sr[8 + i % 4] >> (2 * (i // 4))) & 3
            sc.append((lo | hi << 4) - 32)
        k, m = 0, 0
        for half in range(2):
            qq = q[32 * half:32 * half + 32]
            for shift in range(0, 8, 2):
                for g in range(2):
                    s = sc[8 * half + shift + g]
                    for l in range(16):
                        idx = 16 * g + l
                        hbit = 0 if (hm[idx] >> m) & 1 else 4
                        y[k] = d * s * (((qq[idx] >> shift) & 3) - hbit)
                        k += 1
                m += 1
    elif tname in ("Q4_K", "Q5_K"):
        d, dm = f16v(b, 0), f16v(b, 2)
        s = b[4:16]

        def smk(j):
            if j < 4:
                return s[j] & 63, s[j + 4] & 63
            return (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)
        qh = b[16:48] if tname == "Q5_K" else None
        q = b[48:] if tname == "Q5_K" else b[16:]
        k = 0
        for c in range(4):
            for h in range(2):
                sc, mn = smk(2 * c + h)
                for l in range(32):
                    v = (q[32 * c + l] >> (4 * h)) & 15
                    if qh is not None:
                        v += 16 * ((qh[l] >> (2 * c + h)) & 1)
                    y[k] = d * sc * v - dm * mn
                    k += 1
    elif tname == "Q6_K":
        ql, qh = b[:128], b[128:192]
        sc = np.frombuffer(b[192:208], np.int8)
        d = f16v(b, 208)
        for i in range(256):
            half, r = divmod(i, 128)
            quad, l = divmod(r, 32)
            low = (ql[64 * half + l + 32 * (quad & 1)] >> (4 * (quad >> 1))) & 15
            high = (qh[32 * half + l] >> (2 * quad)) & 3
            y[i] = d * sc[8 * half + 2 * quad + l // 16] * ((low | high << 4) - 32)
    elif tname == "Q8_K":
        d = np.frombuffer(b[:4], np.float32)[0]
        y[:] = d * np.frombuffer(b[4:260], np.int8).astype(np.float32)
    else:
        raise ValueError(tname)
    return y


def random_blocks(tname, nblocks, rng):
    """Random blocks with small, finite float16 scales."""
    _, n, size = GGML[tname]
    raw = bytearray(rng.integers(0, 256, size=nblocks * size, dtype=np.uint8).tobytes())
    scale_at = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
                "Q8_1": [0, 2], "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2],
                "Q5_K": [0, 2], "Q6_K": [208]}
    for blk in range(nblocks):
        base = blk * size
        for o in scale_at.get(tname, []):
            raw[base + o:base + o + 2] = f16(rng.uniform(-0.05, 0.05))
        if tname == "Q8_K":
            raw[base:base + 4] = np.float32(rng.uniform(-0.05, 0.05)).tobytes()
    return bytes(raw)


def dequantize(tname, raw, shape):
    size = GGML[tname][2]
    vals = [deq_block(tname, raw[i:i + size]) for i in range(0, len(raw), size)]
    return np.concatenate(vals).reshape(shape)
