"""Popularity and coverage of top-K lists, on hand-made cases with known answers."""

import numpy as np
import pytest
import tensorflow as tf

from advrec.data import Interactions, Split
from advrec.diversity import recommendation_popularity_and_coverage, top_k_lists
from advrec.models import ItemPop


@pytest.fixture
def toy_split():
    """4 users x 6 items. Training popularity: item 0: 3, item 1: 2, item 2: 1, items 3-5: 0."""
    train = Interactions.from_arrays([0, 1, 2, 0, 1, 3], [0, 0, 0, 1, 1, 2], n_users=4, n_items=6)
    valid = Interactions.from_arrays([3], [5], n_users=4, n_items=6)
    test = Interactions.from_arrays([0], [4], n_users=4, n_items=6)
    return Split(train, valid, test, "toy")


def test_itempop_lists_and_their_popularity(toy_split):
    score_fn = ItemPop(toy_split.train).score_all
    lists = top_k_lists(score_fn, np.arange(4), [toy_split.train, toy_split.valid], k=2)
    # Ties among unpopular items go to the lower index.
    assert lists.tolist() == [[2, 3], [2, 3], [1, 2], [0, 1]]
    result = recommendation_popularity_and_coverage(score_fn, toy_split, k=2)
    popularity = np.array([3, 2, 1, 0, 0, 0])
    expected = np.mean([popularity[row].mean() for row in lists])
    assert result["mean_popularity"] == pytest.approx(expected)
    assert result["coverage"] == pytest.approx(4 / 6)


def test_personalised_lists_and_excluded_items(toy_split):
    # User u prefers item 5 - u. User 3's favourite (item 2) is a training item, so its list
    # falls back to the best remaining item: all tie at 0, and the lowest index, 0, wins.
    preference = tf.constant(np.eye(6, dtype=np.float32)[[5, 4, 3, 2]])
    score_fn = lambda users: tf.gather(preference, users)  # noqa: E731
    lists = top_k_lists(score_fn, np.arange(4), [toy_split.train, toy_split.valid], k=1)
    assert lists.ravel().tolist() == [5, 4, 3, 0]
    result = recommendation_popularity_and_coverage(score_fn, toy_split, k=1)
    assert result["mean_popularity"] == pytest.approx((0 + 0 + 0 + 3) / 4)
    assert result["coverage"] == pytest.approx(4 / 6)


def test_bad_arguments_are_rejected(toy_split):
    score_fn = ItemPop(toy_split.train).score_all
    with pytest.raises(ValueError, match="k must be between 1 and 6, got 7"):
        recommendation_popularity_and_coverage(score_fn, toy_split, k=7)
    with pytest.raises(ValueError, match="shape"):
        recommendation_popularity_and_coverage(lambda u: tf.zeros([3, 6]), toy_split, k=2)


def test_top_k_lists_refuse_nan_scores_and_fractional_k(toy_split):
    # NaN scores used to give arbitrary lists, read as the model's recommendations.
    def nan_scores(users):
        return tf.fill((tf.shape(users)[0], 6), np.nan)

    with pytest.raises(ValueError, match="NaN or infinite scores"):
        top_k_lists(nan_scores, np.array([0, 1]), toy_split.train, k=2)
    with pytest.raises(ValueError, match="k must be a whole number"):  # 2.5 was 2
        top_k_lists(ItemPop(toy_split.train).score_all, np.array([0]), toy_split.train, k=2.5)
