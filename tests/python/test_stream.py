"""Devices and streams (spec/python-api.md section 15, spec/semantics.md section 6):
Device/DeviceType/Stream objects, default streams per thread, new_stream ownership,
thread-local streams, `with mx.stream(...)`, synchronize and clear_streams."""
import re
import threading

import pytest

import mlx.core as mx
from conftest import DEVICE, GPU_AVAILABLE


def run_in_thread(fn):
    """Runs fn on a new thread; returns (result, exception)."""
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    return box.get("result"), box.get("error")


def test_device_objects():
    assert isinstance(mx.cpu, mx.DeviceType) and isinstance(mx.gpu, mx.DeviceType)
    d = mx.Device(mx.cpu)
    assert d.type == mx.cpu
    assert d == mx.cpu and d == mx.Device(mx.cpu, 0)
    assert d != mx.gpu and d != mx.Device(mx.cpu, 1)
    assert repr(d) == "Device(cpu, 0)"
    assert repr(mx.Device(mx.gpu, 1)) == "Device(gpu, 1)"


def test_default_device():
    expected = mx.gpu if DEVICE == "gpu" else mx.cpu
    assert mx.default_device() == expected
    assert mx.is_available(mx.cpu)
    assert mx.device_count(mx.cpu) >= 1
    assert mx.is_available(mx.gpu) == GPU_AVAILABLE


def test_set_default_device_without_gpu():
    if GPU_AVAILABLE:
        pytest.skip("a GPU is available")
    with pytest.raises(ValueError):
        mx.set_default_device(mx.gpu)
    assert mx.default_device() == mx.cpu


def test_device_info():
    info = mx.device_info()
    for key in ("device_name", "architecture", "memory_size", "max_recommended_working_set_size"):
        assert key in info
    assert isinstance(info["memory_size"], int) and info["memory_size"] > 0
    assert isinstance(mx.device_info(mx.cpu)["device_name"], str)


def test_stream_objects():
    s = mx.default_stream(mx.cpu)
    assert isinstance(s, mx.Stream)
    assert s.device == mx.cpu
    assert re.fullmatch(r"Stream\(Device\(cpu, 0\), \d+\)", repr(s))
    assert s == mx.default_stream(mx.Device(mx.cpu))
    n = mx.new_stream(mx.cpu)
    assert n != s and n.device == mx.cpu


def test_default_stream_is_per_thread():
    mine = mx.default_stream(mx.cpu)
    other, err = run_in_thread(lambda: mx.default_stream(mx.cpu))
    assert err is None
    assert other != mine


def test_ops_on_streams():
    s = mx.new_stream(mx.cpu)
    a = mx.ones((4,), stream=s)
    b = mx.add(a, a, stream=mx.cpu)
    c = mx.multiply(b, 3, stream=s)
    mx.eval(c)
    assert c.tolist() == [6.0] * 4
    mx.synchronize(s)
    mx.synchronize()


def test_new_stream_belongs_to_its_thread():
    s = mx.new_stream(mx.cpu)
    mx.eval(mx.ones((2,), stream=s))  # fine on the creating thread
    _, err = run_in_thread(lambda: mx.eval(mx.ones((2,), stream=s)))
    assert isinstance(err, RuntimeError)


def test_thread_unsafe_stream_usable_anywhere():
    s = mx.new_thread_unsafe_stream(mx.cpu)
    result, err = run_in_thread(lambda: mx.ones((3,), stream=s).tolist())
    assert err is None and result == [1.0, 1.0, 1.0]


def test_thread_local_stream():
    t = mx.new_thread_local_stream(mx.cpu)
    assert isinstance(t, mx.ThreadLocalStream)
    assert t.device == mx.cpu
    assert mx.ones((2,), stream=t).tolist() == [1.0, 1.0]
    result, err = run_in_thread(lambda: mx.add(mx.ones((2,)), 1, stream=t).tolist())
    assert err is None and result == [2.0, 2.0]
    with mx.stream(t):
        assert mx.ones((1,)).item() == 1.0


def test_stream_context_sets_and_restores():
    before_dev = mx.default_device()
    before = mx.default_stream(mx.cpu)
    s = mx.new_stream(mx.cpu)
    with mx.stream(s):
        assert mx.default_stream(mx.cpu) == s
        assert mx.default_device() == mx.cpu
        x = mx.ones((2,)) + 1
    assert mx.default_stream(mx.cpu) == before
    assert mx.default_device() == before_dev
    assert x.tolist() == [2.0, 2.0]
    with mx.stream(mx.cpu):
        assert mx.default_device() == mx.cpu
    assert mx.default_device() == before_dev
    with pytest.raises(RuntimeError):
        mx.stream(None)


def test_stream_context_restores_after_exception():
    before = mx.default_stream(mx.cpu)
    s = mx.new_stream(mx.cpu)
    with pytest.raises(KeyError):
        with mx.stream(s):
            raise KeyError("boom")
    assert mx.default_stream(mx.cpu) == before


def test_set_default_stream():
    old = mx.default_stream(mx.cpu)
    s = mx.new_stream(mx.cpu)
    mx.set_default_stream(s)
    try:
        assert mx.default_stream(mx.cpu) == s
        assert (mx.ones((2,)) * 2).tolist() == [2.0, 2.0]
    finally:
        mx.set_default_stream(old)
    assert mx.default_stream(mx.cpu) == old


def test_clear_streams():
    def work():
        a = mx.ones((3,)) * 2
        mx.eval(a)
        mx.clear_streams()
        return (mx.ones((3,)) + a).tolist()

    result, err = run_in_thread(work)
    assert err is None and result == [3.0, 3.0, 3.0]


@pytest.mark.gpu
def test_gpu_stream_and_cross_device():
    g = mx.default_stream(mx.gpu)
    assert g.device == mx.gpu
    a = mx.ones((8,), stream=mx.cpu)
    b = mx.multiply(a, 2, stream=mx.gpu)
    c = mx.add(b, 1, stream=mx.cpu)
    assert c.tolist() == [3.0] * 8
    with mx.stream(mx.gpu):
        assert mx.default_device() == mx.gpu


def test_device_and_stream_compared_with_none_raise():
    """MLX's Device and Stream equality take a Device/Stream: None raises TypeError."""
    with pytest.raises(TypeError):
        mx.Device(mx.cpu) == None  # noqa: E711
    with pytest.raises(TypeError):
        mx.default_stream(mx.cpu) != None  # noqa: E711
    assert mx.Device(mx.cpu) != 3 and not (mx.default_stream(mx.cpu) == 3)


def test_device_type_compares_as_mlx():
    """DeviceType == None raises as MLX's; members equal Devices of their type; repr."""
    with pytest.raises(TypeError):
        mx.gpu == None  # noqa: E711
    with pytest.raises(TypeError):
        mx.DeviceType.cpu != None  # noqa: E711
    assert mx.DeviceType.gpu == mx.Device(mx.gpu) and mx.Device(mx.cpu) == mx.DeviceType.cpu
    assert mx.DeviceType.gpu != 1 and mx.DeviceType.cpu != mx.DeviceType.gpu
    assert repr(mx.gpu) == "DeviceType.gpu" and str(mx.cpu) == "DeviceType.cpu"
    assert {mx.gpu: 1}[mx.DeviceType(1)] == 1
