"""Adjudication: the disputed lesions of a study, settled by an adjudicator, and the consensus.

- :mod:`.items`: items (lesion groups across readers), agreed or disputed; blinded
  reader letters; the consensus proposal;
- :mod:`.queue`: the adjudicator's queue of ready cases, the consensus reading and
  which decisions still hold;
- :mod:`.desk`: one adjudicator at work on one item (final ratings, a reader's mask,
  no lesion, resolve), without a viewer;
- :mod:`.consensus`: the consensus export.

Decisions are kept by the study store (``resolve_item``, ``adjudications``).
"""
