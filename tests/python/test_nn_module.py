"""mlx.nn.Module tree operations (spec/python-api.md section 25): attribute storage, parameter
and module trees, update/update_modules and their strict errors, freezing, training mode,
set_dtype, weight files in both formats, repr; nn.value_and_grad and nn.utils.checkpoint
against finite differences; Sequential; and a small training loop that must learn."""
import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_map


class MLP(nn.Module):
    def __init__(self, dims=(3, 5, 2)):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])]
        self.extra = {"scale": mx.array([2.0]), "_hidden": mx.array([1.0])}
        self._private = mx.zeros((2,))
        self.name = "mlp"

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x) * self.extra["scale"]


def flat_names(tree):
    return sorted(k for k, _ in tree_flatten(tree))


def test_attribute_storage():
    m = MLP()
    assert isinstance(m, dict)
    assert "layers" in m and "extra" in m and "_private" in m
    assert "name" not in m and m.name == "mlp"
    m.name = mx.ones((1,))  # a plain attribute becomes an item
    assert "name" in m and m.name.shape == (1,)
    m.name = "again"
    assert "name" not in m and m.name == "again"
    m.w = mx.zeros((3,))
    del m.w
    assert "w" not in m
    with pytest.raises(AttributeError):
        m.missing
    assert m.state is m
    assert m.training


def test_parameters_and_trainable():
    m = MLP()
    # "_" hides direct members only; inside a dict the key is the dotted path
    assert flat_names(m.parameters()) == [
        "extra._hidden", "extra.scale", "layers.0.bias", "layers.0.weight", "layers.1.bias",
        "layers.1.weight"]
    m.freeze(keys=["bias"])
    assert flat_names(m.trainable_parameters()) == [
        "extra._hidden", "extra.scale", "layers.0.weight", "layers.1.weight"]
    m.unfreeze(keys="bias")
    m.layers[1].freeze()
    assert flat_names(m.trainable_parameters()) == [
        "extra._hidden", "extra.scale", "layers.0.bias", "layers.0.weight"]
    m.unfreeze()
    assert flat_names(m.trainable_parameters()) == flat_names(m.parameters())
    m.freeze(recurse=False)
    assert flat_names(m.trainable_parameters()) == [
        "layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]
    m.freeze()
    assert flat_names(m.trainable_parameters()) == []


def test_freeze_strict_keys():
    m = MLP()
    with pytest.raises(KeyError, match="Module doesn't contain member nope."):
        m.freeze(keys="nope", strict=True)
    with pytest.raises(KeyError):
        m.unfreeze(keys=["nope"], strict=True)
    with pytest.raises(KeyError):
        m.layers[0].freeze(keys="nope", recurse=False, strict=True)
    # present somewhere in the tree is enough when recursing
    m.freeze(keys="bias", strict=True)
    assert "bias" in m.layers[0]._no_grad
    m.freeze(keys="nope")  # not strict: accepted


def test_children_and_modules():
    m = MLP()
    kids = m.children()
    assert set(kids) == {"layers", "extra"}
    assert all(isinstance(c, nn.Linear) for c in kids["layers"])
    assert kids["extra"] == {"scale": {}, "_hidden": {}}
    leaves = m.leaf_modules()
    assert [type(x) for x in leaves["layers"]] == [nn.Linear, nn.Linear]
    mods = m.modules()
    assert len(mods) == 3 and mods[0] is m
    names = [k for k, _ in m.named_modules()]
    assert names == ["", "layers.1", "layers.0"]
    seen = []
    m.apply_to_modules(lambda k, mod: seen.append((k, type(mod).__name__)))
    assert seen == [("", "MLP"), ("layers.1", "Linear"), ("layers.0", "Linear")]


def test_filter_and_map():
    m = MLP()
    shapes = m.filter_and_map(lambda mod, k, v: isinstance(v, mx.array) and k == "weight"
                              or isinstance(v, (list, nn.Module)), map_fn=lambda a: a.shape)
    assert shapes == {"layers": [{"weight": (5, 3)}, {"weight": (2, 5)}]}


def test_update_and_strict_errors():
    m = MLP()
    new_w = mx.ones((5, 3))
    m.update({"layers": [{"weight": new_w}]})
    assert m.layers[0].weight is new_w
    with pytest.raises(ValueError, match='Module does not have parameter named "foo"'):
        m.update({"foo": mx.ones(1)})
    with pytest.raises(ValueError, match="List index 2 is out of bounds for destination of "
                                         "length 2"):
        m.update({"layers": [{}, {}, {}]})
    with pytest.raises(ValueError, match="Received invalid type: int"):
        m.update({"layers": [{"weight": 3}]})
    with pytest.raises(ValueError, match="Received invalid type: int"):
        m.update({"layers": 3})
    m.update({"foo": mx.ones(1), "layers": [{}, {}, {}]}, strict=False)
    assert "foo" not in m


def test_update_modules():
    m = MLP()
    replacement = nn.Identity()
    m.update_modules({"layers": [{}, replacement]})
    assert m.layers[1] is replacement
    with pytest.raises(ValueError, match='Module does not have sub-module named "zzz"'):
        m.update_modules({"zzz": nn.Identity()})
    with pytest.raises(ValueError, match="Received invalid type: Linear"):
        m.update_modules({"extra": {"scale": nn.Linear(1, 1)}})
    m.update_modules({"extra": {"scale": {}}})  # empty trees are accepted anywhere
    m.update_modules({"zzz": nn.Identity()}, strict=False)
    assert "zzz" not in m


def test_apply_and_set_dtype():
    m = MLP()
    m.counts = mx.array([1, 2], dtype=mx.int32)
    m.apply(lambda a: a * 0)
    assert all(np.all(np.array(v) == 0) for _, v in tree_flatten(m.parameters()))
    m.set_dtype(mx.float16)
    dtypes = {k: v.dtype for k, v in tree_flatten(m.parameters())}
    assert dtypes["counts"] == mx.int32 and dtypes["layers.0.weight"] == mx.float16
    assert m._private.dtype == mx.float32  # private members are not parameters
    m.set_dtype(mx.float32, predicate=None)
    assert m.counts.dtype == mx.float32
    m.set_dtype(mx.bfloat16, predicate=lambda d: d == mx.float32)
    assert m.layers[1].bias.dtype == mx.bfloat16


def test_train_eval():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert m.training
    assert m.eval() is m
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m.train(False)
    assert not m.layers[1].layers[0].training


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_save_load_round_trip(tmp_path, ext):
    mx.random.seed(3)
    a, b = MLP(), MLP()
    path = str(tmp_path / f"w{ext}")
    a.save_weights(path)
    b.load_weights(path)
    for (ka, va), (kb, vb) in zip(tree_flatten(a.parameters()), tree_flatten(b.parameters())):
        assert ka == kb
        np.testing.assert_array_equal(np.array(va), np.array(vb))
    x = mx.array(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    np.testing.assert_array_equal(np.array(a(x)), np.array(b(x)))


def test_save_bad_extension(tmp_path):
    with pytest.raises(ValueError, match="Unsupported file extension"):
        nn.Linear(2, 2).save_weights(str(tmp_path / "w.bin"))


def test_load_weights_strict_errors():
    m = nn.Linear(3, 2)
    good = [("weight", mx.zeros((2, 3))), ("bias", mx.zeros((2,)))]
    with pytest.raises(ValueError, match=r"Received 1 parameters not in model: \nextra\."):
        m.load_weights(good + [("extra", mx.zeros(1))])
    with pytest.raises(ValueError, match=r"Missing 1 parameters: \nbias\."):
        m.load_weights(good[:1])
    with pytest.raises(ValueError, match=r"Expected shape \(2, 3\) but received shape "
                                         r"\(3, 2\) for parameter weight"):
        m.load_weights([("weight", mx.zeros((3, 2))), ("bias", mx.zeros((2,)))])
    with pytest.raises(ValueError, match="Expected mx.array but received"):
        m.load_weights([("weight", np.zeros((2, 3))), ("bias", mx.zeros((2,)))])
    m.load_weights(good[:1], strict=False)
    assert np.all(np.array(m.weight) == 0)
    m.load_weights([("weight", mx.ones((2, 3))), ("nope", mx.ones(1))], strict=False)
    assert np.all(np.array(m.weight) == 1) and "nope" not in m
    assert m.load_weights(good) is m


def test_repr():
    # Expected text printed by MLX 0.32 for the same model.
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2, bias=False)))
    assert repr(m) == (
        "Sequential(\n"
        "  (layers.0): Linear(input_dims=3, output_dims=4, bias=True)\n"
        "  (layers.1): ReLU()\n"
        "  (layers.2): Sequential(\n"
        "    (layers.0): Linear(input_dims=4, output_dims=2, bias=False)\n"
        "  )\n"
        ")")
    assert repr(nn.Identity()) == "Identity()"


def test_is_module_and_filters():
    lin = nn.Linear(2, 2)
    assert nn.Module.is_module(lin) and not nn.Module.is_module({})
    assert nn.Module.valid_parameter_filter(lin, "w", mx.zeros(1))
    assert not nn.Module.valid_parameter_filter(lin, "_w", mx.zeros(1))
    assert not nn.Module.valid_parameter_filter(lin, "w", 3)
    assert nn.Module.valid_child_filter(lin, "c", [])
    assert not nn.Module.valid_child_filter(lin, "c", mx.zeros(1))
    lin.freeze(keys="bias")
    assert not nn.Module.trainable_parameter_filter(lin, "bias", lin.bias)
    assert nn.Module.trainable_parameter_filter(lin, "weight", lin.weight)


def test_sequential_with_callables():
    seq = nn.Sequential(nn.Linear(3, 3), lambda x: x * 2, nn.relu)
    x = mx.array(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))
    lin = seq.layers[0]
    expect = np.maximum((np.array(x) @ np.array(lin.weight).T + np.array(lin.bias)) * 2, 0)
    np.testing.assert_allclose(np.array(seq(x)), expect, rtol=1e-5, atol=1e-6)
    assert flat_names(seq.parameters()) == ["layers.0.bias", "layers.0.weight"]


def numeric_grad(f, params, eps=1e-3):
    """Central differences of scalar f(params) over every parameter entry (float64)."""
    out = {}
    for key, value in tree_flatten(params):
        base = np.array(value, dtype=np.float64)
        g = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            for sign in (1, -1):
                pert = base.copy()
                pert[idx] += sign * eps
                g[idx] += sign * f(key, pert) / (2 * eps)
        out[key] = g
    return out


def test_value_and_grad_matches_finite_differences(rng):
    mx.random.seed(1)
    model = MLP()
    model.set_dtype(mx.float64, predicate=None)
    model.freeze(keys="scale")
    x = mx.array(rng.normal(size=(4, 3)), dtype=mx.float64)
    y = mx.array(rng.normal(size=(4, 2)), dtype=mx.float64)

    def loss(inp, target):
        return mx.mean(mx.square(model(inp) - target))

    value, grads = nn.value_and_grad(model, loss)(x, y)
    assert flat_names(grads) == flat_names(model.trainable_parameters())
    params = dict(tree_flatten(model.trainable_parameters()))

    def f(key, pert):
        saved = params[key]
        model.update(dict_tree(key, mx.array(pert, dtype=mx.float64)))
        v = loss(x, y).item()
        model.update(dict_tree(key, saved))
        return v

    np.testing.assert_allclose(value.item(), loss(x, y).item(), rtol=1e-12)
    expected = numeric_grad(f, model.trainable_parameters())
    for key, g in tree_flatten(grads):
        np.testing.assert_allclose(np.array(g), expected[key], rtol=1e-5, atol=1e-7)


def dict_tree(key, value):
    from mlx.utils import tree_unflatten
    return tree_unflatten([(key, value)])


def test_value_and_grad_keyword_args_and_wraps():
    model = nn.Linear(2, 1)

    def my_loss(x, scale=1.0):
        """doc"""
        return (model(x) * scale).sum()

    f = nn.value_and_grad(model, my_loss)
    assert f.__name__ == "my_loss"
    x = mx.ones((3, 2))
    v1, g1 = f(x)
    v2, g2 = f(x, scale=2.0)
    np.testing.assert_allclose(v2.item(), 2 * v1.item(), rtol=1e-5)
    np.testing.assert_allclose(np.array(g2["weight"]), 2 * np.array(g1["weight"]), rtol=1e-5)
    np.testing.assert_allclose(np.array(g1["bias"]), [3.0])


def test_checkpoint_same_gradients(rng):
    mx.random.seed(5)
    model = MLP()
    x = mx.array(rng.normal(size=(4, 3)).astype(np.float32))
    plain = nn.value_and_grad(model, lambda inp: model(inp).sum())(x)
    ckpt_model = nn.utils.checkpoint(model)
    ckpt = nn.value_and_grad(model, lambda inp: ckpt_model(inp).sum())(x)
    np.testing.assert_allclose(plain[0].item(), ckpt[0].item(), rtol=1e-6)
    for (k1, a), (k2, b) in zip(tree_flatten(plain[1]), tree_flatten(ckpt[1])):
        assert k1 == k2
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)
    # a custom function over the module, gradient wrt the input too
    fn = nn.utils.checkpoint(model, lambda inp: model(inp) * 3)
    gx = mx.grad(lambda inp: fn(inp).sum())(x)
    gx_ref = mx.grad(lambda inp: (model(inp) * 3).sum())(x)
    np.testing.assert_allclose(np.array(gx), np.array(gx_ref), rtol=1e-5, atol=1e-6)


def test_training_loop_reduces_loss(rng):
    mx.random.seed(0)
    n = 64
    pts = rng.normal(size=(n, 2)).astype(np.float32)
    labels = (pts[:, 0] + pts[:, 1] > 0).astype(np.float32)
    x, y = mx.array(pts), mx.array(labels)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))

    def loss_fn(inp, target):
        logits = model(inp).squeeze(-1)
        return mx.mean(mx.logaddexp(0.0, logits) - target * logits)

    step = nn.value_and_grad(model, loss_fn)
    first, _ = step(x, y)
    first = first.item()
    for _ in range(150):
        loss, grads = step(x, y)
        model.update(tree_map(lambda p, g: p - 0.5 * g, model.parameters(), grads))
        mx.eval(model.parameters())
    final = loss_fn(x, y).item()
    assert final < 0.5 * first
    acc = np.mean((np.array(model(x).squeeze(-1)) > 0) == (labels > 0))
    assert acc >= 0.9


def test_average_gradients_single_process():
    if not hasattr(mx.distributed, "init"):
        pytest.skip("mx.distributed.init is not available")
    grads = {"a": mx.ones((3,)), "b": [mx.zeros((2, 2))]}
    out = nn.average_gradients(grads)
    assert out is grads  # a group of one returns the tree untouched


class Net(nn.Module):
    """The architecture of data/nn_mlx_net.safetensors."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.conv = nn.Conv1d(6, 4, 3, padding=1, groups=2)
        self.norm = nn.LayerNorm(4)
        self.rms = nn.RMSNorm(4)
        self.bn = nn.BatchNorm(4)
        self.head = [nn.Linear(4, 5), nn.Linear(5, 3, bias=False)]

    def __call__(self, ids):
        x = self.embed(ids)
        x = self.rms(self.norm(self.conv(x)))
        x = self.bn(x)
        x = nn.gelu(self.head[0](x))
        return self.head[1](x)


def test_loads_weights_saved_by_mlx():
    # data/nn_mlx_net.safetensors: Net's weights saved by MLX 0.32's save_weights (seed 11);
    # data/nn_mlx_net_io.npz: token ids and that model's output for them in eval mode.
    import os
    data = os.path.join(os.path.dirname(__file__), "data")
    net = Net()
    net.load_weights(os.path.join(data, "nn_mlx_net.safetensors"))
    net.eval()
    io = np.load(os.path.join(data, "nn_mlx_net_io.npz"))
    out = net(mx.array(io["ids"]))
    np.testing.assert_allclose(np.array(out), io["out"], rtol=1e-5, atol=1e-5)
    assert sorted(mx.load(os.path.join(data, "nn_mlx_net.safetensors"))) == flat_names(
        net.parameters())
