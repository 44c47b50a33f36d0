"""mlx.nn.losses: MLX's loss functions (spec/python-api.md section 28), composed from mlx.core
ops so that they differentiate and vmap; ``reduction`` is one of 'none', 'mean', 'sum'."""
import math
from typing import Literal, Optional, get_args

import mlx.core as mx

__all__ = ["cross_entropy", "binary_cross_entropy", "l1_loss", "mse_loss", "nll_loss",
           "gaussian_nll_loss", "kl_div_loss", "smooth_l1_loss", "triplet_loss", "hinge_loss",
           "huber_loss", "log_cosh_loss", "cosine_similarity_loss", "margin_ranking_loss"]

Reduction = Literal["none", "mean", "sum"]


def _reduce(loss: mx.array, reduction: Reduction = "none") -> mx.array:
    if reduction not in get_args(Reduction):
        raise ValueError(f"Invalid reduction. Must be one of {get_args(Reduction)}.")
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    return loss


def _check_same_shape(predictions: mx.array, targets: mx.array):
    if predictions.shape != targets.shape:
        raise ValueError(f"Predictions shape {predictions.shape} does not match "
                         f"targets shape {targets.shape}.")


def _apply_weights(loss: mx.array, weights: Optional[mx.array]) -> mx.array:
    if weights is None:
        return loss
    if weights.shape != loss.shape:
        raise ValueError(f"Weights with shape {weights.shape} is not the same as "
                         f"output loss with shape {loss.shape}.")
    return loss * weights


def _norm(x: mx.array, axis: int) -> mx.array:
    return mx.sqrt(mx.sum(mx.square(x), axis=axis))


def cross_entropy(logits: mx.array, targets: mx.array, weights: Optional[mx.array] = None,
                  axis: int = -1, label_smoothing: float = 0.0,
                  reduction: Reduction = "none") -> mx.array:
    """Cross entropy of unnormalized ``logits`` against class indices (``targets`` lacks
    ``axis``) or class probabilities (``targets`` shaped like ``logits``), with optional
    per-target ``weights`` and label smoothing."""
    if label_smoothing < 0 or label_smoothing >= 1:
        raise ValueError(f"Label smoothing must be in [0, 1), got {label_smoothing}.")
    as_probs = targets.ndim == logits.ndim
    if as_probs:
        expected = logits.shape
    else:
        expected = list(logits.shape)
        expected.pop(axis)
        expected = tuple(expected)
    if targets.shape != expected:
        raise ValueError(
            f"Targets shape {targets.shape} does not match logits shape {logits.shape}.")

    logits = logits - mx.stop_gradient(mx.max(logits, axis=axis, keepdims=True))
    if as_probs:
        score = mx.sum(logits * targets, axis=axis)
    else:
        score = mx.take_along_axis(logits, mx.expand_dims(targets, axis), axis).squeeze(axis)
    lse = mx.logsumexp(logits, axis=axis)
    if label_smoothing > 0:
        smoothing = -mx.mean(logits, axis=axis) * label_smoothing
        loss = lse - (1 - label_smoothing) * score + smoothing
    else:
        loss = lse - score
    return _reduce(_apply_weights(loss, weights), reduction)


def binary_cross_entropy(inputs: mx.array, targets: mx.array,
                         weights: Optional[mx.array] = None, with_logits: bool = True,
                         reduction: Reduction = "mean") -> mx.array:
    """Binary cross entropy of logits (``with_logits``) or probabilities, whose logs are
    clipped at -100, against targets in [0, 1]."""
    if inputs.shape != targets.shape:
        raise ValueError(
            f"Inputs shape {inputs.shape} does not match targets shape {targets.shape}.")
    if with_logits:
        loss = mx.logaddexp(0.0, inputs) - inputs * targets
    else:
        log_p = mx.clip(mx.log(inputs), a_min=-100, a_max=None)
        log_not_p = mx.clip(mx.log(1 - inputs), a_min=-100, a_max=None)
        loss = -(targets * log_p + (1 - targets) * log_not_p)
    return _reduce(_apply_weights(loss, weights), reduction)


def l1_loss(predictions: mx.array, targets: mx.array,
            reduction: Reduction = "mean") -> mx.array:
    """Absolute error."""
    _check_same_shape(predictions, targets)
    return _reduce(mx.abs(predictions - targets), reduction)


def mse_loss(predictions: mx.array, targets: mx.array,
             reduction: Reduction = "mean") -> mx.array:
    """Squared error."""
    _check_same_shape(predictions, targets)
    return _reduce(mx.square(predictions - targets), reduction)


def nll_loss(inputs: mx.array, targets: mx.array, axis: int = -1,
             reduction: Reduction = "none") -> mx.array:
    """Negative log likelihood of class indices ``targets`` under log-probabilities
    ``inputs``."""
    picked = mx.take_along_axis(inputs, mx.expand_dims(targets, axis), axis).squeeze(axis)
    return _reduce(-picked, reduction)


def gaussian_nll_loss(inputs: mx.array, targets: mx.array, vars: mx.array, full: bool = False,
                      eps: float = 1e-6, reduction: Reduction = "mean") -> mx.array:
    """Negative log likelihood of ``targets`` under Gaussians of mean ``inputs`` and variance
    ``max(vars, eps)``; ``full`` adds the constant ``0.5 log(2 pi)``."""
    if inputs.shape != targets.shape:
        raise ValueError(
            f"Inputs shape {inputs.shape} does not match targets shape {targets.shape}.")
    if inputs.shape != vars.shape:
        raise ValueError(
            f"Inputs shape {inputs.shape} does not match vars shape {vars.shape}.")
    vars = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(vars) + mx.square(targets - inputs) / vars)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def kl_div_loss(inputs: mx.array, targets: mx.array, axis: int = -1,
                reduction: Reduction = "none") -> mx.array:
    """Kullback-Leibler divergence ``sum(exp(t) (t - x), axis)`` of log-probabilities."""
    loss = mx.sum(mx.exp(targets) * (targets - inputs), axis)
    return _reduce(loss, reduction)


def smooth_l1_loss(predictions: mx.array, targets: mx.array, beta: float = 1.0,
                   reduction: Reduction = "mean") -> mx.array:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    _check_same_shape(predictions, targets)
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def triplet_loss(anchors: mx.array, positives: mx.array, negatives: mx.array, axis: int = -1,
                 p: int = 2, margin: float = 1.0, eps: float = 1e-6,
                 reduction: Reduction = "none") -> mx.array:
    """``max(|a - p|_p - |a - n|_p + margin, 0)``, each distance ``(sum |d|^p + eps)^(1/p)``
    over ``axis``."""

    def distance(x, y):
        return mx.power(mx.power(mx.abs(x - y), p).sum(axis) + eps, 1.0 / p)

    loss = mx.maximum(distance(anchors, positives) - distance(anchors, negatives) + margin, 0)
    return _reduce(loss, reduction)


def hinge_loss(inputs: mx.array, targets: mx.array, reduction: Reduction = "none") -> mx.array:
    """``max(1 - inputs * targets, 0)`` for targets in {-1, 1}."""
    return _reduce(mx.maximum(1 - inputs * targets, 0), reduction)


def huber_loss(inputs: mx.array, targets: mx.array, delta: float = 1.0,
               reduction: Reduction = "none") -> mx.array:
    """``0.5 a^2`` for ``|a| <= delta``, else ``delta (|a| - 0.5 delta)``."""
    abs_err = mx.abs(inputs - targets)
    quadratic = mx.minimum(abs_err, delta)
    loss = 0.5 * quadratic**2 + delta * (abs_err - quadratic)
    return _reduce(loss, reduction)


def log_cosh_loss(inputs: mx.array, targets: mx.array,
                  reduction: Reduction = "none") -> mx.array:
    """``log(cosh(inputs - targets))``, computed without overflow."""
    err = inputs - targets
    return _reduce(mx.logaddexp(err, -err) - math.log(2), reduction)


def cosine_similarity_loss(x1: mx.array, x2: mx.array, axis: int = 1, eps: float = 1e-8,
                           reduction: Reduction = "none") -> mx.array:
    """Cosine similarity ``x1 . x2 / max(|x1| |x2|, eps)`` along ``axis``."""
    denom = mx.maximum(_norm(x1, axis) * _norm(x2, axis), eps)
    return _reduce(mx.sum(x1 * x2, axis=axis) / denom, reduction)


def margin_ranking_loss(inputs1: mx.array, inputs2: mx.array, targets: mx.array,
                        margin: float = 0.0, reduction: Reduction = "none") -> mx.array:
    """``max(0, -targets (inputs1 - inputs2) + margin)`` for targets in {-1, 1}."""
    if not (inputs1.shape == inputs2.shape == targets.shape):
        raise ValueError(
            "The shapes of the arguments do not match. The provided shapes are "
            f"inputs1.shape={inputs1.shape}, inputs2.shape={inputs2.shape}, and "
            f"targets.shape={targets.shape}.")
    loss = mx.maximum(0, -targets * (inputs1 - inputs2) + margin)
    return _reduce(loss, reduction)
