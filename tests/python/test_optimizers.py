"""mlx.optimizers: every optimizer run for several steps on a tree of parameters against its
published update rule written in NumPy float64, state layout and save/load, schedules as
learning rates, MultiOptimizer routing, clip_grad_norm and the constructors' errors."""
import math
from functools import partial

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten, tree_map, tree_unflatten

@pytest.fixture(autouse=True)
def _float64_on_cpu(request):
    """float64 lives on the CPU only: tests in float64 run on the CPU stream."""
    params = getattr(request.node, "callspec", None)
    dtype = params.params.get("dtype") if params is not None else None
    if isinstance(dtype, mx.Dtype) and dtype == mx.float64:
        with mx.stream(mx.cpu):
            yield
    else:
        yield


SHAPES = {"w": (4, 3), "b": (3,), "deep": [(2, 3, 5), (6,)]}
STEPS = 4


def _np_tree(rng, scale=1.0):
    return tree_map(lambda s: rng.standard_normal(s) * scale, SHAPES,
                    is_leaf=lambda s: isinstance(s, tuple))


def _to_mx(tree, dtype=mx.float32):
    return tree_map(lambda a: mx.array(a.astype(np.float32)).astype(dtype), tree)


def _flat(tree):
    return [v for _, v in tree_flatten(tree)]


def _run(opt, rng, dtype=mx.float32, steps=STEPS):
    """Run ``opt`` for ``steps`` updates on random parameters and gradients; returns the NumPy
    parameters, the per-step NumPy gradients and the final mx parameters."""
    params = _np_tree(rng)
    grads = [_np_tree(rng) for _ in range(steps)]
    # start the reference from the values the device actually holds
    p = _to_mx(params, dtype)
    params = tree_map(lambda a: np.array(a.astype(mx.float32)).astype(np.float64), p)
    for g in grads:
        p = opt.apply_gradients(_to_mx(g, dtype), p)
        mx.eval(p)
    grads = [tree_map(lambda a: np.array(_to_mx(a, dtype).astype(mx.float32), np.float64), g)
             for g in grads]
    return params, grads, p


def _check(reference, params, grads, out, rtol=2e-5, atol=2e-6):
    """Apply ``reference(p, g, state, t)`` leaf by leaf for every step, then compare."""
    flat_p = _flat(params)
    states = [dict() for _ in flat_p]
    for t, g in enumerate(grads, start=1):
        flat_p = [reference(p, gi, s, t) for p, gi, s in zip(flat_p, _flat(g), states)]
    for got, want in zip(_flat(out), flat_p):
        np.testing.assert_allclose(np.array(got.astype(mx.float32)), want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- NumPy references


def ref_sgd(lr, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
    def step(p, g, s, t):
        g = g + weight_decay * p
        if momentum <= 0:
            return p - lr * g
        v = momentum * s.get("v", np.zeros_like(p)) + (1 - dampening) * g
        s["v"] = v
        return p - lr * (g + momentum * v if nesterov else v)
    return step


def ref_rmsprop(lr, alpha=0.99, eps=1e-8):
    def step(p, g, s, t):
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
        return p - lr * g / (np.sqrt(s["v"]) + eps)
    return step


def ref_adagrad(lr, eps=1e-8):
    def step(p, g, s, t):
        s["v"] = s.get("v", 0.0) + g * g
        return p - lr * g / (np.sqrt(s["v"]) + eps)
    return step


def ref_adadelta(lr, rho=0.9, eps=1e-6):
    def step(p, g, s, t):
        v = rho * s.get("v", 0.0) + (1 - rho) * g * g
        d = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(v + eps) * g
        s["v"], s["u"] = v, rho * s.get("u", 0.0) + (1 - rho) * d * d
        return p - lr * d
    return step


def ref_adam(lr, b1=0.9, b2=0.999, eps=1e-8, bias_correction=False, weight_decay=0.0):
    def step(p, g, s, t):
        p = p * (1 - lr * weight_decay)
        m = s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        if bias_correction:
            m, v = m / (1 - b1**t), v / (1 - b2**t)
        return p - lr * m / (np.sqrt(v) + eps)
    return step


def ref_adamax(lr, b1=0.9, b2=0.999, eps=1e-8):
    def step(p, g, s, t):
        m = s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = s["v"] = np.maximum(b2 * s.get("v", 0.0), np.abs(g))
        return p - lr * m / (v + eps)
    return step


def ref_lion(lr, b1=0.9, b2=0.99, weight_decay=0.0):
    def step(p, g, s, t):
        m = s.get("m", 0.0)
        c = b1 * m + (1 - b1) * g
        s["m"] = b2 * m + (1 - b2) * g
        return p * (1 - lr * weight_decay) - lr * np.sign(c)
    return step


def ref_adafactor(lr=None, eps=(1e-30, 1e-3), clip=1.0, decay=-0.8, beta_1=None,
                  weight_decay=0.0, scale_parameter=True, relative_step=True,
                  warmup_init=False):
    def rms(x):
        return np.sqrt(np.mean(x * x))

    def step(p, g, s, t):
        if relative_step:
            rel = min(1e-6 * t if warmup_init else 1e-2, 1 / math.sqrt(t))
        else:
            rel = lr
        alpha = max(eps[1], rms(p)) * rel if scale_parameter else rel
        beta_2 = 1 - t**decay
        g2 = g * g + eps[0]
        if g.ndim >= 2:
            r = s["r"] = beta_2 * s.get("r", 0.0) + (1 - beta_2) * g2.mean(-1)
            c = s["c"] = beta_2 * s.get("c", 0.0) + (1 - beta_2) * g2.mean(-2)
            v_hat = (r / r.mean(-1, keepdims=True))[..., :, None] * c[..., None, :]
        else:
            v_hat = s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g2
        u = g / np.sqrt(v_hat)
        u = alpha * u / max(1.0, rms(u) / clip)
        if beta_1 is not None:
            u = s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * u
        return p * (1 - weight_decay * alpha) - u
    return step


def _newton_schulz(x, steps):
    a, b, c = 3.4445, -4.7750, 2.0315
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def ref_muon(lr, momentum=0.95, weight_decay=0.01, nesterov=True, ns_steps=5):
    def step(p, g, s, t):
        g = g + weight_decay * p
        v = s["v"] = momentum * s.get("v", 0.0) + (1 - momentum) * g
        u = g * (1 - momentum) + momentum * v if nesterov else v
        scale = lr
        if u.ndim >= 2:
            u = _newton_schulz(u.reshape(u.shape[0], -1), ns_steps).reshape(u.shape)
            scale = lr * math.sqrt(max(1, u.shape[-2] / u.shape[-1]))
        return p - scale * u
    return step


CASES = [
    ("sgd", lambda: optim.SGD(0.1), ref_sgd(0.1)),
    ("sgd_wd", lambda: optim.SGD(0.1, weight_decay=0.05), ref_sgd(0.1, weight_decay=0.05)),
    ("sgd_momentum", lambda: optim.SGD(0.05, momentum=0.9), ref_sgd(0.05, 0.9)),
    ("sgd_dampening", lambda: optim.SGD(0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
     ref_sgd(0.05, 0.8, 0.01, 0.3)),
    ("sgd_nesterov", lambda: optim.SGD(0.05, momentum=0.9, nesterov=True),
     ref_sgd(0.05, 0.9, nesterov=True)),
    ("rmsprop", lambda: optim.RMSprop(0.01), ref_rmsprop(0.01)),
    ("rmsprop_alpha", lambda: optim.RMSprop(0.02, alpha=0.7, eps=1e-4),
     ref_rmsprop(0.02, 0.7, 1e-4)),
    ("adagrad", lambda: optim.Adagrad(0.1), ref_adagrad(0.1)),
    ("adagrad_eps", lambda: optim.Adagrad(0.1, eps=0.5), ref_adagrad(0.1, 0.5)),
    ("adadelta", lambda: optim.AdaDelta(1.0), ref_adadelta(1.0)),
    ("adadelta_rho", lambda: optim.AdaDelta(0.5, rho=0.5, eps=1e-3),
     ref_adadelta(0.5, 0.5, 1e-3)),
    ("adam", lambda: optim.Adam(0.01), ref_adam(0.01)),
    ("adam_bias", lambda: optim.Adam(0.01, betas=[0.8, 0.9], bias_correction=True),
     ref_adam(0.01, 0.8, 0.9, bias_correction=True)),
    ("adamw", lambda: optim.AdamW(0.01), ref_adam(0.01, weight_decay=0.01)),
    ("adamw_bias", lambda: optim.AdamW(0.02, weight_decay=0.1, bias_correction=True),
     ref_adam(0.02, weight_decay=0.1, bias_correction=True)),
    ("adamax", lambda: optim.Adamax(0.01), ref_adamax(0.01)),
    ("adamax_betas", lambda: optim.Adamax(0.05, betas=[0.5, 0.6], eps=1e-3),
     ref_adamax(0.05, 0.5, 0.6, 1e-3)),
    ("lion", lambda: optim.Lion(0.01), ref_lion(0.01)),
    ("lion_wd", lambda: optim.Lion(0.01, betas=[0.5, 0.8], weight_decay=0.1),
     ref_lion(0.01, 0.5, 0.8, 0.1)),
    ("adafactor", lambda: optim.Adafactor(), ref_adafactor()),
    ("adafactor_lr", lambda: optim.Adafactor(0.01, relative_step=False, beta_1=0.9,
                                             weight_decay=0.1, clip_threshold=0.5),
     ref_adafactor(0.01, relative_step=False, beta_1=0.9, weight_decay=0.1, clip=0.5)),
    ("adafactor_warmup", lambda: optim.Adafactor(warmup_init=True, scale_parameter=False,
                                                 decay_rate=-0.5),
     ref_adafactor(warmup_init=True, scale_parameter=False, decay=-0.5)),
    ("muon", lambda: optim.Muon(0.02), ref_muon(0.02)),
    ("muon_plain", lambda: optim.Muon(0.05, momentum=0.9, weight_decay=0.0, nesterov=False,
                                      ns_steps=3),
     ref_muon(0.05, 0.9, 0.0, False, 3)),
]


@pytest.mark.parametrize("name,make,reference", CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_reference(name, make, reference, rng):
    opt = make()
    params, grads, out = _run(opt, rng)
    assert opt.step.item() == STEPS and opt.step.dtype == mx.uint64
    tol = dict(rtol=2e-4, atol=2e-5) if name.startswith("muon") else {}
    _check(reference, params, grads, out, **tol)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float32, mx.float64])
@pytest.mark.parametrize("make,reference", [
    (lambda: optim.SGD(0.1, momentum=0.9), ref_sgd(0.1, 0.9)),
    (lambda: optim.Adam(0.01, bias_correction=True), ref_adam(0.01, bias_correction=True)),
    (lambda: optim.AdamW(0.01), ref_adam(0.01, weight_decay=0.01)),
    (lambda: optim.Lion(0.01, weight_decay=0.1), ref_lion(0.01, weight_decay=0.1)),
    (lambda: optim.Adafactor(), ref_adafactor()),
    (lambda: optim.Muon(0.02), ref_muon(0.02)),
], ids=["sgd", "adam", "adamw", "lion", "adafactor", "muon"])
def test_optimizer_keeps_parameter_dtype(dtype, make, reference, rng):
    opt = make()
    params, grads, out = _run(opt, rng, dtype=dtype, steps=2)
    for leaf in _flat(out):
        assert leaf.dtype == dtype
    rtol = {mx.float16: 1e-2, mx.bfloat16: 5e-2}.get(dtype, 2e-4)
    _check(reference, params, grads, out, rtol=rtol, atol=rtol)


def test_state_layout_and_init():
    params = {"w": mx.zeros((2, 3)), "layers": [{"k": mx.ones((3,))}, {"k": mx.ones((4,))}]}
    opt = optim.Adam(0.1)
    assert sorted(opt.state) == ["learning_rate", "step"]
    assert opt.step.dtype == mx.uint64 and opt.step.item() == 0
    assert opt.learning_rate.dtype == mx.float32
    opt.init(params)
    assert sorted(opt.state["w"]) == ["m", "v"]
    assert opt.state["layers"][1]["k"]["v"].shape == (4,)
    # init keeps existing entries and fills new ones
    opt.state["w"]["m"] = mx.full((2, 3), 7.0)
    params["layers"].append({"k": mx.ones((5,))})
    params["extra"] = mx.ones((1,))
    opt.init(params)
    assert opt.state["w"]["m"].tolist() == [[7.0] * 3] * 2
    assert opt.state["layers"][2]["k"]["m"].shape == (5,)
    assert opt.state["extra"]["v"].shape == (1,)
    # stateless updates and momentum-free SGD hold nothing per parameter except its v
    sgd = optim.SGD(0.1)
    sgd.init({"a": mx.zeros((2,))})
    assert sorted(sgd.state["a"]) == ["v"]


def test_adafactor_state_shapes():
    opt = optim.Adafactor(beta_1=0.9)
    opt.init({"m": mx.zeros((2, 3, 4)), "v": mx.zeros((5,))})
    assert opt.state["m"]["exp_avg_sq_row"].shape == (2, 3)
    assert opt.state["m"]["exp_avg_sq_col"].shape == (2, 4)
    assert opt.state["m"]["exp_avg"].shape == (2, 3, 4)
    assert sorted(opt.state["v"]) == ["exp_avg", "exp_avg_sq"]
    with pytest.raises(KeyError):
        opt.learning_rate  # no learning rate given: none stored


def test_apply_gradients_subset_and_missing_state_key():
    opt = optim.SGD(1.0)
    params = {"a": mx.array([1.0, 2.0]), "b": mx.array([3.0])}
    out = opt.apply_gradients({"a": mx.array([1.0, 1.0])}, params)
    assert list(out) == ["a"] and out["a"].tolist() == [0.0, 1.0]
    with pytest.raises(KeyError):
        opt.state["nothing"]


def test_learning_rate_property_and_schedule():
    opt = optim.SGD(0.5)
    assert opt.learning_rate.item() == 0.5
    opt.learning_rate = 0.25
    assert isinstance(opt.learning_rate, mx.array) and opt.learning_rate.item() == 0.25
    out = opt.apply_gradients({"x": mx.array([2.0])}, {"x": mx.array([1.0])})
    assert out["x"].item() == pytest.approx(0.5)
    opt.learning_rate = mx.array(1.0)
    assert opt.learning_rate.item() == 1.0

    # a schedule sees the step before the increment: 0 at the first update
    sched = optim.SGD(learning_rate=lambda step: 1.0 / (step + 1.0))
    p = {"x": mx.array([0.0])}
    lrs = []
    for _ in range(4):
        p = sched.apply_gradients({"x": mx.array([1.0])}, p)
        lrs.append(sched.learning_rate.item())
    np.testing.assert_allclose(lrs, [1.0, 1 / 2, 1 / 3, 1 / 4], rtol=1e-6)
    np.testing.assert_allclose(p["x"].item(), -sum(lrs), rtol=1e-6)

    decay = optim.Adam(learning_rate=optim.exponential_decay(0.1, 0.9))
    for _ in range(5):
        decay.apply_gradients({}, {})
    assert decay.learning_rate.item() == pytest.approx(0.1 * 0.9**4, rel=1e-6)


def test_state_save_load_round_trip(tmp_path, rng):
    params = _to_mx(_np_tree(rng))
    grads = [_to_mx(_np_tree(rng)) for _ in range(4)]
    opt = optim.AdamW(learning_rate=optim.cosine_decay(0.1, 10), bias_correction=True)
    for g in grads[:2]:
        params = opt.apply_gradients(g, params)
    path = str(tmp_path / "opt.safetensors")
    mx.save_safetensors(path, dict(tree_flatten(opt.state)))

    restored = optim.AdamW(learning_rate=optim.cosine_decay(0.1, 10), bias_correction=True)
    restored.state = tree_unflatten(list(mx.load(path).items()))
    assert restored.step.dtype == mx.uint64 and restored.step.item() == 2
    p1, p2 = params, params
    for g in grads[2:]:
        p1 = opt.apply_gradients(g, p1)
        p2 = restored.apply_gradients(g, p2)
    for a, b in zip(_flat(p1), _flat(p2)):
        assert mx.array_equal(a, b)
    assert restored.step.item() == 4


def test_compiled_training_step():
    params = {"w": mx.array([1.0, 2.0])}
    opt = optim.Adam(0.1)
    opt.init(params)
    state = [params, opt.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x):
        loss, g = mx.value_and_grad(lambda p: (p["w"] * x).sum())(params)
        params.update(opt.apply_gradients(g, params))
        return loss

    eager = {"w": mx.array([1.0, 2.0])}
    eager_opt = optim.Adam(0.1)
    x = mx.array([1.0, -1.0])
    for _ in range(3):
        step(x)
        eager = eager_opt.apply_gradients({"w": x}, eager)
    np.testing.assert_allclose(np.array(params["w"]), np.array(eager["w"]), rtol=1e-6)
    assert opt.step.item() == 3


def test_multi_optimizer_routes_by_filter(rng):
    params = {"w": mx.ones((2, 2)), "b": mx.ones((2,)), "c": mx.ones((3,))}
    grads = tree_map(lambda p: mx.full(p.shape, 2.0), params)
    opt = optim.MultiOptimizer([optim.SGD(0.5), optim.Adam(0.1)],
                               [lambda path, g: g.ndim == 2])
    out = opt.apply_gradients(grads, params)
    assert sorted(out) == ["b", "c", "w"]
    assert out["w"].tolist() == [[0.0, 0.0], [0.0, 0.0]]  # SGD: 1 - 0.5 * 2
    adam = ref_adam(0.1)
    np.testing.assert_allclose(np.array(out["b"]), adam(np.ones(2), 2 * np.ones(2), {}, 1),
                               rtol=1e-6)
    state = opt.state
    assert list(state) == ["states"] and len(state["states"]) == 2
    assert "w" in state["states"][0] and "b" in state["states"][1]
    assert "w" not in state["states"][1]
    assert opt.learning_rate.item() == 0.5
    opt.learning_rate = 0.01
    assert [o.learning_rate.item() for o in opt.optimizers] == pytest.approx([0.01, 0.01])

    by_name = optim.MultiOptimizer([optim.SGD(1.0), optim.SGD(0.0), optim.SGD(0.5)],
                                   [lambda path, g: path == "b", lambda path, g: "w" in path])
    out = by_name.apply_gradients(grads, params)
    assert out["b"].tolist() == [-1.0, -1.0]
    assert out["w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert out["c"].tolist() == [0.0, 0.0, 0.0]

    single = optim.MultiOptimizer([optim.SGD(1.0)])
    assert single.apply_gradients(grads, params)["c"].tolist() == [-1.0] * 3

    with pytest.raises(ValueError, match="Given 0 filters but 1 needed"):
        optim.MultiOptimizer([optim.SGD(0.1), optim.SGD(0.1)])
    with pytest.raises(ValueError, match="Invalid state provided"):
        opt.state = {"states": [{}]}
    with pytest.raises(ValueError, match="Invalid state provided"):
        opt.state = {}
    saved = opt.state
    opt.state = {"states": saved["states"]}
    assert opt.optimizers[0].state is saved["states"][0]


def test_multi_optimizer_init():
    opt = optim.MultiOptimizer([optim.Adam(0.1), optim.SGD(0.1, momentum=0.9)],
                               [lambda path, g: path.startswith("enc")])
    opt.init({"enc": {"w": mx.zeros((2,))}, "dec": {"w": mx.zeros((3,))}})
    assert opt.state["states"][0]["enc"]["w"]["m"].shape == (2,)
    assert opt.state["states"][1]["dec"]["w"]["v"].shape == (3,)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float32])
def test_clip_grad_norm(dtype, rng):
    tree = _to_mx(_np_tree(rng), dtype)
    ref = [np.array(g.astype(mx.float32), np.float64) for g in _flat(tree)]
    norm = math.sqrt(sum(float((g**2).sum()) for g in ref))
    rtol = {mx.float16: 2e-3, mx.bfloat16: 2e-2}.get(dtype, 1e-5)
    for max_norm in (norm * 2, norm / 3, 0.0):
        clipped, total = optim.clip_grad_norm(tree, max_norm)
        assert total.item() == pytest.approx(norm, rel=rtol)
        factor = min(max_norm / (norm + 1e-6), 1.0)
        for got, want in zip(_flat(clipped), ref):
            assert got.dtype == dtype
            np.testing.assert_allclose(np.array(got.astype(mx.float32)), want * factor,
                                       rtol=rtol, atol=rtol * 1e-2)
    with pytest.raises(ValueError, match="max_norm should be >=0"):
        optim.clip_grad_norm(tree, -1.0)


def test_clip_grad_norm_float16_no_overflow():
    big = {"g": mx.full((4,), 300.0, dtype=mx.float16)}  # squares sum to 360000 > f16 max
    clipped, total = optim.clip_grad_norm(big, 1.0)
    assert total.item() == pytest.approx(600.0, rel=1e-4)
    np.testing.assert_allclose(np.array(clipped["g"].astype(mx.float32)), [0.5] * 4, rtol=1e-3)
    same, total = optim.clip_grad_norm({"a": mx.array([3.0]), "b": [mx.array([4.0])]}, 10.0)
    assert total.item() == pytest.approx(5.0) and same["b"][0].item() == pytest.approx(4.0)


@pytest.mark.parametrize("make,message", [
    (lambda: optim.SGD(0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda: optim.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.RMSprop(0.1, alpha=-0.1), r"RMSprop alpha should be >=0, -0.1"),
    (lambda: optim.RMSprop(0.1, eps=0.0), r"RMSprop epsilon should be >0, 0.0"),
    (lambda: optim.Adagrad(0.1, eps=-1.0), r"Adagrad epsilon should be >0, -1.0"),
    (lambda: optim.AdaDelta(0.1, rho=-1.0), r"AdaDelta rho should be >=0, -1.0"),
    (lambda: optim.AdaDelta(0.1, eps=0.0), r"AdaDelta epsilon should be >0"),
    (lambda: optim.Adam(0.1, betas=[1.0, 0.9]), r"Adam beta1 should be in \[0, 1\), 1.0"),
    (lambda: optim.AdamW(0.1, betas=[0.9, -0.1]), r"Adam beta2 should be in \[0, 1\)"),
    (lambda: optim.Adam(0.1, eps=-1e-8), r"Adam epsilon should be >=0"),
    (lambda: optim.Adamax(0.1, betas=[0.9, 1.5]), r"Adam beta2 should be in \[0, 1\)"),
    (lambda: optim.Lion(0.1, betas=[0.9, 1.0]), r"Lion beta2 should be in \[0, 1\)"),
])
def test_constructor_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_base_class_hooks_raise():
    opt = optim.Optimizer()
    with pytest.raises(NotImplementedError):
        opt.init({"a": mx.zeros((1,))})
    with pytest.raises(NotImplementedError):
        opt.apply_single(mx.zeros((1,)), mx.zeros((1,)), {})
    assert opt.state["step"].item() == 0


def test_schedulers_argument_of_base_class():
    class Plain(optim.Optimizer):
        def init_single(self, parameter, state):
            pass

        def apply_single(self, gradient, parameter, state):
            return parameter - self.state["scale"] * gradient

    opt = Plain(schedulers={"scale": lambda step: step * 2.0 + 1.0})
    p = {"x": mx.array([0.0])}
    for _ in range(3):
        p = opt.apply_gradients({"x": mx.array([1.0])}, p)
    assert opt.state["scale"].item() == 5.0  # evaluated at step 2 on the third update
    assert p["x"].item() == -(1.0 + 3.0 + 5.0)


def test_empty_and_non_contiguous_parameters():
    opt = optim.Adam(0.1)
    out = opt.apply_gradients({"e": mx.zeros((0, 3))}, {"e": mx.zeros((0, 3))})
    assert out["e"].shape == (0, 3)
    base = mx.arange(12.0).reshape(3, 4)
    p = {"t": base.T, "s": base[:, ::2]}
    g = {"t": mx.ones((3, 4)).T, "s": mx.ones((3, 2))}
    out = optim.SGD(0.5).apply_gradients(g, p)
    np.testing.assert_allclose(np.array(out["t"]), np.arange(12.0).reshape(3, 4).T - 0.5)
    np.testing.assert_allclose(np.array(out["s"]), np.arange(12.0).reshape(3, 4)[:, ::2] - 0.5)


# ---------------------------------------------------------------- schedules

STEP_VALUES = [0, 1, 2, 5, 9, 10, 11, 37, 100]


def _at(schedule, step):
    return schedule(mx.array(step, mx.uint64)).item()


@pytest.mark.parametrize("schedule,closed_form", [
    (optim.exponential_decay(0.1, 0.9), lambda s: 0.1 * 0.9**s),
    (optim.exponential_decay(2.0, 0.5), lambda s: 2.0 * 0.5**s),
    (optim.step_decay(0.1, 0.9, 10), lambda s: 0.1 * 0.9 ** (s // 10)),
    (optim.step_decay(1.0, 0.5, 3), lambda s: 0.5 ** (s // 3)),
    (optim.cosine_decay(0.1, 10),
     lambda s: 0.5 * (1 + math.cos(math.pi * min(s, 10) / 10)) * 0.1),
    (optim.cosine_decay(1.0, 37, end=0.2),
     lambda s: 0.2 + 0.5 * (1 + math.cos(math.pi * min(s, 37) / 37)) * 0.8),
    (optim.linear_schedule(0.0, 0.1, 10), lambda s: min(s, 10) * 0.01),
    (optim.linear_schedule(1.0, 0.5, 4), lambda s: 1.0 - min(s, 4) * 0.125),
    (optim.join_schedules([optim.linear_schedule(0.0, 0.1, 10), optim.cosine_decay(0.1, 20)],
                          [10]),
     lambda s: s * 0.01 if s < 10
     else 0.05 * (1 + math.cos(math.pi * min(s - 10, 20) / 20))),
    (optim.join_schedules([optim.exponential_decay(1.0, 0.5),
                           optim.linear_schedule(3.0, 4.0, 2),
                           optim.step_decay(7.0, 0.1, 1)], [2, 9]),
     lambda s: 0.5**s if s < 2 else (3.0 + min(s - 2, 2) * 0.5 if s < 9
                                     else 7.0 * 0.1 ** (s - 9))),
    (optim.join_schedules([optim.exponential_decay(0.3, 0.5)], []), lambda s: 0.3 * 0.5**s),
], ids=["exp", "exp2", "step", "step2", "cosine", "cosine_end", "linear", "linear_down",
        "join", "join3", "join1"])
def test_schedule_closed_form(schedule, closed_form):
    got = [_at(schedule, s) for s in STEP_VALUES]
    np.testing.assert_allclose(got, [closed_form(s) for s in STEP_VALUES], rtol=1e-5,
                               atol=1e-7)


def test_schedule_drives_optimizer():
    warmup = optim.linear_schedule(0.0, 1.0, 3)
    opt = optim.SGD(learning_rate=warmup)
    assert opt.learning_rate.item() == 0.0
    p = {"x": mx.array([0.0])}
    seen = []
    for _ in range(5):
        p = opt.apply_gradients({"x": mx.array([1.0])}, p)
        seen.append(opt.learning_rate.item())
    np.testing.assert_allclose(seen, [0.0, 1 / 3, 2 / 3, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(p["x"].item(), -sum(seen), rtol=1e-6)
    adafactor = optim.Adafactor(learning_rate=optim.step_decay(0.1, 0.5, 1),
                                relative_step=False, scale_parameter=False)
    adafactor.apply_gradients({"x": mx.array([1.0])}, {"x": mx.array([0.0])})
    adafactor.apply_gradients({"x": mx.array([1.0])}, {"x": mx.array([0.0])})
    assert adafactor.learning_rate.item() == pytest.approx(0.05)


def test_schedule_errors():
    with pytest.raises(ValueError, match="step_size must be greater than 0, but got 0"):
        optim.step_decay(0.1, 0.9, 0)
    with pytest.raises(ValueError, match="decay_steps must be greater than 0, but got -1"):
        optim.cosine_decay(0.1, -1)
    with pytest.raises(ValueError, match="steps must be greater than 0, but got 0"):
        optim.linear_schedule(0.1, 0.0, 0)
    with pytest.raises(ValueError, match="Must provide at least 1 schedule to join"):
        optim.join_schedules([], [])
    with pytest.raises(ValueError, match="Received 2 boundaries but expected 1"):
        optim.join_schedules([optim.exponential_decay(1, 1)] * 2, [1, 2])
    assert optim.schedulers.cosine_decay is optim.cosine_decay


ALL_CLASSES = [optim.SGD, optim.RMSprop, optim.Adagrad, optim.AdaDelta, optim.Adam, optim.AdamW,
               optim.Adamax, optim.Lion, optim.Adafactor, optim.Muon]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_optimizer_with_schedule_and_float16(cls):
    opt = cls(learning_rate=optim.step_decay(0.1, 0.9, 1))
    params = {"first": [mx.zeros((10,), mx.float16), mx.zeros((3, 4), mx.float16)],
              "second": mx.zeros((1,), mx.float16)}
    grads = tree_map(lambda p: mx.ones_like(p), params)
    for it in range(4):
        out = opt.apply_gradients(grads, params)
        assert opt.learning_rate.item() == pytest.approx(0.1 * 0.9**it, rel=1e-6)
    for p, o in zip(_flat(params), _flat(out)):
        assert o.shape == p.shape and o.dtype == mx.float16
    # the state starts at zero for every parameter
    fresh = cls(0.1)
    fresh.init(params)
    for path, value in tree_flatten(fresh.state):
        if path not in ("step", "learning_rate"):
            assert not np.any(np.array(value.astype(mx.float32))), path


def test_plain_dict_as_model_and_compiled_learning_rate():
    model = {"w": mx.zeros((2,))}
    optim.Adam(0.1).update(model, {"w": mx.ones((2,))})
    want = ref_adam(0.1)(np.zeros(2), np.ones(2), {}, 1)  # 0.1 * 0.1 / sqrt(0.001) = 0.316
    np.testing.assert_allclose(np.array(model["w"]), want, rtol=1e-6)

    params = {"w": mx.ones((5, 5))}
    opt = optim.SGD(-1.0)

    @partial(mx.compile, inputs=opt.state)
    def update(grads):
        return opt.apply_gradients(grads, params)

    grads = {"w": mx.ones((5, 5))}
    assert update(grads)["w"][0, 0].item() == 2.0
    opt.learning_rate = -2.0  # the compiled function reads the new value from the state
    assert update(grads)["w"][0, 0].item() == 3.0

    schedule = optim.exponential_decay(0.1, 0.9)
    scheduled = optim.SGD(learning_rate=schedule)

    @partial(mx.compile, inputs=scheduled.state, outputs=scheduled.state)
    def step():
        scheduled.update({}, {})

    for i in range(4):
        step()
        assert scheduled.learning_rate.item() == pytest.approx(0.1 * 0.9**i, rel=1e-6)
    assert scheduled.step.item() == 4


def test_update_real_module(rng):
    model = nn.Linear(3, 2)
    before = tree_map(lambda p: np.array(p), model.trainable_parameters())
    x = mx.array(rng.standard_normal((4, 3)).astype(np.float32))

    def loss(m, x):
        return mx.sum(m(x) ** 2)

    _, grads = nn.value_and_grad(model, loss)(model, x)
    opt = optim.SGD(learning_rate=0.1, momentum=0.9)
    opt.update(model, grads)
    mx.eval(model.parameters(), opt.state)
    for key in ("weight", "bias"):
        np.testing.assert_allclose(np.array(model[key]),
                                   before[key] - 0.1 * np.array(grads[key]), rtol=1e-6)
        np.testing.assert_allclose(np.array(opt.state[key]["v"]), np.array(grads[key]))

    # weights and biases to different optimizers by path
    multi = optim.MultiOptimizer([optim.SGD(0.0), optim.SGD(1.0)],
                                 [lambda path, g: path.endswith("bias")])
    weight, bias = np.array(model.weight), np.array(model.bias)
    _, grads = nn.value_and_grad(model, loss)(model, x)
    multi.update(model, grads)
    np.testing.assert_allclose(np.array(model.bias), bias)
    np.testing.assert_allclose(np.array(model.weight), weight - np.array(grads["weight"]),
                               rtol=1e-6)


def test_compiled_module_step_matches_eager(rng):
    x = mx.array(rng.standard_normal((2, 5)).astype(np.float32))

    def loss(m, x):
        return m(x).sum()

    eager = nn.Linear(5, 3)
    compiled = nn.Linear(5, 3)
    compiled.update(tree_map(lambda p: mx.array(p), eager.parameters()))
    opt_e, opt_c = optim.AdamW(0.01), optim.AdamW(0.01)
    state = [compiled.state, opt_c.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x):
        value, grads = nn.value_and_grad(compiled, loss)(compiled, x)
        opt_c.update(compiled, grads)
        return value

    for _ in range(3):
        step(x)
        _, grads = nn.value_and_grad(eager, loss)(eager, x)
        opt_e.update(eager, grads)
    for key in ("weight", "bias"):
        np.testing.assert_allclose(np.array(compiled[key]), np.array(eager[key]), rtol=1e-5,
                                   atol=1e-6)
