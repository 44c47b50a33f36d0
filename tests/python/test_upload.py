"""Arrays made from host data and first used by a device op: the op must see every byte of
the upload, whatever the size (on a CUDA GPU the copy from pageable memory may return before
its DMA lands; kernels on other streams must not run ahead of it). On the CPU these are plain
conversions."""
import numpy as np
import pytest

import mlx.core as mx


@pytest.mark.parametrize("n", [1000, 25600, 256000, 1_000_000, 4_000_000])
def test_first_use_of_host_data_sees_the_whole_upload(rng, n):
    for src, dst in [(np.int64, mx.float32), (np.int64, mx.float64), (np.int32, mx.float64),
                     (np.float64, mx.int32)]:
        x = rng.integers(-50, 50, n).astype(src)
        got = np.array(mx.array(x).astype(dst))  # the source array is a temporary
        np.testing.assert_array_equal(got, x.astype(np.dtype(str(dst).split(".")[-1])))
