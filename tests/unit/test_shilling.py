"""Shilling: fake users appended to a split, the attack models, the exposure measure, the GAN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.attacks import shilling as sh
from advrec.data.fake_users import drop_users, inject_users
from advrec.metrics import evaluate_ranking
from advrec.models import ItemPop
from advrec.recipes.ranking import BPRMFConfig
from advrec.recipes.shilling import run_victim


def _profiles(split, n=6, seed=0):
    return sh.classic_profiles(split.train, 3, "random", n, filler_size=10, seed=seed)


def test_injecting_users_leaves_the_real_users_untouched(synthetic_split):
    poisoned = inject_users(synthetic_split, _profiles(synthetic_split))
    n_real, n_rows = synthetic_split.n_users, len(synthetic_split.train)
    assert poisoned.n_users == n_real + 6 and poisoned.n_items == synthetic_split.n_items
    for name in ("user", "item", "rating", "timestamp"):
        np.testing.assert_array_equal(
            getattr(poisoned.train, name)[:n_rows], getattr(synthetic_split.train, name)
        )
        for part in ("valid", "test"):
            np.testing.assert_array_equal(
                getattr(getattr(poisoned, part), name),
                getattr(getattr(synthetic_split, part), name),
            )
    fake_rows = poisoned.train.user[n_rows:]
    assert fake_rows.min() == n_real and fake_rows.max() == n_real + 5
    assert len(fake_rows) == 6 * 11  # target + 10 fillers each


def test_a_fake_user_is_never_evaluated(synthetic_split):
    poisoned = inject_users(synthetic_split, _profiles(synthetic_split))
    model = ItemPop(poisoned.train)
    per_user = evaluate_ranking(
        model.score_all, poisoned.test, exclude=[poisoned.train, poisoned.valid], per_user=True
    )
    assert per_user["user"].max() < synthetic_split.n_users
    exposure = sh.target_exposure(model.score_all, poisoned, 3, n_real=synthetic_split.n_users)
    assert exposure["n_users"] <= synthetic_split.n_users


def test_bad_profiles_and_dropping_users(synthetic_split):
    with pytest.raises(ValueError, match="n_items"):
        inject_users(synthetic_split, np.ones((2, 5)))
    with pytest.raises(ValueError, match="0/1"):
        inject_users(synthetic_split, 2 * np.ones((2, synthetic_split.n_items)))
    with pytest.raises(ValueError, match="at least one item"):
        inject_users(synthetic_split, np.zeros((2, synthetic_split.n_items)))
    poisoned = inject_users(synthetic_split, _profiles(synthetic_split))
    fakes = np.arange(synthetic_split.n_users, poisoned.n_users)
    cleaned = drop_users(poisoned, fakes)
    np.testing.assert_array_equal(
        cleaned.train.keys(), poisoned.train.keys()[: len(synthetic_split.train)]
    )
    with pytest.raises(ValueError, match="user ids"):
        drop_users(poisoned, [poisoned.n_users])


def test_classic_profiles_follow_their_recipes(synthetic_split):
    train = synthetic_split.train
    pop = train.item_counts()
    target = int(np.argsort(pop)[len(pop) // 2])
    made = {
        kind: sh.classic_profiles(train, target, kind, 40, filler_size=20, n_selected=5, seed=1)
        for kind in sh.CLASSIC_ATTACKS
    }
    for kind, profiles in made.items():
        assert profiles.shape == (40, train.n_items) and profiles.dtype == bool
        assert profiles[:, target].all(), kind
        np.testing.assert_array_equal(profiles.sum(axis=1), 21)
    top5 = np.argsort(-pop, kind="stable")[:6]
    top5 = top5[top5 != target][:5]
    assert made["bandwagon"][:, top5].all()
    segment = sh.segment_items(train, target, 5)
    assert made["segment"][:, segment].all()
    mean_pop = {kind: (p @ pop / p.sum(axis=1)).mean() for kind, p in made.items()}
    assert mean_pop["average"] > mean_pop["random"] + 1.0
    nuke = sh.classic_profiles(train, target, "random", 10, filler_size=20, push=False)
    assert not nuke[:, target].any() and nuke[:, segment].all()
    with pytest.raises(ValueError, match="unknown attack"):
        sh.classic_profiles(train, target, "love-bombing", 3)
    with pytest.raises(ValueError, match="outside"):
        sh.classic_profiles(train, train.n_items, "random", 3)


def test_targets_are_drawn_reproducibly_from_their_popularity_bands(synthetic_split):
    train = synthetic_split.train
    targets = sh.choose_targets(train, 2, 2, seed=4)
    np.testing.assert_array_equal(targets, sh.choose_targets(train, 2, 2, seed=4))
    pop = train.item_counts()
    assert pop[targets[:2]].max() <= pop[targets[2:]].min()
    assert sh.n_fake_users(943, 0.03) == 28
    with pytest.raises(ValueError, match="fraction"):
        sh.n_fake_users(943, 3)


def test_target_exposure_matches_a_brute_force_rank(synthetic_split):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(synthetic_split.n_users, synthetic_split.n_items)).astype(np.float32)
    target = 7
    got = sh.target_exposure(lambda u: tf.gather(table, u), synthetic_split, target, ks=(1, 10))
    touched = set()
    for part in (synthetic_split.train, synthetic_split.valid, synthetic_split.test):
        touched |= set(part.user[part.item == target].tolist())
    seen = synthetic_split.train.dense() > 0
    ranks = []
    for u in range(synthetic_split.n_users):
        if u in touched:
            continue
        better = (table[u] > table[u, target]) & ~seen[u]
        ranks.append(1 + better.sum())
    ranks = np.array(ranks)
    assert got["n_users"] == len(ranks)
    assert got["mean_rank"] == pytest.approx(ranks.mean())
    assert got["hr@10"] == pytest.approx(np.mean(ranks <= 10))
    # A model that scores the target highest puts it first for everyone.
    top = sh.target_exposure(
        lambda u: tf.one_hot(tf.fill(tf.shape(u), target), synthetic_split.n_items),
        synthetic_split,
        target,
    )
    assert top["hr@1"] if "hr@1" in top else top["hr@10"] == 1.0
    assert top["mean_rank"] == 1.0


def test_influence_direction_prefers_items_along_the_reachable_users():
    # Two user groups; the target (item 0) sits near group A's taste direction.
    from advrec.data import Interactions

    p = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    q = np.array([[0.9, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 0.0]])
    train = Interactions.from_arrays([0, 5], [1, 2], n_users=10, n_items=5)
    value = sh.influence_direction(p, q, np.zeros(5), train, target=0, k=1)
    assert value.shape == (5,)
    assert value[1] > value[2] and value[1] > value[4]
    profiles = sh.surrogate_profiles(value, 0, n_fake=3, filler_size=2, seed=0)
    np.testing.assert_array_equal(profiles.sum(axis=1), 3)
    assert profiles[:, 0].all()


@pytest.mark.slow
def test_the_profile_gan_trains_both_players_and_keeps_its_shapes(synthetic_split):
    train = synthetic_split.train
    target, filler = 5, 8
    value = np.linspace(-1, 1, train.n_items).astype(np.float32)
    gan = sh.ProfileGAN(train.n_items, target, value, filler_size=filler, hidden_units=16, seed=0)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), jit_compile=True)
    templates = sh.gan_templates(train, target, filler)
    g_before = [w.numpy().copy() for w in gan.generator.trainable_variables]
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_variables]
    history = gan.fit(templates[:64], batch_size=32, epochs=2, verbose=0)
    assert set(history.history) >= {"d_loss", "g_adv", "g_rec", "g_attack"}
    for before, variables in ((g_before, gan.generator), (d_before, gan.discriminator)):
        after = [w.numpy() for w in variables.trainable_variables]
        assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
    profiles = gan.fake_profiles(templates[:5])
    assert profiles.shape == (5, train.n_items) and profiles[:, target].all()
    np.testing.assert_array_equal(profiles.sum(axis=1), filler + 1)
    with pytest.raises(ValueError, match="separate optimizer"):
        opt = keras.optimizers.Adam()
        gan.compile(opt, opt)


def test_the_generator_gradient_flows_through_the_discriminator(synthetic_split):
    train = synthetic_split.train
    gan = sh.ProfileGAN(train.n_items, 5, np.zeros(train.n_items), filler_size=8, seed=0)
    templates = tf.constant(sh.gan_templates(train, 5, 8)[:16])
    with tf.GradientTape() as tape:
        fakes, _ = gan.generate(templates, training=True)
        loss = tf.reduce_mean(gan.discriminator(fakes))
    gradients = tape.gradient(loss, gan.generator.trainable_variables)
    assert all(g is not None for g in gradients)
    assert max(float(tf.reduce_max(tf.abs(g))) for g in gradients) > 0


@pytest.mark.slow
def test_an_attack_lifts_its_target_in_bpr_mf(synthetic_split):
    train = synthetic_split.train
    target = int(np.argsort(train.item_counts())[20])
    n_fake = sh.n_fake_users(synthetic_split.n_users, 0.1)
    ranks = []
    for profiles in (None, sh.classic_profiles(train, target, "bandwagon", n_fake, 15, seed=0)):
        split = synthetic_split if profiles is None else inject_users(synthetic_split, profiles)
        model = run_victim(split, BPRMFConfig(dim=8, epochs=20, batch_size=512), seed=0).model
        ranks.append(sh.target_exposure(model.score_all, split, target, synthetic_split.n_users))
    assert ranks[1]["mean_rank"] < ranks[0]["mean_rank"]


def test_the_detector_flags_random_profiles_and_keeps_its_false_alarm_rate(synthetic_split):
    from advrec.attacks.shilling_detection import FEATURES, fit_detector, profile_features

    train = synthetic_split.train
    simulated = [
        sh.classic_profiles(train, t, "random", 10, filler_size=20, seed=t) for t in range(1, 7)
    ]
    detector = fit_detector(train, simulated, max_false_positive_rate=0.05, seed=0)
    assert profile_features(train).shape == (train.n_users, len(FEATURES))
    attack = sh.classic_profiles(train, 9, "random", 10, filler_size=20, seed=9)
    poisoned = inject_users(synthetic_split, attack)
    flagged = detector.flag(poisoned.train)
    fake = flagged >= synthetic_split.n_users
    assert fake.sum() >= 8  # recall >= 0.8
    assert (~fake).sum() <= 0.1 * synthetic_split.n_users
    with pytest.raises(ValueError, match="simulated"):
        fit_detector(train, [simulated[0][:, :5]])


# -- hostile inputs: each used to give a silently wrong result or a raw IndexError/TF error --------


def _zeros(split):
    return lambda users: tf.zeros((tf.shape(users)[0], split.n_items))


def test_a_broken_model_is_not_reported_as_a_perfect_attack(synthetic_split):
    # All-NaN scores used to give HR@10 = 1.0 and mean rank 1.
    def nan_scores(users):
        return tf.fill((tf.shape(users)[0], synthetic_split.n_items), np.nan)

    with pytest.raises(ValueError, match="NaN or infinite scores.*diverged"):
        sh.target_exposure(nan_scores, synthetic_split, 7)
    with pytest.raises(ValueError, match=r"shape \[.*, 200\]"):
        sh.target_exposure(lambda u: tf.zeros((tf.shape(u)[0], 5)), synthetic_split, 7)
    with pytest.raises(TypeError, match="floating-point scores"):
        sh.target_exposure(lambda u: tf.zeros((tf.shape(u)[0], 200), tf.int32), synthetic_split, 7)


def test_target_exposure_refuses_bad_targets_users_and_cut_offs(synthetic_split):
    zeros = _zeros(synthetic_split)
    for target in (-1, synthetic_split.n_items):
        with pytest.raises(ValueError, match=r"target .* is outside \[0, 200\)"):
            sh.target_exposure(zeros, synthetic_split, target)
    for target in (2.5, True):  # 2.5 used to become item 2, True item 1
        with pytest.raises(TypeError, match="target must be an integer item id"):
            sh.target_exposure(zeros, synthetic_split, target)
    for n_real in (0, -5, synthetic_split.n_users + 1):  # -5 used to drop 5 users silently
        with pytest.raises(ValueError, match=r"n_real must be between 1 and 300"):
            sh.target_exposure(zeros, synthetic_split, 7, n_real=n_real)
    for ks in ((), (0,), (2.5,)):  # () used to return no hit rate at all, (0,) an "hr@0"
        with pytest.raises(ValueError, match="cut-off"):
            sh.target_exposure(zeros, synthetic_split, 7, ks=ks)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        sh.target_exposure(zeros, synthetic_split, 7, batch_size=0)


def test_attack_profiles_refuse_bad_counts_and_targets(synthetic_split):
    train = synthetic_split.train
    for target in (True, 1.7):  # silently became items 1 and 1
        with pytest.raises(TypeError, match="target must be an integer item id"):
            sh.classic_profiles(train, target, "random", 3)
    with pytest.raises(ValueError, match="n_fake must be a whole number"):
        sh.classic_profiles(train, 3, "random", 2.5)
    with pytest.raises(ValueError, match="n_unpopular must be >= 0"):
        sh.choose_targets(train, -1, 2)
    with pytest.raises(ValueError, match="ask for at least one target"):
        sh.choose_targets(train, 0, 0)
    for n_real in (0, -3):  # used to give one fake user for no real one
        with pytest.raises(ValueError, match="n_real must be >= 1"):
            sh.n_fake_users(n_real, 0.1)
    with pytest.raises(ValueError, match="filler_size must be >= 1"):
        sh.gan_templates(train, 3, 0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        sh.segment_items(train, 7, 0)


def test_the_surrogate_attack_refuses_nan_values_and_temperatures():
    value = np.random.default_rng(0).normal(size=20)
    broken = value.copy()
    broken[:5] = np.nan  # used to return arbitrary profiles
    with pytest.raises(ValueError, match="item_value holds 5 NaN or infinite values"):
        sh.surrogate_profiles(broken, 3, 2, 5)
    for temperature in (np.nan, np.inf, 0.0, -1.0):
        with pytest.raises(ValueError, match=r"temperature must be a finite number > 0"):
            sh.surrogate_profiles(value, 3, 2, 5, temperature=temperature)
    with pytest.raises(ValueError, match=r"target -1 is outside \[0, 20\)"):  # was: the last item
        sh.surrogate_profiles(value, -1, 2, 5)
    with pytest.raises(ValueError, match=r"target 20 is outside"):  # was: an IndexError
        sh.surrogate_profiles(value, 20, 2, 5)
    with pytest.raises(ValueError, match="n_fake must be >= 1"):  # was: an empty profile set
        sh.surrogate_profiles(value, 3, 0, 5)
    with pytest.raises(ValueError, match=r"item_value must be 1-D \[n_items\]"):
        sh.surrogate_profiles(value[None], 3, 2, 5)


def test_influence_direction_refuses_mismatched_or_broken_factors(synthetic_split):
    train = synthetic_split.train
    p, q, b = np.ones((300, 4)), np.ones((200, 4)), np.zeros(200)
    with pytest.raises(ValueError, match=r"user_factors must be \[300, d\]"):
        sh.influence_direction(p[:-1], q, b, train, 3)
    with pytest.raises(ValueError, match="user_factors holds 1200 NaN"):
        sh.influence_direction(np.full_like(p, np.nan), q, b, train, 3)
    for k in (0, 201):  # 0 used to give all-NaN values
        with pytest.raises(ValueError, match=r"k must be between 1 and 200"):
            sh.influence_direction(p, q, b, train, 3, k=k)


def test_an_empty_profile_set_or_fractional_user_ids_are_refused(synthetic_split):
    with pytest.raises(ValueError, match="no profiles to inject"):
        inject_users(synthetic_split, np.zeros((0, synthetic_split.n_items), bool))
    with pytest.raises(ValueError, match="user ids must be whole numbers"):  # 1.7 was user 1
        drop_users(synthetic_split, [1.7])


def test_detection_features_need_two_users_and_a_whole_k():
    from advrec.attacks.shilling_detection import profile_features
    from advrec.data import Interactions

    table = Interactions.from_arrays([0, 1, 1], [0, 0, 1])
    with pytest.raises(ValueError, match="k must be a whole number"):
        profile_features(table, 2.5)
    with pytest.raises(ValueError, match="at least 2 users"):  # one user gave NaN features
        profile_features(Interactions.from_arrays([0], [0]), 2)


def test_fixed_epoch_training_refuses_fractional_epochs_and_non_positive_rates(synthetic_split):
    from advrec.recipes.base import with_settings
    from advrec.recipes.shilling import ProfileGANConfig

    with pytest.raises(ValueError, match="epochs must be a whole number, got 2.9"):  # ran 2
        with_settings(BPRMFConfig(), epochs=2.9)
    for rate in (0.0, -0.01, np.nan):  # 0 trained nothing, a negative rate ascended the loss
        with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
            with_settings(BPRMFConfig(), learning_rate=rate)
        with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
            with_settings(ProfileGANConfig(), learning_rate=rate)
