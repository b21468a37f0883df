"""Shilling attacks: fake user profiles injected to push (or nuke) a target item.

The attacker controls ``m`` fake accounts; each interacts with the target item and with
``filler_size`` other items. With implicit feedback (every interaction is a 1) the classic
attack models of Lam & Riedl (2004) and Mobasher et al. (2007) lose their rating values, and
what is left is *which* items a profile holds:

- ``random``: fillers drawn uniformly from the catalogue (explicit data: random items rated
  around the global mean -- which needs no knowledge of the items).
- ``average``: fillers drawn with probability proportional to item popularity (explicit data:
  each filler rated at *its own* mean -- item-level knowledge; with implicit data the item-level
  statistic the attacker can use is how often each item is consumed).
- ``bandwagon``: the ``n_selected`` most popular items plus uniform fillers.
- ``segment``: the ``n_selected`` items most co-consumed with the target (its audience's
  favourites) plus uniform fillers.

``push`` profiles contain the target; ``nuke`` profiles leave it out and always contain the
target's segment items: with implicit data there is no low rating, and the way to say "not this
one" is to look like the target's audience and never take it (a pairwise model then samples the
target as a negative for those users).

Two learned attacks use a *surrogate*, a model the attacker trains on the data it sees.

- :func:`optimised_profiles` -- the optimised attack ("surrogate"): projected gradient ascent on
  the fake profiles through the exact retraining of an item-item ridge surrogate (EASE^R's closed
  form, updated for the fake rows by the Woodbury identity), several steps, keeping the profiles
  whose surrogate objective is best (:class:`RidgeSurrogate`).
- :class:`ProfileGAN` -- an AUSH-style GAN (Lin et al., 2020): the generator turns a real user's
  profile (the template) into a filler set, a discriminator tells generated from real profiles,
  and an attack loss rewards fillers along the influence direction of a BPR-MF surrogate
  (:func:`influence_direction`; :func:`surrogate_profiles` draws profiles from it in one step).

:func:`clone_profiles` is the positive control: a copy of every real user's profile plus the
target, an attack so large that the measure must register it.

The attacker's knowledge, everywhere: the real users' training interactions (not validation or
test), not the victim model, its hyper-parameters or its seed.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from advrec.checks import check_finite, check_id, check_int, check_real, check_seed
from advrec.data.interactions import Interactions
from advrec.data.splits import Split
from advrec.distribute import replica_normal, replica_uniform
from advrec.gan import TwoPlayerModel
from advrec.losses import (
    discriminator_cross_entropy,
    non_saturating_generator_loss,
    weighted_mean,
)
from advrec.metrics import batch_mask, check_cutoffs, checked_scores, items_by_user
from advrec.seeds import derive_seed

CLASSIC_ATTACKS = ("random", "average", "bandwagon", "segment")
"""The textbook profile models (Mobasher et al., 2007), translated to implicit feedback."""


# -- targets and budgets ----------------------------------------------------------------------


def choose_targets(
    train: Interactions,
    n_unpopular: int = 2,
    n_mid: int = 2,
    min_count: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """int64 ``[n_unpopular + n_mid]`` target items drawn with a fixed seed.

    Among items with at least ``min_count`` training interactions (an item nobody watched is
    not a realistic product to promote), *unpopular* items are those at or below the 25th
    percentile of popularity and *mid-popular* ones lie between the 45th and 55th percentiles.
    """
    n_unpopular = check_int(n_unpopular, "n_unpopular", low=0)
    n_mid = check_int(n_mid, "n_mid", low=0)
    if n_unpopular + n_mid == 0:
        raise ValueError("n_unpopular and n_mid are both 0: ask for at least one target.")
    seed = check_seed(seed)
    counts = train.item_counts()
    eligible = np.flatnonzero(counts >= min_count)
    if len(eligible) < n_unpopular + n_mid:
        raise ValueError(
            f"only {len(eligible)} items have >= {min_count} interactions; lower min_count."
        )
    low, mid_lo, mid_hi = np.quantile(counts[eligible], [0.25, 0.45, 0.55])
    unpopular = eligible[counts[eligible] <= low]
    mid = eligible[(counts[eligible] >= mid_lo) & (counts[eligible] <= mid_hi)]
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.choice(unpopular, n_unpopular, replace=False),
            rng.choice(mid, n_mid, replace=False),
        ]
    ).astype(np.int64)


def n_fake_users(n_real: int, size: float) -> int:
    """Number of fake users for an attack size given as a fraction of the real users (>= 1)."""
    n_real = check_int(n_real, "n_real", low=1, hint="the number of real users")
    if not 0 < size <= 1:
        raise ValueError(f"attack size is a fraction of the real users in (0, 1], got {size}.")
    return max(1, int(round(size * n_real)))


def _check_target(train: Interactions, target: int) -> int:
    """``target`` as an ``int`` item id of ``train`` (not a float, a bool or a negative index)."""
    return check_id(target, train.n_items, "target")


# -- the classic profiles ---------------------------------------------------------------------


def segment_items(train: Interactions, target: int, n: int) -> np.ndarray:
    """int64 ``[n]``: the items most associated with ``target`` by its audience.

    Score ``co(j, t) / sqrt(pop(j))`` (the cosine numerator of item-item similarity, which
    favours the audience's specific tastes over items everybody watches); ties by popularity.
    """
    target = _check_target(train, target)
    n = check_int(n, "n", low=1, hint="the number of segment items")
    audience = np.unique(train.user[train.item == target])
    if len(audience) == 0:
        raise ValueError(
            f"item {target} has no training interactions, so it has no segment; pick a target "
            "with an audience (see choose_targets) or use the bandwagon attack."
        )
    co = np.bincount(train.item[np.isin(train.user, audience)], minlength=train.n_items)
    pop = train.item_counts()
    score = co / np.sqrt(np.maximum(pop, 1)) + 1e-9 * pop
    score[target] = -np.inf
    return np.argsort(-score, kind="stable")[:n].astype(np.int64)


def classic_profiles(
    train: Interactions,
    target: int,
    kind: str,
    n_fake: int,
    filler_size: int = 50,
    n_selected: int = 10,
    push: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """bool ``[n_fake, n_items]`` fake profiles of one classic attack model.

    Args:
        train: what the attacker sees (the real users' training interactions).
        target: the item to push (or nuke).
        kind: one of :data:`CLASSIC_ATTACKS`.
        n_fake: number of fake users.
        filler_size: items per profile besides the target (selected items included).
        n_selected: popular items (bandwagon) or segment items (segment, and every nuke).
        push: include the target (push) or leave it out (nuke).
        seed: seeds the filler draws.
    """
    target = _check_target(train, target)
    if kind not in CLASSIC_ATTACKS:
        raise ValueError(f"unknown attack {kind!r}; choose one of {CLASSIC_ATTACKS}.")
    n_fake = check_int(n_fake, "n_fake", low=1, hint="the number of fake users")
    filler_size = check_int(filler_size, "filler_size")
    n_selected = check_int(n_selected, "n_selected")
    seed = check_seed(seed)
    if not 0 <= n_selected <= filler_size < train.n_items - 1:
        raise ValueError(
            f"need 0 <= n_selected ({n_selected}) <= filler_size ({filler_size}) < n_items - 1."
        )
    pop = train.item_counts().astype(np.float64)
    selected = np.zeros(0, np.int64)
    if kind == "bandwagon":
        order = np.argsort(-pop, kind="stable")
        selected = order[order != target][:n_selected]
    if kind == "segment" or not push:
        selected = np.union1d(selected, segment_items(train, target, n_selected))[:filler_size]
    pool = np.setdiff1d(np.arange(train.n_items), np.append(selected, target))
    weights = pop[pool] if kind == "average" else np.ones(len(pool))
    weights = weights / weights.sum()
    rng = np.random.default_rng(seed)
    profiles = np.zeros((n_fake, train.n_items), bool)
    n_fill = filler_size - len(selected)
    for row in profiles:
        row[selected] = True
        row[rng.choice(pool, n_fill, replace=False, p=weights)] = True
        row[target] = push
    return profiles


# -- measuring an attack ----------------------------------------------------------------------


def target_exposure(
    score_fn: Callable[[tf.Tensor], tf.Tensor],
    split: Split,
    target: int,
    n_real: int | None = None,
    ks: tuple[int, ...] = (10, 50),
    batch_size: int = 1024,
) -> dict[str, float]:
    """How far the target reaches the real users who never interacted with it.

    For each real user without the target in any of train/valid/test, the target's rank
    (1-based) among the items the user has not interacted with in training (ties broken by item
    index, as in :mod:`advrec.metrics`). Returns ``{"hr@k": share with rank <= k, ...,
    "mean_rank": ..., "n_users": ...}``.

    Args:
        score_fn: int32 ``[B]`` users -> float ``[B, n_items]``.
        split: the (possibly poisoned) split the model was trained on.
        target: the attacked item.
        n_real: users ``0 .. n_real - 1`` are real (default: all of ``split``'s users).

    Raises:
        ValueError: a target, ``n_real``, cut-off or batch size out of range, or scores that are
            NaN or infinite (a broken model is not a successful attack) or of the wrong shape.
    """
    target = _check_target(split.train, target)
    n_real = (
        split.n_users if n_real is None else check_int(n_real, "n_real", low=1, high=split.n_users)
    )
    ks = check_cutoffs(ks)
    if ks[-1] > split.n_items:
        raise ValueError(f"cut-off {ks[-1]} exceeds the number of items ({split.n_items}).")
    batch_size = check_int(batch_size, "batch_size", low=1)
    touched = np.zeros(split.n_users, bool)
    for table in (split.train, split.valid, split.test):
        touched[table.user[table.item == target]] = True
    users = np.flatnonzero(~touched[:n_real]).astype(np.int32)
    if len(users) == 0:
        raise ValueError(f"every real user already interacted with item {target}.")
    history = items_by_user([split.train], split.n_users)
    index = tf.range(split.n_items)
    ranks = []
    for start in range(0, len(users), batch_size):
        batch = tf.constant(users[start : start + batch_size])
        scores = tf.cast(checked_scores(score_fn, batch, split.n_items), tf.float32)
        seen = batch_mask(history, batch, split.n_items)
        own = scores[:, target : target + 1]
        ahead = (scores > own) | ((scores == own) & (index < target)[tf.newaxis, :])
        ranks.append(1 + tf.reduce_sum(tf.cast(ahead & ~seen, tf.int32), axis=1).numpy())
    rank = np.concatenate(ranks)
    out = {f"hr@{k}": float(np.mean(rank <= k)) for k in ks}
    out["mean_rank"] = float(rank.mean())
    out["n_users"] = float(len(rank))
    return out


# -- the surrogate and the optimised attack ---------------------------------------------------


def influence_direction(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
    train: Interactions,
    target: int,
    k: int = 10,
) -> np.ndarray:
    """float32 ``[n_items]``: how much a fake user holding each item helps ``target`` (z-scored).

    One-step reasoning on a matrix-factorisation surrogate (user factors ``P [n_users, d]``, item
    factors ``Q [n_items, d]``, biases ``b``): a fake user's factor settles near the factors of
    the items it holds, and a BPR step on (fake user, target) moves the target's factor towards
    the fake user's. The target enters user ``u``'s top-``k`` when ``p_u . q_t + b_t`` passes
    ``u``'s ``k``-th best score, so the target should move along ``v = sum_u w_u p_u`` with
    ``w_u = sigmoid(gap_u / std(gap))`` weighting the users it nearly reaches (``gap_u``: target
    score minus ``k``-th best). An item's value is ``q_j . v``.
    """
    target = _check_target(train, target)
    k = check_int(k, "k", low=1, high=train.n_items, hint="the top-k the target should enter")
    p = check_finite(user_factors, "user_factors")
    q = check_finite(item_factors, "item_factors")
    b = check_finite(item_bias, "item_bias")
    if p.ndim != 2 or len(p) != train.n_users:
        raise ValueError(f"user_factors must be [{train.n_users}, d], got shape {p.shape}.")
    if q.shape != (train.n_items, p.shape[1]) or b.shape != (train.n_items,):
        raise ValueError(
            f"item_factors must be [{train.n_items}, {p.shape[1]}] and item_bias "
            f"[{train.n_items}], got {q.shape} and {b.shape}."
        )
    scores = p @ q.T + b  # [n_users, n_items]
    scores[train.user, train.item] = -np.inf
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    gap = scores[:, target] - kth
    audience = np.isinf(scores[:, target])  # already has the target
    gap = np.where(audience, np.nan, gap)
    scale = np.nanstd(gap) or 1.0
    weight = np.where(audience, 0.0, 1.0 / (1.0 + np.exp(-np.nan_to_num(gap) / scale)))
    v = weight @ p / max(weight.sum(), 1e-12)
    value = q @ v
    value[target] = value.min()
    return ((value - value.mean()) / (value.std() or 1.0)).astype(np.float32)


def surrogate_profiles(
    item_value: np.ndarray,
    target: int,
    n_fake: int,
    filler_size: int = 50,
    temperature: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """bool ``[n_fake, n_items]``: the optimised attack's profiles.

    Each fake user holds the target and ``filler_size`` items drawn without replacement with
    probability ``softmax(item_value / temperature)`` (Gumbel top-k), so the profiles favour the
    most useful items without all being the same set (identical profiles are easy to spot).
    """
    item_value = check_finite(item_value, "item_value", hint="compute it with surrogate_value")
    if item_value.ndim != 1:
        raise ValueError(f"item_value must be 1-D [n_items], got shape {item_value.shape}.")
    n_items = len(item_value)
    target = check_id(target, n_items, "target")
    n_fake = check_int(n_fake, "n_fake", low=1, hint="the number of fake users")
    filler_size = check_int(filler_size, "filler_size")
    if not 0 < filler_size < n_items:
        raise ValueError(f"filler_size must be in (0, {n_items}), got {filler_size}.")
    temperature = check_real(temperature, "temperature", low=0, low_open=True, hint="e.g. 0.5")
    rng = np.random.default_rng(seed)
    keys = item_value / temperature + rng.gumbel(size=(n_fake, n_items))
    keys[:, target] = -np.inf
    chosen = np.argpartition(-keys, filler_size - 1, axis=1)[:, :filler_size]
    profiles = np.zeros((n_fake, n_items), bool)
    np.put_along_axis(profiles, chosen, True, axis=1)
    profiles[:, target] = True
    return profiles


def clone_profiles(train: Interactions, target: int, n_fake: int | None = None) -> np.ndarray:
    """bool ``[n_fake, n_items]``: copies of the first ``n_fake`` real users' training profiles
    (default: every user), each with the target added -- the positive control, an attack that
    ties the target to every taste in the data."""
    target = _check_target(train, target)
    n_fake = train.n_users if n_fake is None else check_int(n_fake, "n_fake", low=1)
    profiles = train.dense()[:n_fake] > 0
    if len(profiles) < n_fake:
        raise ValueError(f"there are only {len(profiles)} users to copy, asked for {n_fake}.")
    profiles[:, target] = True
    return profiles


class RidgeSurrogate:
    """The attacker's differentiable surrogate: EASE^R (Steck, 2019) on the real users' training
    rows ``X`` plus fake rows ``F``, retrained exactly for every ``F``.

    ``B(F) = I - P diag(1 / diag(P))`` with ``P = (X^T X + F^T F + l2 I)^-1``; the Woodbury
    identity gives ``P`` from the fixed ``P0 = (X^T X + l2 I)^-1`` with an ``m x m`` solve, so a
    change of the ``m`` fake rows costs two products with ``P0``. The attack objective
    (:meth:`objective`) is a smooth share of the real users whose top-``k`` the target enters.

    Args:
        train: what the attacker sees (the real users' training interactions).
        target: the item to push.
        l2: the surrogate's ridge weight.
        k: the top-``k`` the target should enter.
    """

    def __init__(self, train: Interactions, target: int, l2: float = 300.0, k: int = 10):
        self.target = _check_target(train, target)
        self.k = check_int(k, "k", low=1, high=train.n_items - 2)
        l2 = check_real(l2, "l2", low=0, low_open=True, hint="e.g. 300")
        x = train.dense().astype(np.float64)
        holders = x[:, self.target] > 0
        self.p0 = tf.constant(np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1])).astype(np.float32))
        self.x = tf.constant(x[~holders].astype(np.float32))  # the users it should reach
        self.seen = tf.constant(x[~holders] > 0)
        other = np.ones(train.n_items, bool)
        other[self.target] = False
        self.other = tf.constant(other)
        self.scale = 1.0
        gap = self.gaps(tf.zeros((1, train.n_items)))
        self.scale = float(np.std(gap.numpy())) or 1.0  # fixed: objectives compare across steps

    def gaps(self, fake: tf.Tensor) -> tf.Tensor:
        """float32 ``[n_reached]``: the target's score minus the ``k``-th best other unseen
        item's, for each real user without the target, with ``fake`` rows in the training data."""
        fp = tf.matmul(fake, self.p0)  # [m, n_items]
        inner = tf.eye(tf.shape(fake)[0]) + tf.matmul(fp, fake, transpose_b=True)
        p = self.p0 - tf.matmul(fp, tf.linalg.solve(inner, fp), transpose_a=True)
        scores = -tf.matmul(self.x, p) / tf.linalg.diag_part(p)[tf.newaxis, :]
        masked = tf.where(self.seen | ~self.other[tf.newaxis, :], -np.inf, scores)
        kth = tf.math.top_k(masked, self.k).values[:, -1]
        return (scores[:, self.target] - kth) / self.scale

    def objective(self, fake: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(smooth objective, hit rate): the mean ``sigmoid(gap)`` and the share with
        ``gap > 0`` (the target in the top-``k``), over the real users without the target."""
        gap = self.gaps(fake)
        return tf.reduce_mean(tf.sigmoid(gap)), tf.reduce_mean(tf.cast(gap > 0, tf.float32))


def optimised_profiles(
    train: Interactions,
    target: int,
    n_fake: int,
    filler_size: int = 50,
    l2: float = 300.0,
    steps: int = 16,
    step_size: float = 0.1,
    k: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """The optimised attack: bool ``[n_fake, n_items]`` profiles and the optimisation history.

    Starts from the average attack's profiles (:func:`classic_profiles`, the best an attacker
    without a model does); each step takes the gradient of :class:`RidgeSurrogate`'s objective
    with respect to the 0/1 profile matrix, adds ``step_size`` times it (scaled to a mean
    absolute value of 1) to a running score per (fake user, item), and projects back onto
    profiles of ``filler_size`` items plus the target (each row's best-scored items). The
    profiles with the best objective are returned; the history has, per step (``"epoch"``), the
    ``"objective"`` and ``"hit_rate"`` of the profiles evaluated at that step (step 0: the start).
    """
    n_fake = check_int(n_fake, "n_fake", low=1, hint="the number of fake users")
    steps = check_int(steps, "steps", low=0)
    step_size = check_real(step_size, "step_size", low=0, low_open=True)
    surrogate = RidgeSurrogate(train, target, l2, k)
    profiles = classic_profiles(train, target, "average", n_fake, filler_size, seed=seed)
    running = profiles.astype(np.float64)
    fake = tf.Variable(profiles.astype(np.float32))
    history: dict[str, list[float]] = {"epoch": [], "objective": [], "hit_rate": []}
    best = (-np.inf, profiles)
    for step in range(steps + 1):
        with tf.GradientTape() as tape:
            objective, hit_rate = surrogate.objective(fake)
        history["epoch"].append(step)
        history["objective"].append(float(objective))
        history["hit_rate"].append(float(hit_rate))
        if float(objective) > best[0]:
            best = (float(objective), fake.numpy() > 0.5)
        if step == steps:
            break
        gradient = tape.gradient(objective, fake).numpy().astype(np.float64)
        running += step_size * gradient / (np.abs(gradient).mean() or 1.0)
        running[:, surrogate.target] = -np.inf
        chosen = np.argpartition(-running, filler_size - 1, axis=1)[:, :filler_size]
        running[:, surrogate.target] = 0.0
        projected = np.zeros(fake.shape, np.float32)
        np.put_along_axis(projected, chosen, 1.0, axis=1)
        projected[:, surrogate.target] = 1.0
        fake.assign(projected)
    return best[1], history


# -- the learned (GAN) attack -----------------------------------------------------------------


class ProfileGAN(TwoPlayerModel, keras.Model):
    """An AUSH-style generator of fake profiles for implicit feedback, trained with ``fit``.

    The generator reads a *template* (a real user's 0/1 profile, ``[B, n_items]``) and noise, and
    scores every item; the ``filler_size`` best-scored items (never the target) are the fake
    profile's fillers, passed on with a straight-through estimator (the forward pass is the
    0/1 top-k set, the gradient is that of ``filler_size * softmax(logits)``). The
    discriminator sees 0/1 profiles of ``filler_size`` items without the target column: the
    generated fillers, or a random ``filler_size``-subset of a real user's profile. The
    generator's loss, as in AUSH (Lin et al., 2020):

        L_G = L_adv + reconstruction_weight * L_rec + attack_weight * L_attack

    with ``L_adv`` the non-saturating GAN loss, ``L_rec`` the sigmoid cross-entropy between the
    generator's logits and the template (stay close to a real user), and ``L_attack = -mean
    (fillers . item_value) / filler_size`` (hold items that help the target, see
    :func:`influence_direction`). The players train with :class:`advrec.gan.TwoPlayerModel`'s
    pattern (one optimizer each, one replica-scaling rule); all variables are created in
    ``__init__``/``compile``.

    ``fit`` takes batches of templates: float32 ``[B, n_items]`` real profiles, each with at
    least ``filler_size`` items outside the target. The step honours padded batches
    (:mod:`advrec.models.contract`): with a 0/1 ``sample_weight`` ``[B]`` every term (D's
    cross-entropy on the real subsets and the fakes, ``L_adv``, ``L_rec``, ``L_attack``, the
    reported ``d_fake``) is the weighted mean over the template rows, whose noise and subsets
    are drawn row by row as unpadded, so :func:`advrec.training.fit_model` trains it through the
    engine.
    """

    supports_padded_batches = True

    def __init__(
        self,
        n_items: int,
        target: int,
        item_value: np.ndarray,
        filler_size: int = 50,
        latent_dim: int = 32,
        hidden_units: int = 128,
        attack_weight: float = 1.0,
        reconstruction_weight: float = 1.0,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= target < n_items:
            raise ValueError(f"target {target} is outside [0, {n_items}).")
        if not 0 < filler_size < n_items:
            raise ValueError(f"filler_size must be in (0, {n_items}), got {filler_size}.")
        if np.shape(item_value) != (n_items,):
            raise ValueError(
                f"item_value must have shape ({n_items},), got {np.shape(item_value)}."
            )
        self.n_items, self.target, self.filler_size = n_items, int(target), int(filler_size)
        self.latent_dim = int(latent_dim)
        self.attack_weight, self.reconstruction_weight = attack_weight, reconstruction_weight
        self.item_value = tf.constant(np.asarray(item_value, np.float32))
        self.not_target = tf.constant(np.arange(n_items) != target, dtype=tf.float32)

        def init(name: str):
            return keras.initializers.GlorotUniform(seed=derive_seed(seed, name))

        self.generator = keras.Sequential(
            [
                keras.Input((n_items + latent_dim,)),
                keras.layers.Dense(hidden_units, "relu", kernel_initializer=init("generator 0")),
                keras.layers.Dense(n_items, kernel_initializer=init("generator 1")),
            ],
            name="generator",
        )
        self.discriminator = keras.Sequential(
            [
                keras.Input((n_items,)),
                keras.layers.Dense(hidden_units, "relu", kernel_initializer=init("critic 0")),
                keras.layers.Dense(1, kernel_initializer=init("critic 1")),
            ],
            name="discriminator",
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("d_loss", "g_adv", "g_rec", "g_attack", "d_fake")
        self.built = True

    def generate(self, templates: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Fillers float32 ``[B, n_items]`` (0/1 forward, straight-through gradient) and logits."""
        templates = tf.cast(templates, tf.float32) * self.not_target
        noise = replica_normal((tf.shape(templates)[0], self.latent_dim), self.seed_generator)
        logits = self.generator(tf.concat([templates, noise], axis=1), training=training)
        masked = logits - 1e9 * (1.0 - self.not_target)  # the target is never a filler
        soft = self.filler_size * tf.nn.softmax(masked, axis=-1)
        _, top = tf.math.top_k(masked, k=self.filler_size)
        hard = tf.reduce_max(tf.one_hot(top, self.n_items), axis=1)
        return hard + soft - tf.stop_gradient(soft), logits

    def real_subsets(self, templates: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]``: a random ``filler_size``-subset of each real profile."""
        templates = tf.cast(templates, tf.float32) * self.not_target
        keys = templates + replica_uniform(
            (tf.shape(templates)[0], self.n_items), self.seed_generator
        )
        _, top = tf.math.top_k(keys, k=self.filler_size)  # real items (key >= 1) come first
        return tf.reduce_max(tf.one_hot(top, self.n_items), axis=1)

    def train_step(self, data):
        templates, _, weights = keras.utils.unpack_x_y_sample_weight(data)
        templates = tf.cast(templates, tf.float32)
        if weights is None:
            count = tf.cast(tf.shape(templates)[0], tf.float32)
        else:
            weights = tf.cast(weights, tf.float32)
            count = tf.reduce_sum(weights)
        # The discriminator's move, on real subsets and fresh fakes.
        fakes, _ = self.generate(templates)
        reals = self.real_subsets(templates)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(reals, training=True)
            fake_logits = self.discriminator(tf.stop_gradient(fakes), training=True)
            d_loss = discriminator_cross_entropy(real_logits, fake_logits, weights)
            scaled = self.scaled_loss("discriminator", d_loss, count)
        self.apply_update("discriminator", tape, scaled)
        # The generator's move: fakes made inside its own tape.
        with tf.GradientTape() as tape:
            fakes, logits = self.generate(templates, training=True)
            adv = non_saturating_generator_loss(self.discriminator(fakes, training=False), weights)
            cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
                labels=templates * self.not_target, logits=logits
            )  # [B, n_items]
            rec = weighted_mean(tf.reduce_mean(cross_entropy, axis=1), weights)
            attack = -weighted_mean(
                tf.reduce_sum(fakes * self.item_value, axis=1) / self.filler_size, weights
            )
            g_loss = adv + self.reconstruction_weight * rec + self.attack_weight * attack
            scaled = self.scaled_loss("generator", g_loss, count)
        self.apply_update("generator", tape, scaled)
        return self.report(
            count=count,
            d_loss=d_loss,
            g_adv=adv,
            g_rec=rec,
            g_attack=attack,
            d_fake=weighted_mean(tf.reshape(tf.sigmoid(fake_logits), [-1]), weights),
        )

    def fake_profiles(self, templates: np.ndarray) -> np.ndarray:
        """bool ``[B, n_items]``: one fake profile (fillers and the target) per template row."""
        fillers, _ = self.generate(tf.constant(np.asarray(templates, np.float32)))
        profiles = fillers.numpy() > 0.5
        profiles[:, self.target] = True
        return profiles


def gan_templates(train: Interactions, target: int, filler_size: int) -> np.ndarray:
    """float32 ``[n, n_items]``: the real training profiles usable as templates.

    AUSH's rule: users with at least ``filler_size`` items besides the target.
    """
    target = _check_target(train, target)
    filler_size = check_int(filler_size, "filler_size", low=1)
    dense = train.dense()
    counts = dense.sum(axis=1) - dense[:, target]
    templates = dense[counts >= filler_size]
    if len(templates) == 0:
        raise ValueError(f"no user has {filler_size} items besides the target; lower filler_size.")
    return templates


ALL_ATTACKS = (*CLASSIC_ATTACKS, "surrogate", "gan")
"""Every attack: the classic four, the optimised one (:func:`optimised_profiles`), the GAN (the
procedures that fit the GAN and its BPR-MF surrogate are in :mod:`advrec.recipes.shilling`)."""


def surrogate_value(surrogate: keras.Model, train: Interactions, target: int) -> np.ndarray:
    """:func:`influence_direction` of ``target`` read off a BPR-MF ``surrogate``."""
    return influence_direction(
        surrogate.user_factors.numpy(),
        surrogate.item_factors.numpy(),
        surrogate.item_bias.numpy(),
        train,
        target,
    )
