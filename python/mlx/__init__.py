"""MLX with a C core: an array framework source-compatible with Apple's MLX.

The array API lives in the C extension module ``mlx.core`` (``import mlx.core as mx``);
this package file imports nothing so that ``import mlx`` stays cheap.
"""
