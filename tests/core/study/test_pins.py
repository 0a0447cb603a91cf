"""Reader PINs: chosen at the first sign-in, stored as a salted scrypt hash, then needed."""

from __future__ import annotations

import pytest

from napari_uspio.cli.study import main as study_main
from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.pins import hash_pin, pin_matches
from napari_uspio.core.study.records import StudyError
from napari_uspio.core.study.session import StudySession


def test_hash_is_salted_and_matches_only_its_pin():
    first, second = hash_pin("4711"), hash_pin("4711")
    assert first != second and "4711" not in first  # a fresh salt each time
    assert first.startswith("scrypt$16384$8$1$")
    assert pin_matches("4711", first) and pin_matches("4711", second)
    assert not pin_matches("4712", first) and not pin_matches("", first)


@pytest.mark.parametrize("pin", ["", "123", " 1234", "1234 "])
def test_a_pin_too_short_or_padded_is_refused(pin):
    with pytest.raises(StudyError, match="at least 4 characters"):
        hash_pin(pin)


@pytest.fixture
def study(phantom_cases, tmp_path):
    return init_study(tmp_path / "study", phantom_cases(2, (64, 64, 12), 2), ["r1", "r2"], seed=1)


def test_first_sign_in_chooses_the_pin_then_it_is_needed(study, capsys):
    StudySession(study.folder, "r1", "2580").close()
    StudySession(study.folder, "r1", "2580").close()
    for wrong in ("0000", "", None):
        with pytest.raises(StudyError, match="wrong PIN for reader r1.*reset-pin"):
            StudySession(study.folder, "r1", wrong)
    StudySession(study.folder, "r2").close()  # no PIN chosen yet: scripts may sign in
    with study.open_store() as store:
        stored = store.pin_hash("r1")
        assert stored is not None and "2580" not in stored and store.pin_hash("r2") is None
        refused = [e for e in store.audit_log("r1") if e.action == "refused sign-in"]
        assert len(refused) == 3
    # the coordinator resets it (audited); r1 chooses a new one at the next sign-in
    assert study_main(["study", "reset-pin", str(study.folder), "r1"]) == 0
    assert "PIN of r1 reset" in capsys.readouterr().out
    StudySession(study.folder, "r1", "1357").close()
    with pytest.raises(StudyError, match="wrong PIN"):
        StudySession(study.folder, "r1", "2580")
    assert study_main(["study", "reset-pin", str(study.folder), "r9"]) == 2
    assert "no reader 'r9'" in capsys.readouterr().err
