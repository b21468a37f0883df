"""advrec: adversarial learning for deep recommender systems (TensorFlow 2 / Keras 3)."""

__version__ = "0.1.0"
