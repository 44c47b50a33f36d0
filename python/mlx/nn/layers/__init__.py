"""mlx.nn.layers: every layer class and activation, re-exported by mlx.nn."""

# ==== section NN: base, containers, activations, linear, conv, norms, pooling, ... ====
# (end of section NN)

# ==== section TRF: positional encodings, attention, transformer, recurrent ====
from mlx.nn.layers.positional_encoding import ALiBi, RoPE, SinusoidalPositionalEncoding
from mlx.nn.layers.recurrent import GRU, LSTM, RNN
from mlx.nn.layers.transformer import (MultiHeadAttention, Transformer, TransformerDecoder,
                                       TransformerDecoderLayer, TransformerEncoder,
                                       TransformerEncoderLayer)
# (end of section TRF)

# ==== section RND: distributed layers ====
# (end of section RND)

# ==== section Q: quantized layers ====
# (end of section Q)
