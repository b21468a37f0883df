"""Published papers' own evaluation protocols, rebuilt from the loaded data by their rules.

MovieLens may not be redistributed, so no paper's split file is shipped; each split here is a
deterministic function of the loaded ML-100K table (whose rows keep ``u.data``'s order) and,
where the paper's rule is random, of a seed.

- :func:`u1_split` -- GroupLens' ``u1.base``/``u1.test`` (``mku.sh`` puts the first 20,000 lines
  of ``u.data`` in ``u1.test``), with ratings >= 4 as positives: the protocol of IRGAN's
  released item-recommendation code (Wang et al., SIGIR 2017).
- :func:`cfgan_split` -- a random 80/20 per-user holdout of all ratings as implicit feedback:
  the protocol of CFGAN (Chae et al., CIKM 2018).

Both carve a validation table out of the training rows, so epochs and hyper-parameters are
chosen without touching the test rows (the papers' released code selects on the test set).
"""

from __future__ import annotations

import numpy as np

from advrec.data.interactions import Interactions
from advrec.data.splits import Split, random_holdout

U1_TEST_ROWS = 20_000
"""``u1.test`` is the first 20,000 lines of ``u.data`` (GroupLens' ``mku.sh``)."""

ML100K_ROWS = 100_000


def u1_split(
    interactions: Interactions,
    positive_threshold: float = 4.0,
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> Split:
    """GroupLens' ``u1`` split with ratings ``>= positive_threshold`` kept as positives.

    ``test`` holds the positives among the first 20,000 rows (``u1.test``); the positives of the
    other 80,000 rows (``u1.base``) are split per user at random into ``train`` and ``valid``
    (``valid_fraction`` of each user's rows; ``valid_fraction=0`` gives the paper's whole
    ``u1.base``). Ratings below the threshold are dropped everywhere, as in IRGAN's code: such
    items stay candidates in the ranking.

    Args:
        interactions: the ML-100K table in ``u.data`` row order (:func:`load_movielens` keeps it).
        positive_threshold: smallest rating that counts as a positive.
        valid_fraction: share of each user's ``u1.base`` positives held out for validation.
        seed: seed of the validation holdout.
    """
    if len(interactions) != ML100K_ROWS:
        raise ValueError(
            f"u1_split needs the full ML-100K table in u.data order ({ML100K_ROWS:,} rows), got "
            f"{len(interactions):,}; load it with advrec.data.load_movielens('ml-100k')."
        )
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must lie in [0, 1), got {valid_fraction}.")
    positive = interactions.rating >= positive_threshold
    in_test = np.arange(len(interactions)) < U1_TEST_ROWS
    test = interactions.select(positive & in_test)
    base = interactions.select(positive & ~in_test)
    inner = random_holdout(base, (1.0 - valid_fraction, valid_fraction, 0.0), seed=seed)
    return Split(
        train=inner.train,
        valid=inner.valid,
        test=test,
        protocol=f"u1(rating>={positive_threshold:g}, valid={valid_fraction:g})",
        seed=seed,
    )


def cfgan_split(
    interactions: Interactions,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """CFGAN's per-user random holdout: ``test_fraction`` of each user's rows are test.

    Every rating is an implicit interaction. ``valid_fraction`` of each user's remaining rows
    become validation (the second 80/20 cut of the ECIR 2022 replication by Pérez Maurera et
    al.); with the defaults the shares are 64/16/20. Rounding follows
    :func:`advrec.data.random_holdout` (``round(n * fraction)`` rows per user).

    Args:
        interactions: all ratings.
        test_fraction: share of each user's rows in test.
        valid_fraction: share of each user's remaining rows in validation.
        seed: seed of both cuts.
    """
    for name, value in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}.")
    outer = random_holdout(interactions, (1.0 - test_fraction, 0.0, test_fraction), seed=seed)
    inner = random_holdout(outer.train, (1.0 - valid_fraction, valid_fraction, 0.0), seed=seed + 1)
    return Split(
        train=inner.train,
        valid=inner.valid,
        test=outer.test,
        protocol=f"cfgan(test={test_fraction:g}, valid={valid_fraction:g})",
        seed=seed,
    )
