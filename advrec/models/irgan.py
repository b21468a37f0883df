"""IRGAN for item recommendation (Wang et al., SIGIR 2017), as one Keras ``train_step``.

Two matrix-factorisation players over the same users and items:

- the **generator** is a softmax policy ``p_theta(i | u) ∝ exp(g_theta(u, i))`` with
  ``g_theta(u, i) = p_u · q_i + b_i``; it *samples* items, so nothing back-propagates from the
  discriminator into it: it learns by the policy gradient (REINFORCE),
  ``∇_theta E_{i~p_theta}[r(u, i)] = E_{i~p_theta}[r(u, i) ∇_theta log p_theta(i | u)]``;
- the **discriminator** ``D(i | u) = sigmoid(f_phi(u, i))`` learns to tell the user's observed
  positives from the generator's samples (drawn at temperature ``temperature``).

Each ``train_step`` takes a batch of observed (user, positive) pairs and plays one round:
``discriminator_steps`` discriminator updates, then one generator update in which, for each
pair, ``generator_samples`` items are drawn from the importance-sampling proposal
``(1 - mix) p_theta + mix · uniform(user's positives)`` and weighted by ``p_theta / proposal``,
as in the released code (``geek-ai/irgan``, ``item_recommendation/cf_gan.py``). The reward is
the released code's ``2 (sigmoid(f) - 0.5)`` or the paper's ``log(1 + exp f)``.

Recommendations come from the generator (``score_all``), as in the released evaluation.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.distribute import replica_categorical
from advrec.gan import TwoPlayerModel
from advrec.models.saving import WeightsOnly
from advrec.seeds import derive_seed

REWARDS = ("released", "paper")


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


def reinforce_loss(logits: tf.Tensor, samples: tf.Tensor, rewards: tf.Tensor) -> tf.Tensor:
    """REINFORCE surrogate ``-mean(r · log softmax(logits)[sample])`` with the reward held fixed.

    Its gradient w.r.t. ``logits`` is an unbiased estimate of the gradient of
    ``-E_{i~softmax(logits)}[r(i)]`` when ``samples`` are drawn from the policy.

    Args:
        logits: float32 ``[B, n_items]`` policy logits.
        samples: int32 ``[B, S]`` sampled items.
        rewards: float32 ``[B, S]`` reward of each sample (importance weights folded in).
    """
    log_policy = tf.nn.log_softmax(logits, axis=-1)
    chosen = tf.gather(log_policy, samples, batch_dims=1)  # [B, S]
    return -tf.reduce_mean(chosen * tf.stop_gradient(rewards))


class IRGAN(WeightsOnly, TwoPlayerModel, keras.Model):
    """IRGAN's item-recommendation game with matrix-factorisation players.

    Args:
        train: training positives (they fix the id spaces and the importance proposal).
        dim: factor size of both players (5 in the released ML-100K code).
        temperature: the generator's temperature when it samples negatives for the
            discriminator (0.2 in the released code); its policy gradient uses temperature 1.
        mix: importance-sampling share of the user's positives in the proposal (0.2).
        generator_samples: items sampled per (user, positive) pair in a generator update
            (2: the released code draws ``2 |positives|`` per user).
        discriminator_steps: discriminator updates per generator update.
        discriminator_l2, generator_l2: weights of the mean squared norm of the rows a batch
            touches.
        reward: ``"released"`` (``2 sigmoid(f) - 1``) or ``"paper"`` (``log(1 + exp f)``).
        init_scale: factors start uniform in ``[-init_scale, init_scale]`` (0.05).
        seed: seeds the initialisation and every draw in the step.
    """

    def __init__(
        self,
        train: Interactions,
        dim: int = 5,
        temperature: float = 0.2,
        mix: float = 0.2,
        generator_samples: int = 2,
        discriminator_steps: int = 1,
        discriminator_l2: float = 0.05,
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
        self.update_generator = True
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
    def discriminator_step(self, users: tf.Tensor, positives: tf.Tensor) -> tf.Tensor:
        """D learns the pairs against negatives sampled from G at ``temperature``."""
        logits = tf.stop_gradient(self.generator_logits(users)) / self.temperature
        probabilities = tf.nn.softmax(logits, axis=-1)  # [B, n_items]
        negatives = replica_categorical(probabilities, 1, self.seed_generator)[:, 0]
        with tf.GradientTape() as tape:
            real = self.discriminator_logits(users, positives)
            fake = self.discriminator_logits(users, negatives)
            loss = 0.5 * (
                tf.reduce_mean(tf.nn.softplus(-real)) + tf.reduce_mean(tf.nn.softplus(fake))
            )
            rows = [tf.gather(self.d_user, users), tf.gather(self.d_item, positives)]
            rows.append(tf.gather(self.d_item, negatives))
            penalty = sum(tf.reduce_mean(tf.reduce_sum(r * r, axis=-1)) for r in rows)
            scaled = self.scaled_loss("discriminator", loss + self.discriminator_l2 * penalty)
        self.apply_update("discriminator", tape, scaled)
        return loss

    def rewards(self, users: tf.Tensor, samples: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, S]`` the discriminator's reward for each sampled item."""
        logits = self.discriminator_logits(users, samples)
        if self.reward == "paper":
            return tf.nn.softplus(logits)
        return 2.0 * (tf.sigmoid(logits) - 0.5)

    def generator_step(self, users: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One policy-gradient update of G; returns its surrogate loss and the mean reward."""
        probabilities = tf.nn.softmax(tf.stop_gradient(self.generator_logits(users)), axis=-1)
        proposal, weights = importance_proposal(
            probabilities, tf.gather(self.positives, users), self.mix
        )
        samples = replica_categorical(
            proposal, self.generator_samples, self.seed_generator
        )  # [B, S]
        reward = tf.stop_gradient(self.rewards(users, samples))
        weighted = reward * tf.gather(weights, samples, batch_dims=1)
        with tf.GradientTape() as tape:
            loss = reinforce_loss(self.generator_logits(users), samples, weighted)
            if self.generator_l2:
                p = tf.gather(self.g_user, users)
                loss += self.generator_l2 * tf.reduce_mean(tf.reduce_sum(p * p, axis=-1))
            scaled = self.scaled_loss("generator", loss)
        self.apply_update("generator", tape, scaled)
        return loss, tf.reduce_mean(reward)

    def train_step(self, data):
        (users, positives), _, _ = keras.utils.unpack_x_y_sample_weight(data)
        users, positives = tf.cast(users, tf.int32), tf.cast(positives, tf.int32)
        for _ in range(self.discriminator_steps):  # unrolled: a Python int
            d_loss = self.discriminator_step(users, positives)
        if not self.update_generator:  # discriminator warm-up (a Python flag: retraced)
            return self.report(d_loss=d_loss, g_loss=tf.constant(0.0))
        g_loss, reward = self.generator_step(users)
        return self.report(d_loss=d_loss, g_loss=g_loss, reward=reward)

    @contextlib.contextmanager
    def discriminator_only(self):
        """Within the block, ``train_step`` updates the discriminator alone, against the fixed
        generator's samples: the released code's warm-up before the first generator update.
        (A Python flag: the step is traced again on entry and on exit.)"""
        self.update_generator, self.train_function = False, None
        try:
            yield self
        finally:
            self.update_generator, self.train_function = True, None
