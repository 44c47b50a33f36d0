"""make_corpus.py: regenerates the seed corpus of the loader fuzzers (tests/fuzz/corpus/<format>/):
small valid files covering each loader's paths (dtypes, Fortran order, byte order, header
versions, stored and deflated members, MLX's unpadded safetensors layout, GGUF metadata
kinds and block types). Run with the mlx package on PYTHONPATH:
    PYTHONPATH=build/python python tests/fuzz/make_corpus.py"""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np

import mlx.core as mx

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))
import gguf_build as gb  # noqa: E402


def out(fmt, name, data):
    d = os.path.join(here, "corpus", fmt)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def mx_bytes(fn, *args, **kw):
    buf = io.BytesIO()
    fn(buf, *args, **kw)
    return buf.getvalue()


def np_bytes(x, version=None):
    buf = io.BytesIO()
    if version:
        np.lib.format.write_array(buf, x, version=version)
    else:
        np.save(buf, x)
    return buf.getvalue()


a = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4))
# npy
out("npy", "f32", mx_bytes(mx.save, a))
out("npy", "f32_fortran", mx_bytes(mx.save, a.T))
out("npy", "bf16", mx_bytes(mx.save, a.astype(mx.bfloat16)))
out("npy", "scalar_i16", mx_bytes(mx.save, mx.array(7, dtype=mx.int16)))
out("npy", "bool", mx_bytes(mx.save, mx.array([True, False, True])))
out("npy", "c64_be", np_bytes(np.arange(3, dtype=">c8")))
out("npy", "u8_v2", np_bytes(np.arange(5, dtype=np.uint8), (2, 0)))
out("npy", "f64_v3", np_bytes(np.arange(4.0), (3, 0)))
out("npy", "empty", np_bytes(np.zeros((0, 3), np.int32)))
# npz
out("npz", "stored", mx_bytes(mx.savez, a, b=mx.array([1, 2], dtype=mx.int8)))
out("npz", "deflated", mx_bytes(mx.savez_compressed, a, b=mx.array([1, 2], dtype=mx.int8)))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", allowZip64=True) as z:
    with z.open("z.npy", "w", force_zip64=True) as fh:
        fh.write(np_bytes(np.arange(6, dtype=">i2").reshape(2, 3)))
    z.writestr("readme.txt", "not an array")
out("npz", "zip64", buf.getvalue())
# safetensors
out("safetensors", "ours", mx_bytes(mx.save_safetensors,
                                    {"w": a, "h": a.astype(mx.bfloat16), "i": mx.array([1, 2])},
                                    {"format": "mlx"}))
x = np.arange(6, dtype=np.float32)
hdr = {"__metadata__": {"k": "v\u00e9"}, "b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
       "x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [1, 25]},
       "f8": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [25, 27]}}
h = json.dumps(hdr, separators=(",", ":")).encode()
out("safetensors", "mlx_unaligned", struct.pack("<Q", len(h)) + h + b"\x07" + x.tobytes() + b"\x38\x40")
# gguf
rng = np.random.default_rng(0)
os.makedirs(os.path.join(here, "corpus", "gguf"), exist_ok=True)
tmp = os.path.join(here, "corpus", "gguf", "tmp_ours")  # save_gguf takes paths only
mx.save_gguf(tmp, {"w": a, "i": mx.array([1, 2, 3], dtype=mx.int8)},
             {"name": "x", "toks": ["a", "b"], "n": mx.array(3, dtype=mx.uint32),
              "v": mx.array([1.5, 2.5])})
os.replace(tmp + ".gguf", os.path.join(here, "corpus", "gguf", "ours"))
out("gguf", "quantized", gb.gguf_bytes(
    tensors=[("a.weight", "Q4_0", (1, 32), gb.random_blocks("Q4_0", 1, rng)),
             ("b.weight", "Q8_0", (1, 32), gb.random_blocks("Q8_0", 1, rng)),
             ("c", "Q4_1", (32,), gb.random_blocks("Q4_1", 1, rng)),
             ("d", "Q6_K", (256,), gb.random_blocks("Q6_K", 1, rng)),
             ("e", "Q4_K", (256,), gb.random_blocks("Q4_K", 1, rng)),
             ("f", "BF16", (2,), b"\x80\x3f\x00\x40")],
    kv=[("general.alignment", gb.U32, 32), ("f64", gb.F64, 0.5),
        ("arr", gb.ARR, (gb.I32, [1, 2])), ("strs", gb.ARR, (gb.STR, ["x", "yz"]))]))
print("corpus written to", os.path.join(here, "corpus"))
