"""The optimised attack (gradient steps through a ridge surrogate), the positive control, the
two-sided and anomaly screens, and the chapter's two shilling experiments."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from advrec.attacks import shilling as sh
from advrec.attacks.shilling_detection import (
    AnomalyScreen,
    detection_report,
    fit_anomaly_screen,
    fit_detector,
)
from advrec.data.fake_users import inject_users
from advrec.models import EASE


def _target(split, rank=40):
    return int(np.argsort(split.train.item_counts(), kind="stable")[rank])


def test_clones_copy_every_real_profile_and_add_the_target(synthetic_split):
    train, target = synthetic_split.train, _target(synthetic_split)
    clones = sh.clone_profiles(train, target)
    want = train.dense() > 0
    want[:, target] = True
    assert clones.shape == (train.n_users, train.n_items) and np.array_equal(clones, want)
    assert sh.clone_profiles(train, target, 5).shape[0] == 5


def test_the_ridge_surrogate_is_ease_retrained_on_the_fake_rows(synthetic_split):
    train, target = synthetic_split.train, _target(synthetic_split)
    fake = sh.classic_profiles(train, target, "average", 7, 15, seed=0)
    surrogate = sh.RidgeSurrogate(train, target, l2=50.0, k=10)
    gaps = surrogate.gaps(tf.constant(fake.astype(np.float32))).numpy() * surrogate.scale
    poisoned = inject_users(synthetic_split, fake).train
    scores = EASE(poisoned, 50.0).score_all(tf.range(train.n_users)).numpy()
    seen = train.dense() > 0
    reached = ~seen[:, target]
    scores = np.where(seen, -np.inf, scores)[reached]
    others = np.delete(scores, target, axis=1)
    kth = -np.partition(-others, 9, axis=1)[:, 9]
    np.testing.assert_allclose(gaps, scores[:, target] - kth, rtol=2e-3, atol=2e-4)


def test_the_optimised_attack_climbs_its_objective_and_keeps_its_budget(synthetic_split):
    train, target = synthetic_split.train, _target(synthetic_split)
    profiles, history = sh.optimised_profiles(train, target, 8, 12, l2=50.0, steps=6, seed=0)
    assert history["epoch"] == list(range(7))
    assert max(history["objective"]) > history["objective"][0]  # it optimises
    assert profiles.shape == (8, train.n_items) and profiles[:, target].all()
    assert (profiles.sum(axis=1) == 13).all()  # the target and 12 fillers
    surrogate = sh.RidgeSurrogate(train, target, 50.0)
    best, _ = surrogate.objective(tf.constant(profiles.astype(np.float32)))
    assert float(best) == pytest.approx(max(history["objective"]), abs=1e-5)
    start = sh.classic_profiles(train, target, "average", 8, 12, seed=0)
    again, _ = sh.optimised_profiles(train, target, 8, 12, l2=50.0, steps=0, seed=0)
    assert np.array_equal(again, start)  # zero steps: the average attack it starts from


def test_a_two_sided_screen_catches_fakes_that_look_too_ordinary():
    class Fixed:
        threshold, low_threshold, high_threshold = 0.9, 0.05, 0.95

        def flagged(self, scores, two_sided=False):
            from advrec.attacks.shilling_detection import ShillingDetector

            return ShillingDetector.flagged(self, scores, two_sided)

    genuine = np.linspace(0.1, 0.8, 100)
    fake = np.full(10, 0.01)  # below every genuine user: AUC 0, perfect separation
    scores, is_fake = np.concatenate([genuine, fake]), np.arange(110) >= 100
    report = detection_report(scores, is_fake, Fixed())
    assert report["auc"] == 0.0 and report["auc_distance"] == 0.5
    assert report["recall"] == 0.0 and report["recall_two_sided"] == 1.0
    assert report["fpr_two_sided"] == 0.0
    with pytest.raises(ValueError, match="both fake and genuine"):
        detection_report(genuine, np.zeros(100, bool), Fixed())


def test_the_detectors_thresholds_bound_the_false_alarms(synthetic_split):
    train = synthetic_split.train
    simulated = [sh.classic_profiles(train, t, "random", 10, 20, seed=t) for t in range(1, 5)]
    detector = fit_detector(train, simulated, max_false_positive_rate=0.1, seed=0)
    assert detector.low_threshold < detector.threshold <= detector.high_threshold
    scores = detector.scores(train)
    assert detector.flagged(scores, two_sided=True).mean() <= 0.25  # held-out rate ~0.1
    screen = fit_anomaly_screen(train, 0.1, seed=0)
    assert isinstance(screen, AnomalyScreen) and screen.flagged(screen.scores(train)).mean() < 0.25
    attack = sh.classic_profiles(train, 9, "bandwagon", 10, 60, seed=0)
    poisoned = inject_users(synthetic_split, attack).train
    fake = screen.flag(poisoned) >= synthetic_split.n_users
    assert fake.sum() >= 5  # sixty-item bandwagon profiles are far from the genuine users


# -- the experiments (slow: they train) --------------------------------------------------------


@pytest.mark.slow
def test_the_attack_experiment_fills_every_cell_and_its_positive_control(synthetic_split):
    from advrec.recipes.base import with_settings
    from advrec.recipes.shilling import AttackExperimentConfig, run_attack_experiment

    config = with_settings(
        AttackExperimentConfig(),
        victim__dim=8, victim__batch_size=1024, victim__epochs=4, bpr_l2_grid=(0.01,),
        ease_l2_grid=(30.0,), attacks=("random", "surrogate"), sizes=(0.02, 0.05),
        attacker__filler_size=10, attacker__optimised__steps=2, attacker__optimised__l2=30.0,
    )  # fmt: skip
    run = run_attack_experiment(synthetic_split, config, seed=0)
    exposure = run.facts["exposure"]
    assert set(exposure) == {"unpopular", "mid"}
    for band in exposure.values():
        assert set(band) == {"ItemPop", "EASE^R", "BPR-MF"}
        for victim in band.values():
            assert set(victim) == {"none", "random", "surrogate", "clone"}
            assert set(victim["random"]) == {"0.02", "0.05"}
            assert 0.0 <= victim["random"]["0.05"]["hr@10"] <= 1.0
        assert band["ItemPop"]["clone"]["1"]["hr@10"] == 1.0  # the control registers
    assert set(run.history) == {"BPR-MF l2=0.01", "surrogate unpopular", "surrogate mid"}
    assert run.record()  # JSON-ready


@pytest.mark.slow
def test_the_defence_experiment_screens_and_trains_apr_beside_its_control(synthetic_split):
    from advrec.recipes.base import with_settings
    from advrec.recipes.shilling import DEFENCES, DefenceExperimentConfig, run_defence_experiment

    config = with_settings(
        DefenceExperimentConfig(),
        victim__dim=8, victim__batch_size=1024, victim__epochs=4, bpr_l2_grid=(0.01,),
        apr_epsilon_grid=(0.5,), apr_epochs=3, attacks=("bandwagon",), size=0.05,
        attacker__filler_size=10, detector_filler_sizes=(10, 20),
    )  # fmt: skip
    run = run_defence_experiment(synthetic_split, config, seed=0)
    cells = run.facts["cells"]
    assert set(cells) == {"none", "bandwagon"}
    assert all(set(cell) == set(DEFENCES) for cell in cells.values())
    report = run.facts["detection"]["bandwagon"]
    assert {"auc", "auc_distance", "recall_two_sided", "recall_anomaly"} <= set(report)
    assert 1 <= run.facts["apr"]["epochs"] <= 3
    assert set(run.history) == {"BPR-MF l2=0.01", "APR epsilon=0.5"}
