"""mlx.optimizers: optimizers over parameter trees, gradient clipping and learning-rate
schedules, as MLX's package of the same name."""
from mlx.optimizers.optimizers import *  # noqa: F401,F403
from mlx.optimizers.schedulers import *  # noqa: F401,F403
