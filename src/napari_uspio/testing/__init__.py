"""Scaffolding for tests, demos and benchmarks: simulated studies and scripted readers.

- :func:`~.simulate.simulate_study`: phantom cases and a study read through the
  store by :class:`~.simulate.SimulatedReader` s with controlled disagreements;
- :func:`~.simulate.read_study`: the same readers on a study already made (a
  reference study of a phantom cohort, say);
- :func:`~.simulate.cohort_readers`: three readers of a phantom cohort who disagree on
  USPIO pattern and QSM rim; :func:`~.simulate.adjudicate_by_truth`: an adjudicator
  deciding every disputed item as the truth says, through the adjudication desk;
- :func:`~.simulate.truth_rating` and :func:`~.simulate.ratings_from_truth`: a
  scripted reader typing the phantom's truth.
"""

from .simulate import (
    SimulatedReader,
    adjudicate_by_truth,
    cohort_readers,
    demo_readers,
    ratings_from_truth,
    read_study,
    simulate_study,
    truth_rating,
)

__all__ = [
    "SimulatedReader",
    "adjudicate_by_truth",
    "cohort_readers",
    "demo_readers",
    "ratings_from_truth",
    "read_study",
    "simulate_study",
    "truth_rating",
]
