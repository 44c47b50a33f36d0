"""Conformance harness over tables/prims.def (DESIGN section 7): every primitive of the table
that an expression in CASES produces is checked for its vjp and jvp against central finite
differences in float64, for vmap against a Python loop, and for the compositions grad of
grad, grad of vmap and vmap of grad. Which primitive an expression produces is read from
its graph (mx.export_to_dot), so a wrong mapping shows up as "not covered". The primitives
of the table that no case covers are printed by test_report_uncovered_primitives.

A case: Case(label, fn, inputs, ...). fn takes the inputs in order; inputs are specs:
F(shape, lo, hi) float64 uniform (differentiated), B(shape) bool, I(shape, lo, hi) int32,
K() a random key. Non-float inputs are held fixed when differentiating."""
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import mlx.core as mx

PRIMS_DEF = Path(__file__).resolve().parents[2] / "tables" / "prims.def"


def table_classes():
    """The class names of tables/prims.def, in table order."""
    out = []
    for line in PRIMS_DEF.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line.split()[1])
    return out


# ---- input specs -----------------------------------------------------------------------


@dataclass
class F:
    shape: tuple
    lo: float = -2.0
    hi: float = 2.0
    away: tuple = ()  # values v with |x - v| < 0.1 are pushed away (kinks, poles)


@dataclass
class B:
    shape: tuple


@dataclass
class I:
    shape: tuple
    lo: int = 0
    hi: int = 3


@dataclass
class K:
    pass


def draw(spec, rng, batch=None):
    shape = ((batch,) if batch else ()) + getattr(spec, "shape", ())
    if isinstance(spec, F):
        x = rng.uniform(spec.lo, spec.hi, shape)
        for v in spec.away:
            near = np.abs(x - v) < 0.1
            x = np.where(near, v + np.where(x >= v, 0.1, -0.1) + (x - v), x)
        return mx.array(x, dtype=mx.float64)
    if isinstance(spec, B):
        return mx.array(rng.uniform(0, 1, shape) > 0.5)
    if isinstance(spec, I):
        return mx.array(rng.integers(spec.lo, spec.hi, shape).astype(np.int32))
    if isinstance(spec, K):
        seeds = rng.integers(0, 2**31, batch or 1)
        keys = [mx.random.key(int(s)) for s in seeds]
        return mx.stack(keys) if batch and hasattr(mx, "stack") else (
            mx.random.split(keys[0], batch) if batch else keys[0])
    raise TypeError(spec)


@dataclass
class Case:
    label: str
    fn: object
    inputs: list
    diff: bool = True          # differentiable: vjp/jvp compared with finite differences
    compose: bool = True       # also grad of grad, grad of vmap, vmap of grad
    vmap: bool = True
    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-7
    needs: tuple = ()          # names that must exist in mx for the case to run
    extra: dict = field(default_factory=dict)


def has(*names):
    def ok(name):
        obj = mx
        for part in name.split("."):
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True

    return all(ok(n) for n in names)


def setitem_fn(x, y):
    z = x * 1.0
    z[1:3] = y
    return z


MASK = np.array([[True, False, True], [False, True, False]])


def masked_set(x, v):
    z = x * 1.0
    z[mx.array(MASK)] = v
    return z


def make_custom():
    @mx.custom_function
    def f(x):
        return mx.exp(x) * x

    @f.vjp
    def f_vjp(x, c, out):
        return c * mx.exp(x) * (x + 1)

    @f.jvp
    def f_jvp(x, t):
        return t * mx.exp(x) * (x + 1)

    @f.vmap
    def f_vmap(x, ax):
        return mx.exp(x) * x, ax

    return f


def make_custom_vjp_only():
    @mx.custom_function
    def f(x, y):
        return mx.exp(x) * y

    @f.vjp
    def f_vjp(p, c, out):
        x, y = p
        return c * mx.exp(x) * y, c * mx.exp(x)

    return f


SH = (2, 3)
U = lambda lo=-2.0, hi=2.0, away=(): [F(SH, lo, hi, away)]  # noqa: E731
BIN = [F(SH), F((3,))]

# class name -> cases. Names follow MLX's primitive classes; a case runs only when its
# functions exist (other families land in other branches) and its graph holds the class.
CASES = {
    "Abs": [Case("abs", mx.abs, U(away=(0.0,)))],
    "Negative": [Case("negative", lambda x: -x, U())],
    "Exp": [Case("exp", mx.exp, U())],
    "Log": [Case("log", mx.log, U(0.2, 2.0))],
    "Log2": [Case("log2", lambda x: mx.log2(x), U(0.2, 2.0), needs=("log2",))],
    "Log10": [Case("log10", lambda x: mx.log10(x), U(0.2, 2.0), needs=("log10",))],
    "Sqrt": [Case("sqrt", mx.sqrt, U(0.2, 2.0))],
    "Rsqrt": [Case("rsqrt", lambda x: mx.rsqrt(x), U(0.2, 2.0), needs=("rsqrt",))],
    "ErfInv": [Case("erfinv", mx.erfinv, U(-0.8, 0.8))],
    "Floor": [Case("floor", mx.floor, U(away=(-2.0, -1.0, 0.0, 1.0, 2.0)), diff=False)],
    "Sign": [Case("sign", mx.sign, U(away=(0.0,)), diff=False)],
    "Copy": [Case("copy", lambda x: mx.copy(x), U(), needs=("copy",))],
    "AsType": [Case("astype", lambda x: x.astype(mx.float32).astype(mx.float64), U(),
                    eps=1e-3, rtol=1e-3, atol=1e-4)],
    "Add": [Case("add", lambda a, b: a + b, BIN)],
    "Subtract": [Case("subtract", lambda a, b: a - b, BIN)],
    "Multiply": [Case("multiply", lambda a, b: a * b, BIN)],
    "Divide": [Case("divide", lambda a, b: a / b, [F(SH), F((3,), 0.5, 2.0)])],
    "Maximum": [Case("maximum", mx.maximum, BIN)],
    "Minimum": [Case("minimum", mx.minimum, BIN)],
    "Equal": [Case("equal", lambda a, b: mx.equal(mx.floor(a), mx.floor(b)), BIN, diff=False)],
    "NotEqual": [Case("not_equal", lambda a, b: mx.not_equal(mx.floor(a), mx.floor(b)), BIN, diff=False)],
    "Less": [Case("less", mx.less, BIN, diff=False)],
    "LessEqual": [Case("less_equal", mx.less_equal, BIN, diff=False)],
    "Greater": [Case("greater", mx.greater, BIN, diff=False)],
    "GreaterEqual": [Case("greater_equal", mx.greater_equal, BIN, diff=False)],
    "Select": [Case("where", mx.where, [B(SH), F(SH), F((3,))])],
    "Reduce": [Case("sum", lambda x: mx.sum(x, axis=1), U()),
               Case("sum_all", lambda x: mx.sum(x), U()),
               Case("max", lambda x: mx.max(x, axis=0), U(), needs=("max",)),
               Case("min", lambda x: mx.min(x, axis=1), U(), needs=("min",)),
               Case("prod", lambda x: mx.prod(x, axis=1), U(0.5, 1.5), needs=("prod",))],
    "Reshape": [Case("reshape", lambda x: x.reshape(3, 2), U())],
    "Transpose": [Case("transpose", lambda x: x.T, U())],
    "Broadcast": [Case("broadcast_to", lambda x: mx.broadcast_to(x, (2, 2, 3)), U())],
    "Slice": [Case("slice", lambda x: x[1:, ::2], U()),
              Case("slice_neg", lambda x: x[:, ::-1], U())],
    "StopGradient": [Case("stop_gradient", mx.stop_gradient, U(), diff=False)],
    "SliceUpdate": [Case("setitem", setitem_fn, [F((4, 3)), F((2, 3))])],
    "Matmul": [Case("matmul", lambda a, b: a @ b, [F((2, 3)), F((3, 4))]),
               Case("matvec", lambda a, b: a @ b, [F((2, 3)), F((3,))])],
    "RandomBits": [Case("bits", lambda k: mx.random.uniform(shape=(3,), key=k), [K()], diff=False)],
    "Depends": [Case("depends", lambda a, b: mx.depends([a * 2], [b])[0] + b, [F(SH), F(SH)])],
    "CustomTransforms": [Case("custom_function", lambda x: make_custom()(x), U()),
                         Case("custom_vjp_only", lambda a, b: make_custom_vjp_only()(a, b),
                              [F(SH), F(SH)]),
                         Case("checkpoint", lambda x: mx.checkpoint(lambda u: mx.exp(u) * u)(x), U())],
    # ---- families of the other branches (run once their functions exist) ----
    "Sin": [Case("sin", lambda x: mx.sin(x), U(), needs=("sin",))],
    "Cos": [Case("cos", lambda x: mx.cos(x), U(), needs=("cos",))],
    "Tan": [Case("tan", lambda x: mx.tan(x), U(-1.2, 1.2), needs=("tan",))],
    "Sinh": [Case("sinh", lambda x: mx.sinh(x), U(), needs=("sinh",))],
    "Cosh": [Case("cosh", lambda x: mx.cosh(x), U(), needs=("cosh",))],
    "Tanh": [Case("tanh", lambda x: mx.tanh(x), U(), needs=("tanh",))],
    "ArcSin": [Case("arcsin", lambda x: mx.arcsin(x), U(-0.8, 0.8), needs=("arcsin",))],
    "ArcCos": [Case("arccos", lambda x: mx.arccos(x), U(-0.8, 0.8), needs=("arccos",))],
    "ArcTan": [Case("arctan", lambda x: mx.arctan(x), U(), needs=("arctan",))],
    "ArcSinh": [Case("arcsinh", lambda x: mx.arcsinh(x), U(), needs=("arcsinh",))],
    "ArcCosh": [Case("arccosh", lambda x: mx.arccosh(x), U(1.2, 3.0), needs=("arccosh",))],
    "ArcTanh": [Case("arctanh", lambda x: mx.arctanh(x), U(-0.8, 0.8), needs=("arctanh",))],
    "ArcTan2": [Case("arctan2", lambda a, b: mx.arctan2(a, b), [F(SH), F((3,), 0.5, 2.0)],
                     needs=("arctan2",))],
    "Erf": [Case("erf", lambda x: mx.erf(x), U(), needs=("erf",))],
    "Expm1": [Case("expm1", lambda x: mx.expm1(x), U(), needs=("expm1",))],
    "Log1p": [Case("log1p", lambda x: mx.log1p(x), U(-0.8, 2.0), needs=("log1p",))],
    "Sigmoid": [Case("sigmoid", lambda x: mx.sigmoid(x), U(), needs=("sigmoid",))],
    "Square": [Case("square", lambda x: mx.square(x), U(), needs=("square",))],
    "Ceil": [Case("ceil", lambda x: mx.ceil(x), U(away=(-2.0, -1.0, 0.0, 1.0, 2.0)), diff=False,
                  needs=("ceil",))],
    "Round": [Case("round", lambda x: mx.round(x), U(away=(-1.5, -0.5, 0.5, 1.5)), diff=False,
                   needs=("round",))],
    "Power": [Case("power", lambda a, b: mx.power(a, b), [F(SH, 0.5, 2.0), F((3,))], needs=("power",))],
    "Remainder": [Case("remainder", lambda a, b: mx.remainder(a, b),
                       [F(SH, 0.1, 0.9), F((3,), 1.0, 1.0 + 1e-9)], needs=("remainder",))],
    "LogAddExp": [Case("logaddexp", lambda a, b: mx.logaddexp(a, b), BIN, needs=("logaddexp",))],
    "LogicalNot": [Case("logical_not", lambda c: mx.logical_not(c), [B(SH)], diff=False,
                        needs=("logical_not",))],
    "LogicalAnd": [Case("logical_and", lambda a, b: mx.logical_and(a, b), [B(SH), B(SH)], diff=False,
                        needs=("logical_and",))],
    "LogicalOr": [Case("logical_or", lambda a, b: mx.logical_or(a, b), [B(SH), B(SH)], diff=False,
                       needs=("logical_or",))],
    "BitwiseBinary": [Case("bitwise_and", lambda a, b: mx.bitwise_and(a, b), [I(SH, 0, 8), I(SH, 0, 8)],
                           diff=False, needs=("bitwise_and",))],
    "BitwiseAnd": [Case("bitwise_and", lambda a, b: mx.bitwise_and(a, b), [I(SH, 0, 8), I(SH, 0, 8)],
                        diff=False, needs=("bitwise_and",))],
    "BitwiseOr": [Case("bitwise_or", lambda a, b: mx.bitwise_or(a, b), [I(SH, 0, 8), I(SH, 0, 8)],
                       diff=False, needs=("bitwise_or",))],
    "BitwiseXor": [Case("bitwise_xor", lambda a, b: mx.bitwise_xor(a, b), [I(SH, 0, 8), I(SH, 0, 8)],
                        diff=False, needs=("bitwise_xor",))],
    "LeftShift": [Case("left_shift", lambda a, b: mx.left_shift(a, b), [I(SH, 0, 8), I(SH, 0, 4)],
                       diff=False, needs=("left_shift",))],
    "RightShift": [Case("right_shift", lambda a, b: mx.right_shift(a, b), [I(SH, 0, 64), I(SH, 0, 4)],
                        diff=False, needs=("right_shift",))],
    "BitwiseInvert": [Case("bitwise_invert", lambda a: mx.bitwise_invert(a), [I(SH, 0, 8)], diff=False,
                           needs=("bitwise_invert",))],
    "Conjugate": [Case("conjugate", lambda x: mx.real(mx.conjugate(x * (1 + 2j)) * (1 - 1j)), U(),
                       eps=1e-3, rtol=1e-3, atol=1e-4, needs=("conjugate", "real"))],
    "Real": [Case("real", lambda x: mx.real(x * (1 + 2j)), U(), eps=1e-3, rtol=1e-3, atol=1e-4,
                  needs=("real",))],
    "Imag": [Case("imag", lambda x: mx.imag(x * (1 + 2j)), U(), eps=1e-3, rtol=1e-3, atol=1e-4,
                  needs=("imag",))],
    "Arange": [Case("arange", lambda x: x * mx.arange(3).astype(mx.float64), U(), needs=("arange",))],
    "DivMod": [Case("divmod", lambda a, b: mx.divmod(a, b), [F(SH, 0.1, 0.9), F((3,), 1.0, 1.5)],
                    needs=("divmod",))],
    "View": [Case("view", lambda x: mx.view(x, mx.int64), U(), diff=False, needs=("view",))],
    "MaskedScatter": [Case("masked_scatter", lambda x, v: masked_set(x, v), [F((2, 3)), F((3,))])],
    "DynamicSlice": [Case("dynamic_slice", lambda x: mx.slice(x, mx.array([1]), (0,), (2, 3)),
                          [F((4, 3))], needs=("slice",))],
    "DynamicSliceUpdate": [Case("dynamic_slice_update",
                                lambda x, u: mx.slice_update(x, u, mx.array([1]), (0,)),
                                [F((4, 3)), F((2, 3))], needs=("slice_update",))],
    "SearchSorted": [Case("searchsorted", lambda v: mx.searchsorted(mx.array([-1.0, 0.0, 0.5, 1.5]), v),
                          U(), diff=False, needs=("searchsorted",))],
    "ArgReduce": [Case("argmax", lambda x: mx.argmax(x, axis=1), U(), diff=False, needs=("argmax",))],
    "Scan": [Case("cumsum", lambda x: mx.cumsum(x, axis=1), U(), needs=("cumsum",)),
             Case("cumprod", lambda x: mx.cumprod(x, axis=1), U(0.5, 1.5), needs=("cumprod",)),
             Case("cummax", lambda x: mx.cummax(x, axis=1), U(), needs=("cummax",))],
    "LogSumExp": [Case("logsumexp", lambda x: mx.logsumexp(x, axis=1), U(), needs=("logsumexp",))],
    "Softmax": [Case("softmax", lambda x: mx.softmax(x, axis=-1), U(), needs=("softmax",))],
    "Concatenate": [Case("concatenate", lambda a, b: mx.concatenate([a, b], axis=0), [F(SH), F(SH)],
                         needs=("concatenate",))],
    "Pad": [Case("pad", lambda x: mx.pad(x, [(1, 0), (0, 2)]), U(), needs=("pad",))],
    "Split": [Case("split", lambda x: mx.split(x, 3, axis=1)[1] * 2, U(), needs=("split",))],
    "Squeeze": [Case("squeeze", lambda x: mx.squeeze(x[:1], 0), U(), needs=("squeeze",))],
    "ExpandDims": [Case("expand_dims", lambda x: mx.expand_dims(x, 1), U())],
    "Flatten": [Case("flatten", lambda x: mx.flatten(x), U(), needs=("flatten",))],
    "Unflatten": [Case("unflatten", lambda x: mx.unflatten(x, 1, (3, 1)), U(), needs=("unflatten",))],
    "AsStrided": [Case("as_strided", lambda x: mx.as_strided(x, (2, 2), (3, 1)), U(), needs=("as_strided",))],
    "Contiguous": [Case("contiguous", lambda x: mx.contiguous(x.T), U(), needs=("contiguous",))],
    "Gather": [Case("take", lambda x, i: mx.take(x, i, axis=1), [F(SH), I((4,), 0, 3)], needs=("take",))],
    "GatherAxis": [Case("take_along_axis", lambda x, i: mx.take_along_axis(x, i, axis=1),
                        [F(SH), I(SH, 0, 3)], needs=("take_along_axis",))],
    "ScatterAxis": [Case("put_along_axis", lambda x, i, v: mx.put_along_axis(x, i, v, axis=1),
                         [F(SH), I((2, 1), 0, 3), F((2, 1))], needs=("put_along_axis",))],
    "Scatter": [Case("at_add", lambda x, v: x.at[mx.array([0, 0])].add(v), [F(SH), F((2, 3))],
                     needs=("array.at",))],
    "Sort": [Case("sort", lambda x: mx.sort(x, axis=1), U(), needs=("sort",))],
    "ArgSort": [Case("argsort", lambda x: mx.argsort(x, axis=1), U(), diff=False, needs=("argsort",))],
    "Partition": [Case("partition", lambda x: mx.partition(x, 1, axis=1), U(), needs=("partition",))],
    "ArgPartition": [Case("argpartition", lambda x: mx.argpartition(x, 1, axis=1), U(), diff=False,
                          needs=("argpartition",))],
    "AddMM": [Case("addmm", lambda c, a, b: mx.addmm(c, a, b), [F((2, 4)), F((2, 3)), F((3, 4))],
                   needs=("addmm",))],
    "Full": [Case("full", lambda x: mx.full((2, 3), x), [F(())], needs=("full",))],
    "Convolution": [Case("conv1d", lambda x, w: mx.conv1d(x, w, stride=2, padding=1, groups=2),
                         [F((2, 7, 4)), F((4, 3, 2))], needs=("conv1d",)),
                    Case("conv_transpose2d", lambda x, w: mx.conv_transpose2d(x, w, stride=2),
                         [F((1, 3, 2, 2)), F((3, 2, 2, 2))], needs=("conv_transpose2d",))],
    # the weight cotangent of a convolution (made by its vjp): differentiated again here
    "ConvolutionWeight": [Case("conv_weight_grad",
                               lambda x, c: mx.vjp(lambda w: mx.conv1d(x, w, padding=1),
                                                   [mx.zeros((3, 3, 2), mx.float64)], [c])[1][0],
                               [F((2, 5, 2)), F((2, 5, 3))], needs=("conv1d",))],
    # computed in float32 (complex64): larger steps for the differences of these linear maps
    "FFT": [Case("rfft_fft2", lambda x: (mx.real(mx.fft.rfft(x)), mx.imag(mx.fft.fft2(x, s=(3, 4)))),
                 [F((2, 6))], eps=1e-2, rtol=1e-3, atol=1e-4, needs=("fft.rfft",)),
            Case("irfftn", lambda x, y: mx.fft.irfftn(x + y * 1j, s=(3, 5), axes=(0, 1), norm="ortho"),
                 [F((2, 3)), F((2, 3))], eps=1e-2, rtol=1e-3, atol=1e-4, needs=("fft.irfftn",))],
    # mx.fast (section S): one case per fused primitive
    "RMSNorm": [Case("rms_norm", lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [F((2, 3, 4)), F((4,))])],
    "LayerNorm": [Case("layer_norm", lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5),
                       [F((2, 3, 4)), F((4,)), F((4,))])],
    "RoPE": [Case("rope", lambda x: mx.fast.rope(x, 4, traditional=True, base=100.0, scale=1.0,
                                                 offset=1), [F((2, 1, 3, 6))])],
    "ScaledDotProductAttention": [Case(
        "sdpa", lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.5, mask="causal"),
        [F((1, 2, 2, 3)), F((1, 1, 3, 3)), F((1, 1, 3, 2))])],
}


# ---- graph inspection -------------------------------------------------------------------

def graph_classes(outputs):
    """The primitive class names in the lazy graph of outputs."""
    path = tempfile.mktemp(suffix=".dot")
    try:
        mx.export_to_dot(path, *outputs)
        text = Path(path).read_text()
    finally:
        if os.path.exists(path):
            os.remove(path)
    return set(re.findall(r'\[label="([A-Za-z0-9_]+)', text))


def f64(v):
    return mx.array(np.asarray(v, dtype=np.float64), dtype=mx.float64)


def like(v, x):
    """NumPy value v as an mx.array of x's dtype (mx.array would make float64 float32)."""
    return mx.array(np.asarray(v), dtype=x.dtype)


def flat(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def case_inputs(case, rng, batch=None):
    return [draw(s, rng, batch) for s in case.inputs]


def runnable(cls, case):
    """Whether the case can run and its graph holds the class."""
    if case.needs and not has(*case.needs):
        return False
    try:
        xs = case_inputs(case, np.random.default_rng(0))
        return cls in graph_classes(flat(case.fn(*xs)))
    except (AttributeError, TypeError, ValueError, RuntimeError, NameError):
        return False


TABLE = table_classes()
ACTIVE = [(cls, c) for cls in TABLE for c in CASES.get(cls, []) if cls != "Compiled" and runnable(cls, c)]
IDS = [f"{cls}-{c.label}" for cls, c in ACTIVE]


# ---- helpers over the differentiable inputs --------------------------------------------

def float_positions(case):
    return [i for i, s in enumerate(case.inputs) if isinstance(s, F)]


def as_np(a):
    a = np.array(a.astype(mx.float64) if a.dtype in (mx.bool_, mx.float32, mx.float16) else a)
    return a.astype(np.float64)


def weighted_sum(case, xs, cots):
    """sum_k <cot_k, f(xs)_k> evaluated as a NumPy float."""
    outs = flat(case.fn(*xs))
    return sum(float(np.sum(as_np(o) * c)) for o, c in zip(outs, cots))


def with_floats(xs, pos, fl):
    ys = list(xs)
    for p, v in zip(pos, fl):
        ys[p] = v
    return ys


# ---- checks -----------------------------------------------------------------------------

MISSING_RULES = set()


def missing_rules_are_xfail(test):
    """A primitive without the rule a check needs ("[Primitive::vjp] Not implemented for X.",
    a ValueError as in MLX) is an expected failure, listed by
    test_report_uncovered_primitives, not a harness error."""
    import functools

    @functools.wraps(test)
    def run(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except ValueError as e:
            m = re.match(r"\[Primitive::(vjp|jvp|vmap)\] Not implemented for (\w+)", str(e))
            if not m:
                raise
            MISSING_RULES.add(f"{m.group(2)}.{m.group(1)}")
            pytest.xfail(str(e))

    return run



@pytest.mark.parametrize("cls, case", ACTIVE, ids=IDS)
@missing_rules_are_xfail
def test_vjp_matches_finite_differences(cls, case, rng):
    xs = case_inputs(case, rng)
    pos = float_positions(case)
    if not pos:
        pytest.skip("no floating-point input")
    outs = flat(case.fn(*xs))
    cots = [rng.standard_normal(o.shape) for o in outs]

    def f(*fl):
        return case.fn(*with_floats(xs, pos, fl))

    _, grads = mx.vjp(lambda *fl: flat(f(*fl)), [xs[p] for p in pos],
                      [f64(c).astype(o.dtype) for c, o in zip(cots, outs)])
    for k, p in enumerate(pos):
        g = np.array(grads[k])
        assert g.shape == tuple(xs[p].shape)
        if not case.diff:
            np.testing.assert_array_equal(g, np.zeros_like(g))
            continue
        x0 = np.array(xs[p])
        ref = np.zeros_like(x0)
        for idx in np.ndindex(x0.shape):
            e = np.zeros_like(x0)
            e[idx] = case.eps
            plus = with_floats(xs, [p], [f64(x0 + e)])
            minus = with_floats(xs, [p], [f64(x0 - e)])
            ref[idx] = (weighted_sum(case, plus, cots) - weighted_sum(case, minus, cots)) / (2 * case.eps)
        np.testing.assert_allclose(g, ref, rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize("cls, case", ACTIVE, ids=IDS)
@missing_rules_are_xfail
def test_jvp_matches_finite_differences(cls, case, rng):
    xs = case_inputs(case, rng)
    pos = float_positions(case)
    if not pos:
        pytest.skip("no floating-point input")
    tans = [rng.standard_normal(xs[p].shape) for p in pos]

    def f(*fl):
        return flat(case.fn(*with_floats(xs, pos, fl)))

    outs, jvps = mx.jvp(f, [xs[p] for p in pos], [f64(t) for t in tans])
    for k, o in enumerate(outs):
        j = as_np(jvps[k])
        if not case.diff or not mx.issubdtype(o.dtype, mx.floating):
            np.testing.assert_array_equal(j, np.zeros_like(j))
            continue
        plus = f(*[f64(np.array(xs[p]) + case.eps * t) for p, t in zip(pos, tans)])[k]
        minus = f(*[f64(np.array(xs[p]) - case.eps * t) for p, t in zip(pos, tans)])[k]
        ref = (as_np(plus) - as_np(minus)) / (2 * case.eps)
        np.testing.assert_allclose(j, ref, rtol=case.rtol, atol=case.atol)


def loop_reference(case, xs_b, axes):
    size = next(x.shape[a] for x, a in zip(xs_b, axes) if a is not None)
    rows = []
    for i in range(size):
        ex = [like(np.take(np.array(x), i, axis=a), x) if a is not None else x for x, a in zip(xs_b, axes)]
        rows.append([np.array(o) for o in flat(case.fn(*ex))])
    return [np.stack([r[k] for r in rows]) for k in range(len(rows[0]))]


@pytest.mark.parametrize("cls, case", ACTIVE, ids=IDS)
@missing_rules_are_xfail
def test_vmap_matches_loop(cls, case, rng):
    if not case.vmap:
        pytest.skip("no vmap check for this case")
    n = len(case.inputs)
    variants = [[0] * n]
    if n > 1:
        variants.append([None] + [0] * (n - 1))
    for axes in variants:
        xs_b = [draw(s, rng, 3) if a is not None else draw(s, rng) for s, a in zip(case.inputs, axes)]
        if all(isinstance(s, K) for s in case.inputs) and not has("stack"):
            pass
        got = flat(mx.vmap(case.fn, in_axes=tuple(axes) if n > 1 else axes[0])(*xs_b))
        ref = loop_reference(case, xs_b, axes)
        for g, r in zip(got, ref):
            np.testing.assert_allclose(np.array(g), r, rtol=1e-12, atol=1e-12)
    # a batch axis that is not the first
    specs = [s for s in case.inputs if not isinstance(s, K)]
    if len(specs) == n and all(len(s.shape) >= 1 for s in specs):
        xs_b = [mx.moveaxis(draw(s, rng, 2), 0, 1) for s in case.inputs]
        got = flat(mx.vmap(case.fn, in_axes=1)(*xs_b))
        ref = loop_reference(case, xs_b, [1] * n)
        for g, r in zip(got, ref):
            np.testing.assert_allclose(np.array(g), r, rtol=1e-12, atol=1e-12)


COMPOSE = [(cls, c) for cls, c in ACTIVE if c.diff and c.compose and float_positions(c)]
COMPOSE_IDS = [f"{cls}-{c.label}" for cls, c in COMPOSE]


def scalar_fn(case, xs, cots, p):
    """x -> <cots, f(..., x at position p, ...)> as an mx scalar."""
    def s(x):
        outs = flat(case.fn(*with_floats(xs, [p], [x])))
        return sum(mx.sum(o.astype(mx.float64) * f64(c)) for o, c in zip(outs, cots))
    return s


@pytest.mark.parametrize("cls, case", COMPOSE, ids=COMPOSE_IDS)
@missing_rules_are_xfail
def test_grad_of_grad(cls, case, rng):
    xs = case_inputs(case, rng)
    p = float_positions(case)[0]
    cots = [rng.standard_normal(o.shape) for o in flat(case.fn(*xs))]
    v = rng.standard_normal(xs[p].shape)
    s = scalar_fn(case, xs, cots, p)
    hv = mx.grad(lambda x: mx.sum(mx.grad(s)(x) * f64(v)))(xs[p])
    x0 = np.array(xs[p])
    ref = np.zeros_like(x0)
    eps = 1e-5
    for idx in np.ndindex(x0.shape):
        e = np.zeros_like(x0)
        e[idx] = eps
        gp = np.array(mx.grad(s)(f64(x0 + e)))
        gm = np.array(mx.grad(s)(f64(x0 - e)))
        ref[idx] = np.sum((gp - gm) * v) / (2 * eps)
    np.testing.assert_allclose(np.array(hv), ref, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-6))


@pytest.mark.parametrize("cls, case", COMPOSE, ids=COMPOSE_IDS)
@missing_rules_are_xfail
def test_grad_of_vmap_and_vmap_of_grad(cls, case, rng):
    p = float_positions(case)[0]
    xs_b = [draw(s, rng, 3) for s in case.inputs]
    outs_b = flat(mx.vmap(case.fn)(*xs_b))
    cots = [rng.standard_normal(o.shape) for o in outs_b]

    def total(x):
        outs = flat(mx.vmap(case.fn)(*with_floats(xs_b, [p], [x])))
        return sum(mx.sum(o.astype(mx.float64) * f64(c)) for o, c in zip(outs, cots))

    g_of_v = np.array(mx.grad(total)(xs_b[p]))

    def per_example(*args):
        x, cs = args[p], args[len(case.inputs):]
        rest = list(args[:len(case.inputs)])
        def s(u):
            outs = flat(case.fn(*with_floats(rest, [p], [u])))
            return sum(mx.sum(o.astype(mx.float64) * c) for o, c in zip(outs, cs))
        return mx.grad(s)(x)

    v_of_g = np.array(mx.vmap(per_example)(*xs_b, *[f64(c) for c in cots]))
    ref = []
    for i in range(3):
        ex = [like(np.array(x)[i], x) for x in xs_b]
        s = scalar_fn(case, ex, [c[i] for c in cots], p)
        ref.append(np.array(mx.grad(s)(ex[p])))
    ref = np.stack(ref)
    np.testing.assert_allclose(g_of_v, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v_of_g, ref, rtol=1e-10, atol=1e-12)


def test_cases_produce_their_primitive():
    """Every case whose functions exist produces the class it is filed under."""
    wrong = [f"{cls}/{c.label}" for cls in TABLE for c in CASES.get(cls, [])
             if (not c.needs or has(*c.needs)) and not runnable(cls, c)]
    assert not wrong, f"cases that do not produce their primitive: {wrong}"


def test_report_uncovered_primitives(capsys):
    covered = {cls for cls, _ in ACTIVE} | {"Compiled"}  # Compiled: test_compile.py (vs eager)
    missing = [cls for cls in TABLE if cls not in covered]
    with capsys.disabled():
        print(f"\n[harness] {len(covered & set(TABLE))}/{len(TABLE)} primitives of prims.def covered;"
              f" not covered: {', '.join(missing) if missing else 'none'}")
        table = mx._primitive_rules()
        rules = [f"{cls}.{kind}" for cls in TABLE for kind, ok in zip(("vjp", "jvp", "vmap"), table[cls])
                 if not ok]
        seen = sorted(MISSING_RULES | set(rules))
        print(f"[harness] rules missing: {', '.join(seen) if seen else 'none'}")
    assert "Exp" in covered and "CustomTransforms" in covered
