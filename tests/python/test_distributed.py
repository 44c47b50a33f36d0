"""mx.distributed on the singleton group (spec/python-api.md section 23): no transport is
built in, so init() gives the size-1 group of this process, on which the collectives are
the identity (as in MLX) and point-to-point communication raises."""
import numpy as np
import pytest

import mlx.core as mx

d = mx.distributed
COLLECTIVES = [d.all_sum, d.all_max, d.all_min, d.all_gather, d.sum_scatter]


def test_group():
    g = d.init()
    assert isinstance(g, d.Group)
    assert g.rank() == 0 and g.size() == 1
    assert d.init(False, "any").size() == 1
    for bk in ("mpi", "ring", "nccl", "jaccl"):
        assert d.init(backend=bk).size() == 1
    assert d.init(all_gather_factory=lambda r, s: (lambda b, n: b)).size() == 1
    with pytest.raises(RuntimeError, match="Cannot split the distributed group further."):
        g.split(0)
    with pytest.raises(RuntimeError, match="Cannot split"):
        g.split(1, key=3)
    with pytest.raises(TypeError):
        d.Group()


def test_availability_and_strict():
    for bk in ("any", "mpi", "ring", "nccl", "jaccl"):
        assert d.is_available(bk) is False
    assert d.is_available() is False
    with pytest.raises(RuntimeError, match=r"\[distributed\] Couldn't initialize any backend"):
        d.init(strict=True)
    with pytest.raises(RuntimeError, match="Cannot initialize MPI"):
        d.init(True, "mpi")
    with pytest.raises(RuntimeError, match="Cannot initialize nccl distributed backend."):
        d.init(strict=True, backend="nccl")
    msg = ("[distributed] The only valid values for backend are 'any', 'mpi', 'nccl', 'jaccl' "
           "and 'ring' but 'foo' was provided.")
    for call in (lambda: d.init(backend="foo"), lambda: d.is_available("foo")):
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == msg


@pytest.mark.parametrize("fn", COLLECTIVES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [mx.bool_, mx.uint8, mx.int32, mx.int64, mx.float16,
                                   mx.bfloat16, mx.float32, mx.float64, mx.complex64])
def test_collectives_identity(fn, dtype):
    rng = np.random.default_rng(0)
    x = mx.array(rng.normal(size=(3, 4)) * 4).astype(dtype)
    for arg in (x, x.T, x[::2, 1:], mx.array(2.5).astype(dtype), x[:0]):
        r = fn(arg)
        assert r.dtype == arg.dtype and r.shape == arg.shape
        assert mx.array_equal(r, arg).item()
    g = d.init()
    assert mx.array_equal(fn(x, group=g, stream=mx.cpu), x).item()
    assert mx.array_equal(fn(x, group=None), x).item()


def test_collective_signatures():
    x = mx.ones((2,))
    with pytest.raises(TypeError):
        d.all_sum(x, d.init())  # group is keyword-only
    with pytest.raises(TypeError):
        d.all_sum(x, group=1)
    with pytest.raises(TypeError):
        d.all_sum()
    assert d.all_sum([1.0, 2.0]).tolist() == [1.0, 2.0]


def test_point_to_point_raises():
    x = mx.ones((2, 3))
    with pytest.raises(ValueError, match="Cannot send to a singleton group"):
        d.send(x, 0)
    with pytest.raises(ValueError, match="Cannot send to a singleton group"):
        d.send(x, 1, group=d.init())
    with pytest.raises(ValueError, match="Cannot recv from a singleton group"):
        d.recv((2, 3), mx.float32, 0)
    with pytest.raises(ValueError, match="Cannot recv from a singleton group"):
        d.recv_like(x, 0)


@pytest.mark.parametrize("fn", COLLECTIVES, ids=lambda f: f.__name__)
def test_transforms(fn):
    rng = np.random.default_rng(1)
    x = mx.array(rng.normal(size=(3, 4)).astype(np.float32))
    w = mx.array(rng.normal(size=(3, 4)).astype(np.float32))
    f = lambda a: (fn(a * a) * w).sum()
    g = mx.grad(f)(x)
    # central finite differences in float64
    xn, wn, eps = np.array(x, np.float64), np.array(w, np.float64), 1e-4
    fd = np.zeros_like(xn)
    for i in np.ndindex(*xn.shape):
        e = np.zeros_like(xn)
        e[i] = eps
        fd[i] = (((xn + e) ** 2 * wn).sum() - ((xn - e) ** 2 * wn).sum()) / (2 * eps)
    np.testing.assert_allclose(np.array(g), fd, rtol=1e-3, atol=1e-4)
    out, tan = mx.jvp(lambda a: fn(a), [x], [w])
    assert mx.array_equal(out[0], x).item() and mx.array_equal(tan[0], w).item()
    _, vjp = mx.vjp(lambda a: fn(a), [x], [w])
    assert mx.array_equal(vjp[0], w).item()
    v = mx.vmap(lambda a: fn(a * 2))(x)
    assert mx.allclose(v, mx.stack([fn(r * 2) for r in x])).item()
    c = mx.compile(lambda a: fn(a) + 1)
    assert mx.array_equal(c(x), x + 1).item()
