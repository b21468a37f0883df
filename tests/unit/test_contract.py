"""Every model in advrec.models keeps the documented Recommender contract, and draws its random
numbers through advrec.distribute."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import cold_start_inputs

import advrec.models
from advrec.attacks.inference import gender_labels
from advrec.data import positive_pairs
from advrec.data.features import demographic_groups, item_feature_matrix
from advrec.data.sequences import leave_last_out
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
from advrec.models.coldstart import (
    AdversarialGenerator,
    ColdStartModel,
    DropoutNetRecommender,
    RegressionGenerator,
)
from advrec.models.content import (
    ContentKNN,
    ContentPop,
    ItemPopByGenre,
    PopularityByDemographic,
    RidgeGenerator,
)
from advrec.models.contract import (
    HistoryRecommender,
    Recommender,
    TrainedRecommender,
    check_scores,
)
from advrec.models.sasrec import SASRec
from advrec.models.text import AdversarialTextBPR, TextBPR


def _cold(cls, **kwargs):
    """A cold-item model on random warm tables (full id spaces, as the contract asks)."""

    def build(data):
        split, features, entity, opposite = cold_start_inputs(data)
        return cls(split, features, entity, opposite, seed=0, **kwargs)

    return build


def _texts(data) -> np.ndarray:
    """Random unit "text embeddings" [n_items, 8] (the encoder itself is tested apart)."""
    rows = np.random.default_rng(0).normal(size=(data.n_items, 8)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


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
    SASRec: lambda data: SASRec(leave_last_out(data.interactions, 8), dim=8, seed=0),
    RegressionGenerator: _cold(RegressionGenerator, hidden=(8,)),
    DropoutNetRecommender: _cold(DropoutNetRecommender, hidden=(8,)),
    AdversarialGenerator: _cold(AdversarialGenerator, hidden=(8,), tower_hidden=(8,)),
    ItemPopByGenre: lambda data: ItemPopByGenre(
        cold_start_inputs(data)[0], item_feature_matrix(data.items, data.n_items).block("genre")
    ),
    ContentKNN: lambda data: ContentKNN(
        cold_start_inputs(data)[0], item_feature_matrix(data.items, data.n_items).values, k=5
    ),
    PopularityByDemographic: lambda data: PopularityByDemographic(
        data.interactions, demographic_groups(data.users)
    ),
    TextBPR: lambda data: TextBPR(data.interactions, _texts(data), dim=4, seed=0),
    AdversarialTextBPR: lambda data: AdversarialTextBPR(
        data.interactions, _texts(data), dim=4, epsilon=0.1, seed=0
    ),
    RidgeGenerator: lambda data: RidgeGenerator(*cold_start_inputs(data), l2=1.0),
    ContentPop: lambda data: ContentPop(*cold_start_inputs(data)[:2], l2=1.0),
}
"""How to build each model for the test; a new model class must be added here."""

ABSTRACT = {PairwiseRanker, ColdStartModel}
"""Base classes that only define a training pattern (their score_all is a subclass's)."""


def _model_classes() -> set[type]:
    """Every class defined in a module of :mod:`advrec.models` that scores items: found by
    walking the package, not from a list, so a new model cannot escape this test."""
    found = set()
    for info in pkgutil.walk_packages(advrec.models.__path__, "advrec.models."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            protocol = getattr(obj, "_is_protocol", False)  # the contract's own Protocols
            if obj.__module__ == module.__name__ and hasattr(obj, "score_all") and not protocol:
                found.add(obj)
    return found - ABSTRACT


def test_every_model_class_is_covered_here():
    classes = _model_classes()
    assert {SASRec, AdversarialGenerator, ContentKNN} <= classes  # the walk reaches every file
    missing = classes - set(BUILD)
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


RANDOM_SOURCES = re.compile(
    r"keras\.random\.(?!SeedGenerator)\w+|keras\.layers\.(?:Dropout|MultiHeadAttention)\b"
    r"|tf\.random\.(?:uniform|normal|categorical|shuffle)\b|np\.random\.(?!default_rng)\w+"
)


def test_training_steps_draw_through_the_per_replica_streams():
    """A draw with ``keras.random`` from a mirrored seed (or a Keras dropout layer) gives every
    replica the same numbers; the models draw through :mod:`advrec.distribute` instead."""
    root = Path(advrec.models.__file__).parent
    sources = [*root.glob("*.py"), root.parent / "gan.py", root.parent / "attacks" / "shilling.py"]
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if RANDOM_SOURCES.search(line.split("#")[0]) and not line.strip().startswith(("``", ":"))
    ]
    assert not offenders, "draw through advrec.distribute's replica_* helpers:\n" + "\n".join(
        offenders
    )


KERAS_MODELS = [cls for cls in BUILD if issubclass(cls, keras.Model)]


@pytest.mark.parametrize("cls", KERAS_MODELS, ids=lambda c: c.__name__)
def test_every_trained_model_saves_its_weights_and_refuses_a_whole_model_file(
    cls, synthetic_dataset, tmp_path
):
    from advrec.models.saving import WholeModelSavingError

    model = BUILD[cls](synthetic_dataset)
    with pytest.raises(WholeModelSavingError, match="save_weights"):
        model.save(str(tmp_path / "model.keras"))
    assert not (tmp_path / "model.keras").exists()
    path = str(tmp_path / "model.weights.h5")
    for variable in model.trainable_variables:  # weights unlike any fresh model's
        variable.assign(variable + 0.01 * tf.ones_like(variable))
    model.save_weights(path)
    restored = BUILD[cls](synthetic_dataset)
    restored.load_weights(path)
    users = np.array([0, 7, 299])
    np.testing.assert_array_equal(check_scores(restored, users), check_scores(model, users))
