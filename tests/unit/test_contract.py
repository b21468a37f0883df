"""Every model in advrec.models keeps the documented Recommender contract."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import advrec.models
from advrec.attacks.inference import gender_labels
from advrec.data import positive_pairs
from advrec.models import (
    AMF,
    BPRMF,
    CFGAN,
    EASE,
    IRGAN,
    AdversarialBPRMF,
    ItemPop,
    PairwiseRanker,
)
from advrec.models.contract import (
    HistoryRecommender,
    Recommender,
    TrainedRecommender,
    check_scores,
)

BUILD = {
    ItemPop: lambda data: ItemPop(data.interactions),
    EASE: lambda data: EASE(data.interactions, l2=10.0),
    BPRMF: lambda data: BPRMF(data.interactions, dim=4, seed=0),
    AMF: lambda data: AMF(data.interactions, epsilon=0.1, dim=4, seed=0),
    AdversarialBPRMF: lambda data: AdversarialBPRMF(
        data.interactions, gender_labels(data.users), dim=4, seed=0
    ),
    IRGAN: lambda data: IRGAN(data.interactions, dim=4, seed=0),
    CFGAN: lambda data: CFGAN(data.interactions, generator_units=8, discriminator_units=8, seed=0),
}
"""How to build each model for the test; a new model class must be added here."""

ABSTRACT = {PairwiseRanker}
"""Base classes that only define the training pattern (their score_all is a subclass's)."""


def _model_classes():
    exported = (getattr(advrec.models, name) for name in advrec.models.__all__)
    return {obj for obj in exported if inspect.isclass(obj)} - ABSTRACT


def test_every_model_class_is_covered_here():
    missing = _model_classes() - set(BUILD)
    assert not missing, f"add {sorted(c.__name__ for c in missing)} to BUILD in this test"


@pytest.mark.parametrize("cls", sorted(BUILD, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_model_satisfies_the_contract(cls, synthetic_dataset):
    model = BUILD[cls](synthetic_dataset)
    assert isinstance(model, Recommender)
    assert (model.n_users, model.n_items) == (synthetic_dataset.n_users, synthetic_dataset.n_items)
    scores = check_scores(model, np.array([0, 7, 299]))
    assert scores.shape == (3, synthetic_dataset.n_items)
    if isinstance(model, keras.Model):
        assert isinstance(model, TrainedRecommender)
        # Trained through Keras' fit with the model's own step, not keras.Model's default one.
        assert type(model).train_step is not keras.Model.train_step
        assert model.weights  # every variable exists after construction, before any fit
    else:
        assert not isinstance(model, TrainedRecommender)


def test_check_scores_names_what_breaks_the_contract(synthetic_dataset):
    class Wrong:
        n_users, n_items = 3, 4

        def __init__(self, make):
            self.make = make

        def score_all(self, users):
            return self.make(users)

    def ints(users):
        return tf.zeros((tf.shape(users)[0], 4), tf.int32)

    def short(users):
        return tf.zeros((tf.shape(users)[0], 3))

    def batch_dependent(users):
        return tf.ones((tf.shape(users)[0], 4)) * tf.cast(tf.shape(users)[0], tf.float32)

    users = np.array([0, 1])
    with pytest.raises(TypeError, match="float32 scores, got int32"):
        check_scores(Wrong(ints), users)
    with pytest.raises(ValueError, match=r"shape \(2, 4\), got \(2, 3\)"):
        check_scores(Wrong(short), users)
    with pytest.raises(ValueError, match="depending on the batch"):
        check_scores(Wrong(batch_dependent), users)
    with pytest.raises(TypeError, match="is not a Recommender"):
        check_scores(object(), users)


def test_history_models_are_recognised_by_score_histories():
    class Sequential:
        n_users, n_items = 2, 3

        def score_all(self, users):
            return tf.zeros((tf.shape(users)[0], 3))

        def score_histories(self, histories):
            return tf.zeros((tf.shape(histories)[0], 3))

    assert isinstance(Sequential(), HistoryRecommender)
    assert not isinstance(ItemPop.__new__(ItemPop), HistoryRecommender)


def test_bprmf_weights_round_trip_through_save_and_load(synthetic_split, tmp_path):
    trained = BPRMF(synthetic_split.train, dim=8, seed=0)
    trained.compile(optimizer=keras.optimizers.Adam(0.05))
    trained.fit(positive_pairs(synthetic_split.train, 1024, seed=0), epochs=1, verbose=0)
    path = str(tmp_path / "bprmf.weights.h5")
    trained.save_weights(path)

    restored = BPRMF(synthetic_split.train, dim=8, seed=1)  # other initial weights
    users = tf.range(synthetic_split.n_users)
    assert not np.allclose(restored.score_all(users), trained.score_all(users))
    restored.load_weights(path)
    np.testing.assert_array_equal(restored.score_all(users), trained.score_all(users))

    other_size = BPRMF(synthetic_split.train, dim=4, seed=0)
    with pytest.raises(ValueError):
        other_size.load_weights(path)
