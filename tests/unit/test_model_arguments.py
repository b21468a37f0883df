"""The models refuse hyper-parameters, seeds, data and user ids that would silently go wrong."""

import numpy as np
import pytest
import tensorflow as tf

from advrec.attacks.inference import gender_labels
from advrec.data import Interactions
from advrec.models import AMF, BPRMF, EASE, AdversarialBPRMF, ItemPop

BUILDERS = {
    "ItemPop": lambda data: ItemPop(data.interactions),
    "EASE": lambda data: EASE(data.interactions, l2=10.0),
    "BPRMF": lambda data: BPRMF(data.interactions, dim=4),
    "AMF": lambda data: AMF(data.interactions, dim=4),
    "AdversarialBPRMF": lambda data: AdversarialBPRMF(
        data.interactions, gender_labels(data.users), dim=4
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_scoring_a_user_outside_the_model_is_refused(name, synthetic_dataset):
    # ItemPop used to score any id; the others raised TensorFlow's gather error (and on a GPU a
    # gather out of range returns zeros, silently).
    model = BUILDERS[name](synthetic_dataset)
    for users in ([0, 300], [-1]):
        with pytest.raises(ValueError, match=r"user ids must lie in \[0, 300\)"):
            model.score_all(tf.constant(users, tf.int32))
    assert model.score_all(tf.constant([0, 299], tf.int32)).shape == (2, 200)


def test_ease_takes_numpy_numbers_and_refuses_bools(synthetic_dataset):
    train = synthetic_dataset.interactions
    assert EASE(train, l2=np.float32(500)).l2 == 500.0  # was refused as "not a number"
    assert EASE(train, l2=np.int64(500)).l2 == 500.0
    with pytest.raises(TypeError, match="l2 must be a number, got True"):
        EASE(train, l2=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epsilon": np.nan}, "epsilon must be a finite number >= 0"),  # was accepted
        ({"epsilon": np.inf}, "epsilon must be a finite number >= 0"),
        ({"adversarial_weight": np.nan}, "adversarial_weight must be a finite number >= 0"),
        ({"epsilon": -0.1}, "epsilon must be a finite number >= 0"),
    ],
)
def test_amf_refuses_nan_and_negative_budgets(synthetic_dataset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        AMF(synthetic_dataset.interactions, dim=4, **kwargs)


def test_bpr_models_refuse_bad_seeds_inits_and_empty_data(synthetic_dataset):
    train = synthetic_dataset.interactions
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got None"):
        BPRMF(train, dim=4, seed=None)  # used to draw other weights on every call
    with pytest.raises(ValueError, match="seed must be between 0"):
        BPRMF(train, dim=4, seed=-1)
    with pytest.raises(ValueError, match="init_std must be a finite number > 0"):
        BPRMF(train, dim=4, init_std=0.0)  # all-zero factors get zero gradients: biases only
    with pytest.raises(ValueError, match="the training table is empty"):
        BPRMF(Interactions.from_arrays([], [], n_users=3, n_items=4), dim=4)
    with pytest.raises(ValueError, match="the training table is empty"):
        ItemPop(Interactions.from_arrays([], [], n_users=3, n_items=4))
    with pytest.raises(TypeError, match="train must be an Interactions table"):
        BPRMF(synthetic_dataset, dim=4)
    with pytest.raises(ValueError, match="adversary_weight must be a finite number >= 0"):
        AdversarialBPRMF(train, gender_labels(synthetic_dataset.users), adversary_weight=np.nan)
