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
    """IRGAN's item-recommendation game at the released schedule (``cf_gan.py``: 15 rounds of
    100 D epochs and 50 G epochs), the generator started from a pre-trained 5-factor BPR-MF.

    The released code updates D by SGD on batches of 16 pairs and G by SGD once per user; here
    the same steps per pair and per user are taken on larger batches (a batch mean with the
    step size times the batch size, :class:`advrec.models.IRGAN`)."""

    # patience 20: the 5-factor model's validation NDCG@10 climbs slowly and noisily (about
    # +-0.005 an epoch); with patience 5, three of five seeds stopped by epoch 16 with a start
    # 0.03-0.045 P@5 below the released one's.
    pretrain: BPRMFConfig = field(
        default_factory=lambda: BPRMFConfig(
            dim=5, l2=1e-2, batch_size=2048, epochs=200, patience=20
        )
    )
    temperature: float = setting(
        0.2, "generator temperature when sampling negatives for D", "released code", 1e-6
    )
    mix: float = setting(
        0.2, "importance-sampling share of the user's positives", "released code: sample_lambda"
    )
    generator_samples: int = setting(
        2, "items a user samples per positive in a G update", "released code: 2 * len(pos)", 1
    )
    discriminator_l2: float = setting(
        0.1, "D's weight of the squared norms a pair touches",
        "released code: lamda 0.1 / 16 on the batch's l2_loss, added to each of its 32 losses",
        0.0,
    )  # fmt: skip
    generator_l2: float = setting(0.0, "G's l2 weight", "released code: lamda 0.0", 0.0)
    reward: str = setting(
        "released", "released (2σ(f) - 1) or paper (log(1 + e^f))", "released code"
    )
    discriminator_learning_rate: float = setting(
        0.001, "D's SGD step per pair", "released code: SGD 0.001 on a summed loss", positive=True
    )
    generator_learning_rate: float = setting(
        0.001, "G's SGD step per user", "released code: SGD 0.001 once per user", positive=True
    )
    discriminator_batch: int = setting(4096, "pairs per D step", "our choice (released: 16)", 1)
    generator_batch: int = setting(
        1024, "users per G step (all of ML-100K's)", "our choice (released: 1)", 1
    )
    rounds: int = setting(15, "rounds of the game", "released code", 1)
    discriminator_epochs: int = setting(100, "D epochs per round", "released code", 1)
    discriminator_resample: int = setting(
        5, "D epochs between fresh negatives from G", "released code: generate_for_d", 1
    )
    generator_epochs: int = setting(50, "G epochs per round", "released code", 1)
    eval_every: int = setting(10, "G epochs between validations", "our choice", 1)
    monitor: str = setting(
        "precision@5", "validation metric that selects the G epoch", "released code (on test)"
    )
    refit: str = setting(
        "train+valid",
        "after choosing the epochs on validation, pre-train and play again on train + valid "
        "for as many epochs and test that generator ('none': test the validation-selected one)",
        "our choice: the released code trains on all of u1.base, its epoch chosen on test",
    )


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
        "our choice: the paper trains on 80 percent, its epoch chosen on test",
    )


def run_irgan(split, config: IRGANConfig = IRGANConfig(), seed: int = 0) -> Run:
    """IRGAN on ``split`` at ``config``'s schedule: the generator starts from a BPR-MF
    pre-trained with ``config.pretrain`` (early-stopped on validation, as the released code
    starts from a pre-trained model), then ``rounds`` of D epochs and G epochs; every
    ``eval_every`` G epochs the generator is ranked on validation and the best is kept. With
    ``refit="train+valid"`` both stages are played again on training plus validation pairs for
    the chosen numbers of epochs, and ``test`` is that generator's (``facts["selected"]`` keeps
    the first one's test, ``facts["pretrained"]`` both pre-trained generators')."""
    check_config(config)
    if config.refit not in REFITS:
        raise ValueError(f"refit must be one of {REFITS}, got {config.refit!r}.")
    pretrained = run_bprmf(split, config.pretrain, seed)
    start = time.perf_counter()
    model, game = _play_irgan(split, config, seed, pretrained.model, validate=True)
    valid, test = evaluate_run(model, split, PAPER_KS)
    run = Run(
        model,
        valid,
        test,
        history={"game": game["history"]},
        best_epoch={"game": game["best_epoch"]},
        losses={"discriminator": game["d_losses"], "game": game["losses"]},
        facts={
            "selected": {"test": test},
            "pretrained": {"valid": pretrained.valid, "test": pretrained.test},
        },
    )
    if config.refit == "train+valid":
        from advrec.recipes.base import with_settings
        from advrec.recipes.ranking import run_bprmf_fixed, train_and_valid

        merged = train_and_valid(split)
        epochs = pretrained.best_epoch["train"]
        base = run_bprmf_fixed(merged, with_settings(config.pretrain, epochs=epochs), seed)
        run.facts["pretrained"]["refit_test"] = evaluate_run(base.model, merged, PAPER_KS)[1]
        refit, _ = _play_irgan(merged, config, seed, base.model, epochs=game["best_epoch"])
        run.model, run.test = refit, evaluate_run(refit, merged, PAPER_KS)[1]
    run.seconds = time.perf_counter() - start
    return run.continued_from(pretrained)


def compiled_irgan(train, config: IRGANConfig = IRGANConfig(), seed: int = 0, **compile_options):
    """The IRGAN game :func:`run_irgan` plays on ``train`` (before the pre-trained generator is
    loaded), compiled with the config's SGD steps (``compile_options`` go to ``compile``)."""
    import keras
    import numpy as np

    from advrec.models.irgan import IRGAN

    model = IRGAN(
        train,
        dim=config.pretrain.dim,
        temperature=config.temperature,
        mix=config.mix,
        generator_samples=config.generator_samples,
        discriminator_l2=config.discriminator_l2,
        generator_l2=config.generator_l2,
        reward=config.reward,
        seed=seed,
    )
    users = len(np.unique(train.user))
    model.compile(  # a batch mean with the step times the batch: the released step per example
        keras.optimizers.SGD(config.discriminator_learning_rate * config.discriminator_batch),
        keras.optimizers.SGD(config.generator_learning_rate * min(config.generator_batch, users)),
        **compile_options,
    )
    return model


def _play_irgan(split, config: IRGANConfig, seed: int, pretrained, validate=False, epochs=None):
    """The game from ``pretrained``'s factors: ``(model, record)``. With ``validate`` the G
    epochs are evaluated every ``eval_every`` and the best weights kept; otherwise the game
    stops after ``epochs`` G epochs (default: all). ``record`` has the validation ``history``,
    ``best_epoch`` (in G epochs), G's mean ``losses`` per G epoch and D's ``d_losses`` per round
    (a round's D epochs are one pass over their table)."""
    import numpy as np

    from advrec.data.sampling import Examples
    from advrec.experiment import set_seed
    from advrec.protocol import evaluate_split
    from advrec.seeds import derive_seed
    from advrec.training import fit_model

    game_seed = derive_seed(seed, "irgan")
    set_seed(game_seed)
    model = compiled_irgan(split.train, config, game_seed)
    model.load_generator(
        pretrained.user_factors.numpy(),
        pretrained.item_factors.numpy(),
        pretrained.item_bias.numpy(),
    )
    users = np.unique(split.train.user).astype(np.int32)
    d_batch, g_batch = config.discriminator_batch, config.generator_batch
    total = config.rounds * config.generator_epochs if epochs is None else int(epochs)
    history: dict[str, list[float]] = {"epoch": []}
    d_losses: dict[str, list[float]] = {"d_loss": []}  # one value per round
    losses: dict[str, list[float]] = {"g_loss": [], "reward": []}  # per G epoch
    best, best_epoch, best_weights, done = -np.inf, 0, None, 0

    def validate_now():  # G epoch `done`; epoch 0 is the pre-trained generator
        nonlocal best, best_epoch, best_weights
        scores = evaluate_split(model, split, "valid", ks=PAPER_KS)
        history["epoch"].append(done)
        for name, value in scores.items():
            history.setdefault(name, []).append(value)
        if scores[config.monitor] > best:
            best, best_epoch, best_weights = scores[config.monitor], done, model.get_weights()

    if validate:
        validate_now()
    for round_ in range(config.rounds):
        if done >= total:
            break
        triples = _discriminator_epochs(
            model, split.train, config, derive_seed(game_seed, f"D {round_}")
        )
        with model.phase("discriminator"):
            fit_model(model, Examples(triples, d_batch, shuffle=False), 1)
        d_losses["d_loss"] += model.history.history["d_loss"]
        left = min(config.generator_epochs, total - done)
        step = config.eval_every if validate else left
        with model.phase("generator"):
            for first in range(0, left, step):
                people = Examples((users,), g_batch, derive_seed(game_seed, f"G {round_} {first}"))
                fit_model(model, people, min(step, left - first))
                done += min(step, left - first)
                losses["g_loss"] += model.history.history["g_loss"]
                losses["reward"] += model.history.history["reward"]
                if validate:
                    validate_now()
    if validate:
        model.set_weights(best_weights)
    return model, {
        "history": history,
        "best_epoch": best_epoch if validate else done,
        "losses": losses,
        "d_losses": d_losses,
    }


def _discriminator_epochs(model, train, config: IRGANConfig, seed: int) -> tuple:
    """A round's D epochs as one table of ``(users, positives, negatives)`` triples, int32: every
    epoch visits every training pair once in its own order; the negatives come from the fixed
    generator and are drawn anew every ``discriminator_resample`` epochs (the released
    ``generate_for_d`` every 5 D epochs)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    users, items = train.user.astype(np.int32), train.item.astype(np.int32)
    parts = []
    for epoch in range(config.discriminator_epochs):
        if epoch % config.discriminator_resample == 0:
            negatives = model.sample_negatives(users, rng)
        order = rng.permutation(len(users))
        parts.append((users[order], items[order], negatives[order]))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


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
    from advrec.experiment import set_seed
    from advrec.training import fit_model

    set_seed(seed)
    model = compiled_cfgan(split.train, config, seed)
    examples = model.row_examples(config.batch_size, seed=seed)
    fit_model(model, examples, epochs, validation, callbacks)
    return model


def compiled_cfgan(train, config: CFGANConfig = CFGANConfig(), seed: int = 0, **compile_options):
    """The CFGAN :func:`run_cfgan` trains on ``train``, with Adam for both players
    (``compile_options`` go to ``compile``)."""
    import keras

    from advrec.models.cfgan import CFGAN

    model = CFGAN(
        train,
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
        keras.optimizers.Adam(config.learning_rate),
        keras.optimizers.Adam(config.learning_rate),
        **compile_options,
    )
    return model


AUGMENTATION_METHODS = ("none", "generator", "popularity", "random")


@dataclass(frozen=True)
class AugmentationConfig:
    """Generated interactions for sparse users against the same number of popular or random
    ones (:mod:`advrec.augmentation`), on CFGAN's 80/20 split of each seed."""

    generator: CFGANConfig = field(
        default_factory=lambda: CFGANConfig(
            learning_rate=1e-3, epochs=300, eval_every=5, refit="none"
        )
    )
    patience: int = setting(
        4, "validations without gain before the generator stops", "our choice", 1
    )
    recommender: BPRMFConfig = field(default_factory=BPRMFConfig)
    sparse_ks: tuple[int, ...] = setting(
        (3, 5, 10), "training interactions each group of sparse users keeps", "our choice"
    )
    group_size: int = setting(60, "users per group", "our choice", 1)
    added_per_user: int = setting(10, "interactions added per sparse user", "our choice", 1)
    methods: tuple[str, ...] = setting(
        AUGMENTATION_METHODS, "tables the recommender is trained on", "our choice"
    )
    k: int = setting(10, "cut-off of the sparse users' test NDCG", "our choice", 1)


def run_augmentation(split, config: AugmentationConfig = AugmentationConfig(), seed: int = 0):
    """Makes ``len(sparse_ks)`` groups of users sparse (:func:`advrec.augmentation.sparsify`),
    trains CFGAN on the sparse table until validation stops improving, adds
    ``added_per_user`` items per sparse user by each method, retrains the recommender
    (BPR-MF, early-stopped on validation) on each table, and measures the sparse users' test
    NDCG@k.

    ``facts["per_user"][method]`` lists each sparse user's NDCG (in ``facts["users"]`` order,
    ``facts["group"]`` giving each user's k); ``test`` has the mean per method; ``history``
    has the generator's validation curve (``"generator"``) and the recommender's per table.
    """
    import numpy as np

    from advrec.augmentation import augment, sparse_groups, sparsify
    from advrec.data.splits import Split
    from advrec.metrics import evaluate_ranking
    from advrec.seeds import derive_seed
    from advrec.training import RankingValidation

    check_config(config)
    unknown = set(config.methods) - set(AUGMENTATION_METHODS)
    if unknown:
        raise ValueError(f"methods must be among {AUGMENTATION_METHODS}, got {sorted(unknown)}.")
    start = time.perf_counter()
    sparse_seed = derive_seed(seed, "sparse users")
    groups = sparse_groups(
        split.train, split.test, config.sparse_ks, config.group_size, sparse_seed
    )
    sparse_train, dropped = sparsify(split.train, groups, seed=sparse_seed)
    users = np.concatenate(list(groups.values()))
    group = np.concatenate([np.full(len(g), k) for k, g in groups.items()])
    sparse = Split(sparse_train, split.valid, split.test, f"{split.protocol}+sparse", split.seed)
    cfgan = config.generator
    validation = RankingValidation(
        sparse, monitor=cfgan.monitor, ks=PAPER_KS, every=cfgan.eval_every,
        patience=config.patience,
    )  # fmt: skip
    generator = _trained_cfgan(sparse, cfgan, seed, cfgan.epochs, validation)
    run = Run(generator, {}, {}, history={"generator": dict(validation.history)})
    run.best_epoch["generator"] = int(validation.best_epoch)
    generated = generator.score_all(users).numpy()
    target = split.test.select(np.isin(split.test.user, users))
    known = [sparse_train, dropped, split.valid]
    no_test = split.test.select(np.zeros(len(split.test), bool))
    per_user = {}
    for method in config.methods:
        table = sparse_train
        if method != "none":
            added = augment(
                sparse_train, users, config.added_per_user, method,
                seed=derive_seed(seed, f"augment {method}"), generated_scores=generated,
                exclude=[dropped, split.valid],
            )  # fmt: skip
            table = sparse_train.concat(added)
        # no test part here: an added item may be a held-out one, which the sparse users'
        # evaluation below counts (the generator never saw it) instead of refusing it
        trained = run_bprmf(
            Split(table, split.valid, no_test, method, seed), config.recommender, seed
        )
        run.history[f"BPR-MF {method}"] = trained.history["train"]
        run.best_epoch[f"BPR-MF {method}"] = trained.best_epoch["train"]
        scores = evaluate_ranking(
            trained.model.score_all, target, exclude=known, ks=(config.k,), per_user=True
        )
        by_user = dict(
            zip(scores["user"].tolist(), scores[f"ndcg@{config.k}"].tolist(), strict=True)
        )
        per_user[method] = [by_user[int(u)] for u in users]
        run.test[f"{method} ndcg@{config.k}"] = float(np.mean(per_user[method]))
    run.facts = {"users": users.tolist(), "group": group.tolist(), "per_user": per_user}
    run.seconds = time.perf_counter() - start
    return run
