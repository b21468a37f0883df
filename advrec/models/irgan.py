"""IRGAN for item recommendation (Wang et al., SIGIR 2017), as one Keras ``train_step``.

Two matrix-factorisation players over the same users and items:

- the **generator** is a softmax policy ``p_theta(i | u) ∝ exp(g_theta(u, i))`` with
  ``g_theta(u, i) = p_u · q_i + b_i``; it *samples* items, so nothing back-propagates from the
  discriminator into it: it learns by the policy gradient (REINFORCE),
  ``∇_theta E_{i~p_theta}[r(u, i)] = E_{i~p_theta}[r(u, i) ∇_theta log p_theta(i | u)]``;
- the **discriminator** ``D(i | u) = sigmoid(f_phi(u, i))`` learns to tell the user's observed
  positives from the generator's samples (drawn at temperature ``temperature``).

The model trains in one of three phases (:meth:`IRGAN.phase`):

- ``"discriminator"`` -- the step takes a batch of observed (user, positive) pairs, or
  (user, positive, negative) triples, and makes ``discriminator_steps`` D updates against
  negatives drawn from the fixed generator at ``temperature`` (in the step for pairs; for
  triples beforehand, :meth:`IRGAN.sample_negatives`, as the released code does every 5 D
  epochs). Per pair the loss is the released one: the cross-entropy of the positive
  (label 1) and of the negative (label 0) plus ``discriminator_l2 · (2‖p_u‖² + ‖q_i‖² + ‖q_j‖²
  + b_i² + b_j²)`` (the released ``lamda · l2_loss`` of the batch is added to each of its
  examples' losses and the vector is summed: 0.1/16 · 32/2 = 0.1 per squared norm). The batch
  mean is taken, so an SGD step of ``η · B`` on ``B`` pairs is the released ``η`` per pair.
- ``"generator"`` -- the step takes a batch of users; each user draws ``generator_samples ·
  |positives|`` items from the importance-sampling proposal ``(1 - mix) p_theta + mix ·
  uniform(user's positives)``, weights each reward by ``p_theta / proposal`` and takes the mean
  REINFORCE loss over its own samples, as the released per-user update does
  (``geek-ai/irgan``, ``item_recommendation/cf_gan.py``); the batch mean over users with an SGD
  step ``η · B`` is the released ``η`` per user.
- ``"game"`` (the default) -- the step takes (user, positive) pairs and plays one round: the
  D updates, then one G update in which each pair draws ``generator_samples`` items.

The released schedule alternates whole phases (15 rounds of 100 D epochs and 50 G epochs);
:func:`advrec.recipes.gan_recommenders.run_irgan` plays it. The reward is the released code's
``2 (sigmoid(f) - 0.5)`` or the paper's ``log(1 + exp f)``.

Recommendations come from the generator (``score_all``), as in the released evaluation.

The step honours padded batches (:mod:`advrec.models.contract`): every mean over the batch -- D's
cross-entropy and penalty, G's loss over pairs or users, its penalty, the mean reward -- is over
the rows of weight 1, so the engine (:mod:`advrec.engine`) trains it. Each phase keeps its own
compiled epoch as it keeps its own Keras train function (:meth:`IRGAN.phase`).
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf
from numpy.random import Generator

from advrec.data.interactions import Interactions
from advrec.distribute import replica_categorical
from advrec.gan import TwoPlayerModel
from advrec.losses import weighted_mean
from advrec.models.saving import WeightsOnly
from advrec.seeds import derive_seed

REWARDS = ("released", "paper")
PHASES = ("game", "discriminator", "generator")


def importance_proposal(
    probabilities: tf.Tensor, positive_mask: tf.Tensor, mix: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """IRGAN's sampling proposal and importance weights.

    Args:
        probabilities: float32 ``[B, n_items]`` the generator's policy (rows sum to 1).
        positive_mask: float32 ``[B, n_items]`` 1 where the item is a training positive.
        mix: share of the proposal spread uniformly over the user's positives (users without
            a positive sample from the policy alone).

    Returns:
        ``proposal [B, n_items]`` (rows sum to 1) and ``weights = probabilities / proposal``
        ``[B, n_items]``, so that ``E_proposal[weights · r] = E_policy[r]`` for any reward r.
    """
    counts = tf.reduce_sum(positive_mask, axis=1, keepdims=True)  # [B, 1]
    share = mix * tf.cast(counts > 0, probabilities.dtype)
    uniform = positive_mask / tf.maximum(counts, 1.0)
    proposal = (1.0 - share) * probabilities + share * uniform
    weights = probabilities / tf.maximum(proposal, 1e-30)
    return proposal, weights


def reinforce_loss(
    logits: tf.Tensor, samples: tf.Tensor, rewards: tf.Tensor, weights: tf.Tensor | None = None
) -> tf.Tensor:
    """REINFORCE surrogate ``-mean(r · log softmax(logits)[sample])`` with the reward held fixed.

    Its gradient w.r.t. ``logits`` is an unbiased estimate of the gradient of
    ``-E_{i~softmax(logits)}[r(i)]`` when ``samples`` are drawn from the policy.

    Args:
        logits: float32 ``[B, n_items]`` policy logits.
        samples: int32 ``[B, S]`` sampled items.
        rewards: float32 ``[B, S]`` reward of each sample (importance weights folded in).
        weights: float32 ``[B]`` 0/1 row weights (0: padding); ``None``: all 1. The mean is
            over the samples of the rows of weight 1.
    """
    log_policy = tf.nn.log_softmax(logits, axis=-1)
    chosen = tf.gather(log_policy, samples, batch_dims=1)  # [B, S]
    per_row = tf.reduce_mean(chosen * tf.stop_gradient(rewards), axis=1)  # [B]
    return -weighted_mean(per_row, weights)


def _count(users: tf.Tensor, weights: tf.Tensor | None) -> tf.Tensor:
    """float32 scalar: the batch's real rows (the sum of its 0/1 ``weights``, or its size)."""
    if weights is None:
        return tf.cast(tf.size(users), tf.float32)
    return tf.reduce_sum(tf.cast(weights, tf.float32))


class IRGAN(WeightsOnly, TwoPlayerModel, keras.Model):
    """IRGAN's item-recommendation game with matrix-factorisation players.

    The step honours padded batches (rows of ``sample_weight`` 0 change nothing), so
    :func:`advrec.training.fit_model` trains it through the engine.

    Args:
        train: training positives (they fix the id spaces and the importance proposal).
        dim: factor size of both players (5 in the released ML-100K code).
        temperature: the generator's temperature when it samples negatives for the
            discriminator (0.2 in the released code); its policy gradient uses temperature 1.
        mix: importance-sampling share of the user's positives in the proposal (0.2).
        generator_samples: items sampled per (user, positive) pair in a generator update
            (2: the released code draws ``2 |positives|`` per user).
        discriminator_steps: discriminator updates per generator update.
        discriminator_l2: weight of the squared norms of the rows and biases a pair touches
            (0.1 in the released code, see the module docstring).
        generator_l2: weight of the squared norm of the users' generator factors (0 released).
        reward: ``"released"`` (``2 sigmoid(f) - 1``) or ``"paper"`` (``log(1 + exp f)``).
        init_scale: factors start uniform in ``[-init_scale, init_scale]`` (0.05).
        seed: seeds the initialisation and every draw in the step.
    """

    supports_padded_batches = True

    def __init__(
        self,
        train: Interactions,
        dim: int = 5,
        temperature: float = 0.2,
        mix: float = 0.2,
        generator_samples: int = 2,
        discriminator_steps: int = 1,
        discriminator_l2: float = 0.1,
        generator_l2: float = 0.0,
        reward: str = "released",
        init_scale: float = 0.05,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}.")
        if not 0.0 <= mix < 1.0:
            raise ValueError(f"mix must lie in [0, 1), got {mix}.")
        if temperature <= 0 or dim < 1 or generator_samples < 1 or discriminator_steps < 1:
            raise ValueError(
                "temperature must be > 0 and dim, generator_samples, discriminator_steps >= 1; "
                f"got {temperature}, {dim}, {generator_samples}, {discriminator_steps}."
            )
        if len(train) == 0:
            raise ValueError("the training table is empty: IRGAN has no positives to learn from.")
        self.n_users, self.n_items, self.dim = train.n_users, train.n_items, int(dim)
        self.temperature, self.mix, self.reward = float(temperature), float(mix), reward
        self.generator_samples = int(generator_samples)
        self.discriminator_steps = int(discriminator_steps)
        self.discriminator_l2, self.generator_l2 = float(discriminator_l2), float(generator_l2)
        self.record_training_data(train)
        self.positives = tf.constant(train.dense())  # [n_users, n_items]
        counts = train.user_counts()
        self.max_samples = max(1, int(self.generator_samples * counts.max()))  # per user
        self.seed_generator = keras.random.SeedGenerator(seed)
        init = keras.initializers.RandomUniform(-init_scale, init_scale, seed=seed)
        init_d = keras.initializers.RandomUniform(
            -init_scale, init_scale, seed=derive_seed(seed, "discriminator")
        )

        def table(rows: int, name: str, initializer) -> tf.Variable:
            return self.add_weight(shape=(rows, self.dim), initializer=initializer, name=name)

        self.g_user = table(self.n_users, "generator_user_factors", init)
        self.g_item = table(self.n_items, "generator_item_factors", init)
        self.g_bias = self.add_weight(shape=(self.n_items,), initializer="zeros", name="g_bias")
        self.d_user = table(self.n_users, "discriminator_user_factors", init_d)
        self.d_item = table(self.n_items, "discriminator_item_factors", init_d)
        self.d_bias = self.add_weight(shape=(self.n_items,), initializer="zeros", name="d_bias")
        self.track("d_loss", "g_loss", "reward")
        self.current_phase = "game"
        self._phase_functions: dict = {}  # phase -> its Keras train function
        self.built = True  # every variable exists: fit must not build by calling the model

    @property
    def discriminator_variables(self) -> list[tf.Variable]:
        return [self.d_user, self.d_item, self.d_bias]

    @property
    def generator_variables(self) -> list[tf.Variable]:
        return [self.g_user, self.g_item, self.g_bias]

    def load_generator(self, user_factors, item_factors, item_bias) -> None:
        """Starts the generator from pretrained factors ``[n_users, dim]``, ``[n_items, dim]``
        and biases ``[n_items]`` (the released code starts from a pretrained model)."""
        for variable, value in zip(
            self.generator_variables, (user_factors, item_factors, item_bias), strict=True
        ):
            value = np.asarray(value, np.float32)
            if value.shape != tuple(variable.shape):
                raise ValueError(
                    f"pretrained {variable.name} has shape {value.shape}, expected "
                    f"{tuple(variable.shape)}; pretrain with the same dim and id spaces."
                )
            variable.assign(value)

    # -- the players' scores ------------------------------------------------------------------
    def generator_logits(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]``: ``g_theta(u, i)`` for int32 ``[B]`` users."""
        p = tf.gather(self.g_user, users)
        return tf.matmul(p, self.g_item, transpose_b=True) + self.g_bias

    def discriminator_logits(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        """float32, shape of ``items``: ``f_phi(u, i)``; ``items`` is ``[B]`` or ``[B, S]``."""
        p = tf.gather(self.d_user, users)
        q = tf.gather(self.d_item, items)
        if items.shape.rank == 2:
            p = p[:, tf.newaxis, :]
        return tf.reduce_sum(p * q, axis=-1) + tf.gather(self.d_bias, items)

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """The generator's scores ``[B, n_items]`` (what the released code evaluates)."""
        return self.generator_logits(users)

    def discriminator_score_all(self, users: tf.Tensor) -> tf.Tensor:
        """The discriminator's scores ``[B, n_items]``."""
        p = tf.gather(self.d_user, users)
        return tf.matmul(p, self.d_item, transpose_b=True) + self.d_bias

    def call(self, users, training: bool = False) -> tf.Tensor:
        return self.score_all(users)

    # -- one round of the game -------------------------------------------------------------
    def discriminator_step(
        self,
        users: tf.Tensor,
        positives: tf.Tensor,
        negatives: tf.Tensor | None = None,
        weights: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """D learns the int32 ``[B]`` pairs against ``negatives`` ``[B]`` (default: sampled here
        from G at ``temperature``, :meth:`sample_negatives`); returns the mean cross-entropy per
        pair (positive and negative together) over the pairs of 0/1 ``weights`` ``[B]`` 1
        (``None``: all)."""
        if negatives is None:
            logits = tf.stop_gradient(self.generator_logits(users)) / self.temperature
            probabilities = tf.nn.softmax(logits, axis=-1)  # [B, n_items]
            negatives = replica_categorical(probabilities, 1, self.seed_generator)[:, 0]
        with tf.GradientTape() as tape:
            real = self.discriminator_logits(users, positives)
            fake = self.discriminator_logits(users, negatives)
            loss = weighted_mean(tf.nn.softplus(-real) + tf.nn.softplus(fake), weights)
            user, item, other = (
                tf.gather(self.d_user, users),
                tf.gather(self.d_item, positives),
                tf.gather(self.d_item, negatives),
            )
            norms = 2.0 * tf.reduce_sum(user * user, -1) + tf.reduce_sum(item * item, -1)
            norms += tf.reduce_sum(other * other, -1)
            norms += tf.gather(self.d_bias, positives) ** 2 + tf.gather(self.d_bias, negatives) ** 2
            penalty = self.discriminator_l2 * weighted_mean(norms, weights)
            scaled = self.scaled_loss("discriminator", loss + penalty, _count(users, weights))
        self.apply_update("discriminator", tape, scaled)
        return loss

    def sample_negatives(self, users: np.ndarray, rng: Generator) -> np.ndarray:
        """int32 ``[N]``: one item per entry of ``users [N]`` from the generator at
        ``temperature`` (the released ``generate_for_d``), drawn with ``rng`` outside the
        step: a phase of D epochs against a fixed generator needs its distribution once."""
        users = np.asarray(users, np.int64)
        logits = self.generator_logits(tf.range(self.n_users)).numpy().astype(np.float64)
        logits /= self.temperature
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        cumulative = np.cumsum(probabilities, axis=1)
        cumulative /= cumulative[:, -1:]
        cumulative[:, -1] = 1.0
        # row u of the CDF shifted to [u, u + 1]: one sorted array serves every user
        shifted = (cumulative + np.arange(self.n_users)[:, np.newaxis]).ravel()
        points = users + rng.random(len(users))
        found = np.searchsorted(shifted, points, side="right") - users * self.n_items
        return np.minimum(found, self.n_items - 1).astype(np.int32)

    def rewards(self, users: tf.Tensor, samples: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, S]`` the discriminator's reward for each sampled item."""
        logits = self.discriminator_logits(users, samples)
        if self.reward == "paper":
            return tf.nn.softplus(logits)
        return 2.0 * (tf.sigmoid(logits) - 0.5)

    def generator_step(
        self, users: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """One policy-gradient update of G on the pairs' int32 ``[B]`` users
        (``generator_samples`` items per pair); returns its surrogate loss and the mean reward,
        both over the pairs of 0/1 ``weights`` ``[B]`` 1 (``None``: all)."""
        probabilities = tf.nn.softmax(tf.stop_gradient(self.generator_logits(users)), axis=-1)
        proposal, importance = importance_proposal(
            probabilities, tf.gather(self.positives, users), self.mix
        )
        samples = replica_categorical(
            proposal, self.generator_samples, self.seed_generator
        )  # [B, S]
        reward = tf.stop_gradient(self.rewards(users, samples))
        weighted = reward * tf.gather(importance, samples, batch_dims=1)
        with tf.GradientTape() as tape:
            loss = reinforce_loss(self.generator_logits(users), samples, weighted, weights)
            loss += self._generator_penalty(users, weights)
            scaled = self.scaled_loss("generator", loss, _count(users, weights))
        self.apply_update("generator", tape, scaled)
        return loss, weighted_mean(tf.reduce_mean(reward, axis=1), weights)

    def generator_user_step(
        self, users: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The released per-user update of G for a batch of int32 ``[B]`` users: each draws
        ``generator_samples · |positives|`` items from the proposal and averages its own
        importance-weighted REINFORCE terms; the loss is the mean over the users of 0/1
        ``weights`` ``[B]`` 1 (``None``: all). Returns it and the mean reward of their
        samples."""
        positives = tf.gather(self.positives, users)  # [B, n_items]
        probabilities = tf.nn.softmax(tf.stop_gradient(self.generator_logits(users)), axis=-1)
        proposal, importance = importance_proposal(probabilities, positives, self.mix)
        samples = replica_categorical(proposal, self.max_samples, self.seed_generator)  # [B, S]
        valid = self.valid_samples(users, weights)
        count = tf.maximum(tf.reduce_sum(valid, axis=1), 1.0)
        reward = tf.stop_gradient(self.rewards(users, samples))
        weighted = reward * tf.gather(importance, samples, batch_dims=1) * valid
        with tf.GradientTape() as tape:
            log_policy = tf.nn.log_softmax(self.generator_logits(users), axis=-1)
            chosen = tf.gather(log_policy, samples, batch_dims=1)
            per_user = -tf.reduce_sum(chosen * weighted, axis=1) / count
            loss = weighted_mean(per_user, weights) + self._generator_penalty(users, weights)
            scaled = self.scaled_loss("generator", loss, _count(users, weights))
        self.apply_update("generator", tape, scaled)
        mean_reward = tf.reduce_sum(reward * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)
        return loss, mean_reward

    def valid_samples(self, users: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
        """float32 ``[B, max_samples]``: 1 on the first ``generator_samples · |positives|`` of
        each user's draws in :meth:`generator_user_step`, 0 on the rest and on every draw of a
        row of ``weights`` 0 (padding)."""
        positives = tf.reduce_sum(tf.gather(self.positives, users), axis=1, keepdims=True)
        drawn = tf.cast(tf.range(self.max_samples)[tf.newaxis, :], tf.float32)
        valid = tf.cast(drawn < self.generator_samples * positives, tf.float32)  # [B, S]
        if weights is not None:
            valid *= tf.cast(weights, tf.float32)[:, tf.newaxis]
        return valid

    def _generator_penalty(self, users: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
        if not self.generator_l2:
            return tf.constant(0.0)
        p = tf.gather(self.g_user, users)
        return self.generator_l2 * weighted_mean(tf.reduce_sum(p * p, axis=-1), weights)

    def train_step(self, data):
        inputs, _, weights = keras.utils.unpack_x_y_sample_weight(data)
        if self.current_phase == "generator":  # a Python attribute: traced once per phase
            users = tf.cast(inputs, tf.int32)
            g_loss, reward = self.generator_user_step(users, weights)
            self.report(count=_count(users, weights), g_loss=g_loss)  # a mean over users
            drawn = tf.reduce_sum(self.valid_samples(users, weights))  # reward: over samples
            return self.report(count=drawn, reward=reward)
        users, positives, *negatives = (tf.cast(x, tf.int32) for x in inputs)
        negatives = negatives[0] if negatives else None
        count = _count(users, weights)
        for _ in range(self.discriminator_steps):  # unrolled: a Python int
            d_loss = self.discriminator_step(users, positives, negatives, weights)
        if self.current_phase == "discriminator":
            return self.report(count=count, d_loss=d_loss)
        g_loss, reward = self.generator_step(users, weights)
        return self.report(count=count, d_loss=d_loss, g_loss=g_loss, reward=reward)

    @contextlib.contextmanager
    def phase(self, name: str):
        """Within the block, ``train_step`` plays phase ``name`` (``"discriminator"``: D alone
        on (user, positive) pairs against the fixed generator's samples; ``"generator"``: G
        alone on batches of users; ``"game"``: both on pairs). Each phase keeps its own compiled
        step (Keras' ``train_function``) and its own engine epoch (the step reads the phase
        while it is traced), so switching back and forth traces each once and never runs one
        phase's trace in another."""
        if name not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {name!r}.")
        previous = self.current_phase
        self._switch(name)
        try:
            yield self
        finally:
            self._switch(previous)

    def _switch(self, name: str) -> None:
        self._phase_functions[self.current_phase] = self.train_function
        self.current_phase = name
        self.train_function = self._phase_functions.get(name)

    @property
    def trace_key(self) -> str:
        """The phase: the engine keeps one compiled epoch per phase
        (:func:`advrec.engine.epoch_function`), as ``_switch`` keeps Keras' train functions."""
        return self.current_phase

    def discriminator_only(self):
        """``phase("discriminator")``: the released warm-up of D before the first G update."""
        return self.phase("discriminator")
