"""Reading order and blinding codes: pure functions of (cases, reader, seed, repeat fraction)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from napari_uspio.core.study.order import case_code, n_repeats, reading_order

CASES = [f"sub-{i:02d}_ses-01" for i in range(1, 41)]


def test_order_is_reproduced_by_another_process():
    # Python's hash() is salted per process: a fresh interpreter with another
    # PYTHONHASHSEED must give the same order and codes.
    script = (
        "import json, sys; from napari_uspio.core.study.order import reading_order; "
        "print(json.dumps(reading_order(json.loads(sys.argv[1]), 'r2', 1234, 0.25)))"
    )
    env_seeds = ("1", "2")
    outputs = []
    for hash_seed in env_seeds:
        result = subprocess.run(
            [sys.executable, "-c", script, json.dumps(CASES)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            check=True,
        )
        outputs.append(json.loads(result.stdout))
    here = [list(e) for e in reading_order(CASES, "r2", 1234, 0.25)]
    assert outputs[0] == outputs[1] == here


def test_order_pins_the_recipe():
    # The recipe is documented for auditors; a change would silently change every study.
    order = reading_order(["a", "b", "c"], "r1", 7, 0.34)
    assert order[0] == ("c", "C-09C43", False)
    assert [e.case_id for e in order] == ["c", "b", "a", "b"]


def test_every_case_once_plus_repeats():
    order = reading_order(CASES, "r1", 5, repeat_fraction=0.2)
    first = [e.case_id for e in order if not e.repeat]
    again = [e.case_id for e in order if e.repeat]
    assert sorted(first) == sorted(CASES)
    assert len(again) == n_repeats(len(CASES), 0.2) == 8
    assert len(set(again)) == len(again) and set(again) <= set(CASES)
    assert [e.repeat for e in order] == [False] * 40 + [True] * 8  # repeats after every first
    assert first != sorted(CASES)  # shuffled


def test_order_does_not_depend_on_the_order_of_the_cases_given():
    assert reading_order(CASES, "r1", 5, 0.1) == reading_order(CASES[::-1], "r1", 5, 0.1)


def test_order_differs_across_readers_and_seeds():
    base = reading_order(CASES, "r1", 5)
    assert reading_order(CASES, "r2", 5) != base
    assert reading_order(CASES, "r1", 6) != base
    assert [e.case_id for e in reading_order(CASES, "r2", 5)] != [e.case_id for e in base]
    assert [e.case_id for e in reading_order(CASES, "r1", 6)] != [e.case_id for e in base]


def test_codes_are_pseudonymous_distinct_and_new_for_repeats():
    order = reading_order(CASES, "r1", 5, repeat_fraction=1.0)
    codes = [e.code for e in order]
    assert all(re.fullmatch(r"C-[0-9A-F]{5}", c) for c in codes)
    assert len(set(codes)) == len(codes) == 80
    by_case: dict[str, list[str]] = {}
    for e in order:
        by_case.setdefault(e.case_id, []).append(e.code)
    assert all(len(set(v)) == 2 for v in by_case.values())  # the repeat gets a new code
    # not derivable from the case id alone: another seed changes every code
    reseeded = {(e.case_id, e.repeat): e.code for e in reading_order(CASES, "r1", 6, 1.0)}
    assert all(reseeded[e.case_id, e.repeat] != e.code for e in order)
    # another reader sees other codes for the same cases
    other = {e.case_id: e.code for e in reading_order(CASES, "r2", 5) if not e.repeat}
    assert all(other[e.case_id] != e.code for e in order if not e.repeat)


def test_colliding_codes_are_redrawn(monkeypatch):
    from napari_uspio.core.study import order as order_mod

    def few_codes(seed, reader, case_id, reading, attempt=0):
        return f"C-{(len(case_id) + reading + attempt) % 4:05d}"  # collides on purpose

    monkeypatch.setattr(order_mod, "case_code", few_codes)
    codes = [e.code for e in order_mod.reading_order(["a", "bb", "cc", "dd"], "r1", 1)]
    assert len(set(codes)) == 4


def test_case_code_is_a_function_of_its_inputs():
    code = case_code(1, "r1", "sub-01", 0)
    assert code == case_code(1, "r1", "sub-01", 0)
    others = [
        case_code(2, "r1", "sub-01", 0),
        case_code(1, "r2", "sub-01", 0),
        case_code(1, "r1", "sub-02", 0),
        case_code(1, "r1", "sub-01", 1),
    ]
    assert len({code, *others}) == 5


@pytest.mark.parametrize(
    "fraction, n, expected", [(0, 10, 0), (0.25, 10, 3), (0.5, 3, 2), (1, 7, 7)]
)
def test_n_repeats(fraction, n, expected):
    assert n_repeats(n, fraction) == expected


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        reading_order(CASES, "r1", 1, repeat_fraction=1.5)
    with pytest.raises(ValueError, match="distinct"):
        reading_order(["a", "a"], "r1", 1)
