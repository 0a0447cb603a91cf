"""Scaffolding for tests, demos and benchmarks: simulated studies and scripted readers.

- :func:`~.simulate.simulate_study`: phantom cases and a study read through the
  store by :class:`~.simulate.SimulatedReader` s with controlled disagreements;
- :func:`~.simulate.truth_rating` and :func:`~.simulate.ratings_from_truth`: a
  scripted reader typing the phantom's truth.
"""

from .simulate import SimulatedReader, ratings_from_truth, simulate_study, truth_rating

__all__ = ["SimulatedReader", "ratings_from_truth", "simulate_study", "truth_rating"]
