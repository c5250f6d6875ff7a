"""The dataset browser widget, kernel side: state (traits), the page/sample message protocol
(handlers called directly; buffers checked to be JPEG bytes or label maps of bounded size),
views, overlays' geometry, and the text/HTML fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl
from deeplake_nb.errors import WidgetDependencyError, WidgetRequestError
from deeplake_nb.ui import overlays, protocol, source, thumbnails

pytest.importorskip("anywidget")

N = 30
CLASSES = ["cat", "dog", "<b>bird</b>"]


def smooth_image(h: int, w: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    planes = [(yy * rng.uniform(0.5, 2) + xx * rng.uniform(0.5, 2) + rng.uniform(0, 255)) % 256 for _ in range(channels)]
    return np.clip(np.stack(planes, axis=-1) + rng.normal(0, 4, (h, w, channels)), 0, 255).astype(np.uint8)


def _jpeg(h: int, w: int, seed: int) -> bytes:
    return simplejpeg.encode_jpeg(smooth_image(h, w, 3, seed), quality=85)


@pytest.fixture(scope="module")
def rich(tmp_path_factory) -> dl.Dataset:
    """30 samples of every kind the browser draws: stored JPEGs (small, and one too large to pass
    through), raw pixels, labels, boxes in two coordinate conventions, masks, text, JSON."""
    ds = dl.empty(str(tmp_path_factory.mktemp("ui") / "rich"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("raw", htype="image")
        ds.create_tensor("labels", htype="class_label", class_names=CLASSES)
        ds.create_tensor("boxes", htype="bbox", coords={"type": "LTRB", "mode": "pixel"})
        ds.create_tensor("fboxes", htype="bbox", coords={"type": "CCWH", "mode": "fraction"})
        ds.create_tensor("masks", htype="binary_mask")
        ds.create_tensor("segments", htype="segment_mask")
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("embeddings", htype="embedding")
        for i in range(N):
            h, w = (40 + i, 60) if i != 7 else (1200, 900)   # sample 7 is too large to send as stored
            mask = np.zeros((h, w, 2), bool)
            mask[: h // 2, :, 0] = True
            mask[h // 2:, : w // 2, 1] = True
            seg = np.zeros((h, w), np.uint32)
            seg[:, w // 2:] = 300 if i == 3 else 2
            ds.append({
                "images": dl.Sample(buffer=_jpeg(h, w, i)),
                "raw": smooth_image(20, 30, 3, i),
                "labels": [CLASSES[i % 3]],
                "boxes": np.asarray([[6, 4, 30, 20]], np.float32),
                "fboxes": np.asarray([[0.5, 0.5, 0.2, 0.4]], np.float32),
                "masks": mask,
                "segments": seg,
                "captions": f"caption {i} " + "x" * (300 if i == 2 else 0),
                "meta": {"i": i, "nested": {"ok": True, "values": [1.5, None]}},
                "embeddings": np.full(8 if i else 1000, i, np.float32),
            })
    return dl.load(ds.path, read_only=True)


@pytest.fixture(scope="module")
def widget(rich):
    return rich.visualize(page_size=12, thumb_size=64)


def page(w, start=0, count=12, **kw):
    request = {"type": "page", "id": "r1", "start": start, "count": count, "image": w.image_tensor,
               "overlays": list(w.overlays), "thumb": w.thumb_size, **kw}
    return w.handle_request(request)


def is_jpeg(data: bytes) -> bool:
    return bytes(data[:3]) == b"\xff\xd8\xff" and bytes(data).rstrip(b"\x00").endswith(b"\xff\xd9")


# -- construction and state ----------------------------------------------------------------------
def test_import_does_not_load_widget_packages():
    code = ("import sys, deeplake_nb as dl; assert hasattr(dl.Dataset, 'visualize'); "
            "print(sorted(m for m in ('anywidget', 'ipywidgets', 'traitlets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_visualize_defaults_and_tensor_roles(rich, widget):
    assert type(widget).__name__ == "DatasetBrowser"
    assert widget.length == N and widget.num_pages == 3
    assert widget.image_tensor == "images"
    assert widget.overlays == ["labels", "boxes", "fboxes", "masks", "segments", "captions"]
    roles = {t["name"]: t["role"] for t in widget.tensors}
    assert roles == {"images": "image", "raw": "image", "labels": "label", "boxes": "box", "fboxes": "box",
                     "masks": "mask", "segments": "mask", "captions": "text", "meta": "other", "embeddings": "other"}
    assert widget.title == rich.path
    w = rich.visualize(300, "40vh", image_tensor="raw", overlays=["labels"])
    assert (w.width, w.height, w.image_tensor, w.overlays) == ("300px", "40vh", "raw", ["labels"])


def test_trait_validation(rich):
    w = rich.visualize(page_size=10)
    w.page = 99
    assert w.page == 2
    w.page_size = 0
    assert w.page_size == 1
    w.selected_indices = [5, 3, 3, 400, -1]
    assert w.selected_indices == [3, 5]
    assert w.selected_view.index.tolist() == [3, 5]
    with pytest.raises(WidgetRequestError, match="not an image tensor"):
        w.image_tensor = "labels"
    with pytest.raises(WidgetRequestError, match="cannot be drawn"):
        w.overlays = ["meta"]
    w.image_tensor = ""
    assert w.image_tensor == ""


# -- the page protocol ---------------------------------------------------------------------------
def test_page_sends_stored_jpeg_bytes_with_overlays(rich, widget):
    replies = page(widget)
    assert len(replies) == 1
    msg, buffers = replies[0]
    assert (msg["type"], msg["id"], msg["part"], msg["last"], msg["total"]) == ("page", "r1", 0, True, N)
    json.dumps(msg)  # the content is plain JSON
    samples = msg["samples"]
    assert [s["position"] for s in samples] == list(range(12)) == [s["index"] for s in samples]
    first = samples[0]
    image = first["image"]
    # a 40x60 JPEG is small enough: its stored bytes go as they are
    assert image["stored"] and image["mime"] == "image/jpeg"
    assert bytes(buffers[image["buffer"]]) == rich.images[0].tobytes()
    assert (image["width"], image["height"], image["shape"]) == (60, 40, [40, 60, 3])
    layers = {o["tensor"]: o for o in first["overlays"]}
    assert layers["labels"]["names"] == ["cat"]
    assert np.allclose(layers["boxes"]["boxes"], [[6 / 60, 4 / 40, 24 / 60, 16 / 40]], atol=1e-4)
    assert np.allclose(layers["fboxes"]["boxes"], [[0.4, 0.3, 0.2, 0.4]], atol=1e-4)
    assert layers["captions"]["text"] == "caption 0 "
    long = {o["tensor"]: o for o in samples[2]["overlays"]}["captions"]["text"]
    assert len(long) == overlays.TEXT_OVERLAY_CHARS and long.endswith("…")
    # every buffer index points into this message's buffers; every picture is JPEG
    for s in samples:
        assert is_jpeg(buffers[s["image"]["buffer"]])
        for layer in s["overlays"]:
            if "buffer" in layer:
                assert len(buffers[layer["buffer"]]) == layer["width"] * layer["height"] * (
                    2 if layer["dtype"] == "uint16" else 1)


def test_large_picture_is_reencoded_as_small_thumbnail(rich, widget):
    msg, buffers = page(widget, start=7, count=1)[0]
    image = msg["samples"][0]["image"]
    assert not image["stored"] and image["shape"] == [1200, 900, 3]
    data = bytes(buffers[image["buffer"]])
    assert is_jpeg(data) and len(data) < 16 << 10
    decoded = simplejpeg.decode_jpeg(data)
    assert decoded.shape[:2] == (image["height"], image["width"]) and max(decoded.shape[:2]) == widget.thumb_size
    assert len(rich.images[7].tobytes()) > source.THUMB_MAX_BYTES or 1200 > widget.thumb_size * source.THUMB_PASSTHROUGH


def test_raw_pixels_become_jpeg_thumbnails(rich):
    w = rich.visualize(image_tensor="raw", overlays=[], thumb_size=64)
    msg, buffers = page(w, count=3)[0]
    for s in msg["samples"]:
        assert not s["image"]["stored"] and is_jpeg(buffers[s["image"]["buffer"]])
        assert simplejpeg.decode_jpeg(bytes(buffers[s["image"]["buffer"]])).shape == (20, 30, 3)
        assert s["overlays"] == []


def test_masks_travel_as_label_maps(widget):
    msg, buffers = page(widget, start=3, count=1)[0]
    layers = {o["tensor"]: o for o in msg["samples"][0]["overlays"]}
    binary, seg = layers["masks"], layers["segments"]
    labels = np.frombuffer(buffers[binary["buffer"]], np.uint8).reshape(binary["height"], binary["width"])
    assert binary["binary"] and max(binary["width"], binary["height"]) <= widget.thumb_size
    assert set(np.unique(labels).tolist()) == {0, 1, 2}  # channel 0 -> 1, channel 1 -> 2, the rest 0
    assert labels[0, 0] == 1 and labels[-1, 0] == 2 and labels[-1, -1] == 0
    assert seg["dtype"] == "uint16"  # sample 3 has class id 300
    values = np.frombuffer(buffers[seg["buffer"]], np.uint16)
    assert set(np.unique(values).tolist()) == {0, 300}


def test_page_splits_into_bounded_messages(widget, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_MESSAGE_BYTES", 8 << 10)
    replies = page(widget, count=12)
    assert len(replies) > 2
    assert [m["part"] for m, _ in replies] == list(range(len(replies)))
    assert [m["last"] for m, _ in replies] == [False] * (len(replies) - 1) + [True]
    positions = [s["position"] for m, _ in replies for s in m["samples"]]
    assert positions == list(range(12))
    for msg, buffers in replies:
        sizes = sum(len(b) for b in buffers)
        assert sizes <= protocol.MAX_MESSAGE_BYTES or len(msg["samples"]) == 1
        for s in msg["samples"]:
            assert is_jpeg(buffers[s["image"]["buffer"]])


def test_page_parts_go_out_as_samples_get_ready(widget, monkeypatch):
    monkeypatch.setattr(protocol, "PART_SECONDS", 0.0)  # slow re-encoding: every ready sample goes at once
    replies = page(widget, count=5)
    assert [len(m["samples"]) for m, _ in replies] == [1] * 5 and replies[-1][0]["last"]


def test_unreadable_picture_does_not_fail_the_page(tmp_path):
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.jpg")
        files[-1].write_bytes(_jpeg(16, 16, i))
    ds = dl.empty(str(tmp_path / "linked"))
    ds.create_tensor("images", htype="link[image]", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    ds.extend({"images": [dl.link(str(f)) for f in files], "labels": ["a", "b", "c"]})
    files[1].unlink()
    w = ds.visualize(thumb_size=64)
    msg, buffers = page(w, count=3)[0]
    first, broken, last = msg["samples"]
    assert "error" in broken["image"] and broken["overlays"][0]["names"] == ["b"]
    assert is_jpeg(buffers[first["image"]["buffer"]]) and is_jpeg(buffers[last["image"]["buffer"]])
    (detail, _), = w.handle_request({"type": "sample", "id": "d", "position": 1, "image": "images", "overlays": []})
    assert "error" in detail["sample"]["image"]
    assert {t["name"]: t["kind"] for t in detail["sample"]["tensors"]} == {"images": "error", "labels": "label"}


def test_default_page_of_demo_sized_data_stays_small(widget):
    for msg, buffers in page(widget, count=30):
        assert sum(len(b) for b in buffers) <= protocol.MAX_MESSAGE_BYTES


def test_last_page_is_clipped_and_empty_page_is_valid(widget):
    msg, _ = page(widget, start=24, count=12)[0]
    assert [s["position"] for s in msg["samples"]] == list(range(24, 30))
    msg, buffers = page(widget, start=30, count=12)[0]
    assert msg["samples"] == [] and buffers == [] and msg["last"]


@pytest.mark.parametrize("request_, message", [
    ({"type": "page", "start": -1, "count": 3, "thumb": 64}, "'start'"),
    ({"type": "page", "start": 0, "count": 9999, "thumb": 64}, "'count'"),
    ({"type": "page", "start": 0, "count": 3, "thumb": 5}, "'thumb'"),
    ({"type": "page", "start": 0, "count": 3, "thumb": 64, "image": "nope"}, "not an image tensor"),
    ({"type": "page", "start": 0, "count": 3, "thumb": 64, "overlays": ["meta"]}, "cannot be drawn"),
    ({"type": "page", "start": 0, "count": 3, "thumb": 64, "overlays": "labels"}, "list of tensor names"),
    ({"type": "sample", "position": 30}, "'position'"),
    ({"type": "bogus"}, "Unknown request"),
])
def test_bad_requests_get_an_error_reply(widget, request_, message):
    replies = widget.handle_request({"id": "bad", **request_})
    assert len(replies) == 1
    msg, buffers = replies[0]
    assert msg["type"] == "error" and msg["id"] == "bad" and message in msg["message"] and buffers == []


def test_on_msg_sends_replies_and_ignores_foreign_messages(rich, monkeypatch):
    w = rich.visualize(page_size=4, thumb_size=64)
    sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append((content, buffers)))
    w._on_msg(w, {"kind": "anywidget-command", "name": "x"}, [])
    assert sent == []
    w._on_msg(w, {"type": "page", "id": "p", "start": 0, "count": 4, "image": "images", "overlays": [], "thumb": 64}, [])
    assert len(sent) == 1 and sent[0][0]["type"] == "page" and len(sent[0][1]) == 4
    monkeypatch.setattr(protocol, "handle", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    w._on_msg(w, {"type": "sample", "id": "s", "position": 0}, [])
    assert sent[-1][0] == {"type": "error", "id": "s", "message": "RuntimeError: boom"}


# -- the detail panel ----------------------------------------------------------------------------
def test_detail_has_every_tensor(rich, widget):
    (msg, buffers), = widget.handle_request({"type": "sample", "id": "d", "position": 2, "image": "images",
                                             "overlays": ["labels", "masks"]})
    sample = msg["sample"]
    json.dumps(msg)
    assert (msg["type"], sample["position"], sample["index"]) == ("sample", 2, 2)
    assert [o["tensor"] for o in sample["overlays"]] == ["labels", "masks"]
    fields = {t["name"]: t for t in sample["tensors"]}
    assert list(fields) == list(rich.tensors)
    assert fields["images"]["kind"] == "image" and fields["images"]["main"]
    assert bytes(buffers[fields["images"]["buffer"]]) == rich.images[2].tobytes()
    assert fields["images"]["shape"] == [42, 60, 3] and fields["images"]["dtype"] == "uint8"
    assert fields["raw"]["kind"] == "image" and is_jpeg(buffers[fields["raw"]["buffer"]])
    assert fields["labels"] == {**fields["labels"], "kind": "label", "value": [2], "names": ["<b>bird</b>"]}
    assert fields["boxes"]["value"] == [[6.0, 4.0, 30.0, 20.0]] and fields["boxes"]["coords"]["type"] == "LTRB"
    assert fields["masks"]["kind"] == "mask" and fields["masks"]["binary"]
    assert fields["captions"]["value"].startswith("caption 2 xxx")
    assert fields["meta"] == {**fields["meta"], "kind": "json", "value": {"i": 2, "nested": {"ok": True, "values": [1.5, None]}}}
    assert fields["embeddings"]["value"] == [2.0] * 8


def test_detail_summarises_big_arrays_and_large_pictures(widget):
    (msg, buffers), = widget.handle_request({"type": "sample", "id": "d", "position": 0, "image": "images",
                                             "overlays": []})
    emb = {t["name"]: t for t in msg["sample"]["tensors"]}["embeddings"]
    assert "value" not in emb and emb["summary"]["min"] == 0 and len(emb["summary"]["head"]) == 16
    (msg, buffers), = widget.handle_request({"type": "sample", "id": "d", "position": 7, "image": "images",
                                             "overlays": []})
    image = msg["sample"]["image"]  # 1200 x 900: sent as stored (the panel scales it), within bounds
    assert image["stored"] and (image["width"], image["height"]) == (900, 1200)
    assert len(buffers[image["buffer"]]) <= source.DETAIL_MAX_BYTES
    assert sum(len(b) for b in buffers) <= source.DETAIL_MESSAGE_BYTES


# -- views ---------------------------------------------------------------------------------------
def test_row_view_positions_and_indices(rich):
    view = rich[10:20]
    w = view.visualize(page_size=4, thumb_size=64)
    assert w.length == 10 and w.num_pages == 3
    msg, buffers = page(w, start=4, count=4)[0]
    assert [s["position"] for s in msg["samples"]] == [4, 5, 6, 7]
    assert [s["index"] for s in msg["samples"]] == [14, 15, 16, 17]
    assert bytes(buffers[msg["samples"][0]["image"]["buffer"]]) == rich.images[14].tobytes()
    (detail, _), = w.handle_request({"type": "sample", "id": "d", "position": 1, "image": "images", "overlays": []})
    assert (detail["sample"]["position"], detail["sample"]["index"]) == (1, 11)
    w.selected_indices = [1, 3]
    assert w.selected_view.index.tolist() == [11, 13]
    picked = rich[[3, 9, 27]].visualize(thumb_size=64)
    assert [s["index"] for s in page(picked, count=3)[0][0]["samples"]] == [3, 9, 27]


def test_dataset_without_pictures_still_pages(tmp_path):
    ds = dl.empty(str(tmp_path / "text"))
    ds.create_tensor("captions", htype="text")
    ds.create_tensor("boxes", htype="bbox")
    ds.extend({"captions": ["a", "b"], "boxes": [np.zeros((1, 4), np.float32)] * 2})
    w = ds.visualize(thumb_size=64)
    assert w.image_tensor == ""
    msg, buffers = page(w, count=2)[0]
    assert buffers == [] and "image" not in msg["samples"][0]
    layers = {o["tensor"]: o for o in msg["samples"][0]["overlays"]}
    assert layers["captions"]["text"] == "a" and "error" in layers["boxes"]  # pixel boxes need a picture
    empty = dl.empty(str(tmp_path / "empty")).visualize()
    assert empty.length == 0 and empty.num_pages == 1 and "0 samples" in repr(empty._repr_mimebundle_()[0])


# -- geometry and thumbnails ---------------------------------------------------------------------
@pytest.mark.parametrize("kind, mode, box", [
    ("LTRB", "pixel", [20, 10, 60, 50]),
    ("LTWH", "pixel", [20, 10, 40, 40]),
    ("CCWH", "pixel", [40, 30, 40, 40]),
    ("LTRB", "fraction", [0.2, 0.2, 0.6, 1.0]),
    ("LTWH", "fraction", [0.2, 0.2, 0.4, 0.8]),
    ("CCWH", "fraction", [0.4, 0.6, 0.4, 0.8]),
])
def test_box_fractions(kind, mode, box):
    frac = overlays.box_fractions([box], {"type": kind, "mode": mode}, height=50, width=100)
    assert np.allclose(frac, [[0.2, 0.2, 0.4, 0.8]])


def test_thumbnail_helpers():
    gray = thumbnails.picture(None, lambda: np.arange(12, dtype=np.float32).reshape(3, 4), 64, 1 << 20)
    assert is_jpeg(gray.data) and (gray.width, gray.height) == (4, 3)
    rgba = thumbnails.as_rgb(np.zeros((5, 5, 4), np.uint8))
    assert rgba.shape == (5, 5, 3)
    big = thumbnails.shrink(np.zeros((300, 100, 3), np.uint8), 60)
    assert big.shape == (60, 20, 3)
    seg = thumbnails.label_map(np.full((400, 200), 7, np.uint32), binary=False, max_side=100)
    assert seg.shape == (100, 50) and seg.dtype == np.uint8 and (seg == 7).all()
    with pytest.raises(ValueError):
        thumbnails.picture(b"not an image", None, 64, 1 << 20)


# -- fallback and packaging ----------------------------------------------------------------------
def test_mimebundle_has_text_and_html_fallbacks(rich, widget):
    data, _ = widget._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"}
    text, html = data["text/plain"], data["text/html"]
    assert f"{N} samples" in text and "images" in text and "class_label" in text and "index=0" in text
    assert "cat" in text and "caption 0" in text and "JupyterLab" in text
    assert "<table>" in html and "&lt;b&gt;bird&lt;/b&gt;" in html and "<b>bird</b>" not in html
    view_text = rich[5:9].visualize()._repr_mimebundle_()[0]["text/plain"]
    assert "a view of 4 rows" in view_text and "index=5" in view_text
    assert repr(widget).startswith("DatasetBrowser(path=") and "\n" not in repr(widget)


def test_widget_files_are_found_and_offline(widget):
    from deeplake_nb.ui import assets

    folder = assets.widgets_dir()
    assert {p.name for p in folder.glob("*.js")} >= {"grid.js", "dataset_browser.js"}
    from deeplake_nb.ui.browser import DatasetBrowser

    assert type(DatasetBrowser._esm).__name__ == "FileContents"  # a pathlib.Path to dataset_browser.js
    assert "export class SampleGrid" in widget._lib_esm and ".dlnb-grid" in widget._css
    for path in folder.glob("*.js"):
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, f"{path.name} must not load from the network"
        # pictures arrive as binary buffers, never as base64 text in a message (the grid itself
        # encodes small thumbnails into data: URLs, with btoa)
        assert "atob(" not in text


def test_installed_wheel_layout_is_preferred(tmp_path, monkeypatch):
    from deeplake_nb.errors import WidgetError
    from deeplake_nb.ui import assets

    installed = tmp_path / "deeplake_nb" / "_widgets"
    installed.mkdir(parents=True)
    (installed / "grid.js").write_text("// installed")
    monkeypatch.setattr(assets, "_CANDIDATES", (installed, assets._CANDIDATES[1]))
    assert assets.widgets_dir() == installed
    with pytest.raises(WidgetError, match="reinstall"):
        assets.path("dataset_browser.js")
    text = open(assets._PACKAGE.parent / "pyproject.toml").read()
    assert '"widgets" = "deeplake_nb/_widgets"' in text  # what the wheel build maps it to


def test_missing_widget_packages_give_a_clear_error(rich, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("deeplake_nb.ui.") and m.split(".")[-1] in ("browser", "grid")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "anywidget", None)
    with pytest.raises(WidgetDependencyError, match=r"deeplake_nb\[notebook\]"):
        rich.visualize()


def test_wheel_ships_widgets_and_finds_them(tmp_path):
    pytest.importorskip("hatchling")
    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(repo),
                    "-w", str(tmp_path)], check=True, capture_output=True, timeout=300)
    wheel, = tmp_path.glob("deeplake_nb-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {"deeplake_nb/_widgets/grid.js", "deeplake_nb/_widgets/dataset_browser.js",
                "deeplake_nb/_widgets/grid.css", "deeplake_nb/_widgets/dataset_browser.css"} <= names
        zf.extractall(tmp_path / "site")
    code = ("import deeplake_nb.ui.assets as a, deeplake_nb.ui.browser as b; "
            "print(a.widgets_dir().relative_to(a._PACKAGE)); print(b.DatasetBrowser._esm._path.name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert out.stdout.split() == ["_widgets", "dataset_browser.js"]
