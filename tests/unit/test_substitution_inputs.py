"""Substitution attacks and SASRec's constructor refuse bad inputs with a clear ValueError,
where they used to raise TensorFlow or IndexErrors (or run on silently)."""

import numpy as np
import pytest

from advrec.attacks import substitution as sub
from advrec.data.sequences import leave_last_out, synthetic_sequences
from advrec.models.sasrec import SASRec

MAX_LEN, N_ITEMS = 6, 30


@pytest.fixture(scope="module")
def sequences():
    table = synthetic_sequences(40, N_ITEMS, n_clusters=3, mean_length=8, seed=0)
    return leave_last_out(table, MAX_LEN)


@pytest.fixture(scope="module")
def model(sequences):
    return SASRec(sequences, dim=8, n_blocks=1)  # untrained: only the checks are tested


@pytest.fixture(scope="module")
def batch(sequences):
    users = np.unique(sequences.test.user)[:4]
    return sequences.test_context[users], sequences.test.item[:4]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"budget": MAX_LEN + 1}, ValueError, r"budget must be between 1 and 6.*max_len"),
        ({"budget": 2.5}, ValueError, "budget must be a whole number"),
        ({"n_candidates": 10**4}, ValueError, r"n_candidates must be between 1 and 30"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"min_similarity": np.nan}, ValueError, r"min_similarity must be a finite number in"),
    ],
)
def test_substitution_attack_refuses_bad_settings(model, batch, kwargs, error, message):
    histories, items = batch
    with pytest.raises(error, match=message):
        sub.substitution_attack(model, histories, items, **kwargs)


def test_substitution_attack_refuses_items_and_histories_outside_the_catalogue(model, batch):
    histories, items = batch
    for bad in (N_ITEMS, -1):  # n_items is the padding id, not an item
        with pytest.raises(ValueError, match=r"items must be item ids in \[0, 30\)"):
            sub.substitution_attack(model, histories, np.full(len(items), bad))
    with pytest.raises(ValueError, match=r"histories must hold item ids in \[0, 30\] \(30"):
        sub.substitution_attack(model, np.full_like(histories, 99), items)
    with pytest.raises(ValueError, match=r"histories must be \[B, 6\]"):
        sub.substitution_attack(model, histories[:, :3], items)
    with pytest.raises(ValueError, match="no history to attack"):
        sub.substitution_attack(model, histories[:0], items[:0])


def test_attack_curves_and_targeted_attacks_refuse_bad_budgets_and_targets(model, sequences):
    with pytest.raises(ValueError, match="budgets is empty"):  # was an IndexError
        sub.untargeted_attack_curve(model, sequences, budgets=())
    with pytest.raises(ValueError, match=r"budget must be between 0 and 6"):
        sub.untargeted_attack_curve(model, sequences, budgets=(1, 7))
    with pytest.raises(ValueError, match="whole number"):  # 1.5 used to become budget 1
        sub.untargeted_attack_curve(model, sequences, budgets=(1.5,))
    for target in (N_ITEMS, -1):  # -1 used to be a TensorFlow error, 30 an IndexError
        with pytest.raises(ValueError, match=r"target .* is outside \[0, 30\)"):
            sub.targeted_attack(model, sequences, target)
    with pytest.raises(ValueError, match="max_users must be >= 1"):
        sub.targeted_attack(model, sequences, 3, max_users=0)
    with pytest.raises(ValueError, match=r"n_candidates must be between 1 and 30"):
        sub.targeted_attack(model, sequences, 3, n_candidates=10**5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epsilon": np.nan}, "epsilon must be a finite number >= 0"),
        ({"adversarial_weight": np.nan}, "adversarial_weight must be a finite number >= 0"),
        ({"n_negatives": 0, "loss": "sampled_softmax"}, "n_negatives must be >= 1"),
        ({"n_negatives": 2.7, "loss": "sampled_softmax"}, "n_negatives must be a whole number"),
        ({"seed": None}, "seed must be an integer >= 0, got None"),
        ({"dim": 8.5}, "dim must be a whole number"),
    ],
)
def test_sasrec_refuses_nan_budgets_bad_counts_and_no_seed(sequences, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        SASRec(sequences, **{"dim": 8, **kwargs})


def test_synthetic_sequences_refuse_a_missing_seed_and_nan_lengths():
    with pytest.raises(TypeError, match="got None"):
        synthetic_sequences(10, 10, n_clusters=2, seed=None)
    with pytest.raises(ValueError, match="mean_length must be a finite number"):
        synthetic_sequences(10, 10, n_clusters=2, mean_length=np.nan)
    table = synthetic_sequences(10, 10, n_clusters=2, seed=0)
    with pytest.raises(ValueError, match="max_len must be a positive integer"):
        leave_last_out(table, max_len=True)  # was a window of one item
