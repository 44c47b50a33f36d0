"""Sequential: a layer that calls a list of modules or plain callables in order, each on
the previous one's output."""
from mlx.nn.layers.base import Module


class Sequential(Module):
    """Call ``modules`` in order; they are stored in ``self.layers`` so their parameters
    belong to this module."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
