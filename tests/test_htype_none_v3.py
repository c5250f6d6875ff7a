"""Deep Lake v3's untyped tensors (``create_tensor`` without an htype: ``htype`` None until the first
non-empty sample), ``ds.meta`` (the creating version, tensor keys) and ``ds._tensors()``."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import zarr

import deeplake_nb as dl
from deeplake_nb.format.meta import ATTR_KEY, DatasetMeta, DatasetMetaView
from deeplake_nb.ui.source import SampleSource
from deeplake_nb.ui.summary import summary_html, summary_text

DATA = Path(__file__).parent / "data"


def test_untyped_tensor_has_no_htype_until_its_first_sample(ds):
    ds.create_tensor("c")
    ds.create_tensor("g", htype="generic")
    assert ds.c.htype is None and ds.c.meta.htype is None and ds.c.base_htype is None
    assert ds.g.htype == "generic" and ds.g.meta.htype == "generic" and ds.g.base_htype == "generic"
    ds.c.extend([None, None])  # empty samples decide nothing
    assert ds.c.htype is None
    ds.c.append(np.arange(3))
    assert ds.c.htype == "generic" and ds.c.base_htype == "generic"
    assert [a.tolist() for a in ds.c.numpy(aslist=True)] == [[], [], [0, 1, 2]]
    assert dl.load(ds.path).c.htype == "generic"


def test_untyped_tensor_takes_text_or_json_from_a_first_value(ds):
    for name in ("t", "j", "n"):
        ds.create_tensor(name)
    assert (ds.t.htype, ds.j.htype, ds.n.htype) == (None, None, None)
    ds.t.append("hello")
    ds.j.append({"a": 1})
    ds.n.extend([2.5, 3.5])
    assert (ds.t.htype, ds.j.htype, ds.n.htype) == ("text", "json", "generic")
    assert ds.t.data()["value"] == ["hello"] and ds.j.data()["value"] == [{"a": 1}]
    assert ds.n.dtype == np.float64


def test_untyped_tensor_with_a_dtype_keeps_it(ds):
    ds.create_tensor("d", dtype=bool)
    assert ds.d.htype is None and ds.d.dtype == bool
    ds.d.append(True)
    assert ds.d.htype == "generic" and ds.d.dtype == bool and ds.d.numpy().tolist() == [[True]]


def test_update_of_empty_samples_makes_an_untyped_tensor_generic(ds, unchanged):
    ds.create_tensor("c")
    ds.c.extend([None, None])
    check = unchanged(ds)
    with pytest.raises(dl.errors.SampleError):
        ds.c[0] = "not a number"
    check()
    assert ds.c.htype is None
    ds.c[1] = np.ones(2)
    assert ds.c.htype == "generic" and ds.c[1].numpy().tolist() == [1.0, 1.0]


def test_untyped_htype_is_stored_and_messages_name_it_generic(ds):
    ds.create_tensor("c")
    reopened = dl.load(ds.path)
    assert reopened.c.htype is None
    with pytest.raises(dl.errors.SampleError, match="generic stores data"):
        reopened.c.append(dl.link("file.png"))
    assert reopened.c.htype is None


def test_like_copy_and_deepcopy_keep_an_untyped_tensor(ds, tmp_path):
    ds.create_tensor("a", htype="image", sample_compression="png")
    ds.create_tensor("c")
    ds.create_tensor("d", dtype=bool)
    ds.a.append(np.ones((4, 4, 3), dtype=np.uint8))
    ds.commit("one image")
    like = dl.like(str(tmp_path / "like"), ds)
    copied = dl.copy(ds, str(tmp_path / "copy"))
    deep = dl.deepcopy(ds.path, str(tmp_path / "deep"))
    for dest in (like, copied, deep, dl.load(str(tmp_path / "like"))):
        assert dest.c.htype is None and dest.c.meta.htype is None, dest.path
        assert dest.d.htype is None and dest.d.dtype == bool
        assert dest.a.htype == "image"
    assert ds.create_tensor_like("c2", ds.c).htype is None


def test_summary_shows_none_for_an_untyped_tensor(ds, capsys):
    ds.create_tensor("c")
    ds.create_tensor("g", htype="generic")
    ds.summary()
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()
            if line.strip().startswith(("c ", "g "))}
    assert rows == {"c": "None", "g": "generic"}
    source = SampleSource(ds)
    assert [t["htype"] for t in source.tensors()] == ["None", "generic"]
    assert "<td>None</td>" in summary_html(source) and "None" in summary_text(source)


def test_merge_gives_an_untyped_tensor_the_htype_of_their_samples(ds):
    ds.create_tensor("x")
    ds.commit("untyped x")
    ds.checkout("alt", create=True)
    ds.x.extend([1, 2])
    ds.commit("x has numbers")
    ds.checkout("main")
    assert ds.x.htype is None
    ds.merge("alt")
    assert ds.x.htype == "generic" and ds.x.numpy().tolist() == [[1], [2]]


def test_dataset_meta_records_the_creating_version(ds):
    meta = ds.meta
    assert meta.version == dl.__version__ and meta.tensors == [] and meta.hidden_tensors == []
    ds.create_tensor("image")
    ds.create_tensor("g/x", hidden=True)
    assert ds.meta.tensors == ["image", "g/x"] and ds.meta.hidden_tensors == ["g/x"]
    assert ds.meta.groups == ["g"]
    assert dl.load(ds.path).meta.version == dl.__version__
    with pytest.raises(AttributeError):
        ds.meta.version = "9.9"
    assert dl.load(ds.path, read_only=True).meta.version == dl.__version__


def test_dataset_meta_of_an_older_dataset_has_no_version(tmp_path):
    with tarfile.open(DATA / "format_v1_witness.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    old = dl.load(str(tmp_path / "format_v1_witness"), read_only=True)
    doc = zarr.open_group(store=old.zarr_store(), mode="r").attrs[ATTR_KEY]
    assert "version" not in doc
    view = DatasetMetaView(DatasetMeta.from_json(doc))
    assert view.version is None and view.tensors == list(old._tensors()) == list(doc["tensors"])
    assert isinstance(old.meta, dl.Tensor)  # the witness has a tensor named "meta"


def test_a_tensor_named_meta_is_still_reached_as_an_attribute(ds):
    assert ds.meta.tensors == []
    ds.create_tensor("meta", htype="json")
    ds.meta.append({"k": 1})
    assert ds.meta.data()["value"] == [{"k": 1}] and ds["meta"].key == "meta"


def test_private_tensors_lists_hidden_tensors_too(ds):
    ds.create_tensor("x", hidden=True)
    ds.create_tensor("y")
    ds.create_tensor("g/z")
    assert list(ds.tensors) == ["y", "g/z"]
    assert list(ds._tensors()) == ["x", "y", "g/z"]
    assert list(ds._tensors(include_hidden=False)) == ["y", "g/z"]
    assert list(ds["g"]._tensors()) == ["z"]
    assert list(ds[["y"]]._tensors()) == ["y"]
    assert all(isinstance(t, dl.Tensor) for t in ds._tensors().values())
