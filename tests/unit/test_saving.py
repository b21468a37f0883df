"""Saving a model built from training data: weights only, refused onto another catalogue or
other training data, with one clear message (advrec.models.saving)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data import random_holdout, synthetic_movielens
from advrec.models import AMF, BPRMF, AdversarialBPRMF

WHOLE_MODEL_MESSAGE = r"built from its training data.*save_weights\(\"model\.weights\.h5\"\)"


@pytest.fixture(scope="module")
def data():
    return synthetic_movielens(n_users=60, n_items=40, seed=0)


@pytest.fixture(scope="module")
def split(data):
    return random_holdout(data.interactions, seed=0)


@pytest.mark.parametrize("cls", [BPRMF, AMF])
def test_whole_model_saving_points_to_the_weights(cls, split, tmp_path):
    # It used to fail with Keras' "Object BPRMF was created by passing non-serializable
    # argument values ... implement get_config".
    from advrec.models.saving import WholeModelSavingError

    model = cls(split.train, dim=4)
    for save in (
        lambda: model.save(tmp_path / "m.keras"),
        lambda: keras.saving.save_model(model, tmp_path / "n.keras"),
        model.get_config,
    ):
        with pytest.raises(WholeModelSavingError, match=WHOLE_MODEL_MESSAGE) as error:
            save()
        assert isinstance(error.value, NotImplementedError)  # what Keras expects of get_config
        assert f"build a {cls.__name__} from the same training data" in str(error.value)
    assert not (tmp_path / "m.keras").exists()


def test_weights_round_trip_and_are_refused_onto_another_catalogue(data, split, tmp_path):
    path = tmp_path / "m.weights.h5"
    model = BPRMF(split.train, dim=4, seed=0)
    model.save_weights(path)
    restored = BPRMF(split.train, dim=4, seed=1)
    restored.load_weights(path)
    users = tf.range(split.n_users)
    np.testing.assert_array_equal(restored.score_all(users), model.score_all(users))

    bigger = random_holdout(synthetic_movielens(n_users=70, n_items=50, seed=0).interactions)
    other = BPRMF(bigger.train, dim=4, seed=3)
    before = other.score_all(tf.range(70)).numpy()
    with pytest.raises(ValueError, match=r"m\.weights\.h5: .*another catalogue, 60 users x 40 "
                       r"items .* but this BPRMF was built for 70 users x 50 items"):  # fmt: skip
        other.load_weights(path)
    np.testing.assert_array_equal(other.score_all(tf.range(70)), before)  # nothing changed


def test_weights_trained_on_another_split_of_the_same_size_are_refused(data, split, tmp_path):
    # Same users and items, other training pairs (another seed): this used to load silently,
    # and evaluating those weights here tests them on pairs they were trained on.
    path = tmp_path / "m.weights.h5"
    BPRMF(split.train, dim=4).save_weights(path)
    other_seed = random_holdout(data.interactions, seed=1)
    with pytest.raises(
        ValueError,
        match=r"trained on other data: the same 60 users x 40 items, but other .* another split",
    ):
        BPRMF(other_seed.train, dim=4).load_weights(path)


def test_other_shapes_or_classes_get_one_clear_message(split, tmp_path):
    path = tmp_path / "m.weights.h5"
    BPRMF(split.train, dim=4).save_weights(path)
    with pytest.raises(ValueError, match=r"user_factors has shape \(60, 4\) in the file but "
                       r"\(60, 8\) in this BPRMF.*\(e\.g\. dim\)") as error:  # fmt: skip
        BPRMF(split.train, dim=8).load_weights(path)
    assert "List of objects" not in str(error.value) and "[[" not in str(error.value)
    labels = np.arange(split.n_users) % 2
    with pytest.raises(ValueError, match="does not fit this AdversarialBPRMF"):
        AdversarialBPRMF(split.train, labels, dim=4).load_weights(path)
