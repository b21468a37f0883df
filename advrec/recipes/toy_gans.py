"""The GAN chapters' experiments: a GAN on toy data (the ring of Gaussians, small digit images),
and a digit classifier that judges generated digits.

- :class:`GANConfig` and :func:`run_gan` -- an :class:`advrec.gan.GAN` of two perceptrons trained
  by :func:`advrec.training.fit_model`; its samples from a fixed noise batch at chosen epochs
  and at the end. :data:`RING_GAN` and :data:`DIGITS_GAN` are the chapters' settings.
- :func:`ring_data` -- the mode-collapse benchmark's training set with its centres.
- :func:`load_digit_images` -- MNIST when it is cached, else scikit-learn's 8x8 digits, scaled to
  [-1, 1] and split into training and held-out images.
- :func:`fit_digit_judge` -- a small classifier trained on real digits; its
  :meth:`DigitJudge.quality` scores a batch of images (Fréchet distance in its feature space,
  confidence, classes covered).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advrec.recipes.base import Run, check_config, setting

__all__ = [
    "DIGITS_GAN",
    "DigitImages",
    "DigitJudge",
    "GANConfig",
    "JudgeConfig",
    "RING_GAN",
    "RingData",
    "fit_digit_judge",
    "load_digit_images",
    "ring_data",
    "run_gan",
]

OBJECTIVES = ("non_saturating", "minimax", "article")


@dataclass(frozen=True)
class GANConfig:
    """A GAN of two multilayer perceptrons, each player with its own Adam."""

    objective: str = setting(
        "non_saturating", "non_saturating, minimax or article (the source's loss)", "library"
    )
    latent_dim: int = setting(2, "size of the standard-normal noise", "our choice", 1)
    generator_units: tuple[int, ...] = setting((128, 128), "G's hidden widths", "our choice")
    discriminator_units: tuple[int, ...] = setting((128, 128), "D's hidden widths", "our choice")
    output_activation: str = setting("linear", "G's output activation", "our choice")
    learning_rate: float = setting(1e-3, "D's Adam step size", "our choice", positive=True)
    generator_learning_rate: float = setting(
        1e-3, "G's Adam step size (0: the generator stays where it started)", "our choice", 0.0
    )
    beta_1: float = setting(0.5, "Adam's β1, both players", "paper: Radford et al. (2016)", 0.0)
    discriminator_steps: int = setting(1, "D updates per G update", "paper: k = 1", 1)
    batch_size: int = setting(256, "real samples per step", "our choice", 1)
    epochs: int = setting(16, "passes over the training set", "our choice", 1)
    snapshot_epochs: tuple[int, ...] = setting((), "epochs whose samples are kept", "library")
    eval_samples: int = setting(2000, "samples drawn from the fixed noise", "library", 1)
    noise_seed: int = setting(2024, "seed of the fixed noise batch", "library", 0)


RING_GAN = GANConfig()
"""The GAN-theory chapter's ring GAN: 2-128-128-2 perceptrons, 16 epochs of 64 steps."""

DIGITS_GAN = GANConfig(
    latent_dim=100,
    generator_units=(128, 64),
    discriminator_units=(128, 64),
    output_activation="tanh",
    batch_size=64,
    epochs=100,
    eval_samples=360,
)
"""The source article's digit GAN, fixed: its architecture (100-128-64-tanh, a 128-64
discriminator ending in a logit), Adam 1e-3 for both players, 100 epochs of the 8x8 digits."""


@dataclass(frozen=True)
class RingData:
    """The ring benchmark: ``samples`` float32 ``(n, 2)``, ``centers`` ``(modes, 2)``, ``std``."""

    samples: np.ndarray
    centers: np.ndarray
    std: float


def ring_data(num_samples: int = 16_384, std: float = 0.05, seed: int = 123) -> RingData:
    """Eight Gaussians of standard deviation ``std`` on a circle of radius 2
    (:func:`advrec.gan_quality.ring_of_gaussians`)."""
    from advrec.gan_quality import ring_centers, ring_of_gaussians

    return RingData(ring_of_gaussians(num_samples, std=std, seed=seed), ring_centers(), std)


def compiled_gan(
    samples: np.ndarray, config: GANConfig = RING_GAN, seed: int = 0, **compile_options
):
    """The :class:`~advrec.gan.GAN` that :func:`run_gan` trains on ``samples`` ``(n, *shape)``,
    its weights drawn from ``seed``, compiled with the config's optimizers (``compile_options``
    go to ``compile``, e.g. ``jit_compile``)."""
    import keras

    from advrec.gan import GAN, mlp_discriminator, mlp_generator
    from advrec.seeds import derive_seed

    keras.utils.set_random_seed(seed)
    shape = samples.shape[1:]
    activation = None if config.output_activation == "linear" else config.output_activation
    gan = GAN(
        mlp_generator(config.latent_dim, shape, config.generator_units, activation),
        mlp_discriminator(shape, config.discriminator_units),
        latent_dim=config.latent_dim,
        discriminator_steps=config.discriminator_steps,
        seed=derive_seed(seed, "noise"),
    )
    frozen = config.generator_learning_rate == 0
    gan.compile(
        keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
        keras.optimizers.SGD(0.0)
        if frozen
        else keras.optimizers.Adam(config.generator_learning_rate, beta_1=config.beta_1),
        objective=config.objective,
        steps_per_execution=-(-len(samples) // config.batch_size),
        **compile_options,
    )
    return gan


def run_gan(samples: np.ndarray, config: GANConfig = RING_GAN, seed: int = 0) -> Run:
    """A GAN trained on ``samples`` ``(n, *shape)`` for ``config.epochs`` (each epoch one pass in
    a new order, fixed by ``seed``, which also fixes the weights and the noise stream).

    Returns a :class:`Run` whose ``model`` is the :class:`~advrec.gan.GAN`, ``losses["train"]``
    its per-epoch logs (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``), and ``facts``
    ``{"noise": (eval_samples, latent_dim), "samples": G(noise) after training,
    "snapshots": {epoch: G(noise)}}``.
    """
    import keras

    from advrec.data.sampling import Examples
    from advrec.gan import GeneratorSnapshots
    from advrec.seeds import derive_seed
    from advrec.training import fit_model

    check_config(config)
    if config.objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {config.objective!r}.")
    samples = np.asarray(samples, np.float32)
    start = time.perf_counter()
    gan = compiled_gan(samples, config, seed)
    noise = keras.random.normal((config.eval_samples, config.latent_dim), seed=config.noise_seed)
    snapshots = GeneratorSnapshots(noise, config.snapshot_epochs)
    examples = Examples((samples,), config.batch_size, derive_seed(seed, "order"))
    history = fit_model(gan, examples, config.epochs, callbacks=[snapshots])
    facts = {
        "noise": np.asarray(noise),
        "samples": np.asarray(gan.generator(noise, training=False)),
        "snapshots": snapshots.samples,
    }
    return Run(gan, {}, {}, losses={"train": dict(history.history)}, facts=facts,
               seconds=time.perf_counter() - start)  # fmt: skip


@dataclass(frozen=True)
class DigitImages:
    """Digit images in [-1, 1], ``(n, h, w, 1)`` float32, with int labels, split into training
    and held-out images; ``name`` says which data set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str


def _mnist_cached() -> bool:
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return any((h / "datasets" / "mnist.npz").exists() for h in (keras_home, Path("/tmp/.keras")))


def load_digit_images(dataset: str = "auto", held_out: int = 360, seed: int = 0) -> DigitImages:
    """``"mnist"`` (Keras' copy; downloads when not cached), ``"digits"`` (scikit-learn's 1,797
    8x8 digits, shipped with it) or ``"auto"`` (MNIST if already cached, else the 8x8 digits).
    ``held_out`` images, chosen by ``seed``, are set aside for judging generated ones."""
    if dataset not in ("auto", "mnist", "digits"):
        raise ValueError(f"dataset must be 'auto', 'mnist' or 'digits', got {dataset!r}.")
    if dataset == "mnist" or (dataset == "auto" and _mnist_cached()):
        import keras

        (images, labels), _ = keras.datasets.mnist.load_data()
        images, name = images[..., None].astype("float32") / 127.5 - 1.0, "MNIST"
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = digits.images[..., None].astype("float32") / 8.0 - 1.0  # 0..16 -> -1..1
        labels, name = digits.target, "scikit-learn 8x8 digits"
    order = np.random.default_rng(seed).permutation(len(images))
    test, train = order[:held_out], order[held_out:]
    return DigitImages(images[train], labels[train], images[test], labels[test], name)


@dataclass(frozen=True)
class JudgeConfig:
    """The classifier that judges generated digits: one hidden layer, trained on real digits."""

    hidden_units: int = setting(64, "width of the feature layer", "our choice", 1)
    learning_rate: float = setting(1e-3, "Adam step size", "our choice", positive=True)
    batch_size: int = setting(64, "images per step", "our choice", 1)
    epochs: int = setting(40, "passes over the training digits", "our choice", 1)
    min_share: float = setting(0.03, "share of samples a class needs to count", "our choice", 0.0)


class DigitJudge:
    """A digit classifier and its feature layer, with the real held-out features to compare
    generated images with (:meth:`quality`). ``accuracy``: on the held-out real digits."""

    def __init__(self, classifier, images: DigitImages, config: JudgeConfig) -> None:
        import keras

        self.classifier, self.config = classifier, config
        self.features = keras.Model(classifier.inputs, classifier.get_layer("features").output)
        self.accuracy = float(classifier.evaluate(images.x_test, images.y_test, verbose=0)[1])
        self.real_features = self.features.predict(images.x_test, verbose=0)

    def quality(self, batch: np.ndarray) -> dict[str, float]:
        """``{"frechet", "confidence", "classes"}`` of images ``(n, h, w, 1)``: the Fréchet
        distance between Gaussians fitted to the feature-layer activations of the held-out real
        digits and of ``batch`` (:func:`advrec.gan_quality.frechet_distance`; lower is closer),
        the mean largest class probability, and how many classes get at least ``min_share`` of
        the images."""
        import keras

        from advrec.gan_quality import frechet_distance

        batch = np.asarray(batch, np.float32)
        probabilities = np.asarray(
            keras.ops.softmax(self.classifier.predict(batch, verbose=0)), np.float64
        )
        shares = np.bincount(probabilities.argmax(axis=1), minlength=10) / len(batch)
        features = self.features.predict(batch, verbose=0)
        return {
            "frechet": frechet_distance(self.real_features, features),
            "confidence": float(probabilities.max(axis=1).mean()),
            "classes": float(np.sum(shares >= self.config.min_share)),
        }


def fit_digit_judge(images: DigitImages, config: JudgeConfig = JudgeConfig(), seed=0):
    """Trains the judge's classifier on ``images.x_train`` (a perceptron with a ``features``
    layer and ten logits) and returns the :class:`DigitJudge`."""
    import keras

    check_config(config)
    keras.utils.set_random_seed(seed)
    classifier = keras.Sequential(
        [
            keras.Input(images.x_train.shape[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(config.hidden_units, activation="relu", name="features"),
            keras.layers.Dense(10, name="class_logits"),
        ]
    )
    classifier.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    classifier.fit(images.x_train, images.y_train, batch_size=config.batch_size,
                   epochs=config.epochs, verbose=0)  # fmt: skip
    return DigitJudge(classifier, images, config)
