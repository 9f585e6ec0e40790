"""Tarozu's pipeline: data, training, evaluation, registry and fairness audit."""
