"""The examples run as a user runs them: examples/demo.py checks its own results, and a short
Fashion-MNIST training run (one epoch over a slice of the data) must learn something, save its
weights and metrics, and the saved weights must load back into the model."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/usr/share/datasets/fashion-mnist")


def run_example(args, cwd):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_demo_checks_its_results(tmp_path):
    r = run_example([str(ROOT / "examples" / "demo.py")], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not DATA.exists(), reason="Fashion-MNIST not installed "
                    "(Debian package dataset-fashion-mnist; scripts/demo.sh installs it)")
@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_short_training_run_learns(tmp_path, model):
    out = tmp_path / "run"
    device = os.environ.get("DEVICE", "cpu").lower()
    r = run_example([str(ROOT / "examples" / "train_fashion_mnist.py"), "--model", model,
                     "--epochs", "1", "--train-limit", "3000", "--batch-size", "100",
                     "--device", device, "--out", str(out), "--target", "0.6"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics) == 1 and metrics[0]["test_accuracy"] >= 0.6
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import mlx.core as mx
        import train_fashion_mnist as tfm
        net = tfm.MODELS[model]()
        net.load_weights(str(out / f"{model}.safetensors"))
        _, _, test_x, test_y = tfm.load_fashion_mnist(DATA)
        net.eval()
        acc = tfm.evaluate(net, test_x, test_y)
        assert abs(acc - metrics[0]["test_accuracy"]) < 1e-6
        del mx
    finally:
        sys.path.pop(0)


def test_training_script_help(tmp_path):
    r = run_example([str(ROOT / "examples" / "train_fashion_mnist.py"), "--help"], tmp_path)
    assert r.returncode == 0
    for option in ("--epochs", "--batch-size", "--model", "--device", "--seed"):
        assert option in r.stdout
