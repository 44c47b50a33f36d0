"""Shared fixtures of the Python suite (DESIGN section 10): the device under test (DEVICE=cpu,
the default, or DEVICE=gpu; GPU runs skip with a reason when no GPU backend is present),
seeded NumPy generators whose seed is printed when a test fails, and per-dtype tolerances
for comparing against float64 NumPy references."""
import os
import zlib

import numpy as np
import pytest

import mlx.core as mx

DEVICE = os.environ.get("DEVICE", "cpu").lower()
if DEVICE not in ("cpu", "gpu"):
    raise RuntimeError(f"DEVICE must be cpu or gpu, not {DEVICE!r}")

GPU_AVAILABLE = mx.is_available(mx.gpu)
_SKIP_ALL = None
if DEVICE == "gpu":
    if GPU_AVAILABLE:
        mx.set_default_device(mx.gpu)
    else:
        _SKIP_ALL = "DEVICE=gpu but no GPU backend is available (mx.is_available(mx.gpu) is False)"
else:
    mx.set_default_device(mx.cpu)

# (rtol, atol) per dtype for results computed in that dtype against a float64 reference.
TOLERANCES = {
    mx.float16: (1e-3, 1e-3),
    mx.bfloat16: (1e-2, 1e-2),
    mx.float32: (1e-5, 1e-6),
    mx.float64: (1e-12, 1e-12),
    mx.complex64: (1e-5, 1e-6),
}

NP_DTYPES = {
    mx.bool_: np.bool_,
    mx.uint8: np.uint8,
    mx.uint16: np.uint16,
    mx.uint32: np.uint32,
    mx.uint64: np.uint64,
    mx.int8: np.int8,
    mx.int16: np.int16,
    mx.int32: np.int32,
    mx.int64: np.int64,
    mx.float16: np.float16,
    mx.float32: np.float32,
    mx.float64: np.float64,
    mx.complex64: np.complex64,
}

ALL_DTYPES = [
    mx.bool_, mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32,
    mx.int64, mx.float16, mx.float32, mx.float64, mx.bfloat16, mx.complex64,
]


def pytest_collection_modifyitems(config, items):
    if _SKIP_ALL:
        marker = pytest.mark.skip(reason=_SKIP_ALL)
        for item in items:
            item.add_marker(marker)
    elif DEVICE == "cpu" and not GPU_AVAILABLE:
        marker = pytest.mark.skip(reason="needs a GPU backend (none available)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(marker)


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: the test needs a GPU backend")


def _seed_for(nodeid):
    base = os.environ.get("MLX_TEST_SEED")
    if base is not None:
        return int(base)
    return zlib.crc32(nodeid.encode()) & 0x7FFFFFFF


@pytest.fixture
def seed(request):
    """The test's seed: stable per test (crc32 of its id) unless MLX_TEST_SEED is set."""
    s = _seed_for(request.node.nodeid)
    request.node.mlx_seed = s
    return s


@pytest.fixture
def rng(seed):
    """A NumPy generator seeded with the test's seed (printed if the test fails)."""
    return np.random.default_rng(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    s = getattr(item, "mlx_seed", None)
    if report.failed and s is not None:
        report.sections.append(("seed", f"seed={s} (rerun with MLX_TEST_SEED={s})"))


def tolerance(dtype):
    return TOLERANCES.get(dtype, (0, 0))


def assert_close(actual, expected, dtype=None):
    """Compare an mx.array with a NumPy reference using the tolerance of dtype
    (default: the array's own dtype). Integer and bool dtypes compare exactly."""
    dtype = dtype or actual.dtype
    rtol, atol = tolerance(dtype)
    got = np.array(actual.astype(mx.float32) if actual.dtype == mx.bfloat16 else actual)
    np.testing.assert_allclose(got.astype(np.complex128 if np.iscomplexobj(got) else np.float64),
                               np.asarray(expected), rtol=rtol, atol=atol)
