"""Class names on their objects: pairing box / binary-mask tensors with class_label tensors (Deep
Lake's layout and ``ds.visualize(labels=...)``), the names a page carries per box and per mask
object (with where to write them), one colour number per class name, and the tooltip helper of
``grid.js`` under Node.js."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import WidgetRequestError
from deeplake_nb.ui import classes, thumbnails
from deeplake_nb.ui.source import SampleSource

pytest.importorskip("anywidget")

WIDGETS = Path(__file__).resolve().parents[1] / "widgets"
NAMES = ["dog", "bicycle", "cat"]


@pytest.fixture(scope="module")
def detection(tmp_path_factory):
    """Root boxes + labels, binary masks, a group ann/ with boxes, categories and a scene label, a
    segment mask, and a second group with two unconventionally named class_label tensors."""
    ds = dl.empty(str(tmp_path_factory.mktemp("cls") / "det"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
        ds.create_tensor("labels", htype="class_label", class_names=NAMES)
        ds.create_tensor("masks", htype="binary_mask")
        ds.create_tensor("ann/boxes", htype="bbox", coords={"type": "LTRB", "mode": "fraction"})
        ds.create_tensor("ann/categories", htype="class_label", class_names=["person", "dog"])
        ds.create_tensor("ann/scene", htype="class_label", class_names=["indoor", "outdoor"])
        ds.create_tensor("seg", htype="segment_mask", class_names=["background", "road", "sky"])
        ds.create_tensor("odd/rects", htype="bbox", coords={"type": "LTWH", "mode": "fraction"})
        ds.create_tensor("odd/kind_a", htype="class_label", class_names=["x", "y"])
        ds.create_tensor("odd/kind_b", htype="class_label", class_names=["u", "v"])
        for i in range(4):
            mask = np.zeros((40, 60, 3), bool)
            mask[2:12, 2:20, 0] = True
            mask[20:38, 30:58, 1] = True
            mask[5:35, 40:44, 2] = True
            seg = np.zeros((40, 60), np.uint8)
            seg[:20] = 2
            seg[30:, 10:50] = 1
            ds.append({
                "images": np.full((40, 60, 3), 50 * i, np.uint8),
                "boxes": np.asarray([[2, 2, 18, 10], [30, 20, 28, 18], [40, 5, 4, 30]], np.float32),
                "labels": np.asarray([0, 1, 1] if i != 3 else [0, 1], np.uint32),  # row 3: one id short
                "masks": mask,
                "ann/boxes": np.asarray([[0.1, 0.1, 0.5, 0.5]], np.float32),
                "ann/categories": np.asarray([1], np.uint32),
                "ann/scene": np.asarray([i % 2], np.uint32),
                "seg": seg,
                "odd/rects": np.asarray([[0.2, 0.2, 0.3, 0.3]], np.float32),
                "odd/kind_a": np.asarray([1], np.uint32),
                "odd/kind_b": np.asarray([0], np.uint32),
            })
    return dl.load(ds.path, read_only=True)


def first(widget_or_source, overlays, start=0, count=4):
    src = widget_or_source if isinstance(widget_or_source, SampleSource) else widget_or_source.source
    return list(src.page(start, count, "images", overlays, 64))


def layer(sample, tensor):
    return next(o for o in sample["overlays"] if o["tensor"] == tensor)


def test_pairing_follows_the_layout_and_explicit_labels(detection):
    pairs = classes.pair(detection.tensors)
    assert pairs == {"boxes": "labels", "masks": "labels", "ann/boxes": "ann/categories"}  # odd/: ambiguous
    explicit = classes.pair(detection.tensors, {"odd/rects": "odd/kind_b", "ann/boxes": "ann/scene"})
    assert explicit["odd/rects"] == "odd/kind_b" and explicit["ann/boxes"] == "ann/scene"
    with pytest.raises(WidgetRequestError, match="not a bbox or binary_mask tensor") as err:
        detection.visualize(labels={"labels": "boxes"})
    assert isinstance(err.value, ValueError)
    with pytest.raises(WidgetRequestError, match="'ann/boxes' is not a class_label tensor; those are"):
        detection.visualize(labels={"boxes": "ann/boxes"})
    w = detection.visualize(labels={"odd/rects": "odd/kind_a"})
    assert w.source.pairs["odd/rects"] == "odd/kind_a"
    assert layer(first(w, ["odd/rects"])[0][0], "odd/rects")["names"] == ["y"]


def test_each_box_carries_its_class_name(detection):
    samples = first(detection.visualize(), ["boxes", "labels", "ann/boxes", "ann/categories", "ann/scene"])
    boxes = layer(samples[0][0], "boxes")
    assert boxes["names"] == ["dog", "bicycle", "bicycle"] and len(boxes["boxes"]) == 3
    assert np.allclose(boxes["boxes"][0], [2 / 60, 2 / 40, 18 / 60, 10 / 40], atol=1e-4)
    assert layer(samples[0][0], "ann/boxes")["names"] == ["dog"]
    # a label tensor whose names are drawn on shown objects says so; the scene label stays a badge
    assert layer(samples[0][0], "labels")["paired"] == "boxes"
    assert layer(samples[0][0], "ann/categories")["paired"] == "ann/boxes"
    assert "paired" not in layer(samples[0][0], "ann/scene")
    # a sample whose ids are not one per box: boxes drawn without names, the ids as badges
    assert layer(samples[3][0], "boxes")["names"] is None and "paired" not in layer(samples[3][0], "labels")
    # the label tensor alone (its boxes hidden) is drawn as badges
    alone = first(detection.visualize(), ["labels"])[0][0]
    assert "paired" not in layer(alone, "labels") and layer(alone, "labels")["names"] == ["dog", "bicycle", "bicycle"]


def test_mask_objects_carry_names_and_a_point_on_the_object(detection):
    sample, buffers = first(detection.visualize(), ["masks", "seg"], count=1)[0]
    masks = layer(sample, "masks")
    labels = np.frombuffer(buffers[masks["buffer"]], np.uint8).reshape(masks["height"], masks["width"])
    objects = {o["value"]: o for o in masks["objects"]}
    assert {v: o["name"] for v, o in objects.items()} == {1: "dog", 2: "bicycle", 3: "bicycle"}
    for value, o in objects.items():   # the anchor lies on the object it names
        y, x = int(o["y"] * masks["height"]), int(o["x"] * masks["width"])
        assert labels[y, x] == value and o["pixels"] == int((labels == value).sum())
    seg = {o["value"]: o["name"] for o in layer(sample, "seg")["objects"]}
    assert seg == {1: "road", 2: "sky"}  # 0 (background) is transparent, not an object


def test_one_colour_number_per_class_name(detection, tmp_path):
    w = detection.visualize()
    colours = w.class_colours
    assert colours == classes.colour_numbers(detection.tensors)
    names = NAMES + ["person", "indoor", "outdoor", "background", "road", "sky", "x", "y", "u", "v"]
    assert set(colours) == set(names) and sorted(colours.values()) == list(range(len(names)))
    assert colours["dog"] == 0  # "dog" in labels and ann/categories: one number
    ds = dl.empty(str(tmp_path / "plain"))
    ds.create_tensor("x")
    assert ds.visualize().class_colours == {}


def test_label_anchors_of_a_ring_lie_on_the_ring():
    ring = np.zeros((21, 21), np.uint8)
    ring[2:19, 2:19] = 4
    ring[6:15, 6:15] = 0   # centroid (10, 10) is in the hole
    ring[0, 0] = 9         # a one-pixel object
    anchors = {v: (x, y, n) for v, x, y, n in thumbnails.label_anchors(ring)}
    x, y, n = anchors[4]
    assert ring[int(y * 21), int(x * 21)] == 4 and n == 17 * 17 - 81
    assert anchors[9] == (0.5 / 21, 0.5 / 21, 1)
    assert [v for v, *_ in thumbnails.label_anchors(ring, limit=1)] == [4]
    assert thumbnails.label_anchors(np.zeros((0, 0), np.uint8)) == []


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_class_colours_and_box_tooltips_in_grid_js():
    grid = json.dumps((WIDGETS / "grid.js").as_uri())
    script = f"""
        const g = await import({grid});
        const layer = {{ tensor: "boxes", boxes: [[0.1, 0.25, 0.5, 0.5]], names: ["dog"] }};
        console.log(JSON.stringify({{
          known: g.classColour({{ dog: 3 }}, "dog"), unknown: g.classColour({{}}, "zebra") === g.classColour(null, "zebra"),
          px: g.boxTitle(layer, 0, [40, 60, 3]), frac: g.boxTitle({{ ...layer, names: null }}, 0, null) }}));
    """
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["known"] == 3 and result["unknown"] is True
    assert result["px"] == "dog · boxes[0] · x 6, y 10, w 30, h 20 px"
    assert result["frac"] == "boxes[0] · x 0.1, y 0.25, w 0.5, h 0.5 (fractions)"
