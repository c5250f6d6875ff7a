"""Layout of the sample grids, kernel side: a default height the grid scrolls in, the detail
panel's dtype is the tensor's (a bool mask says bool; its label map travels as uint8), and the
samples of a GROUP BY result say which group they belong to (the browser draws group headers)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.ui import grid

pytest.importorskip("anywidget")


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    ds = dl.empty(str(tmp_path_factory.mktemp("layout") / "ds"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.create_tensor("masks", htype="binary_mask")
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
        for i in range(9):
            mask = np.zeros((8, 8, 1), bool)
            mask[: i % 8 + 1] = True
            ds.append({"images": np.full((8, 8, 3), i, np.uint8), "masks": mask, "labels": [0, 0, 1, 1, 1, 2, 2, 2, 2][i]})
    return ds


def test_default_height_scrolls_and_none_lifts_it(ds):
    assert ds.visualize().height == grid.DEFAULT_HEIGHT == "640px"
    assert ds.visualize(height=300).height == "300px"
    assert ds.visualize(height="none").height == "none"
    assert dl.ui.QueryWidget(ds).height == grid.DEFAULT_HEIGHT


def test_detail_shows_the_tensor_dtype_of_a_bool_mask(ds):
    w = ds.visualize()
    (msg, buffers), = w.handle_request({"type": "sample", "id": "d", "position": 3, "image": "images",
                                        "overlays": ["masks"]})
    entry = {e["name"]: e for e in msg["sample"]["tensors"]}["masks"]
    assert entry["dtype"] == "bool" and entry["map_dtype"] == "uint8" and entry["kind"] == "mask"
    labels = np.frombuffer(buffers[entry["buffer"]], np.uint8).reshape(entry["height"], entry["width"])
    assert (labels[:4] == 1).all() and (labels[4:] == 0).all()


def test_group_by_results_say_their_group(ds):
    w = dl.ui.QueryWidget(ds, "SELECT * GROUP BY labels")
    assert w.result["grouped"] and w.result["count"] == 3 and w.length == 9
    (msg, _), = w.handle_request({"type": "page", "id": "p", "start": 1, "count": 6, "image": "images",
                                  "overlays": ["labels"], "thumb": 64})
    groups = [(s["position"], s["group"]) for s in msg["samples"]]
    sizes = [len(g) for g in w.view.groups]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for position, group in groups:
        k = group["number"]
        assert starts[k] <= position < starts[k + 1]
        assert group == {"number": k, "start": int(starts[k]), "size": sizes[k]}
    assert sorted(sizes) == [2, 3, 4]
    # the grid's rows are the groups' samples, in order
    assert [s["index"] for s in msg["samples"]] == np.concatenate(w.view.groups)[1:7].tolist()
    w.run("SELECT * WHERE labels == 'a'")
    (msg, _), = w.handle_request({"type": "page", "id": "p", "start": 0, "count": 2, "image": "images",
                                  "overlays": [], "thumb": 64})
    assert all("group" not in s for s in msg["samples"])
