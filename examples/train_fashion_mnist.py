"""Trains a small convolutional network (or an MLP) on Fashion-MNIST with mlx.nn and
mlx.optimizers: compiled train steps, a progress bar with loss and throughput, evaluation after
every epoch, the weights saved as safetensors and the loss/accuracy curves saved as a PNG.

Run it with scripts/demo.sh (which installs the dataset and builds first) or, after that, with
`.venv/bin/python examples/train_fashion_mnist.py --help`. Exits nonzero when the final test
accuracy is below --target.
"""

import argparse
import gzip
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """One IDX file (the MNIST format: big-endian magic, dims, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {tuple(dims)}")
    return data.reshape(tuple(dims))


def load_fashion_mnist(data_dir):
    """(train_x, train_y, test_x, test_y): images as float32 (N, 28, 28, 1) in [0, 1]."""
    def images(name):
        return (read_idx(data_dir / name).astype(np.float32) / 255.0)[..., None]

    def labels(name):
        return read_idx(data_dir / name).astype(np.int32)

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


class ConvNet(nn.Module):
    """Two 3x3 conv + ReLU + 2x2 max-pool stages, then two linear layers (channels-last)."""

    def __init__(self, width=16, hidden=128, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(7 * 7 * 2 * width, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def __call__(self, x):
        x = self.pool(nn.relu(self.conv1(x)))
        x = self.pool(nn.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        return self.fc2(nn.relu(self.fc1(x)))


class MLP(nn.Module):
    """Two hidden ReLU layers over the flattened image."""

    def __init__(self, hidden=256, num_classes=10):
        super().__init__()
        self.layers = [nn.Linear(28 * 28, hidden), nn.Linear(hidden, hidden),
                       nn.Linear(hidden, num_classes)]

    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


MODELS = {"cnn": ConvNet, "mlp": MLP}


def loss_fn(model, x, y):
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


def batches(x, y, batch_size, rng=None):
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield mx.array(x[idx]), mx.array(y[idx])


def evaluate(model, x, y, batch_size=1000):
    correct = 0
    for xb, yb in batches(x, y, batch_size):
        correct += (mx.argmax(model(xb), axis=1) == yb).sum().item()
    return correct / len(x)


class Progress:
    """A one-line progress bar on stderr: epoch, bar, running loss and images per second."""

    def __init__(self, epoch, total, width=30):
        self.epoch, self.total, self.width = epoch, total, width
        self.done, self.start = 0, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, n, loss):
        self.done += n
        elapsed = time.perf_counter() - self.start
        fill = int(self.width * self.done / self.total)
        line = (f"epoch {self.epoch} [{'#' * fill}{'.' * (self.width - fill)}] "
                f"{self.done:>6}/{self.total} loss {loss:.4f} "
                f"{self.done / max(elapsed, 1e-9):,.0f} img/s")
        if self.tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        elif self.done == self.total:
            sys.stderr.write(line)
        if self.done == self.total:
            sys.stderr.write("\n")
        return elapsed


def save_plot(history, path):
    """Loss and accuracy per epoch as a PNG (matplotlib); returns False when unavailable."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.plot(epochs, [h["train_accuracy"] for h in history], "o-", label="train")
    ax_acc.plot(epochs, [h["test_accuracy"] for h in history], "s-", label="test")
    ax_acc.set_xlabel("epoch")
    for ax in (ax_loss, ax_acc):
        ax.set_xticks(epochs)
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    fig.suptitle("Fashion-MNIST")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=sorted(MODELS), default="cnn", help="network to train")
    p.add_argument("--epochs", type=int, default=3, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=128, help="images per train step")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (Adam)")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None,
                   help="device to train on (default: mlx's default device)")
    p.add_argument("--seed", type=int, default=0, help="seed of mx.random and of the shuffling")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of the *.gz files")
    p.add_argument("--out", type=Path, default=Path("runs/fashion_mnist"),
                   help="folder for weights, metrics and the plot")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training images (quick runs)")
    p.add_argument("--target", type=float, default=0.0,
                   help="exit nonzero when the final test accuracy is below this")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.device is not None:
        mx.set_default_device(mx.gpu if args.device == "gpu" else mx.cpu)
    if not args.data_dir.exists():
        sys.exit(f"{args.data_dir} not found: install the Debian package dataset-fashion-mnist "
                 "(scripts/demo.sh does) or pass --data-dir")
    mx.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_x, train_y, test_x, test_y = load_fashion_mnist(args.data_dir)
    if args.train_limit:
        train_x, train_y = train_x[:args.train_limit], train_y[:args.train_limit]

    model = MODELS[args.model]()
    mx.eval(model.parameters())
    steps_per_epoch = -(-len(train_x) // args.batch_size)
    schedule = optim.cosine_decay(args.lr, args.epochs * steps_per_epoch, args.lr * 0.05)
    optimizer = optim.Adam(learning_rate=schedule)
    n_params = sum(v.size for _, v in tree_flatten(model.parameters()))
    print(f"model {args.model}: {n_params:,} parameters; device {mx.default_device()}; "
          f"{len(train_x)} training images, batch {args.batch_size}, {args.epochs} epochs")

    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def train_step(x, y):
        loss, grads = nn.value_and_grad(model, loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return loss

    history = []
    args.out.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, args.epochs + 1):
        model.train()
        progress = Progress(epoch, len(train_x))
        losses = []
        for xb, yb in batches(train_x, train_y, args.batch_size, rng):
            loss = train_step(xb, yb)
            mx.eval(state, loss)
            losses.append(loss.item())
            elapsed = progress.update(xb.shape[0], float(np.mean(losses[-20:])))
        model.eval()
        train_acc = evaluate(model, train_x[:10000], train_y[:10000])
        test_acc = evaluate(model, test_x, test_y)
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                        "train_accuracy": train_acc, "test_accuracy": test_acc,
                        "seconds": elapsed, "images_per_second": len(train_x) / elapsed})
        print(f"epoch {epoch}: train loss {history[-1]['train_loss']:.4f}, "
              f"train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}, "
              f"{elapsed:.1f} s ({len(train_x) / elapsed:,.0f} img/s)")

    weights = args.out / f"{args.model}.safetensors"
    model.save_weights(str(weights))
    (args.out / "metrics.json").write_text(json.dumps(history, indent=2) + "\n")
    plot = args.out / "curves.png"
    wrote_plot = save_plot(history, plot)
    print(f"saved {weights}, {args.out / 'metrics.json'}"
          + (f", {plot}" if wrote_plot else " (no plot: matplotlib is not installed)"))

    final = history[-1]["test_accuracy"]
    if final < args.target:
        print(f"test accuracy {final:.4f} is below the target {args.target:.4f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
