"""mlx.nn.layers.distributed on the singleton group (the only group without a transport):
sharded linears give the unsharded layer's outputs and gradients, shard_inplace and
shard_linear keep or split parameters as MLX does, and the sharding arithmetic for larger
groups is checked through a stand-in group object (rank/size only) by reassembling shards."""
import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from mlx.nn.layers import distributed as dist
from mlx.utils import tree_flatten


class FakeGroup:
    """Rank r of a group of size n, for the parts that only ask rank() and size()."""

    def __init__(self, r, n):
        self.r, self.n = r, n

    def rank(self):
        return self.r

    def size(self):
        return self.n


def model_and_input(seed=0, bias=True):
    mx.random.seed(seed)
    lin = nn.Linear(12, 8, bias=bias)
    x = mx.random.normal((5, 12))
    return lin, x


@pytest.mark.parametrize("sharding,cls", [("all-to-sharded", nn.AllToShardedLinear),
                                          ("sharded-to-all", nn.ShardedToAllLinear)])
@pytest.mark.parametrize("bias", [True, False])
def test_shard_linear_matches(sharding, cls, bias):
    lin, x = model_and_input(1, bias)
    sl = dist.shard_linear(lin, sharding)
    assert type(sl) is cls
    assert ("bias" in sl) == bias
    np.testing.assert_allclose(np.array(sl(x)), np.array(lin(x)), rtol=1e-5, atol=1e-6)
    gx = mx.grad(lambda a: (sl(a) ** 2).sum())(x)
    gx_ref = mx.grad(lambda a: (lin(a) ** 2).sum())(x)
    np.testing.assert_allclose(np.array(gx), np.array(gx_ref), rtol=1e-5, atol=1e-6)
    loss = lambda m: (m(x) ** 2).sum()
    g = nn.value_and_grad(sl, loss)(sl)[1]
    g_ref = nn.value_and_grad(lin, loss)(lin)[1]
    for (k, a), (k2, b) in zip(tree_flatten(g), tree_flatten(g_ref)):
        assert k == k2
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-5)
    assert repr(sl) == f"{cls.__name__}(input_dims=12, output_dims=8, bias={bias})"


def test_sharded_model():
    mx.random.seed(2)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    x = mx.random.normal((3, 6))
    ref = model(x)
    sharded = nn.Sequential(dist.shard_linear(model.layers[0], "all-to-sharded"), nn.ReLU(),
                            dist.shard_linear(model.layers[2], "sharded-to-all"))
    np.testing.assert_allclose(np.array(sharded(x)), np.array(ref), rtol=1e-5, atol=1e-6)
    dist.shard_inplace(model.layers[0], "all-to-sharded", segments=2)
    dist.shard_inplace(model.layers[2], "sharded-to-all")
    np.testing.assert_allclose(np.array(model(x)), np.array(ref), rtol=1e-5, atol=1e-6)


def test_new_layers_init_and_errors():
    mx.random.seed(3)
    a = nn.AllToShardedLinear(10, 6)
    assert a.weight.shape == (6, 10) and a.bias.shape == (6,)
    assert float(mx.abs(a.weight).max()) <= 1 / np.sqrt(10)
    b = nn.ShardedToAllLinear(10, 6, bias=False, group=mx.distributed.init())
    assert b.weight.shape == (6, 10) and "bias" not in b
    with pytest.raises(ValueError, match="Cannot shard the output of size 5 across 2 devices."):
        nn.AllToShardedLinear(4, 5, group=FakeGroup(0, 2))
    with pytest.raises(ValueError, match="The input of size 5 cannot be sharded across 2 devices."):
        nn.ShardedToAllLinear(5, 4, group=FakeGroup(0, 2))
    lin, _ = model_and_input()
    with pytest.raises(ValueError, match="Sharding type sharding='rows' not supported"):
        dist.shard_linear(lin, "rows")
    with pytest.raises(ValueError, match="Sharding type"):
        dist.shard_inplace(lin, "cols")
    with pytest.raises(ValueError, match="should return int or tuple"):
        dist.shard_inplace(lin, lambda path, w: "x")


def expected_shard(mat, axis, segments, r, n):
    """Rank r's part: piece r (of n equal pieces) of every segment, joined along axis."""
    size = mat.shape[axis]
    if isinstance(segments, int):
        cuts = [size * i // segments for i in range(1, segments)]
    else:
        cuts = [int(f * size) for f in segments]
    segs = np.split(mat, cuts, axis=axis)
    return np.concatenate([np.split(seg, n, axis=axis)[r] for seg in segs], axis=axis)


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("segments", [1, 2, [0.5]])
def test_sharding_reassembles(n, segments):
    mx.random.seed(4)
    lin = nn.Linear(16, 8)
    x = mx.random.normal((3, 16))
    w, bias, full = np.array(lin.weight), np.array(lin.bias), np.array(lin(x))
    rows, cols = [], []
    for r in range(n):
        a = dist.AllToShardedLinear.from_linear(lin, segments=segments, group=FakeGroup(r, n))
        s = dist.ShardedToAllLinear.from_linear(lin, segments=segments, group=FakeGroup(r, n))
        assert a.weight.shape == (8 // n, 16) and s.weight.shape == (8, 16 // n)
        np.testing.assert_array_equal(np.array(a.weight), expected_shard(w, 0, segments, r, n))
        np.testing.assert_array_equal(np.array(a.bias), expected_shard(bias, 0, segments, r, n))
        np.testing.assert_array_equal(np.array(s.weight), expected_shard(w, 1, segments, r, n))
        np.testing.assert_array_equal(np.array(s.bias), bias)  # added once, not sharded
        rows.append((np.array(a.weight), np.array(a.bias)))
        cols.append(np.array(s.weight))
    if segments == 1:
        # the ranks' partial products add up to the full layer, their row blocks join to it
        xs = np.split(np.array(x), n, axis=1)
        summed = sum(xs[r] @ cols[r].T for r in range(n)) + bias
        np.testing.assert_allclose(summed, full, rtol=1e-5, atol=1e-5)
        joined = np.concatenate([np.array(x) @ wr.T + br for wr, br in rows], axis=1)
        np.testing.assert_allclose(joined, full, rtol=1e-5, atol=1e-5)
    # shard_inplace with a custom predicate: only the weight, along axis 1
    other = nn.Linear(16, 8)
    dist.shard_inplace(other, lambda path, v: 1 if path.endswith("weight") else None,
                       group=FakeGroup(n - 1, n))
    assert other.weight.shape == (8, 16 // n) and other.bias.shape == (8,)


def test_sum_gradients_and_fully_shard():
    g = mx.distributed.init()
    x = mx.array([1.0, 2.0])
    assert mx.array_equal(dist.sum_gradients(g)(x), x).item()
    lin, xx = model_and_input(5)
    assert dist.fully_shard(lin) is lin
    fs = dist.FullyShardedModule(lin)
    np.testing.assert_allclose(np.array(fs(xx)), np.array(lin(xx)), rtol=1e-6)
    assert "num_sharded_params=2" in repr(fs)
    grads = nn.value_and_grad(fs, lambda m: m(xx).sum())(fs)[1]
    ref = nn.value_and_grad(lin, lambda m: m(xx).sum())(lin)[1]
    np.testing.assert_allclose(np.array(grads["module"]["weight"]), np.array(ref["weight"]),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sharding,cls", [("all-to-sharded", "QuantizedAllToShardedLinear"),
                                          ("sharded-to-all", "QuantizedShardedToAllLinear")])
def test_quantized(sharding, cls):
    mx.random.seed(6)
    q = nn.QuantizedLinear(64, 32, group_size=32, bits=4)
    x = mx.random.normal((2, 64))
    sl = dist.shard_linear(q, sharding)
    assert type(sl).__name__ == cls
    np.testing.assert_allclose(np.array(sl(x)), np.array(q(x)), rtol=1e-5, atol=1e-5)
    assert sl.trainable_parameters() == {}
    sl.unfreeze()
    assert sl.trainable_parameters() == {}
    assert repr(sl) == (f"{cls}(input_dims=64, output_dims=32, bias=True, group_size=32, "
                        "bits=4, mode=affine)")
    fresh = getattr(nn, cls)(64, 32, bias=False, group_size=32, bits=8)
    assert "bias" not in fresh and fresh.bits == 8


@pytest.mark.parametrize("mode,group_size,bits", [("affine", 32, 8), ("mxfp4", 32, 4),
                                                  ("mxfp8", 32, 8), ("nvfp4", 16, 4)])
def test_quantized_modes_and_shards(mode, group_size, bits):
    mx.random.seed(7)
    q = nn.QuantizedLinear(64, 32, bias=True, group_size=group_size, bits=bits, mode=mode)
    x = mx.random.normal((3, 64))
    for sharding in ("all-to-sharded", "sharded-to-all"):
        sl = dist.shard_linear(q, sharding)
        assert sl.mode == mode and sl.bits == bits and sl.group_size == group_size
        np.testing.assert_allclose(np.array(sl(x)), np.array(q(x)), rtol=1e-5, atol=1e-5)
    # two ranks: rank r keeps block r of every quantized leaf (rows, or packed columns)
    for r in range(2):
        a = dist.QuantizedAllToShardedLinear.from_quantized_linear(q, group=FakeGroup(r, 2))
        s = dist.QuantizedShardedToAllLinear.from_quantized_linear(q, group=FakeGroup(r, 2))
        for name in ("weight", "scales") + (("biases",) if mode == "affine" else ()):
            full = np.array(q[name])
            np.testing.assert_array_equal(np.array(a[name]), np.split(full, 2, axis=0)[r])
            np.testing.assert_array_equal(np.array(s[name]), np.split(full, 2, axis=-1)[r])
        np.testing.assert_array_equal(np.array(a.bias), np.split(np.array(q.bias), 2)[r])
        np.testing.assert_array_equal(np.array(s.bias), np.array(q.bias))
