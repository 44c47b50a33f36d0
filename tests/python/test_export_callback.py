"""mx.export_function with a callback (python-api.md section 18): the traced graph is
described to the callback as MLX 0.32 does it: one dict per event (inputs, keyword_inputs,
outputs, constants, then one per primitive), keys in MLX's order, nodes named A..Z, AA, ...,
primitive parameters as MLX's state. The golden events below were printed by Apple MLX 0.32
(Linux CPU build) running the same functions, with dtypes written as str() and arrays as
("array", tolist(), dtype)."""
import numpy as np
import pytest

import mlx.core as mx


def _norm(v):
    if isinstance(v, mx.Dtype):
        return str(v)
    if isinstance(v, mx.array):
        return ("array", v.tolist(), str(v.dtype))
    if isinstance(v, tuple):
        return tuple(_norm(a) for a in v)
    if isinstance(v, list):
        return [_norm(a) for a in v]
    return v


def _events(f, *args, **kwargs):
    raw = []
    mx.export_function(raw.append, f, *args, **kwargs)
    assert all(type(d) is dict for d in raw)
    return raw, [[(k, _norm(v)) for k, v in d.items()] for d in raw]


X = mx.array([[1.0, 2.0], [3, 4]])
Y = mx.array([3.0, 4.0])

BASIC = [[('inputs', [('A', (2, 2), 'mlx.core.float32'), ('B', (2,), 'mlx.core.float32')]), ('type', 'inputs')], [('keywords', []), ('type', 'keyword_inputs')], [('outputs', [('C', (2, 2), 'mlx.core.float32')]), ('type', 'outputs')], [('constants', [('D', ('array', 2.0, 'mlx.core.float32'))]), ('type', 'constants')], [('arguments', []), ('outputs', [('E', (2, 2), 'mlx.core.float32')]), ('inputs', [('A', (2, 2), 'mlx.core.float32')]), ('name', 'Exp'), ('type', 'primitive')], [('arguments', [(2,)]), ('outputs', [('F', (2,), 'mlx.core.float32')]), ('inputs', [('D', (), 'mlx.core.float32')]), ('name', 'Broadcast'), ('type', 'primitive')], [('arguments', []), ('outputs', [('G', (2,), 'mlx.core.float32')]), ('inputs', [('B', (2,), 'mlx.core.float32'), ('F', (2,), 'mlx.core.float32')]), ('name', 'Multiply'), ('type', 'primitive')], [('arguments', [(2, 2)]), ('outputs', [('H', (2, 2), 'mlx.core.float32')]), ('inputs', [('G', (2,), 'mlx.core.float32')]), ('name', 'Broadcast'), ('type', 'primitive')], [('arguments', []), ('outputs', [('C', (2, 2), 'mlx.core.float32')]), ('inputs', [('E', (2, 2), 'mlx.core.float32'), ('H', (2, 2), 'mlx.core.float32')]), ('name', 'Add'), ('type', 'primitive')]]

KW = [[('inputs', [('A', (2, 2), 'mlx.core.float32'), ('B', (2,), 'mlx.core.float32')]), ('type', 'inputs')], [('keywords', [('y', 'B')]), ('type', 'keyword_inputs')], [('outputs', [('C', (2, 2), 'mlx.core.float32')]), ('type', 'outputs')], [('constants', [('D', ('array', 2.0, 'mlx.core.float32'))]), ('type', 'constants')], [('arguments', []), ('outputs', [('E', (2, 2), 'mlx.core.float32')]), ('inputs', [('A', (2, 2), 'mlx.core.float32')]), ('name', 'Exp'), ('type', 'primitive')], [('arguments', [(2,)]), ('outputs', [('F', (2,), 'mlx.core.float32')]), ('inputs', [('D', (), 'mlx.core.float32')]), ('name', 'Broadcast'), ('type', 'primitive')], [('arguments', []), ('outputs', [('G', (2,), 'mlx.core.float32')]), ('inputs', [('B', (2,), 'mlx.core.float32'), ('F', (2,), 'mlx.core.float32')]), ('name', 'Multiply'), ('type', 'primitive')], [('arguments', [(2, 2)]), ('outputs', [('H', (2, 2), 'mlx.core.float32')]), ('inputs', [('G', (2,), 'mlx.core.float32')]), ('name', 'Broadcast'), ('type', 'primitive')], [('arguments', []), ('outputs', [('C', (2, 2), 'mlx.core.float32')]), ('inputs', [('E', (2, 2), 'mlx.core.float32'), ('H', (2, 2), 'mlx.core.float32')]), ('name', 'Add'), ('type', 'primitive')]]

IDENT = [[('inputs', [('A', (2, 2), 'mlx.core.float32'), ('B', (2, 2), 'mlx.core.float32')]), ('type', 'inputs')], [('keywords', []), ('type', 'keyword_inputs')], [('outputs', [('A', (2, 2), 'mlx.core.float32'), ('A', (2, 2), 'mlx.core.float32'), ('C', (2, 2), 'mlx.core.float32')]), ('type', 'outputs')], [('constants', []), ('type', 'constants')], [('arguments', []), ('outputs', [('C', (2, 2), 'mlx.core.float32')]), ('inputs', [('B', (2, 2), 'mlx.core.float32'), ('B', (2, 2), 'mlx.core.float32')]), ('name', 'Multiply'), ('type', 'primitive')]]


def test_events_match_mlx():
    _, ev = _events(lambda x, y: mx.exp(x) + y * 2, X, Y)
    assert ev == BASIC


def test_keyword_inputs_match_mlx():
    _, ev = _events(lambda x, y: mx.exp(x) + y * 2, X, y=Y)
    assert ev == KW
    _, ev2 = _events(lambda x, y: mx.exp(x) + y * 2, (X,), {"y": Y})
    assert ev2 == KW


def test_inputs_returned_as_outputs_keep_their_names():
    _, ev = _events(lambda x, y: (x, x, y * y), X, X)
    assert ev == IDENT


def test_value_types():
    raw, _ = _events(lambda x: mx.sum(x * 3, axis=0), X)
    assert [d["type"] for d in raw] == ["inputs", "keyword_inputs", "outputs", "constants"] + ["primitive"] * (len(raw) - 4)
    name, shape, dtype = raw[0]["inputs"][0]
    assert (type(name), type(shape), type(dtype)) == (str, tuple, mx.Dtype)
    cname, carr = raw[3]["constants"][0]
    assert isinstance(carr, mx.array) and carr.item() == 3.0
    for d in raw[4:]:
        assert list(d) == ["arguments", "outputs", "inputs", "name", "type"]
        assert type(d["arguments"]) is list


@pytest.mark.parametrize("n, last_in", [(30, "AE"), (702, "AAA"), (703, "AAB")])
def test_names_continue_past_z(n, last_in):
    # input A, output B, then the n - 1 intermediate results C, D, ..., Z, AA, ...
    def f(x):
        for _ in range(n):
            x = mx.sin(x)
        return x

    raw, _ = _events(f, Y)
    assert raw[2]["outputs"][0][0] == "B"
    assert raw[-1]["inputs"][0][0] == last_in and raw[-1]["outputs"][0][0] == "B"
    names = [d["outputs"][0][0] for d in raw[4:-1]]
    assert len(set(names)) == n - 1


ARGS = {
    'sum' : [('Reduce', [2, [1]])] ,
    'max' : [('Reduce', [5, [0, 1]])] ,
    'transpose' : [('Transpose', [[1, 0]])] ,
    'reshape' : [('Reshape', [(3, 2)])] ,
    'astype' : [('AsType', ['mlx.core.int16'])] ,
    'softmax' : [('Softmax', [True])] ,
    'argmin' : [('ArgReduce', [0, 0])] ,
    'cummax' : [('Scan', [0, 1, True, False])] ,
    'cumprod' : [('Scan', [3, 0, False, True])] ,
    'log2' : [('Log', [0])] ,
    'log10' : [('Log', [1])] ,
    'log' : [('Log', [2])] ,
    'rsqrt' : [('Sqrt', [True])] ,
    'sqrt' : [('Sqrt', [False])] ,
    'slice' : [('Slice', [(1, 1), (2, 3), (1, 1)])] ,
    'sort' : [('Sort', [0])] ,
    'argsort' : [('ArgSort', [1])] ,
    'partition' : [('Partition', [1, 1])] ,
    'concat' : [('Concatenate', [1])] ,
    'matmul' : [('Transpose', [[1, 0]]), ('Matmul', [])] ,
    'equal' : [('Equal', [False])] ,
    'band' : [('AsType', ['mlx.core.int32']), ('BitwiseBinary', [0])] ,
    'shl' : [('AsType', ['mlx.core.int32']), ('BitwiseBinary', [3])] ,
    'view' : [('View', ['mlx.core.uint32'])] ,
    'take_along' : [('GatherAxis', [1])] ,
    'pad' : [('Pad', [[0, 1], (0, 2), (1, 0)])] ,
    'dynslice' : [('DynamicSlice', [[0], (1, 3)])] ,
}

X23 = mx.array([[1.0, 2.0, 3.0], [3, 4, 5]])
FUNS = {
    "sum": lambda x: mx.sum(x, axis=1, keepdims=True),
    "max": lambda x: mx.max(x, axis=(0, 1), keepdims=True),
    "transpose": lambda x: mx.transpose(x),
    "reshape": lambda x: mx.reshape(x, (3, 2)),
    "astype": lambda x: x.astype(mx.int16),
    "softmax": lambda x: mx.softmax(x, axis=-1, precise=True),
    "argmin": lambda x: mx.argmin(x, axis=0, keepdims=True),
    "cummax": lambda x: mx.cummax(x, axis=1, reverse=True, inclusive=False),
    "cumprod": lambda x: mx.cumprod(x, axis=0),
    "log2": lambda x: mx.log2(x),
    "log10": lambda x: mx.log10(x),
    "log": lambda x: mx.log(x),
    "rsqrt": lambda x: mx.rsqrt(x),
    "sqrt": lambda x: mx.sqrt(x),
    "slice": lambda x: x[1:, 1:3],
    "sort": lambda x: mx.sort(x, axis=0),
    "argsort": lambda x: mx.argsort(x),
    "partition": lambda x: mx.partition(x, 1, axis=1),
    "concat": lambda x: mx.concatenate([x, x], axis=1),
    "matmul": lambda x: x @ x.T,
    "equal": lambda x: mx.equal(x, x),
    "band": lambda x: mx.bitwise_and(x.astype(mx.int32), x.astype(mx.int32)),
    "shl": lambda x: mx.left_shift(x.astype(mx.int32), x.astype(mx.int32)),
    "view": lambda x: x.view(mx.uint32),
    "take_along": lambda x: mx.take_along_axis(x, mx.array([[0], [1]]), axis=1),
    "pad": lambda x: mx.pad(x, ((0, 1), (2, 0))),
    "dynslice": lambda x: mx.slice(x, mx.array([1]), axes=(0,), slice_size=(1, 3)),
}


@pytest.mark.parametrize("name", sorted(FUNS))
def test_primitive_arguments_match_mlx(name):
    raw, _ = _events(FUNS[name], X23)
    got = [(d["name"], _norm(d["arguments"])) for d in raw if d["type"] == "primitive"]
    assert got == ARGS[name]


def test_conv_and_addmm_arguments():
    # MLX: ('Convolution', [[1], [1], [1], [1], [1], 1, False]) and ('AddMM', [2.0, 0.5])
    raw, _ = _events(lambda x: mx.conv1d(x.reshape(1, 2, 3), mx.ones((4, 2, 3)), stride=1, padding=1), X23)
    assert (raw[-1]["name"], raw[-1]["arguments"]) == ("Convolution", [[1], [1], [1], [1], [1], 1, False])
    raw, _ = _events(lambda x: mx.addmm(x, x, mx.ones((3, 3)), alpha=2.0, beta=0.5), X23)
    assert (raw[-1]["name"], raw[-1]["arguments"]) == ("AddMM", [2.0, 0.5])


_NP = {
    "Exp": np.exp, "Sin": np.sin, "Add": np.add, "Multiply": np.multiply, "Subtract": np.subtract,
    "Maximum": np.maximum, "Divide": np.divide,
}


def _interpret(raw, *inputs):
    """Evaluates the described graph with NumPy (enough primitives for the tests below)."""
    env = {n: np.array(a, dtype=np.float64) for (n, _, _), a in zip(raw[0]["inputs"], inputs)}
    for n, a in raw[3]["constants"]:
        env[n] = np.array(a, dtype=np.float64)
    for d in raw[4:]:
        ins = [env[n] for n, _, _ in d["inputs"]]
        name, args = d["name"], d["arguments"]
        if name in _NP:
            r = _NP[name](*ins)
        elif name == "Broadcast":
            r = np.broadcast_to(ins[0], args[0])
        elif name == "Reshape":
            r = ins[0].reshape(args[0])
        elif name == "Transpose":
            r = ins[0].transpose(args[0])
        elif name == "Reduce":
            assert args[0] == 2
            r = ins[0].sum(axis=tuple(args[1]), keepdims=True)
        elif name == "Matmul":
            r = ins[0] @ ins[1]
        else:
            raise AssertionError(name)
        assert r.shape == d["outputs"][0][1]
        env[d["outputs"][0][0]] = r
    return [env[n] for n, _, _ in raw[2]["outputs"]]


def test_description_recomputes_the_function(rng):
    w = mx.array(rng.standard_normal((3, 4)).astype(np.float32))

    def f(x, b):
        h = mx.maximum(x @ w + b, 0.5)
        return mx.sum(mx.exp(h) * 2 - b, axis=1), h.T

    x = mx.array(rng.standard_normal((5, 3)).astype(np.float32))
    b = mx.array(rng.standard_normal((4,)).astype(np.float32))
    raw, _ = _events(f, x, b=b)
    assert raw[1]["keywords"] == [("b", "B")]
    got = _interpret(raw, np.array(x), np.array(b))
    ref = f(x, b)
    np.testing.assert_allclose(got[0].reshape(ref[0].shape), np.array(ref[0]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], np.array(ref[1]), rtol=1e-5, atol=1e-6)


def test_shapeless_and_dtypes():
    for dt in (mx.float16, mx.bfloat16, mx.int32, mx.uint8, mx.bool_, mx.complex64):
        a = mx.zeros((3,), dtype=dt)
        raw, _ = _events(lambda x: x * x, a, shapeless=True)
        assert raw[0]["inputs"] == [("A", (3,), dt)]
        assert raw[2]["outputs"] == [("B", (3,), dt)]
    raw, _ = _events(lambda x: x, mx.zeros((0, 2)))
    assert raw[2]["outputs"] == [("A", (0, 2), mx.float32)] and len(raw) == 4


def test_errors_as_mlx():
    with pytest.raises(ValueError, match=r"\[export_function\] The metadata argument is only supported"):
        mx.export_function(lambda d: None, lambda x: x + 1, Y, metadata="m")
    with pytest.raises(TypeError):
        mx.export_function(lambda d: None, lambda x: x + 1, Y, metadata={"a": "b"})

    def bad(d):
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        mx.export_function(bad, lambda x: x + 1, Y)
    with pytest.raises(TypeError):
        mx.export_function(lambda: None, lambda x: x + 1, Y)
    with pytest.raises(ValueError, match="Inputs can either be"):
        mx.export_function(lambda d: None, lambda x: x + 1, 3)
    with pytest.raises(ValueError, match="Outputs can be either"):
        mx.export_function(lambda d: None, lambda x: [x, [x]], Y)
    with pytest.raises(ValueError, match=r"Unable to get state for primitive CumLogAddExp"):
        mx.export_function(lambda d: None, lambda x: mx.logcumsumexp(x), Y)
    with pytest.raises(ValueError, match=r"Unable to get state for primitive Contiguous"):
        mx.export_function(lambda d: None, lambda x: mx.contiguous(x.T), X)
    with pytest.raises(ValueError, match=r"Unable to get state for primitive LUF"):
        mx.export_function(lambda d: None, lambda x: mx.linalg.lu_factor(x, stream=mx.cpu), X)
    with pytest.raises(TypeError, match="exporter"):
        mx.exporter(lambda d: None, lambda x: x)

    @mx.custom_function
    def c(x):
        return x * 2

    c.vjp(lambda p, ct, o: ct)
    with pytest.raises(ValueError):
        mx.export_function(lambda d: None, c, Y)


def test_custom_function_without_rules_is_traced_through():
    c = mx.custom_function(lambda x: x * 2)
    raw, _ = _events(c, Y)
    assert [d["name"] for d in raw[4:]] == ["Broadcast", "Multiply"]
