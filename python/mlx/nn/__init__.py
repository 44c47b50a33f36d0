"""mlx.nn: neural-network layers, losses, initializers and helpers, written in Python over
mlx.core as MLX's own package is (spec/python-api.md sections 25-30). Each block below is
filled by the module that owns it."""

# ==== section NN: Module, layers, value_and_grad ====
from mlx.nn import utils
from mlx.nn.layers import *  # noqa: F401,F403
from mlx.nn.utils import average_gradients, value_and_grad
# (end of section NN)

# ==== section OPT: losses and initializers ====
from mlx.nn import init, losses  # noqa: E402,F401
# (end of section OPT)
