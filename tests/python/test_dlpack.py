"""DLPack exchange: NumPy imports mx arrays (every dtype NumPy has, views with strides, no copy
while the capsule lives) and mx.from_dlpack imports NumPy arrays (dtype rules of mx.array);
capsules are consumed once; bad producers raise."""
import gc

import numpy as np
import pytest

import mlx.core as mx

DTYPES = [(mx.bool_, np.bool_), (mx.uint8, np.uint8), (mx.uint16, np.uint16),
          (mx.uint32, np.uint32), (mx.uint64, np.uint64), (mx.int8, np.int8),
          (mx.int16, np.int16), (mx.int32, np.int32), (mx.int64, np.int64),
          (mx.float16, np.float16), (mx.float32, np.float32), (mx.complex64, np.complex64)]


@pytest.mark.parametrize("mdt,ndt", DTYPES)
def test_numpy_imports_every_dtype(rng, mdt, ndt):
    ref = (rng.standard_normal((3, 5)) * 10).astype(ndt)
    a = mx.array(ref)
    np.testing.assert_array_equal(np.from_dlpack(a), ref)
    back = mx.from_dlpack(ref)
    assert back.dtype == mdt
    np.testing.assert_array_equal(np.array(back), ref)


def test_views_and_strides(rng):
    ref = rng.standard_normal((4, 6, 5)).astype(np.float32)
    a = mx.array(ref)
    for view, nview in [(a.transpose(2, 0, 1), ref.transpose(2, 0, 1)),
                        (a[1:, ::2, 3], ref[1:, ::2, 3]), (a[::-1], ref[::-1]),
                        (mx.broadcast_to(a[:1], (3, 6, 5)), np.broadcast_to(ref[:1], (3, 6, 5)))]:
        np.testing.assert_array_equal(np.from_dlpack(view), nview)
    for nview in [ref.transpose(1, 2, 0), ref[:, 1::3, ::-2], ref[0]]:
        np.testing.assert_array_equal(np.array(mx.from_dlpack(nview)), nview)


def test_export_is_zero_copy_and_keeps_the_array_alive(rng):
    a = mx.array(rng.standard_normal(1000).astype(np.float32)) * 2
    n = np.from_dlpack(a)
    first = n.copy()
    del a
    gc.collect()
    np.testing.assert_array_equal(n, first)  # the capsule owner keeps the buffer
    assert not n.flags.writeable


def test_dtype_rules_and_special_cases():
    assert mx.from_dlpack(np.arange(3.0)).dtype == mx.float32  # as mx.array(numpy float64)
    assert mx.from_dlpack(np.zeros((0, 3), np.int32)).shape == (0, 3)
    assert mx.from_dlpack(np.float32(2.5)).item() == 2.5
    b = mx.from_dlpack(mx.array([1.5, -2], dtype=mx.bfloat16))
    assert b.dtype == mx.bfloat16 and b.tolist() == [1.5, -2.0]
    assert mx.arange(3).__dlpack_device__() == (1, 0)


def test_capsules_and_errors():
    a = mx.arange(4)
    cap = a.__dlpack__()
    assert "dltensor" in repr(cap)
    assert "dltensor_versioned" in repr(a.__dlpack__(max_version=(1, 0)))
    del cap
    gc.collect()  # an unconsumed capsule frees its tensor
    with pytest.raises(TypeError, match="__dlpack__"):
        mx.from_dlpack([1, 2, 3])
    with pytest.raises(BufferError):
        a.__dlpack__(dl_device=(2, 0))
    with pytest.raises(ValueError, match="copy=False"):
        mx.from_dlpack(np.arange(3), copy=False)

    class NotACapsule:
        def __dlpack__(self, **kw):
            return 42
    with pytest.raises(TypeError, match="capsule"):
        mx.from_dlpack(NotACapsule())
