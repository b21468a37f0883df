"""Attacks on recommenders: what an adversary can do to a trained model or learn from it.

One module per threat model; import the one you need (``from advrec.attacks import embedding``):

- :mod:`advrec.attacks.embedding` -- perturbations of a matrix-factorisation model's embedding
  tables within an l2 budget (FGSM and projected gradient ascent, as in APR), and the test
  metrics of the perturbed model (robustness curves).
- :mod:`advrec.attacks.inference` -- attribute inference: a fresh classifier, trained on some
  users' frozen representations, predicts a private attribute (e.g. gender) of the others;
  :func:`~advrec.attacks.inference.partition_users` splits the users into disclosed, selection
  and evaluation groups.
- :mod:`advrec.attacks.leakage` -- the privacy experiment on that partition: the seed loop,
  its cells, the strongest attacker, the choice of a defence's weight, result tables.
- ``advrec.attacks.shilling`` (to come) -- data poisoning by fake user profiles.
- :mod:`advrec.attacks.item_text` -- an item's owner edits a few word pieces of its text
  (HotFlip, greedy, verified by re-encoding) to raise its exposure in a text-aware recommender.

Every attack leaves the model's weights untouched, and is evaluated by the shared protocol
(:mod:`advrec.protocol`).
"""
