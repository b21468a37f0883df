"""Toy data and quality measures for judging a GAN: what the GAN chapters measure, kept apart
from the training code in :mod:`advrec.gan`.

- :func:`ring_of_gaussians` / :func:`ring_centers` -- the mode-collapse benchmark (a mixture of
  Gaussians on a circle) and :func:`mode_coverage`, how many of its modes a generator covers;
- :func:`frechet_distance` -- the FID formula between two feature sets;
- the game on a finite set of points, where everything has a closed form:
  :func:`game_value` ``V(D, G)``, :func:`optimal_discriminator` ``D*``,
  :func:`value_at_optimal_discriminator` ``C(G) = max_D V``, and the divergences it equals,
  :func:`kl_divergence` and :func:`jensen_shannon`;
- :func:`mosaic` -- a batch of small images as one image, to look at.
"""

from __future__ import annotations

import numpy as np


def ring_centers(num_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres ``(num_modes, 2)`` of modes spaced evenly on a circle of ``radius``."""
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(
    num_samples: int,
    num_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    """Samples ``(num_samples, 2)`` float32 from an equal mixture of Gaussians on a ring.

    The standard mode-collapse benchmark (Metz et al., 2017; Srivastava et al., 2017).
    """
    if num_samples < 1 or num_modes < 1 or std <= 0:
        raise ValueError(
            f"Need num_samples >= 1, num_modes >= 1 and std > 0; got {num_samples}, "
            f"{num_modes}, {std}."
        )
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, num_modes, size=num_samples)
    centers = ring_centers(num_modes, radius)
    return (centers[modes] + std * rng.normal(size=(num_samples, 2))).astype(np.float32)


def mode_coverage(
    samples: np.ndarray,
    centers: np.ndarray,
    std: float,
    min_share: float = 0.01,
) -> tuple[int, float]:
    """How many modes a generator covers, and how many of its samples are good.

    A sample is *high quality* when it lies within ``3 * std`` of its nearest centre; a mode is
    *covered* when at least ``min_share`` of all samples are high-quality samples of that mode.

    Args:
        samples: ``(n, d)`` generated samples.
        centers: ``(modes, d)`` centres of the true mixture components.
        std: standard deviation of each component.
        min_share: share of the samples a mode needs to count as covered.

    Returns:
        (number of covered modes, share of high-quality samples in [0, 1]).
    """
    samples, centers = np.asarray(samples, np.float64), np.asarray(centers, np.float64)
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"samples (n, d) and centers (modes, d) must share d; got shapes {samples.shape} "
            f"and {centers.shape}."
        )
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    high_quality = distances.min(axis=1) < 3.0 * std
    per_mode = np.bincount(nearest[high_quality], minlength=len(centers))
    covered = int(np.sum(per_mode >= min_share * len(samples)))
    return covered, float(high_quality.mean())


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(n, d)`` and ``(m, d)``.

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` (Heusel et al., 2017), the FID
    formula; with features from a small classifier instead of Inception it is *a* Fréchet
    distance, comparable only within one feature extractor.
    """
    features_a = np.asarray(features_a, np.float64)
    features_b = np.asarray(features_b, np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"Both feature sets must be (n, d) with the same d; got {features_a.shape} and "
            f"{features_b.shape}."
        )
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    # tr((S_a S_b)^{1/2}) = sum of sqrt of the eigenvalues of S_a S_b (real, >= 0 in theory).
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b)
    trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues.real, 0.0, None)))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def _distribution(p: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(p, np.float64)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"{name} must be a 1-D probability vector (>= 0, summing to 1).")
    return p


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """``KL(p || q) = sum_x p(x) log(p(x) / q(x))`` of two distributions over the same points,
    with ``0 log 0 = 0``; ``inf`` where ``p`` has mass and ``q`` has none."""
    p, q = _distribution(p, "p"), _distribution(q, "q")
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """``JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``; between 0
    (equal) and ``log 2`` (disjoint supports)."""
    m = (np.asarray(p, np.float64) + np.asarray(q, np.float64)) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def game_value(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """``V(D, G) = sum_x p_data(x) log D(x) + p_g(x) log(1 - D(x))`` for discriminators ``d``
    of shape ``(..., points)`` with values in (0, 1); returns shape ``(...)``."""
    d = np.asarray(d, np.float64)
    return np.sum(np.asarray(p_data) * np.log(d) + np.asarray(p_g) * np.log1p(-d), axis=-1)


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (Goodfellow et al., 2014), and 1/2 where
    neither distribution has mass."""
    p_data, p_g = _distribution(p_data, "p_data"), _distribution(p_g, "p_g")
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def value_at_optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> float:
    """``C(G) = max_D V(D, G) = V(D*, G)``, computed with ``0 log 0 = 0`` (where a distribution
    has no mass, ``D*`` is 0 or 1 and its term vanishes). It equals
    ``-log 4 + 2 JSD(p_data || p_g)``."""
    d_star = optimal_discriminator(p_data, p_g)
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    real = np.where(p_data > 0, p_data * np.log(np.where(p_data > 0, d_star, 1.0)), 0.0)
    fake = np.where(p_g > 0, p_g * np.log(np.where(p_g > 0, 1 - d_star, 1.0)), 0.0)
    return float(np.sum(real + fake))


def mosaic(batch: np.ndarray, rows: int = 6) -> np.ndarray:
    """``rows * rows`` images ``(n, h, w, 1)`` (values in [-1, 1], ``n >= rows**2``) as one
    ``(rows * (h + 2), rows * (w + 2))`` image, the tiles separated by a blank border."""
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[-1] != 1 or len(batch) < rows * rows:
        raise ValueError(
            f"give at least {rows * rows} images of shape (h, w, 1); got {batch.shape}."
        )
    tiles = np.pad(batch[: rows * rows, ..., 0], ((0, 0), (1, 1), (1, 1)), constant_values=-1.0)
    h, w = tiles.shape[1:]
    return tiles.reshape(rows, rows, h, w).transpose(0, 2, 1, 3).reshape(rows * h, rows * w)
