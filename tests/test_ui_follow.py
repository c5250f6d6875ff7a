"""The dataset browser follows its dataset, kernel side: ``version`` (``branch@commit``, ``*`` with
uncommitted changes, ``(read-only)`` on a commit), ``follow()`` / the ``poll`` message after appends,
commits, checkouts, new tensors and pops (the page kept in range), and nothing redrawn when nothing
changed."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl

pytest.importorskip("anywidget")

from deeplake_nb.ui.browser import version_label  # noqa: E402
from deeplake_nb.ui.commit_graph import short_id  # noqa: E402


@pytest.fixture
def ds(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.extend([0, 1, 0, 1])
    return ds


def test_version_label(ds):
    assert version_label(ds) == f"main@{short_id(ds.commit_id)} *"
    first = ds.commit("four")
    assert version_label(ds) == f"main@{short_id(first)}"
    ds.checkout(first)
    assert version_label(ds) == f"{short_id(first)} (read-only)"
    assert version_label(object()) == ""


def test_follow_appends_commits_checkouts_and_new_tensors(ds):
    w = ds.visualize(page_size=2, poll_seconds=0.5)
    assert w.poll_seconds == 0.5 and w.version.endswith(" *") and w.length == 4
    reload = w._reload
    assert w.follow() is False and w._reload == reload  # nothing changed: nothing redrawn
    first = ds.commit("four")
    assert w.follow() and w.version == f"main@{short_id(first)}" and w._reload == reload + 1
    ds.labels.extend([1] * 5)
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._on_msg(w, {"type": "poll", "id": "p1"}, [])
    assert sent == [{"type": "poll", "id": "p1", "changed": True}] and w.length == 9 and w.version.endswith(" *")
    w._on_msg(w, {"type": "poll", "id": "p2"}, [])
    assert sent[-1] == {"type": "poll", "id": "p2", "changed": False}
    w.page = 4                          # the last page of 9 samples
    ds.checkout(first)                  # back to four samples, read-only
    assert w.follow() and w.length == 4 and w.page == 1 and w.version == f"{short_id(first)} (read-only)"
    ds.checkout("main")
    assert w.follow() and w.length == 9
    ds.create_tensor("boxes", htype="bbox")
    assert w.follow() and "boxes" in [t["name"] for t in w.tensors] and w.length == 0  # the shortest tensor


def test_new_class_names_and_pairs_follow(ds):
    w = ds.visualize()
    assert set(w.class_colours) == {"a", "b"}
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "fraction"})
    ds.create_tensor("categories", htype="class_label", class_names=["cat"])
    assert w.follow()
    assert "cat" in w.class_colours and w.source.pairs == {"boxes": "labels"}  # two at the root: "labels" wins
    w2 = ds.visualize(labels={"boxes": "categories"})
    ds.boxes.append(np.asarray([[0.1, 0.1, 0.2, 0.2]], np.float32))
    assert w2.follow() and w2.source.pairs == {"boxes": "categories"}


def test_query_widget_refresh_follows_pops_and_new_tensors(ds):
    from deeplake_nb.ui.query_widget import QueryWidget

    w = QueryWidget(ds, page_size=2)
    assert w.source.pairs == {}
    w.page = 1
    ds.labels.pop()
    ds.labels.pop()
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "fraction"})
    ds.boxes.extend(np.zeros((2, 1, 4), np.float32))
    w.refresh()
    assert w.source.pairs == {"boxes": "labels"}
    assert w.length == 2 and w.page == 0  # the page stays in range
