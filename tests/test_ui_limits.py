"""Widget replies stay far under the Jupyter server's 10 MiB message limit whatever a sample holds:
objects are capped per overlay (``overlays.PAGE_OBJECTS`` in a page, ``DETAIL_OBJECTS`` in the
detail panel) and the rest come in ``objects`` requests; page parts count JSON as well as buffers."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.ui import overlays, protocol, source

pytest.importorskip("anywidget")

SERVER_LIMIT = 10 << 20
HUGE = 1_000_000
NAMES = ["car", "person", "tree"]


def reply_bytes(msg, buffers) -> int:
    return len(json.dumps(msg)) + sum(len(b) for b in buffers)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """Three samples; sample 1 holds a million pixel boxes, each with its class id, and a million-id
    scene label list; the others hold two boxes."""
    ds = dl.empty(str(tmp_path_factory.mktemp("limits") / "crowded"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
        ds.create_tensor("labels", htype="class_label", class_names=NAMES)
        ds.create_tensor("tags", htype="class_label", class_names=NAMES)
        rng = np.random.default_rng(0)
        for i in range(3):
            k = HUGE if i == 1 else 2
            boxes = np.column_stack([rng.integers(0, 90, (k, 2)), np.full((k, 2), 10)]).astype(np.float32)
            ds.append({"images": np.full((100, 100, 3), 40 * i, np.uint8), "boxes": boxes,
                       "labels": (np.arange(k) % 3).astype(np.uint32),
                       "tags": (np.arange(k if i == 1 else 1) % 3).astype(np.uint32)})
    return dl.load(ds.path, read_only=True)


@pytest.fixture(scope="module")
def widget(crowded):
    return crowded.visualize(thumb_size=64)


def layers_of(sample):
    return {layer["tensor"]: layer for layer in sample["overlays"]}


def test_page_of_a_million_boxes_stays_small(widget):
    replies = widget.handle_request({"type": "page", "id": "p", "start": 0, "count": 3, "image": "images",
                                     "overlays": ["boxes", "labels", "tags"], "thumb": 64})
    for msg, buffers in replies:
        assert reply_bytes(msg, buffers) <= protocol.MAX_MESSAGE_BYTES < SERVER_LIMIT
    samples = [s for msg, _ in replies for s in msg["samples"]]
    assert [s["position"] for s in samples] == [0, 1, 2]
    small, huge = layers_of(samples[0]), layers_of(samples[1])
    assert len(small["boxes"]["boxes"]) == 2 and "total" not in small["boxes"] and "total" not in small["tags"]
    assert len(huge["boxes"]["boxes"]) == overlays.PAGE_OBJECTS and huge["boxes"]["total"] == HUGE
    assert huge["boxes"]["names"] == [NAMES[k % 3] for k in range(overlays.PAGE_OBJECTS)]
    assert len(huge["tags"]["names"]) == overlays.PAGE_OBJECTS and huge["tags"]["total"] == HUGE


def test_detail_of_a_million_boxes_stays_small(widget):
    (msg, buffers), = widget.handle_request({"type": "sample", "id": "d", "position": 1, "image": "images",
                                             "overlays": ["boxes", "labels", "tags"]})
    assert reply_bytes(msg, buffers) <= source.DETAIL_MESSAGE_BYTES < SERVER_LIMIT
    sample = msg["sample"]
    assert len(layers_of(sample)["boxes"]["boxes"]) == overlays.DETAIL_OBJECTS
    entries = {e["name"]: e for e in sample["tensors"]}
    assert entries["boxes"]["kind"] == "array" and "summary" in entries["boxes"]
    assert entries["tags"]["total"] == HUGE and len(entries["tags"]["names"]) == overlays.DETAIL_OBJECTS
    assert entries["tags"]["value"][:4] == [0, 1, 2, 0]


def test_objects_requests_page_through_the_rest(widget, crowded):
    request = {"type": "objects", "id": "o", "position": 1, "tensor": "boxes", "image": "images",
               "start": HUGE - 10, "count": overlays.DETAIL_OBJECTS}
    (msg, buffers), = widget.handle_request(request)
    assert reply_bytes(msg, buffers) < SERVER_LIMIT and buffers == []
    objects = msg["objects"]
    assert objects["start"] == HUGE - 10 and objects["total"] == HUGE and len(objects["boxes"]) == 10
    stored = crowded.boxes[1].numpy()[HUGE - 10:]
    np.testing.assert_allclose(objects["boxes"], stored / 100, atol=1e-5)  # LTWH pixels on a 100 px picture
    assert objects["names"] == [NAMES[k % 3] for k in range(HUGE - 10, HUGE)]
    (msg, _), = widget.handle_request({**request, "tensor": "tags", "start": 3, "count": 4})
    assert msg["objects"]["names"] == ["car", "person", "tree", "car"] and msg["objects"]["total"] == HUGE
    (msg, _), = widget.handle_request({**request, "position": 0, "start": 0, "count": 5})
    assert len(msg["objects"]["boxes"]) == 2 and "total" not in msg["objects"]


@pytest.mark.parametrize("change, message", [
    ({"count": overlays.DETAIL_OBJECTS + 1}, "'count'"),
    ({"tensor": "images"}, "cannot be drawn"),
    ({"position": 3}, "'position'"),
    ({"start": -1}, "'start'"),
])
def test_bad_objects_requests_get_an_error_reply(widget, change, message):
    request = {"type": "objects", "id": "o", "position": 1, "tensor": "boxes", "image": "images",
               "start": 0, "count": 10, **change}
    (msg, _), = widget.handle_request(request)
    assert msg["type"] == "error" and msg["id"] == "o" and message in msg["message"]


def test_page_parts_count_json_too(widget, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_MESSAGE_BYTES", 2 << 10)  # sample 1's names alone are > 2 KiB of JSON
    replies = widget.handle_request({"type": "page", "id": "p", "start": 0, "count": 3, "image": "",
                                     "overlays": ["labels", "tags"], "thumb": 64})
    assert [len(m["samples"]) for m, _ in replies] == [1, 1, 1]  # the buffers alone (none) would fit one part


def test_browser_asks_for_objects_in_pages_the_kernel_accepts():
    from pathlib import Path
    import re

    grid = (Path(__file__).resolve().parents[1] / "widgets" / "grid.js").read_text()
    assert int(re.search(r"const OBJECTS_PAGE = (\d+);", grid).group(1)) == overlays.DETAIL_OBJECTS


def test_summary_of_a_million_labels_stays_small(widget):
    data, _ = widget._repr_mimebundle_()
    assert len(data["text/html"]) < 64 << 10 and len(data["text/plain"]) < 16 << 10
    assert "car, person, tree, car, person, tree, car, person, … (1,000,000 in all)" in data["text/plain"]
