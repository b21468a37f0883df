"""The GAN recommenders on their papers' protocols: IRGAN (Wang et al., SIGIR 2017) on GroupLens'
``u1`` split and CFGAN (Chae et al., CIKM 2018) on its 80/20 split.

Both select their epoch on *validation* (a share of the training pairs), where the papers'
released code selects on test; pass an :class:`advrec.training.TestTrace` callback to record the
test metrics of every evaluated epoch, so that the papers' procedure can be reported beside ours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig, evaluate_run, run_bprmf

__all__ = ["CFGANConfig", "IRGANConfig", "run_cfgan", "run_irgan"]

PAPER_KS = (3, 5, 10, 20)
"""Cut-offs both papers report (IRGAN: 3, 5, 10; CFGAN: 5, 20)."""


@dataclass(frozen=True)
class IRGANConfig:
    """IRGAN's item-recommendation game, the generator started from a pre-trained BPR-MF."""

    pretrain: BPRMFConfig = field(
        default_factory=lambda: BPRMFConfig(dim=5, batch_size=2048, epochs=40, patience=3)
    )
    temperature: float = setting(
        0.2, "generator temperature when sampling negatives for D", "released code", 1e-6
    )
    mix: float = setting(0.2, "importance-sampling share of the user's positives", "released code")
    generator_samples: int = setting(2, "items sampled per pair in a G update", "released code", 1)
    discriminator_l2: float = setting(0.05, "D's l2 weight", "released code", 0.0)
    generator_l2: float = setting(0.0, "G's l2 weight", "released code", 0.0)
    reward: str = setting(
        "released", "released (2σ(f) - 1) or paper (log(1 + e^f))", "released code"
    )
    discriminator_learning_rate: float = setting(
        0.01, "Adam step size of D", "our choice", positive=True
    )
    generator_learning_rate: float = setting(
        0.05, "SGD step size of G", "our choice", positive=True
    )
    batch_size: int = setting(4096, "pairs per game step", "our choice", 1)
    warmup_epochs: int = setting(1, "D-only epochs before the first G update", "released code", 0)
    epochs: int = setting(5, "game epochs", "our choice", 1)
    eval_every: int = setting(1, "epochs between validations", "library", 1)
    monitor: str = setting("ndcg@5", "validation metric that selects the epoch", "our choice")


REFITS = ("train+valid", "none")


@dataclass(frozen=True)
class CFGANConfig:
    """CFGAN's "ZP" scheme at the released ML-100K setting (``parameters.py``, ``getHyperParams
    ("ML100K")``, and the round loop of ``trainCFGAN``).

    One epoch here is half a released round: one D pass over the rows in batches of 64 and two
    G passes in batches of 32 (:class:`advrec.models.CFGAN`). The released "epochs" count G
    passes (750-1000, chosen on test); 500 epochs here are 1,000 of them.
    """

    mode: str = setting("item", "vectors per item or per user", "released code: itemBased")
    generator_units: int = setting(400, "G's hidden width", "released code: hiddenDim_G", 1)
    discriminator_units: int = setting(125, "D's hidden width", "released code: hiddenDim_D", 1)
    pm_ratio: float = setting(0.7, "partial-masking ratio", "released code: ZP_ratio 70", 0.0)
    zr_ratio: float = setting(0.7, "zero-reconstruction ratio", "released code: ZR_ratio 70", 0.0)
    zr_weight: float = setting(
        0.03, "zero-reconstruction weight", "released code: ZR_coefficient", 0.0
    )
    generator_l2: float = setting(0.001, "G's l2 weight", "released code: reg_G", 0.0)
    discriminator_steps: int = setting(
        1, "D updates per batch (one D pass per epoch)", "released code: step_D 2 per round", 1
    )
    generator_steps: int = setting(
        2, "G passes over each batch (two G passes per epoch)", "released code: step_G 4", 1
    )
    generator_chunks: int = setting(
        2, "G updates per pass over a batch (G batch = batch_size / 2)",
        "released code: batchSize_G 32", 1,
    )  # fmt: skip
    learning_rate: float = setting(
        1e-4, "Adam step size of both players", "released code: lr_G = lr_D", positive=True
    )
    batch_size: int = setting(64, "rows per D update", "released code: batchSize_D", 1)
    epochs: int = setting(
        500, "epochs (half-rounds)", "released code: 750-1000 G passes = 375-500 epochs", 1
    )
    eval_every: int = setting(10, "epochs between validations", "our choice", 1)
    monitor: str = setting("ndcg@5", "validation metric that selects the epoch", "our choice")
    refit: str = setting(
        "train+valid",
        "after choosing the epoch on validation, train again on train + valid for that many "
        "epochs and test that model ('none': test the validation-selected one)",
        "our choice: the paper trains on 80%, its epoch chosen on test",
    )


def run_irgan(split, config: IRGANConfig = IRGANConfig(), seed: int = 0, callbacks=()) -> Run:
    """IRGAN on ``split``: the generator starts from a BPR-MF pre-trained with ``config.pretrain``
    (the released code starts from a pre-trained model), the discriminator plays alone for
    ``warmup_epochs``, then the game; the epoch is chosen on validation ``monitor`` (best weights
    kept). The discriminator uses Adam, the generator plain SGD as in the released code."""
    import keras

    from advrec.data.sampling import pair_examples
    from advrec.experiment import set_seed
    from advrec.models.irgan import IRGAN
    from advrec.seeds import derive_seed
    from advrec.training import RankingValidation, fit_model

    check_config(config)
    pretrained = run_bprmf(split, config.pretrain, seed)
    start = time.perf_counter()
    game_seed = derive_seed(seed, "irgan")
    set_seed(game_seed)
    model = IRGAN(
        split.train,
        dim=config.pretrain.dim,
        temperature=config.temperature,
        mix=config.mix,
        generator_samples=config.generator_samples,
        discriminator_l2=config.discriminator_l2,
        generator_l2=config.generator_l2,
        reward=config.reward,
        seed=game_seed,
    )
    base = pretrained.model
    model.load_generator(
        base.user_factors.numpy(), base.item_factors.numpy(), base.item_bias.numpy()
    )
    model.compile(
        keras.optimizers.Adam(config.discriminator_learning_rate),
        keras.optimizers.SGD(config.generator_learning_rate),
    )
    examples = pair_examples(split.train, config.batch_size, seed=game_seed)
    if config.warmup_epochs:
        with model.discriminator_only():
            fit_model(model, examples, config.warmup_epochs)
        examples = _shifted(examples, config.warmup_epochs)
    validation = RankingValidation(
        split, monitor=config.monitor, ks=PAPER_KS, every=config.eval_every, patience=None
    )
    fit_model(model, examples, config.epochs, validation, callbacks)
    valid, test = evaluate_run(model, split, PAPER_KS)
    run = Run(
        model,
        valid,
        test,
        history={"game": dict(validation.history)},
        best_epoch={"game": int(validation.best_epoch)},
        losses={"game": dict(model.history.history)},
        seconds=time.perf_counter() - start,
        facts={"pretrained": {"valid": pretrained.valid, "test": pretrained.test}},
    )
    return run.continued_from(pretrained)


def _shifted(examples, epochs: int):
    """The same examples with their epoch orders continuing after ``epochs`` passes (the game's
    first epoch sees a new order, not the warm-up's first)."""
    from advrec.data.sampling import Examples
    from advrec.seeds import derive_seed

    return Examples(examples.arrays, examples.batch_size, derive_seed(examples.seed, "game"))


def run_cfgan(split, config: CFGANConfig = CFGANConfig(), seed: int = 0, callbacks=()) -> Run:
    """CFGAN on ``split`` with Adam for both players; the epoch is chosen (every
    ``eval_every``) on validation ``monitor`` and its weights kept. With ``refit="train+valid"``
    a second CFGAN (same seed) then trains that many epochs on training plus validation rows,
    and ``test`` is that model's (``facts["selected"]`` keeps the first model's test)."""
    from advrec.training import RankingValidation

    check_config(config)
    if config.refit not in REFITS:
        raise ValueError(f"refit must be one of {REFITS}, got {config.refit!r}.")
    start = time.perf_counter()
    validation = RankingValidation(
        split, monitor=config.monitor, ks=PAPER_KS, every=config.eval_every, patience=None
    )
    model = _trained_cfgan(split, config, seed, config.epochs, validation, callbacks)
    valid, test = evaluate_run(model, split, PAPER_KS)
    run = Run(
        model,
        valid,
        test,
        history={"train": dict(validation.history)},
        best_epoch={"train": int(validation.best_epoch)},
        losses={"train": dict(model.history.history)},
        facts={"selected": {"test": test}},
    )
    if config.refit == "train+valid":
        from advrec.recipes.ranking import train_and_valid

        merged = train_and_valid(split)
        refit = _trained_cfgan(merged, config, seed, int(validation.best_epoch))
        run.model, run.test = refit, evaluate_run(refit, merged, PAPER_KS)[1]
        run.losses["refit"] = dict(refit.history.history)
    run.seconds = time.perf_counter() - start
    return run


def _trained_cfgan(split, config: CFGANConfig, seed, epochs, validation=None, callbacks=()):
    """A CFGAN on ``split.train`` trained ``epochs`` epochs (``validation`` keeps the best)."""
    import keras

    from advrec.experiment import set_seed
    from advrec.models.cfgan import CFGAN
    from advrec.training import fit_model

    set_seed(seed)
    model = CFGAN(
        split.train,
        mode=config.mode,
        generator_units=config.generator_units,
        discriminator_units=config.discriminator_units,
        pm_ratio=config.pm_ratio,
        zr_ratio=config.zr_ratio,
        zr_weight=config.zr_weight,
        generator_l2=config.generator_l2,
        discriminator_steps=config.discriminator_steps,
        generator_steps=config.generator_steps,
        generator_chunks=config.generator_chunks,
        seed=seed,
    )
    model.compile(
        keras.optimizers.Adam(config.learning_rate), keras.optimizers.Adam(config.learning_rate)
    )
    examples = model.row_examples(config.batch_size, seed=seed)
    fit_model(model, examples, epochs, validation, callbacks)
    return model
