"""Datasets written by earlier format versions open, read, diff, merge and take writes.

Each format version leaves a frozen witness under tests/data (written once by the code of that
version with tests/data/make_format_witness.py, and never rewritten): every htype, three commits,
a branch, a tag and a saved view."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

import deeplake_nb as dl

DATA = Path(__file__).parent / "data"


OLDER_REPOSITORIES = ["format_v1_witness", "format_vc2_witness"]
WITNESSES = [*OLDER_REPOSITORIES, "format_v3_witness"]
"""format_v1: dataset format 1, version-control format 1 (before patches, change logs and hints);
format_vc2: version-control format 2 (patch chains, change logs, ancestor summaries, plain-JSON
entries, hints and commit documents), written at bc1af78; format_v3: dataset format 3 (blosc-LZ4
for chunk_compression='lz4': specification codecs only) and version-control format 3, written at
2f3b3ac."""


def _unpack(name: str, tmp_path: Path) -> str:
    with tarfile.open(DATA / f"{name}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    return str(tmp_path / name)


@pytest.fixture(params=WITNESSES)
def witness_v1(request, tmp_path) -> str:
    return _unpack(request.param, tmp_path)


@pytest.fixture(params=OLDER_REPOSITORIES)
def older_repository(request, tmp_path) -> str:
    return _unpack(request.param, tmp_path)


def test_v1_witness_reads_every_tensor(witness_v1):
    ds = dl.load(witness_v1, read_only=True)
    assert len(ds) == 3 and sorted(ds.branches) == ["alt", "main"] and "v1" in ds.version_tags
    assert ds.images[0].numpy().shape == (12, 16, 3) and ds.images[0].tobytes()[:3] == b"\xff\xd8\xff"
    assert ds.labels.data()["text"] == [["cat"], ["dog"], ["cat"]]
    assert ds.boxes.shapes().tolist() == [[1, 4], [2, 4], [3, 4]]
    assert ds.boxes.info.coords == {"type": "LTWH", "mode": "pixel"}
    assert dl.format.htypes.bbox_layout(ds.boxes.info.coords) == ("LTWH", False)
    np.testing.assert_array_equal(ds.masks[1].numpy(), np.eye(4, dtype=bool)[..., None])  # (H, W, N)
    assert ds.caption.text() == ["caption 0", "caption 1", "changed on main"]
    assert ds["meta"].dict() == [{"i": 0}, {"i": 1}, {"i": 2}] and ds.tags[2].list() == ["a", "2"]
    assert ds.emb.numpy().shape == (3, 8) and ds.emb.dtype == np.float32
    assert ds.points[2].numpy().tolist() == [[2, 2]]
    assert ds.poly[0].numpy()[0].tolist() == [[0, 0], [1, 0], [1, 1]]
    assert ds.seg[1].numpy().max() == 1
    assert [f.shape for f in ds.frames[2].numpy(aslist=True)] == [(4, 4, 3), (4, 4, 3)]
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2] and ds["group/score"].numpy().ravel().tolist() == [0, 1, 2]
    assert dl.load(f"{witness_v1}@v1", read_only=True).caption[2].text() == "caption 2"
    assert ds.load_view("dogs").labels.data()["text"] == [["dog"]]


def test_v1_witness_diffs_merges_and_takes_writes(witness_v1):
    ds = dl.load(witness_v1)
    changes = ds.diff("alt", "main", as_dict=True)
    assert set(changes) >= {"tensor", "dataset"}
    ds.merge("alt", conflict_resolution="theirs")
    assert ds.labels[0].data()["text"] == ["dog"] and ds.caption.text()[1:] == ["changed on alt", "changed on main"]
    ds.append({"images": np.zeros((12, 16, 3), np.uint8), "labels": "cat", "boxes": [[0, 0, 1, 1]],
               "masks": np.zeros((4, 4), bool), "caption": "new", "meta": {}, "tags": [], "emb": np.ones(8, "float32"),
               "points": [[0, 0]], "poly": [[[0, 0], [1, 1], [0, 1]]], "seg": np.zeros((4, 4), "uint32"),
               "frames": [np.zeros((4, 4, 3), "uint8")], "x": 4, "group/score": 4.0})
    ds.commit("written by the new code")
    again = dl.load(witness_v1, read_only=True)
    assert len(again) == 4 and again.caption[3].text() == "new" and again.x[3].numpy().tolist() == [4]
    messages = [c["message"] for c in again.commits]
    assert messages[0] == "written by the new code" and "alt" in messages[1] and messages[-1] == "three rows"


def test_a_write_raises_an_older_repository_to_the_current_format_and_old_entries_stay_readable(older_repository):
    witness_v1 = older_repository
    import json

    from deeplake_nb.version import documents
    from deeplake_nb.version.repository import FORMAT_VERSION

    root = Path(witness_v1)
    before = json.loads((root / "repo.json").read_text())["version"]
    first_commit = dl.load(witness_v1, read_only=True).commits[-1]["commit"]
    assert before < FORMAT_VERSION == 4
    ds = dl.load(witness_v1)
    assert json.loads((root / "repo.json").read_text())["version"] == before  # opening writes nothing
    ds.x[0] = 9
    ds.commit("a format 3 commit")
    assert json.loads((root / "repo.json").read_text())["version"] == 4
    entries = sorted(p for p in (root / "refs/branches/main").iterdir() if p.name.isdigit())
    assert entries[0].read_bytes()[:1] == b"{"  # written by the older code, left as it was
    newest = documents.json_object(entries[-1].read_bytes(), str(entries[-1]))
    assert entries[-1].read_bytes()[:1] == b"\x78"  # compressed
    assert newest["head"] == ds.commit_id and newest["format"] == 4
    commit = (root / "commits" / ds.commit_id).read_bytes()
    assert commit[:1] == b"\x78" and documents.json_object(commit, ds.commit_id)["message"] == "a format 3 commit"
    again = dl.load(witness_v1, read_only=True)
    assert again.x.numpy().ravel().tolist()[:3] == [9, 1, 2]
    assert dl.load(f"{witness_v1}@{first_commit}", read_only=True).x.numpy().ravel().tolist() == [0, 1, 2]
    assert [c["message"] for c in again.commits][:2] == ["a format 3 commit", "main change"]


@pytest.mark.parametrize("name, codecs", [("format_v1_witness", ["bytes", "deeplake_nb.lz4"]),
                                          ("format_v3_witness", ["bytes", "blosc", "crc32c"])])
def test_an_lz4_tensor_keeps_the_codec_its_format_wrote(name, codecs, tmp_path):
    """chunk_compression='lz4' was deeplake_nb.lz4 up to format 2 and is blosc from format 3; an
    appended row goes into the array in its own codec, and both read."""
    import zarr

    path = _unpack(name, tmp_path)
    ds = dl.load(path)
    assert ds.x.chunk_compression == "lz4"
    ds.x.append(7)
    array = zarr.open_array(ds.zarr_store(), path="x/data", mode="r")
    assert [c.to_dict()["name"] for c in array.metadata.codecs] == codecs
    assert dl.load(path, read_only=True).x.numpy().ravel().tolist() == [0, 1, 2, 7]
