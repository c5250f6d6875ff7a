"""``dl.export_zarr``: a version or a view as a plain Zarr v3 hierarchy that zarr alone reads
(tests/zarr_only_reader.py decodes it from the documented layout, in a process where deeplake_nb
cannot be imported, and in a fresh virtualenv holding only zarr)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import numpy as np
import pytest
import zarr

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.format.codecs import SPEC_CODECS
from deeplake_nb.storage import ByteStore

READER = Path(__file__).parent / "zarr_only_reader.py"
BLOCKED = "import runpy, sys; sys.modules['deeplake_nb'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


@pytest.fixture
def source(ds_path, jpeg_file) -> tuple[dl.Dataset, str]:
    """Every kind of tensor (JPEG files, class labels, ragged boxes, text, json, polygons, a
    sequence, lz4 sample compression, ragged raw arrays, a link, a tensor in a group), committed."""
    ds = dl.empty(ds_path)
    path, _, _ = jpeg_file()
    rng = np.random.default_rng(0)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"], chunk_compression="lz4")
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("text", htype="text", chunk_compression="zstd")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("poly", htype="polygon")
        ds.create_tensor("frames", htype="sequence[image]", dtype="uint8")
        ds.create_tensor("masks", htype="binary_mask", sample_compression="lz4")
        ds.create_tensor("raw", htype="image", dtype="uint8", chunk_compression="lz4")
        ds.create_tensor("files", htype="link[image]", verify=False)
        ds.create_tensor("g/score", dtype="float32")
        for i in range(5):
            ds.append({"images": dl.read(path) if i != 3 else None, "labels": i % 2,
                       "boxes": rng.random((i, 4)).astype(np.float32), "text": f"caption {i} é",
                       "meta": {"i": i, "tags": ["a"] * i}, "poly": [[[0, 0], [i, 1], [1, 1]], [[1, 1], [2, 2]]][: 1 + i % 2],
                       "frames": [np.full((2, 2, 3), i, np.uint8)] * (i % 3), "masks": rng.random((3, 3, 1)) > 0.5,
                       "raw": rng.integers(0, 255, (2 + i, 3, 3), dtype=np.uint8), "files": dl.link(path),
                       "g/score": float(i) / 3})
    ds.info.update(description="every kind")
    ds.commit("five rows")
    return ds, path


def expected(ds: dl.Dataset, link: str) -> dict:
    """What zarr_only_reader.py must print for ``ds``'s tensors, from our own API."""
    n = len(ds)
    images = []
    for i in range(n):
        data = ds.images[i].tobytes()
        images.append({"sha256": hashlib.sha256(data).hexdigest(), "shape": list(ds.images[i].shape)})
    want = {
        "images": images,
        "labels": ds.labels.numpy().tolist(),
        "boxes": [ds.boxes[i].numpy().tolist() for i in range(n)],
        "text": ds.text.data()["value"],
        "meta": ds["meta"].data()["value"],
        "poly": [[p.tolist() for p in ds.poly[i].numpy()] for i in range(n)],
        "frames": [[f.tolist() for f in ds.frames[i].numpy(aslist=True)] for i in range(n)],
        "masks": ds.masks.numpy().tolist(),
        "raw": [ds.raw[i].numpy().tolist() for i in range(n)],
        "files": [link] * n,
        "g/score": ds["g/score"].numpy().tolist(),
    }
    return json.loads(json.dumps(want))


def read_without_deeplake_nb(path: str, python: str = sys.executable, blocked: bool = True) -> dict:
    command = [python, "-c", BLOCKED, str(READER), path] if blocked else [python, str(READER), path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def every_array(group: zarr.Group, prefix: str = "") -> dict[str, zarr.Array]:
    found = {}
    for name, node in group.members():
        if isinstance(node, zarr.Array):
            found[prefix + name] = node
        else:
            found.update(every_array(node, prefix + name + "/"))
    return found


def test_stock_zarr_alone_reads_every_tensor_of_an_export(source, tmp_path):
    ds, link = source
    out = dl.export_zarr(ds, str(tmp_path / "export"), progressbar=False)
    assert out == str(tmp_path / "export")
    got = read_without_deeplake_nb(out)
    assert got["tensors"] == expected(ds, link)
    attrs = got["attrs"]
    assert attrs["export_format"] == 1 and attrs["length"] == 5 and attrs["info"] == {"description": "every kind"}
    assert attrs["tensors"] == list(ds.tensors) and got["sample_index"] == [0, 1, 2, 3, 4]
    assert attrs["source"] == {"path": ds.path, "branch": "main", "commit_id": ds.commit_id,
                               "uncommitted_changes": False, "version": None, "query": None}
    root = zarr.open_group(out, mode="r")
    for path, array in every_array(root).items():
        names = [codec.to_dict()["name"] for codec in array.metadata.codecs]
        assert set(names) <= SPEC_CODECS and names[-1] == "crc32c", (path, names)
        assert np.dtype(array.dtype).kind in "biuf", path  # numeric data types only: no vlen types
    labels = root["labels"]
    assert labels.attrs["layout"] == "dense" and labels.attrs["info"]["class_names"] == ["cat", "dog"]
    assert labels.attrs["htype"] == "class_label" and labels.attrs["tensor"] == "labels"
    assert dict(root["images"].attrs)["encoding"] == "jpeg" and root["frames"].attrs["htype"] == "sequence[image]"
    assert root["frames/items"].attrs["layout"] == "dense" and root["masks"].attrs["layout"] == "dense"
    assert root["files"].attrs["htype"] == "link[image]" and root["files"].attrs["encoding"] == "url"
    assert root["images/bytes"][:].tobytes().count(b"\xff\xd8\xff") == 4  # the stored files, byte-identical


@pytest.mark.slow
def test_a_fresh_virtualenv_with_only_zarr_reads_the_export_and_the_dataset_arrays(source, tmp_path):
    """python -m venv + pip install zarr: the export decodes from its layout, and every array of
    ds.zarr_store() (written out key by key as plain files) reads as our reader reads it."""
    ds, link = source
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    pip = subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "zarr"],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode:
        pytest.skip(f"pip could not install zarr into a fresh virtualenv (no package index?): {pip.stderr[-500:]}")
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True)
    assert "deeplake_nb" not in listed.stdout and "deeplake-nb" not in listed.stdout
    out = dl.export_zarr(ds, str(tmp_path / "export"), progressbar=False)
    assert read_without_deeplake_nb(out, python, blocked=False)["tensors"] == expected(ds, link)

    logical = ByteStore(ds.zarr_store())
    plain = tmp_path / "plain"
    for key in logical.list_prefix(""):
        (plain / key).parent.mkdir(parents=True, exist_ok=True)
        (plain / key).write_bytes(logical.get(key))
    script = ("import json, sys, zarr\n"
              "def walk(g, p=''):\n"
              "    for n, x in g.members():\n"
              "        yield from ([(p + n, x)] if isinstance(x, zarr.Array) else walk(x, p + n + '/'))\n"
              "print(json.dumps({p: a[:].tobytes().hex() for p, a in walk(zarr.open_group(sys.argv[1], mode='r'))}))")
    done = subprocess.run([python, "-c", script, str(plain)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    arrays = every_array(zarr.open_group(store=ds.zarr_store(), mode="r"))
    assert json.loads(done.stdout) == {p: a[:].tobytes().hex() for p, a in arrays.items()}
    assert {"labels/data", "images/bytes", "frames/items/data"} <= set(arrays)


def test_row_column_and_query_views_export_their_rows_and_columns(source, tmp_path):
    ds, link = source
    rows = dl.export_zarr(ds[1:4], str(tmp_path / "rows"), progressbar=False)
    got = read_without_deeplake_nb(rows)
    assert got["sample_index"] == [1, 2, 3] and got["attrs"]["length"] == 3
    assert got["tensors"]["text"] == ds.text.data()["value"][1:4]
    columns = dl.export_zarr(ds[["labels", "g"]], str(tmp_path / "columns"), progressbar=False)
    assert zarr.open_group(columns, mode="r").attrs["tensors"] == ["labels", "g/score"]
    view = ds.query("SELECT * WHERE labels == 'dog'")
    out = dl.export_zarr(view, str(tmp_path / "query"), tensors=["images", "g"], progressbar=False)
    got = read_without_deeplake_nb(out)
    assert got["sample_index"] == [1, 3] and list(got["tensors"]) == ["images", "g/score"]
    assert got["attrs"]["source"]["query"] == "SELECT * WHERE labels == 'dog'"
    want = expected(ds, link)
    assert got["tensors"]["images"] == [want["images"][1], want["images"][3]]
    assert got["tensors"]["g/score"] == [want["g/score"][1], want["g/score"][3]]
    shuffled = dl.export_zarr(ds[[4, 0, 2]], str(tmp_path / "order"), tensors="raw", progressbar=False)
    assert read_without_deeplake_nb(shuffled)["tensors"]["raw"] == [want["raw"][i] for i in (4, 0, 2)]
    with pytest.raises(errors.TensorNotFoundError, match="nope"):
        dl.export_zarr(ds, str(tmp_path / "bad"), tensors=["nope"])


def test_version_exports_another_version_and_uncommitted_changes_are_said(source, tmp_path):
    ds, _ = source
    first = ds.commit_id
    ds.labels[0] = 1
    ds.text.append("new")
    old = dl.export_zarr(ds, str(tmp_path / "old"), version=first, progressbar=False)
    root = zarr.open_group(old, mode="r")
    assert root["labels"][0].tolist() == [0] and root.attrs["length"] == 5
    assert root.attrs["source"]["commit_id"] == first and root.attrs["source"]["version"] == first
    now = zarr.open_group(dl.export_zarr(ds, str(tmp_path / "now"), progressbar=False), mode="r")
    assert now["labels"][0].tolist() == [1] and now.attrs["source"]["uncommitted_changes"] is True
    assert now["text/offsets"].shape == (6,)  # len(ds) rows, the shortest tensor's (text now has 6)
    with pytest.raises(errors.ExportError, match="row selection"):
        dl.export_zarr(ds[1:3], str(tmp_path / "x"), version=first)
    with pytest.raises(errors.CommitNotFoundError):
        dl.export_zarr(ds, str(tmp_path / "y"), version="no-such-version")
    assert not os.path.exists(tmp_path / "x") or not os.listdir(tmp_path / "x")


def test_the_target_is_checked_and_replaced_only_when_asked(source, tmp_path, unchanged):
    ds, _ = source
    check = unchanged(ds)
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(errors.ExportExistsError, match="overwrite=True") as caught:
        dl.export_zarr(ds, str(target))
    assert isinstance(caught.value, FileExistsError) and (target / "keep.txt").read_text() == "mine"
    dl.export_zarr(ds, str(target), overwrite=True, progressbar=False)
    assert not (target / "keep.txt").exists() and zarr.open_group(str(target), mode="r").attrs["length"] == 5
    for inside in (ds.path, os.path.join(ds.path, "sub"), str(Path(ds.path).parent)):
        with pytest.raises(errors.ExportError, match="overlap"):
            dl.export_zarr(ds, inside, overwrite=True)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(errors.StorageError):
        dl.export_zarr(ds, str(a_file / "export"))
    with pytest.raises(errors.ExportError, match="dataset or a view"):
        dl.export_zarr("not a dataset", str(tmp_path / "z"))
    check()


def test_a_failed_export_leaves_nothing_and_the_dataset_as_it_was(source, tmp_path, unchanged):
    ds, _ = source
    name = ds.zarr_store().object_of("raw/bytes/c/0")
    objects = Path(ds.path, "objects", name)
    objects.write_bytes(objects.read_bytes()[:-3] + b"\x00\x00\x00")  # a damaged chunk: read fails midway
    check = unchanged(ds)
    with pytest.raises(errors.CorruptChunkError, match="raw/bytes/c/0"):
        dl.export_zarr(dl.load(ds.path, read_only=True), str(tmp_path / "export"), progressbar=False)
    assert not (tmp_path / "export").exists() or not any((tmp_path / "export").iterdir())
    check()


def test_grouped_and_computed_views_are_refused(source, tmp_path):
    ds, _ = source
    with pytest.raises(errors.ExportError, match="GROUP BY"):
        dl.export_zarr(ds.query("SELECT * GROUP BY labels"), str(tmp_path / "g"))
    with pytest.raises(errors.ExportError, match="COUNT"):
        dl.export_zarr(ds.query("SELECT labels, COUNT(*) GROUP BY labels"), str(tmp_path / "a"))
    with pytest.raises(errors.ExportError, match="computed"):
        dl.export_zarr(ds.query("SELECT labels, labels * 2 AS twice"), str(tmp_path / "c"))


def test_export_to_memory_and_an_object_store(source, moto_s3, mem_url):
    ds, link = source
    want = expected(ds, link)
    dl.export_zarr(ds, mem_url, tensors=["labels"], progressbar=False)
    from deeplake_nb.storage import open_store
    assert zarr.open_group(store=open_store(mem_url, read_only=True), mode="r")["labels"][:].tolist() == want["labels"]
    url = "s3://bucket/exports/every-kind"
    assert dl.export_zarr(ds, url, storage_options=moto_s3.options, progressbar=False) == url
    remote = zarr.open_group(store=open_store(url, read_only=True, storage_options=moto_s3.options), mode="r")
    assert remote["g/score"][:].tolist() == want["g/score"] and remote.attrs["length"] == 5
    heap, offsets = remote["text/bytes"][:], remote["text/offsets"][:]
    assert [heap[a:b].tobytes().decode() for a, b in zip(offsets[:-1], offsets[1:])] == want["text"]
    with pytest.raises(errors.ExportExistsError):
        dl.export_zarr(ds, url, storage_options=moto_s3.options)


def test_a_format_1_dataset_exports_to_arrays_stock_zarr_reads(tmp_path):
    """The frozen format-1 witness keeps deeplake_nb.lz4 arrays; its export has none."""
    with tarfile.open(Path(__file__).parent / "data" / "format_v1_witness.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    ds = dl.load(str(tmp_path / "format_v1_witness"), read_only=True)
    out = dl.export_zarr(ds, str(tmp_path / "export"), progressbar=False)
    got = read_without_deeplake_nb(out)["tensors"]
    assert got["x"] == ds.x.numpy().tolist() and got["caption"] == ["caption 0", "caption 1", "changed on main"]
    assert got["labels"] == [[0], [1], [0]] and got["tags"][2] == ["a", "2"]


def test_bytes_inside_json_values_are_tagged_base64(ds, tmp_path):
    ds.create_tensor("meta", htype="json")
    ds.meta.append({"blob": b"\x00\x01", "n": 1})
    got = read_without_deeplake_nb(dl.export_zarr(ds, str(tmp_path / "e"), progressbar=False))["tensors"]["meta"]
    assert got == [{"blob": {"__deeplake_nb__": "bytes", "data": "AAE="}, "n": 1}]


def test_tensorstore_reads_every_array_of_an_export(source, tmp_path):
    """Another Zarr v3 implementation (TensorStore's zarr3 driver, C++) reads each array as zarr does."""
    ts = pytest.importorskip("tensorstore")
    ds, _ = source
    out = dl.export_zarr(ds, str(tmp_path / "export"), progressbar=False)
    arrays = every_array(zarr.open_group(out, mode="r"))
    assert len(arrays) > 20
    for path, array in arrays.items():
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": f"{out}/{path}"}}
        np.testing.assert_array_equal(ts.open(spec, open=True, read=True).result().read().result(), array[:],
                                      err_msg=path)
