"""Recommenders, one file each: popularity, BPR-MF, and the adversarial models built on them."""

from advrec.models.base import PairwiseRanker
from advrec.models.itempop import ItemPop
from advrec.models.mf import BPRMF

__all__ = ["BPRMF", "ItemPop", "PairwiseRanker"]
