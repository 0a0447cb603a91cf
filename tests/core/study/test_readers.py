"""Adding a reader to a running study: order, manifest, and on a server a role of its own."""

from __future__ import annotations

import psycopg
import pytest

from napari_uspio.cli import main
from napari_uspio.core.study import StudyError, init_study, load_study
from napari_uspio.core.study.postgres import role_name
from napari_uspio.core.study.readers import add_reader


@pytest.mark.parametrize("on_server", [False, True], ids=["sqlite", "postgresql"])
def test_a_reader_added_later_reads_like_the_others(on_server, phantom_cases, tmp_path, request):
    store = request.getfixturevalue("pg_url") if on_server else None
    study = init_study(tmp_path / "s", phantom_cases(2, (64, 64, 12), 5), ["r1"], seed=2,
                       repeat_fraction=0.5, store=store)  # fmt: skip
    with study.open_store() as s:
        before = s.order("r1")
        s.append_stroke("r1", before[0].code, [1], 1)
    assert main(["study", "add-reader", str(study.folder), "r4"]) == 0
    assert main(["study", "add-reader", str(study.folder), "adj", "--adjudicator"]) == 0
    grown = load_study(study.folder)
    assert [(r.id, r.role) for r in grown.readers] == [
        ("r1", "reader"), ("r4", "reader"), ("adj", "adjudicator")]  # fmt: skip
    with grown.open_store() as s:
        assert s.order("r1") == before  # nobody else's order or codes change
        assert s.order("r4") == grown.order("r4") and len(s.order("r4")) == 3  # one repeat
        assert s.readers() == {"r1": "reader", "r4": "reader", "adj": "adjudicator"}
    with pytest.raises(StudyError, match="given twice"):
        add_reader(study.folder, "r4")
    if on_server:  # r4 connects as its own role and sees only its own rows
        dbname = store.rsplit("/", 1)[1]
        url = store.replace("postgres@", f"{role_name(dbname, 'r4')}@")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT DISTINCT reader FROM orders").fetchall() == [("r4",)]
            assert conn.execute("SELECT COUNT(*) FROM strokes").fetchone() == (0,)
