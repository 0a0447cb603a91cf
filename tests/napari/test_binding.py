"""LabelsBinding on a real napari Labels layer (no viewer).

The property: after any sequence of paint, fill, erase, data_setitem,
paint_polygon, strokes, undo and redo, the live table equals a full recompute,
``layer.features`` equals the table and the model's labels equal the layer's.
"""

from __future__ import annotations

import napari.layers
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_uspio._napari.binding import LabelsBinding, delete_lesion, merge_lesions
from napari_uspio.core.lesions import MAP_ROLES, LesionModel
from napari_uspio.core.ratings import rating_columns

RATING_COLUMNS = rating_columns()

SHAPE = (6, 24, 24)


def make_case(seed, dtype=np.int32):
    rng = np.random.default_rng(seed)
    labels = np.zeros(SHAPE, dtype=dtype)
    for lesion_id in range(1, 5):
        lo = [int(rng.integers(0, n - 2)) for n in SHAPE]
        size = [int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(2, 7))]
        labels[tuple(slice(a, a + s) for a, s in zip(lo, size, strict=True))] = lesion_id
    maps = {r: rng.uniform(0.5, 2.0, SHAPE).astype(np.float32) for r in MAP_ROLES}
    maps["mtr"][rng.random(SHAPE) < 0.1] = np.nan
    maps["qsm"][rng.random(SHAPE) < 0.1] = np.nan
    affine = np.diag([3.0, 0.9, 1.1, 1.0])
    return labels, maps, affine, rng.random(SHAPE) < 0.9


def features_as_table(layer):
    features = layer.features.set_index("index")
    features.index.name = "lesion"
    return features


def check(layer, model):
    assert np.array_equal(model.labels, layer.data)
    table = model.table()
    pd.testing.assert_frame_equal(table, model.full_recompute_table(), rtol=1e-6)
    features = features_as_table(layer)
    assert list(features.columns) == [*table.columns, *RATING_COLUMNS]
    pd.testing.assert_frame_equal(features[table.columns], table, rtol=1e-12)


@pytest.fixture
def bound():
    labels, maps, affine, wm = make_case(0)
    model = LesionModel(labels, maps, affine, wm)
    layer = napari.layers.Labels(labels.copy())
    binding = LabelsBinding(layer, model)
    yield layer, model, binding
    binding.disconnect()


coords = st.tuples(st.integers(0, SHAPE[0] - 1), st.integers(-2, 25), st.integers(-2, 25))
labels_ = st.integers(0, 7)
operations = st.one_of(
    st.tuples(st.just("paint"), coords, labels_),
    st.tuples(st.just("erase"), coords, st.just(0)),
    st.tuples(st.just("fill"), coords, labels_),
    st.tuples(st.just("stroke"), st.lists(coords, min_size=1, max_size=4), labels_),
    st.tuples(st.just("polygon"), st.lists(coords, min_size=3, max_size=5), labels_),
    st.tuples(st.just("setitem"), st.lists(coords, min_size=1, max_size=8), labels_),
    st.tuples(st.just("undo"), st.none(), st.none()),
    st.tuples(st.just("redo"), st.none(), st.none()),
)
settings_ = st.tuples(
    st.sampled_from([2, 3]), st.integers(1, 7), st.booleans(), st.booleans()
)  # n_edit_dimensions, brush size, preserve_labels, contiguous


def apply(layer, name, where, label):
    inside = [
        (z, min(max(y, 0), SHAPE[1] - 1), min(max(x, 0), SHAPE[2] - 1))
        for z, y, x in (where if isinstance(where, list) else [where] if where else [])
    ]
    if name in ("paint", "erase"):
        layer.paint(where, label)
    elif name == "fill":
        layer.fill(inside[0], label)
    elif name == "stroke":
        with layer.block_history():
            for coord in where:
                layer.paint(coord, label, refresh=False)
    elif name == "polygon":
        layer.n_edit_dimensions = 2  # polygons are 2-D only
        layer.paint_polygon([(inside[0][0], y, x) for _, y, x in inside], label)
    elif name == "setitem":  # indices may repeat; the values too
        index = tuple(np.array(axis) for axis in zip(*inside, strict=True))
        layer.data_setitem(index, np.array([label + i % 2 for i in range(len(inside))]))
    else:
        getattr(layer, name)()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    dtype=st.sampled_from([np.uint8, np.int32, np.int64]),
    steps=st.lists(st.tuples(operations, settings_), min_size=1, max_size=10),
)
def test_live_table_and_features_match_a_full_recompute(seed, dtype, steps):
    labels, maps, affine, wm = make_case(seed, dtype)
    model = LesionModel(labels, maps, affine, wm)
    layer = napari.layers.Labels(labels)
    binding = LabelsBinding(layer, model)
    try:
        for (name, where, label), (n_edit, brush, preserve, contiguous) in steps:
            layer.n_edit_dimensions = n_edit
            layer.brush_size = brush
            layer.preserve_labels = preserve
            layer.contiguous = contiguous
            apply(layer, name, where, label)
            check(layer, model)
    finally:
        binding.disconnect()


def test_assigning_layer_data_resets(bound):
    layer, model, _ = bound
    new = np.zeros(SHAPE, dtype=np.int32)
    new[2, 3:6, 3:6] = 11
    layer.data = new
    assert list(model.table().index) == [11]
    check(layer, model)
    layer.undo()  # the history survives layer.data = ...: the old atoms replay
    check(layer, model)


def test_features_have_an_index_column_and_update_in_place(bound):
    layer, model, _ = bound
    features = layer.features
    assert list(features.columns) == ["index", *model.columns, *RATING_COLUMNS]
    assert features["index"].tolist() == model.ids.tolist()
    emitted = []
    layer.events.features.connect(emitted.append)
    z, y, x = (s.start for s in model.lesion_bbox(1))
    layer.paint((z, y, x), 1)  # same lesions: the same table, changed in place
    assert layer.features is features and emitted
    check(layer, model)
    layer.paint((0, 20, 20), model.next_free_id())  # a new lesion: a new table
    assert layer.features is not features
    check(layer, model)


def test_delete_and_merge_are_undoable(bound):
    layer, model, binding = bound
    before = model.table()
    binding.delete_lesion(2)
    assert 2 not in model.table().index
    check(layer, model)
    layer.undo()
    pd.testing.assert_frame_equal(model.table(), before)
    binding.merge_lesions(3, 1)
    assert 3 not in model.table().index
    assert model.table().loc[1, "voxels"] == before.loc[[1, 3], "voxels"].sum()
    check(layer, model)
    layer.undo()
    check(layer, model)
    delete_lesion(layer, 4)  # without a box: scans the volume
    merge_lesions(layer, 1, 2)
    assert list(model.table().index) == [2, 3]
    check(layer, model)


def test_set_data_only_diffs_the_dirty_blocks(bound):
    layer, model, _ = bound
    layer.paint((0, 2, 2), 5)
    # A write behind napari's back, far from any edit, is not seen by a refresh:
    # undo/redo diff only the blocks edits went through, not the volume.
    layer.data[5, 20, 20] = 9
    layer.refresh()
    assert model.labels[5, 20, 20] != 9
    layer.data[5, 20, 20] = 0
    layer.undo()
    check(layer, model)


def test_binding_resets_a_stale_model_and_disconnects():
    labels, maps, affine, wm = make_case(1)
    model = LesionModel(np.zeros(SHAPE, dtype=np.int32), maps, affine, wm)
    layer = napari.layers.Labels(labels)
    binding = LabelsBinding(layer, model)
    check(layer, model)
    binding.disconnect()
    layer.paint((3, 12, 12), 6)
    assert 6 not in model.table().index
    with pytest.raises(ValueError, match="shape"):
        LabelsBinding(napari.layers.Labels(np.zeros((2, 3, 4), dtype=np.int32)), model)


def test_in_place_update_finds_the_columns_by_name(bound):
    layer, model, _ = bound
    layer.features.insert(1, "note", "x")  # another party adds a column, in front
    z, y, x = (s.start for s in model.lesion_bbox(2))
    layer.paint((z, y, x), 2)
    assert layer.features["note"].tolist() == ["x"] * len(model.ids)
    pd.testing.assert_frame_equal(
        features_as_table(layer)[list(model.columns)], model.table(), rtol=1e-12
    )


def test_a_grid_change_is_refused(bound):
    layer, _, _ = bound
    with pytest.raises(ValueError, match="grid"):
        layer.data = np.zeros((3, 24, 24), dtype=np.int32)


def test_the_binding_needs_no_reference_to_stay_alive():
    import gc

    labels, maps, affine, wm = make_case(2)
    model = LesionModel(labels, maps, affine, wm)
    layer = napari.layers.Labels(labels)
    LabelsBinding(layer, model)  # nobody keeps it
    gc.collect()
    layer.paint((3, 12, 12), 6)
    assert 6 in model.table().index
    check(layer, model)


def test_ratings_are_columns_of_the_same_features_table(bound):
    layer, model, binding = bound
    emitted = []
    binding.changed.connect(emitted.append)
    features = layer.features
    lesion_id = int(model.ids[0])
    binding.ratings.set(lesion_id, gd="shell", uspio="ring")
    assert layer.features is features  # updated in place: same rows
    row = features.set_index("index").loc[lesion_id]
    assert (row["gd"], row["uspio"], row["lesion_class"]) == ("shell", "ring", "USPIO+/Gd+")
    assert emitted and lesion_id in emitted[-1]
    joined = binding.table()
    assert joined.loc[lesion_id, "lesion_class"] == "USPIO+/Gd+"
    assert list(joined.columns) == [*model.columns, *RATING_COLUMNS]
    # a stroke touching the lesion keeps its rating in the published table
    with layer.block_history():
        layer.paint((1, 3, 3), lesion_id)
    assert features_as_table(layer).loc[lesion_id, "gd"] == "shell"
    # deleting hides the rating; undo brings lesion and rating back together
    binding.delete_lesion(lesion_id)
    assert lesion_id not in features_as_table(layer).index
    layer.undo()
    assert features_as_table(layer).loc[lesion_id, "uspio"] == "ring"
    assert binding.new_lesion_id() > max(model.ids)


def test_voxel_changes_replay_to_the_layer_data(bound):
    """What an autosave journal receives rebuilds the labels after any edit, undo or redo."""
    layer, model, binding = bound
    mirror = np.array(layer.data, copy=True)
    sizes = []

    def record(flat, values):
        if flat is None:
            mirror[...] = values
            return
        sizes.append(flat.size)
        mirror.ravel()[flat] = values

    model.voxels_changed.connect(record)
    layer.brush_size = 3
    with layer.block_history():
        layer.paint((1, 5, 5), 2)
        layer.paint((1, 6, 7), 2)
    layer.fill((2, 20, 20), 3)
    layer.data_setitem((np.array([0, 0]), np.array([1, 2]), np.array([1, 1])), 4)
    layer.undo()
    layer.undo()
    layer.redo()
    binding.delete_lesion(int(model.ids[0]))
    assert np.array_equal(mirror, layer.data)
    assert sizes and max(sizes) < layer.data.size  # deltas, not whole volumes
    new = np.zeros_like(layer.data)
    new[0, 0, 0] = 9
    layer.data = new
    assert np.array_equal(mirror, new)
