"""mx.random (spec/python-api.md section 19, spec/semantics.md section 7): keys, the
test vectors of 7.5, the per-thread global key exposed as mx.random.state, seed, and the
samplers' ranges and statistics."""
import threading

import numpy as np
import pytest

import mlx.core as mx


def u32(a):
    return [[int(v) for v in row] for row in np.array(a).tolist()]


def bits_to_uniform(words):
    """uniform's map from random bits: float32(bits) / float32(2^32 - 1), kept below 1."""
    u = np.array(words, dtype=np.uint32).astype(np.float32) / np.float32(4294967295.0)
    return np.minimum(u, np.nextafter(np.float32(1), np.float32(0)))


def test_key():
    k = mx.random.key(0)
    assert k.dtype == mx.uint32 and k.shape == (2,)
    assert k.tolist() == [0, 0]
    assert mx.random.key(2**32 + 5).tolist() == [1, 5]


def test_split_vectors():
    assert u32(mx.random.split(mx.random.key(0))) == [
        [0xF71F4EA9, 0x39A405D9], [0xA20E4081, 0x4BDFAE2F]]
    assert u32(mx.random.split(mx.random.key(42))) == [
        [0x92FB20EA, 0xDB4C98DB], [0x0F38D913, 0x0FF68959]]
    assert mx.random.split(mx.random.key(0), 3).shape == (3, 2)


@pytest.mark.parametrize("words", [
    [0xF71F4EA9, 0x508EFB2C, 0xA20E4081],
    [0x9312778B, 0x19850714, 0x64A626EC, 0xE4E8DFBE, 0x98B89669],
])
def test_bits_through_uniform(words):
    u = mx.random.uniform(shape=(len(words),), key=mx.random.key(0))
    np.testing.assert_array_equal(np.array(u), bits_to_uniform(words))


def test_uniform_vector():
    u = mx.random.uniform(shape=(4,), key=mx.random.key(0))
    assert u.dtype == mx.float32 and u.shape == (4,)
    np.testing.assert_allclose(np.array(u), [0.9653215, 0.2251590, 0.6330300, 0.2963818],
                               rtol=0, atol=1e-6)


def test_seed_then_uniform_vector():
    mx.random.seed(0)
    u = mx.random.uniform(shape=(4,))
    np.testing.assert_allclose(np.array(u), [0.8724144, 0.4430210, 0.2770805, 0.7865950],
                               rtol=0, atol=1e-6)
    assert mx.random.state[0].tolist() == [0xF71F4EA9, 0x39A405D9]


def test_normal_vector():
    n = mx.random.normal(shape=(4,), key=mx.random.key(0))
    np.testing.assert_allclose(np.array(n), [1.816087, -0.754885, 0.339889, -0.534835],
                               rtol=0, atol=1e-4)


def test_state_is_a_per_thread_list():
    st = mx.random.state
    assert isinstance(st, list) and len(st) == 1
    assert st[0].dtype == mx.uint32 and st[0].shape == (2,)
    assert mx.random.state is st
    mx.random.seed(3)
    assert st[0].tolist() == [0, 3]
    other = {}

    def work():
        other["state"] = mx.random.state
        mx.random.seed(99)
        other["value"] = mx.random.state[0].tolist()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert other["state"] is not st
    assert other["value"] == [0, 99]
    assert st[0].tolist() == [0, 3]  # unaffected by the other thread's seed


def test_seed_reproduces_and_advances():
    mx.random.seed(7)
    a = mx.random.uniform(shape=(8,))
    b = mx.random.uniform(shape=(8,))
    mx.random.seed(7)
    a2 = mx.random.uniform(shape=(8,))
    assert a.tolist() == a2.tolist()
    assert a.tolist() != b.tolist()


def test_state_can_be_replaced():
    mx.random.state[0] = mx.random.key(0)
    u = mx.random.uniform(shape=(4,))
    mx.random.seed(0)
    assert u.tolist() == mx.random.uniform(shape=(4,)).tolist()


def test_seed_rejects_bad_values():
    with pytest.raises(TypeError):
        mx.random.seed(-1)
    with pytest.raises(TypeError):
        mx.random.seed(1.5)


def test_uniform_range_and_statistics(seed):
    mx.random.seed(seed)
    u = mx.random.uniform(-2.0, 3.0, (20000,))
    un = np.array(u).astype(np.float64)
    assert un.min() >= -2.0 and un.max() < 3.0
    assert abs(un.mean() - 0.5) < 0.05
    assert abs(un.var() - 25 / 12) < 0.1
    h = mx.random.uniform(shape=(64,), dtype=mx.float16, key=mx.random.key(seed))
    assert h.dtype == mx.float16 and float(np.array(h).max()) < 1.0


def test_normal_statistics(seed):
    n = mx.random.normal(shape=(20000,), key=mx.random.key(seed))
    nn = np.array(n).astype(np.float64)
    assert abs(nn.mean()) < 0.05 and abs(nn.std() - 1) < 0.05
    s = mx.random.normal(shape=(20000,), loc=mx.array(2.0), scale=mx.array(3.0),
                         key=mx.random.key(seed))
    sn = np.array(s).astype(np.float64)
    assert abs(sn.mean() - 2) < 0.15 and abs(sn.std() - 3) < 0.15


def test_randint(seed):
    r = mx.random.randint(-3, 5, (4000,), key=mx.random.key(seed))
    assert r.dtype == mx.int32
    rn = np.array(r)
    assert rn.min() == -3 and rn.max() == 4
    assert set(np.unique(rn).tolist()) == set(range(-3, 5))
