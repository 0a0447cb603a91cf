"""The adjudicator's desk without a viewer: evidence of every disputed field, a reader's
mask taken alone, Resolve refused until every disputed field is chosen, measures."""

from __future__ import annotations

import numpy as np
import pytest

from napari_uspio.core import fields as spec
from napari_uspio.core.adjudication.desk import AdjudicationDesk
from napari_uspio.core.adjudication.items import DETECTION_ROLE, Item, evidence_roles
from napari_uspio.core.ratings import RatingError

ADJ = "adj"


def _item(disputed=(), detected=3) -> Item:
    lesions = {f"r{k}": (k if k <= detected else None) for k in (1, 2, 3)}
    return Item("sub-01", 1, lesions, tuple(disputed))


def test_evidence_roles_of_every_disputed_field():
    assert evidence_roles(_item(("uspio", "qsm_rim"))) == ("t1_post_uspio", "qsm")
    # read from the spec, each role once (uspio and overlap are both read on post-USPIO)
    assert evidence_roles(_item(("uspio", "overlap"))) == (spec.RATINGS["uspio"].read_on,)
    assert evidence_roles(_item(("gd",), detected=2)) == (DETECTION_ROLE, "t1_post_gd")
    assert evidence_roles(_item(detected=2)) == (DETECTION_ROLE,)
    assert evidence_roles(_item()) == ()


@pytest.fixture
def desk(simulated_study):
    """The demo readers (r2: lesion 1 focal; r3: rim of lesion 1 absent, misses lesion 5)."""
    study = simulated_study("desk", copy=True, n_cases=2, shape_xyz=(64, 64, 12))
    desk = AdjudicationDesk(study.folder, ADJ)
    desk.refresh_queue()
    yield desk
    desk.close()


def _open(desk, number: int) -> Item:
    case, item = next((c, i) for c, i in desk.pending() if i.item == number)
    desk.open_case(case)
    return desk.select(item)


def test_a_readers_mask_is_taken_without_their_ratings(desk):
    item = _open(desk, 1)
    assert item.disputed_fields == ("uspio", "qsm_rim")
    before = desk.final_rating().as_dict()
    assert before["uspio"] is None and before["confidence"] is None
    letter = desk.current.letters["r2"]
    desk.use_reader_mask(letter)
    voxels = desk.reader_voxels(letter)
    labels = desk.reading.model.labels
    assert (labels == item.item).sum() == len(voxels[0]) and (labels[voxels] == 1).all()
    assert desk.final_rating().as_dict() == before  # no focal, no confidence copied
    assert desk.reader_ratings()[letter].uspio == "focal"


def test_resolve_is_refused_until_every_disputed_field_is_chosen(desk):
    _open(desk, 1)
    desk.set_final(confidence="high")
    with pytest.raises(RatingError, match="USPIO enhancement, QSM rim") as refused:
        desk.resolve("ring on R2*")
    assert "readers disagree" in str(refused.value)
    desk.set_final(uspio="ring")
    with pytest.raises(RatingError, match=r"final QSM rim first") as refused:
        desk.resolve("ring on R2*")
    assert "USPIO" not in str(refused.value)
    assert desk.store.adjudications(ADJ) == []
    desk.set_final(qsm_rim="present")
    assert desk.unchosen() == ()
    assert desk.resolve("ring on R2*") == "lesion"
    # No lesion needs no field chosen
    _open(desk, 5)
    desk.no_lesion()
    assert desk.resolve("not seen on FLAIR") == "no lesion"


def test_final_measures_are_declared_columns(desk):
    _open(desk, 1)
    measures = desk.final_measures()
    names = [c.name for c, _ in measures]
    assert "volume_mm3" in names and "gd_enh_pct" in names
    assert all(c is spec.COLUMNS[c.name] and c.label for c, _ in measures)
    volume = dict((c.name, v) for c, v in measures)["volume_mm3"]
    voxel_mm3 = float(np.prod(desk.reading.case.grid.scale))
    assert volume == pytest.approx((desk.reading.model.labels == 1).sum() * voxel_mm3)
    desk.no_lesion()
    assert desk.final_measures() == []
