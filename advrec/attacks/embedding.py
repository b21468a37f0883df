"""Adversarial perturbations of a trained matrix-factorisation model's embeddings.

The attacker moves every user row of ``P`` and item row of ``Q`` by at most ``epsilon`` (l2 norm
per row) in the direction that increases the BPR loss on the *training* pairs, as in He et al.
(SIGIR 2018), and the perturbed model is evaluated like any other (:func:`perturbed_score_all`
returns a ``score_fn`` for :func:`advrec.metrics.evaluate_ranking`). The model's weights are never
changed: the attacks work on copies of its tables.

- :func:`fgsm_perturbation` -- one step, ``Δ = ε · g / ‖g‖`` per table row (Goodfellow et al.,
  2015, with the per-row normalisation of APR's released code).
- :func:`iterative_perturbation` -- several steps of size ``α`` along the normalised gradient at
  the current perturbed point, each followed by a projection of every row back onto the ε-ball
  (projected gradient ascent, as in Madry et al., 2018).
- :func:`random_perturbation` -- the control: every row moved by exactly the same norm in a
  random direction (uniform on the sphere), so an attack's harm can be set against what any
  perturbation of that size does.

With ``relative=True`` the budget is a fraction of each row's own norm: row ``r`` moves by at most
``ε · ‖θ_r‖``, so a model cannot look robust merely by having larger embeddings (an absolute
budget is smaller, relative to the rows, for a model with larger rows; :func:`embedding_norms`
gives the sizes to compare it with).

The model must expose ``user_factors [n_users, dim]``, ``item_factors [n_items, dim]`` and
``item_bias [n_items]`` and score ``x_ui = p_u · q_i + b_i`` (BPR-MF and AMF do); the item bias is
not perturbed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from advrec.checks import check_int, check_real, check_seed
from advrec.data.interactions import Interactions
from advrec.data.sampling import NegativeSampler
from advrec.data.splits import Split
from advrec.losses import bpr_loss
from advrec.metrics import ScoreFn
from advrec.models.mf import BPRMF
from advrec.protocol import evaluate_split

ATTACKS = ("fgsm", "iterative")
"""The gradient attacks."""
CONTROLS = ("random",)
"""Perturbations of the same size that use no gradient (the control of an attack)."""
METHODS = ATTACKS + CONTROLS
"""Everything :func:`attacked_score_all` and :func:`robustness_curve` accept."""


@dataclass(frozen=True)
class FactorTables:
    """Copies of a model's tables: ``users [n_users, dim]``, ``items [n_items, dim]``,
    ``item_bias [n_items]`` (float32 tensors, detached from the model's variables)."""

    users: tf.Tensor
    items: tf.Tensor
    item_bias: tf.Tensor

    @classmethod
    def of(cls, model) -> FactorTables:
        """Copies the tables of a model with ``user_factors``, ``item_factors``, ``item_bias``."""
        missing = [
            name
            for name in ("user_factors", "item_factors", "item_bias")
            if not hasattr(model, name)
        ]
        if missing:
            raise TypeError(
                f"{type(model).__name__} has no {', '.join(missing)}: the embedding attacks "
                "need a matrix-factorisation model such as advrec.models.BPRMF or AMF."
            )
        return cls(
            tf.identity(tf.convert_to_tensor(model.user_factors)),
            tf.identity(tf.convert_to_tensor(model.item_factors)),
            tf.identity(tf.convert_to_tensor(model.item_bias)),
        )


@dataclass(frozen=True)
class Perturbation:
    """Additive perturbation of the factor tables: ``users [n_users, dim]``,
    ``items [n_items, dim]`` (float32)."""

    users: tf.Tensor
    items: tf.Tensor

    def max_row_norm(self) -> float:
        """Largest l2 norm of a perturbed row (at most ε for the attacks here)."""
        norms = [tf.reduce_max(tf.norm(t, axis=-1)) for t in (self.users, self.items)]
        return float(tf.reduce_max(tf.stack(norms)))


def training_triples(
    train: Interactions, seed: int = 0, negatives_per_pair: int = 1
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The attacker's data: every training pair with sampled negatives (deterministic in ``seed``).

    Returns int32 ``users, positives, negatives``, each ``[len(train) * negatives_per_pair]``.
    """
    if len(train) == 0:
        raise ValueError("the training table is empty: the attack needs training pairs.")
    negatives_per_pair = check_int(negatives_per_pair, "negatives_per_pair", low=1)
    seed = check_seed(seed)
    users = tf.constant(np.tile(train.user, negatives_per_pair), tf.int32)
    positives = tf.constant(np.tile(train.item, negatives_per_pair), tf.int32)
    negatives = NegativeSampler(train)(users, keras.random.SeedGenerator(seed))
    return users, positives, negatives


def bpr_loss_of_tables(
    tables: FactorTables,
    perturbation: Perturbation,
    triples: tuple[tf.Tensor, tf.Tensor, tf.Tensor],
) -> tf.Tensor:
    """Scalar BPR loss of ``triples`` scored with the tables moved by ``perturbation``."""
    users, positives, negatives = triples
    p = tf.gather(tables.users + perturbation.users, users)
    q = tables.items + perturbation.items
    b = tables.item_bias
    margin = BPRMF.margin(
        p,
        tf.gather(q, positives),
        tf.gather(q, negatives),
        tf.gather(b, positives),
        tf.gather(b, negatives),
    )
    return bpr_loss(margin)


@tf.function(reduce_retracing=True)
def _normalized_gradients(
    users_table: tf.Tensor,
    items_table: tf.Tensor,
    item_bias: tf.Tensor,
    delta_users: tf.Tensor,
    delta_items: tf.Tensor,
    users: tf.Tensor,
    positives: tf.Tensor,
    negatives: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Row-normalised gradient of the BPR loss w.r.t. the perturbation (traced once per shape)."""
    tables = FactorTables(users_table, items_table, item_bias)
    with tf.GradientTape() as tape:
        tape.watch([delta_users, delta_items])
        loss = bpr_loss_of_tables(
            tables, Perturbation(delta_users, delta_items), (users, positives, negatives)
        )
    gradients = tape.gradient(loss, [delta_users, delta_items])
    return tuple(tf.math.l2_normalize(tf.convert_to_tensor(g), axis=-1) for g in gradients)


def _ascent_direction(
    tables: FactorTables, perturbation: Perturbation, triples
) -> tuple[tf.Tensor, tf.Tensor]:
    """Row-normalised gradient of the BPR loss w.r.t. the perturbation: ``[n_users, dim]``,
    ``[n_items, dim]`` (zero rows where the gradient is zero)."""
    return _normalized_gradients(
        tables.users,
        tables.items,
        tables.item_bias,
        perturbation.users,
        perturbation.items,
        *triples,
    )


def _project_rows(delta: tf.Tensor, radius: float | tf.Tensor) -> tf.Tensor:
    """Scales down every row of ``delta [n, dim]`` whose l2 norm exceeds its radius (a scalar,
    or ``[n, 1]``: one per row)."""
    norms = tf.norm(delta, axis=-1, keepdims=True)
    return delta * tf.math.divide_no_nan(radius, tf.maximum(norms, radius))


def _radii(tables: FactorTables, epsilon: float, relative: bool) -> tuple:
    """The budget of every user and item row: ``epsilon`` itself, or, with ``relative``,
    ``epsilon · ‖row‖`` as ``[n_users, 1]`` and ``[n_items, 1]``."""
    if not relative:
        return epsilon, epsilon
    return tuple(
        epsilon * tf.norm(table, axis=-1, keepdims=True) for table in (tables.users, tables.items)
    )


def embedding_norms(model) -> dict[str, float]:
    """Sizes of a BPR-MF-like model's rows, to set beside an absolute budget ε: the mean and
    median l2 norm of its user rows and of its item rows (all rows of each table).

    Returns ``{"user mean", "user median", "item mean", "item median"}`` (floats).
    """
    tables = FactorTables.of(model)
    sizes = {}
    for name, table in (("user", tables.users), ("item", tables.items)):
        norms = np.linalg.norm(np.asarray(table), axis=-1)
        sizes[f"{name} mean"] = float(norms.mean())
        sizes[f"{name} median"] = float(np.median(norms))
    return sizes


def _check_epsilon(epsilon: float) -> float:
    return check_real(epsilon, "epsilon", low=0, hint="a perturbation norm")


def fgsm_perturbation(
    model,
    train: Interactions,
    epsilon: float,
    seed: int = 0,
    negatives_per_pair: int = 1,
    triples: tuple[tf.Tensor, tf.Tensor, tf.Tensor] | None = None,
    relative: bool = False,
) -> Perturbation:
    """One-step attack ``Δ = ε · g / ‖g‖`` per row, ``g`` the BPR loss gradient on ``train``.

    Args:
        model: a BPR-MF-like model (see the module docstring); it is not modified.
        train: the training pairs the attacker knows.
        epsilon: l2 norm of each perturbed row (with ``relative``: its fraction of the row's
            own norm).
        seed, negatives_per_pair: see :func:`training_triples`.
        triples: the attacker's ``(users, positives, negatives)``, if already drawn (then
            ``train``, ``seed`` and ``negatives_per_pair`` are not used).
        relative: row ``r`` moves by ``ε · ‖θ_r‖`` instead of ``ε``.
    """
    epsilon = _check_epsilon(epsilon)
    tables = FactorTables.of(model)
    zero = Perturbation(tf.zeros_like(tables.users), tf.zeros_like(tables.items))
    if triples is None:
        triples = training_triples(train, seed, negatives_per_pair)
    d_users, d_items = _ascent_direction(tables, zero, triples)
    r_users, r_items = _radii(tables, epsilon, relative)
    return Perturbation(r_users * d_users, r_items * d_items)


def iterative_perturbation(
    model,
    train: Interactions,
    epsilon: float,
    steps: int = 10,
    step_size: float | None = None,
    seed: int = 0,
    negatives_per_pair: int = 1,
    triples: tuple[tf.Tensor, tf.Tensor, tf.Tensor] | None = None,
    relative: bool = False,
) -> Perturbation:
    """Multi-step attack: ``Δ ← Π_ε(Δ + α · g(Θ + Δ) / ‖g(Θ + Δ)‖)`` per row, ``steps`` times.

    Args:
        model, train, epsilon, seed, negatives_per_pair, triples, relative: as for
            :func:`fgsm_perturbation` (with ``relative``, each row has its own ball, of radius
            ``ε · ‖θ_r‖``, and its own step, ``α · ‖θ_r‖``).
        steps: number of ascent steps (1 with ``step_size = epsilon`` is FGSM).
        step_size: ``α``; default ``2.5 · epsilon / steps`` (Madry et al., 2018).
    """
    epsilon = _check_epsilon(epsilon)
    steps = check_int(steps, "steps", low=1)
    if step_size is None:
        alpha = 2.5 * epsilon / steps
    else:
        alpha = check_real(step_size, "step_size", low=0, low_open=True, hint="or None")
    tables = FactorTables.of(model)
    if triples is None:
        triples = training_triples(train, seed, negatives_per_pair)
    delta = Perturbation(tf.zeros_like(tables.users), tf.zeros_like(tables.items))
    if epsilon == 0.0:
        return delta
    r_users, r_items = _radii(tables, epsilon, relative)
    a_users, a_items = _radii(tables, alpha, relative)
    for _ in range(steps):
        d_users, d_items = _ascent_direction(tables, delta, triples)
        delta = Perturbation(
            _project_rows(delta.users + a_users * d_users, r_users),
            _project_rows(delta.items + a_items * d_items, r_items),
        )
    return delta


def random_perturbation(
    model, epsilon: float, seed: int = 0, relative: bool = False
) -> Perturbation:
    """The control of an attack: every user and item row moved by exactly ``epsilon`` (with
    ``relative``: ``ε · ‖θ_r‖``) in a direction drawn uniformly on the sphere, independently per
    row (deterministic in ``seed``). Same norms as :func:`fgsm_perturbation`, no gradient."""
    epsilon = _check_epsilon(epsilon)
    rng = np.random.default_rng(check_seed(seed))
    tables = FactorTables.of(model)

    def directions(table: tf.Tensor) -> tf.Tensor:
        draws = tf.constant(rng.standard_normal(table.shape.as_list()), tf.float32)
        return tf.math.l2_normalize(draws, axis=-1)

    r_users, r_items = _radii(tables, epsilon, relative)
    return Perturbation(r_users * directions(tables.users), r_items * directions(tables.items))


def perturbed_score_all(model, perturbation: Perturbation) -> ScoreFn:
    """``score_fn``: int32 ``[B]`` users -> float32 ``[B, n_items]`` scores of the model whose
    tables are moved by ``perturbation`` (the model itself is untouched)."""
    tables = FactorTables.of(model)
    if tables.users.shape != perturbation.users.shape or (
        tables.items.shape != perturbation.items.shape
    ):
        raise ValueError(
            f"the perturbation's shapes {perturbation.users.shape}, {perturbation.items.shape} "
            f"do not match the model's tables {tables.users.shape}, {tables.items.shape}."
        )
    users_table = tables.users + perturbation.users
    items_table = tables.items + perturbation.items

    def score_all(users: tf.Tensor) -> tf.Tensor:
        p = tf.gather(users_table, users)
        return tf.matmul(p, items_table, transpose_b=True) + tables.item_bias

    return score_all


def attacked_score_all(
    model,
    train: Interactions,
    epsilon: float,
    method: str = "fgsm",
    steps: int = 10,
    seed: int = 0,
    relative: bool = False,
) -> ScoreFn:
    """The ``score_fn`` of ``model`` under the attack ``method`` (``"fgsm"``, ``"iterative"``, or
    the ``"random"`` control) with budget ``epsilon`` (``relative``: see
    :func:`fgsm_perturbation`)."""
    if method == "random":
        perturbation = random_perturbation(model, epsilon, seed=seed, relative=relative)
    elif method == "fgsm":
        perturbation = fgsm_perturbation(model, train, epsilon, seed=seed, relative=relative)
    elif method == "iterative":
        perturbation = iterative_perturbation(
            model, train, epsilon, steps=steps, seed=seed, relative=relative
        )
    else:
        raise ValueError(f"unknown attack {method!r}; choose one of {METHODS}.")
    return perturbed_score_all(model, perturbation)


def evaluate_under_attack(
    model,
    split: Split,
    epsilon: float,
    method: str = "fgsm",
    steps: int = 10,
    seed: int = 0,
    ks: tuple[int, ...] = (10,),
    relative: bool = False,
) -> dict[str, float]:
    """Test metrics (full ranking, training and validation pairs excluded) of ``model`` under
    the attack ``method`` with budget ``epsilon``, computed from ``split.train``
    (``relative``: see :func:`fgsm_perturbation`)."""
    score_fn = attacked_score_all(
        model, split.train, epsilon, method=method, steps=steps, seed=seed, relative=relative
    )
    return evaluate_split(score_fn, split, "test", ks=ks)


def robustness_curve(
    model,
    split: Split,
    budgets: Sequence[float],
    method: str = "fgsm",
    steps: int = 10,
    seed: int = 0,
    ks: Sequence[int] = (10,),
    relative: bool = False,
) -> dict[str, np.ndarray]:
    """Test metrics of ``model`` under the attack ``method`` (one of :data:`METHODS`) at each
    budget in ``budgets`` (``relative``: each a fraction of the row norms, see
    :func:`fgsm_perturbation`).

    The attacker's triples are drawn once (``seed``) and shared by all budgets; FGSM's direction
    does not depend on the budget, so it is computed once too, and so is the ``"random"``
    control's (one draw from ``seed``, scaled to each budget).

    Returns:
        ``{metric: float64 [len(budgets)]}``, e.g. ``"ndcg@10"``, ``"recall@10"``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attack {method!r}; choose one of {METHODS}.")
    budgets = [_check_epsilon(b) for b in budgets]
    if not budgets:
        raise ValueError("budgets is empty; give the perturbation norms, e.g. (0.1, 0.5, 1.0).")
    triples = training_triples(split.train, seed)
    if method == "fgsm":
        direction = fgsm_perturbation(model, split.train, 1.0, triples=triples, relative=relative)
    elif method == "random":
        direction = random_perturbation(model, 1.0, seed=seed, relative=relative)
    curve: dict[str, list[float]] = {}
    for epsilon in budgets:
        if method in ("fgsm", "random"):
            perturbation = Perturbation(epsilon * direction.users, epsilon * direction.items)
        else:
            perturbation = iterative_perturbation(
                model, split.train, epsilon, steps=steps, triples=triples, relative=relative
            )
        metrics = evaluate_split(perturbed_score_all(model, perturbation), split, "test", ks=ks)
        for name, value in metrics.items():
            curve.setdefault(name, []).append(value)
    return {name: np.asarray(values) for name, values in curve.items()}
