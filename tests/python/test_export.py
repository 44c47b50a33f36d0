"""mx.export_function / import_function / exporter (python-api.md section 18): traced
functions round-trip through .mlxfn files with their constants, keyword and tuple/dict
inputs, several traces, shapeless traces and metadata; mismatched calls and unsupported
functions raise as MLX."""
import numpy as np
import pytest

import mlx.core as mx


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "fn.mlxfn")


def test_round_trip_with_constants(path, rng):
    w = mx.array(rng.standard_normal((4, 3)).astype(np.float32))
    b = mx.array(rng.standard_normal((3,)).astype(np.float32))

    def f(x):
        h = mx.maximum(x @ w + b, 0.0)
        return mx.sum(h, axis=1), h[1:, ::2].reshape(-1), (h > 0.5)

    x = mx.array(rng.standard_normal((5, 4)).astype(np.float32))
    mx.export_function(path, f, x)
    g = mx.import_function(path)
    x2 = mx.array(rng.standard_normal((5, 4)).astype(np.float32))
    got, ref = g(x2), f(x2)
    assert isinstance(got, tuple) and len(got) == 3
    for a, r in zip(got, ref):
        assert a.dtype == r.dtype and a.shape == r.shape
        np.testing.assert_array_equal(np.array(a), np.array(r))


def test_keyword_and_tuple_dict_inputs(path):
    mx.export_function(path, lambda x, *, y: x + y, mx.ones((2,)), y=mx.ones((2,)))
    g = mx.import_function(path)
    assert g(mx.ones((2,)), y=mx.ones((2,)) * 5)[0].tolist() == [6.0, 6.0]
    assert g((mx.ones((2,)),), {"y": mx.ones((2,)) * 2})[0].tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="No imported function found"):
        g(mx.ones((3,)), y=mx.ones((3,)))
    with pytest.raises(ValueError, match="No imported function found"):
        g(mx.ones((2,)))
    mx.export_function(path, lambda a, b, c: a + b * c, (mx.ones(2), mx.ones(2)), {"c": mx.ones(2)})
    g = mx.import_function(path)
    assert g(mx.ones(2), mx.ones(2), c=mx.ones(2) * 3)[0].tolist() == [4.0, 4.0]


def test_exporter_several_traces(path):
    with mx.exporter(path, lambda x: x * 2) as ex:
        ex(mx.ones((2,)))
        ex(mx.ones((3,), dtype=mx.int32))
    g = mx.import_function(path)
    assert g(mx.ones((2,)))[0].tolist() == [2.0, 2.0]
    out = g(mx.ones((3,), dtype=mx.int32))[0]
    assert out.dtype == mx.int32 and out.tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="Function with 1 positional inputs"):
        g(mx.ones((4,)))


def test_shapeless_and_metadata(path):
    mx.export_function(path, lambda x: mx.exp(x) * 2 + x.sum(axis=-1, keepdims=True), mx.ones((2, 3)),
                       shapeless=True, metadata='{"k": 1}')
    g, md = mx.import_function(path, return_metadata=True)
    assert md == '{"k": 1}'
    x = mx.array(np.arange(20, dtype=np.float32).reshape(4, 5) / 10)
    np.testing.assert_allclose(np.array(g(x)[0]), np.array(mx.exp(x) * 2 + x.sum(axis=-1, keepdims=True)),
                               rtol=1e-6)
    mx.export_function(path, lambda x: x, mx.ones(2))
    assert mx.import_function(path, return_metadata=True)[1] == ""


def test_errors(path, tmp_path):
    with pytest.raises(ValueError, match="Inputs can either be"):
        mx.export_function(path, lambda x: x, 3)
    with pytest.raises(ValueError, match="Outputs can be either a single array"):
        mx.export_function(path, lambda x: {"a": x}, mx.ones(2))
    # as in MLX, a shapeless trace that cannot re-infer its shapes fails when called
    mx.export_function(path, lambda x: x[1:], mx.ones(3), shapeless=True)
    with pytest.raises(ValueError, match="Slice cannot infer"):
        mx.import_function(path)(mx.ones(3))
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.import_function(str(tmp_path / "missing.mlxfn"))
    with mx.exporter(str(tmp_path / "twice.mlxfn"), lambda x: x * 2) as ex:
        ex(mx.ones(2))
        with pytest.raises(RuntimeError, match="twice with the same signature"):
            ex(mx.ones(2))
    with pytest.raises(RuntimeError, match="after exporting is closed"):
        ex(mx.ones(3))

    @mx.custom_function
    def f(x):
        return x * 2

    f.vjp(lambda p, c, o: c)
    with pytest.raises(ValueError, match="Unable to serialize primitive CustomTransforms"):
        mx.export_function(path, f, mx.ones(2))
    bad = tmp_path / "bad.mlxfn"
    bad.write_bytes(b"not a function")
    with pytest.raises(ValueError, match="not an exported function|truncated"):
        mx.import_function(str(bad))
    good = tmp_path / "good.mlxfn"
    mx.export_function(str(good), lambda x: mx.exp(x) @ x.T, mx.ones((2, 2)))
    data = good.read_bytes()
    (tmp_path / "cut.mlxfn").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        mx.import_function(str(tmp_path / "cut.mlxfn"))


def test_random_and_transforms_inside(path):
    key = mx.random.key(3)

    def f(x):
        g = mx.grad(lambda a: (a * a).sum())(x)
        return g + mx.random.uniform(shape=x.shape, key=key)

    x = mx.array([1.0, 2.0])
    mx.export_function(path, f, x)
    np.testing.assert_array_equal(np.array(mx.import_function(path)(x)[0]), np.array(f(x)))
