"""Evaluation entry points (spec/python-api.md sections 14, 17; spec/semantics.md section 5):
eval/async_eval over trees, depends, export_to_dot, and print options."""
import io
import threading

import pytest

import mlx.core as mx


def test_eval_trees_ignores_other_leaves():
    a, b, c = mx.ones((2,)) * 2, mx.ones((3,)) + 1, mx.array(1.0) * 3
    mx.eval([a, (b, {"c": c, "s": "text"}), None, 1.5])
    assert a.tolist() == [2.0, 2.0]
    assert b.tolist() == [2.0, 2.0, 2.0]
    assert c.item() == 3.0
    mx.eval()  # nothing to do
    mx.eval(a, a)  # evaluated arrays are a no-op


def test_eval_dict_and_tuple_leaves():
    tree = {"w": mx.ones((2, 2)) * 0.5, "b": (mx.ones((2,)),)}
    mx.eval(tree)
    assert tree["w"].tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_async_eval():
    a = mx.ones((16,)) * 3
    mx.async_eval(a, [a + 1])
    assert a.sum().item() == 48.0


def test_eval_from_threads():
    errors, out = [], {}

    def work(i):
        try:
            x = mx.ones((64,)) * i
            for _ in range(20):
                x = x + 1
            mx.eval(x)
            out[i] = x[0].item()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert out == {i: i + 20.0 for i in range(8)}


def test_depends():
    a = mx.ones((2,))
    b = mx.ones((2,)) * 5
    d = mx.depends(a, b)
    assert isinstance(d, mx.array) and d.tolist() == [1.0, 1.0]
    outs = mx.depends([a, a * 2], [b])
    assert isinstance(outs, list) and [o.tolist() for o in outs] == [[1.0, 1.0], [2.0, 2.0]]
    with pytest.raises(TypeError):
        mx.depends(inputs=a, dependencies=b)


def test_export_to_dot(tmp_path):
    x = mx.ones((2,))
    y = (x + 1) * 2
    buf = io.StringIO()
    mx.export_to_dot(buf, y, out=x * 3)
    text = buf.getvalue()
    assert text.startswith("digraph")
    assert "Multiply" in text and "Add" in text
    path = tmp_path / "g.dot"
    mx.export_to_dot(str(path), [y])
    assert path.read_text().startswith("digraph")
    mx.export_to_dot(path, y)  # PathLike
    assert path.read_text().startswith("digraph")


def test_printoptions():
    a = mx.array([1.23456789])
    default = repr(a)
    old = mx.get_printoptions()
    assert isinstance(old, mx.PrintOptions)
    with mx.printoptions(precision=2):
        assert mx.get_printoptions().precision == 2
        assert "1.23" in repr(a) and "1.2346" not in repr(a)
    assert repr(a) == default
    mx.set_printoptions(precision=3)
    try:
        assert "1.235" in repr(a)
    finally:
        mx.set_printoptions(precision=old.precision)
    assert repr(a) == default
