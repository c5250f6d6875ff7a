"""Deep Lake v3 behaviours: names and groups, row writes that skip bad rows, the loop hint,
htype inference from tensor values, linked samples and their credentials."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import constants, errors


@pytest.fixture
def ds(tmp_path):
    return dl.empty(str(tmp_path / "ds"))


# -- names and groups -------------------------------------------------------------------------------
def test_empty_name_parts_do_not_count(ds):
    ds.create_tensor("/t")
    ds.create_tensor("/y/z//a/b////d/e/").append(np.ones((4, 3)))
    assert set(ds.tensors) == {"t", "y/z/a/b/d/e"}
    assert ds["/t"].key == "t" and ds["y//z/"].group_index == "y/z"
    np.testing.assert_array_equal(ds.y.z.a.b.d.e[0].numpy(), np.ones((4, 3)))
    with pytest.raises(errors.TensorNotFoundError):
        ds["/ttt"]
    for empty in ("", "/", "//"):
        with pytest.raises(errors.InvalidNameError, match="non-empty"):
            ds.create_tensor(empty)


def test_a_tensor_is_not_a_group(ds):
    ds.create_tensor("x")
    with pytest.raises(errors.TensorExistsError, match="'x' is a tensor"):
        ds.create_tensor("x/y")
    ds.create_tensor("y/x")
    with pytest.raises(errors.TensorExistsError):
        ds.create_tensor("y")
    assert set(ds.tensors) == {"x", "y/x"}


def test_group_index_and_parent(ds):
    ds.create_tensor("a/b/c")
    ds.create_tensor("a/d")
    assert ds.group_index == "" and ds.a.group_index == "a" and ds.a.b.group_index == "a/b"
    assert ds.a.b.parent.group_index == "a" and ds.a.parent.group_index == ""
    view = ds["a"][["b/c", "d"]]
    assert view.group_index == "a" and list(view.tensors) == ["b/c", "d"]
    assert list(ds[1:3].a.b.parent.tensors) == ["b/c", "d"]


def test_groups_have_no_info(ds):
    ds.create_tensor("g/t")
    ds.info["k"] = 1
    with pytest.raises(errors.GroupInfoError):
        ds.g.info["a"] = 1
    with pytest.raises(errors.TensorError):
        ds.g.info
    assert dict(ds.info) == {"k": 1} and dict(ds.g.t.info) == {}


# -- extending: skipping bad rows, hints, progress ---------------------------------------------------
def test_dataset_extend_ignore_errors_leaves_out_whole_rows(ds):
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": [1, 2, "bad", 4], "t": ["a", "b", "c", 5]}, ignore_errors=True)
    assert ds.x.numpy().ravel().tolist() == [1, 2]
    assert ds.t.data()["value"] == ["a", "b"]
    np.testing.assert_array_equal(ds.x.sample_ids, ds.t.sample_ids)  # the rows stay whole
    ds.extend({"x": ["bad"], "t": ["z"]}, ignore_errors=True)  # every row refused: nothing written
    assert len(ds) == 2
    ds.commit("after skipped rows")


def test_extend_errors_say_how_to_skip_bad_samples(ds):
    ds.create_tensor("abc")
    with pytest.raises(errors.SampleError, match="ignore_errors=True"):
        ds.extend({"abc": [1, 2, 3, 4, "abcd", 5]})
    with pytest.raises(errors.SampleError, match="ignore_errors=True"):
        ds.abc.extend([1, "abcd"])
    ds.create_tensor("n", dtype="int64")
    with pytest.raises(errors.SampleError) as single:
        ds.n.append("abcd")
    assert "ignore_errors" not in str(single.value)  # one sample: nothing to skip
    assert len(ds.abc) == len(ds.n) == 0


def test_extend_with_progressbar(ds, capsys):
    ds.create_tensor("x")
    ds.x.extend([1, 2, 3, 4], progressbar=True)
    ds.extend({"x": [5, 6]}, progressbar=True)
    assert ds.x.numpy().ravel().tolist() == [1, 2, 3, 4, 5, 6]
    assert "extending" in capsys.readouterr().err


def test_htype_inferred_from_a_tensor_value(ds):
    ds.create_tensor("e")
    ds.create_tensor("f")
    ds.e.append(["a", 1, {"x": "y"}, "b"])
    ds.f.append(ds.e[0])
    assert ds.e.htype == ds.f.htype == "json"
    assert ds.f[0].data()["value"] == ["a", 1, {"x": "y"}, "b"]


# -- the loop hint ----------------------------------------------------------------------------------
def test_indexing_in_a_loop_warns_once_a_run_is_seen(ds):
    ds.create_tensor("abc")
    ds.abc.extend(list(range(30)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(10):
            ds[i], ds.abc[i]
        for row in ds:  # iterating is what the hint recommends: never warns
            pass
        ds[3], ds[3], ds[0], ds.abc[5]  # no fixed step
    for i in range(10):
        ds[i]
    with pytest.warns(UserWarning, match="iterate"):
        ds[10]
    for i in range(0, 20, 2):
        ds.abc[i]
    with pytest.warns(UserWarning, match="ds.abc"):
        ds.abc[20]


def test_loop_hint_can_be_silenced(ds, monkeypatch):
    monkeypatch.setattr(constants, "SHOW_ITERATION_WARNING", False)
    ds.create_tensor("abc")
    ds.abc.extend(list(range(20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(20):
            ds[i], ds.abc[i]


# -- copy and delete as dataset methods -----------------------------------------------------------
def test_dataset_copy_method(ds, tmp_path, capsys):
    ds.create_tensor("abc", htype="class_label", class_names=["a", "b"])
    ds.abc.extend([0, 1, 1, 0])
    copy = ds[1:3].copy(str(tmp_path / "copy"), overwrite=True, progressbar=False, num_workers=2)
    assert capsys.readouterr().out == ""
    assert copy.abc.numpy().ravel().tolist() == [1, 1] and copy.abc.info.class_names == ["a", "b"]
    assert dl.load(str(tmp_path / "copy")).abc.data()["text"] == [["b"], ["b"]]


def test_dataset_delete_method(ds, tmp_path, monkeypatch):
    ds.create_tensor("x")
    ds.x.extend(np.zeros((100, 200)))
    ds.commit("one")
    with pytest.raises(errors.ViewOperationError):
        ds[1:3].delete()
    with pytest.raises(errors.ReadOnlyError):
        dl.load(ds.path, read_only=True).delete()
    monkeypatch.setattr(constants, "DELETE_SAFETY_SIZE", 1000)
    with pytest.raises(errors.DatasetTooLargeError):
        ds.delete()
    assert dl.exists(ds.path)
    ds.delete(large_ok=True)
    assert not dl.exists(ds.path) and not (tmp_path / "ds").exists()
    monkeypatch.undo()
    mem = dl.empty("mem://to-delete")
    mem.create_tensor("x")
    mem.delete()
    assert not dl.exists("mem://to-delete")


# -- links: empty links, verify=False, paths ---------------------------------------------------------
def test_links_without_verify_are_stored_unread(ds, jpeg_file):
    path, _, pixels = jpeg_file("a.jpg", 12, 16)
    ds.create_tensor("a", htype="link[image]", sample_compression="jpeg", verify=False)
    ds.create_tensor("b", htype="text")
    for url in ("hello!!!!", path, "world"):
        ds.a.append(dl.link(url))
        ds.b.append(url)
    ds.a.append(None)
    ds.b.append("")
    np.testing.assert_array_equal(ds.a[0].path(), ds.b[0].numpy())
    np.testing.assert_array_equal(ds.a.path(), ds.b.numpy())
    np.testing.assert_array_equal(ds.a.path(aslist=False), ds.b.numpy())
    assert [p.tolist() for p in ds.a.path()] == ds.b.numpy().tolist()
    assert ds.a[1].shape == (12, 16, 3)  # read from the file when asked, as it was not read when linked
    np.testing.assert_array_equal(ds.a[1].numpy(), pixels)
    assert ds.a[3].numpy().shape == (0,) and ds.a[3].size == 0  # no file: no dimensions
    with pytest.raises(errors.LinkError, match="hello"):
        ds.a[0].numpy()
    assert dl.load(ds.path).a.meta.verify is False
    ds.create_tensor("checked", htype="link[image]", sample_compression="jpeg")
    with pytest.raises(errors.LinkError, match="verify=False"):
        ds.checked.append(dl.link("hello!!!!"))
    with pytest.raises(errors.TensorError):
        ds.b.path()


# -- creds keys ---------------------------------------------------------------------------------------
def test_link_creds_registry():
    from deeplake_nb.core.link_creds import LinkCreds

    creds = LinkCreds()
    creds.add_creds_key("abc")
    creds.add_creds_key("def")
    with pytest.raises(ValueError):
        creds.add_creds_key("abc")
    creds.populate_creds("abc", {"Authorization": "t"})
    with pytest.raises(errors.MissingCredsError):
        creds.populate_creds("ghi", {})
    assert creds.get_encoding(None) == 0 and creds.get_encoding("def") == 2
    with pytest.raises(errors.MissingCredsError, match="needs a creds key"):
        creds.get_encoding(None, "s3://bucket/key.jpg")
    assert [creds.get_creds_key(i) for i in range(3)] == [None, "abc", "def"]
    with pytest.raises(KeyError):
        creds.get_creds_key(3)
    assert creds.missing_keys == ["def"] and creds.creds_mapping == {"abc": 1, "def": 2}
    with pytest.raises(errors.MissingCredsError, match="populate_creds"):
        creds.get_creds("def")
    again = pickle.loads(pickle.dumps(creds))  # a pickled copy keeps the credentials
    assert again.get_creds("abc") == {"Authorization": "t"} and again.missing_keys == ["def"]
    stored = LinkCreds.frombuffer(creds.tobytes())  # the stored form never has them
    assert len(stored) == 2 and stored.missing_keys == ["abc", "def"] and b"Authorization" not in creds.tobytes()
    creds.replace_creds("abc", "new")
    assert creds.creds_keys == ["new", "def"] and creds.get_creds("new") == {"Authorization": "t"}
    with pytest.raises(KeyError):
        creds.replace_creds("abc", "x")


def test_creds_keys_are_kept_with_the_dataset_and_credentials_are_not(ds, jpeg_file):
    path, _, pixels = jpeg_file("a.jpg", 8, 10)
    with ds:
        ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
        ds.add_creds_key("def")
        ds.add_creds_key("abc")
        ds.populate_creds("abc", {})
        ds.img.append(dl.link(path))
        assert ds.link_creds.used_creds_keys == set()
        ds.img.append(dl.link(path, creds_key="abc"))
        assert ds.link_creds.used_creds_keys == {"abc"}
    assert ds.img[1].creds_key() == "abc" and ds.img[0].creds_key() is None
    ds.commit("links")
    ds.checkout("other", create=True)
    assert ds.get_creds_keys() == {"def", "abc"}  # one set of keys for every version
    again = dl.load(ds.path)
    assert again.link_creds.creds_keys == ["def", "abc"] and again.link_creds.used_creds_keys == {"abc"}
    assert again.link_creds.creds_dict == {} and again.get_managed_creds_keys() == set()
    np.testing.assert_array_equal(again.img[0].numpy(), pixels)  # no creds key: readable
    with pytest.raises(errors.MissingCredsError, match="populate_creds"):
        again.img[1].numpy()
    with pytest.raises(ValueError):
        again.img[1].tobytes()
    again.populate_creds("abc", from_environment=True)
    np.testing.assert_array_equal(again.img[1].numpy(), pixels)
    with pytest.raises(KeyError):
        again.update_creds_key("xyz", "ghi")
    again.update_creds_key("abc", "new")  # the samples follow, with the credentials
    assert again.img[1].creds_key() == "new" and again.img[1].numpy().shape == (8, 10, 3)
    third = dl.load(ds.path)
    assert third.get_creds_keys() == {"def", "new"}
    with pytest.raises(errors.MissingCredsError):
        third.img[1].numpy()
    with pytest.raises(errors.MissingCredsError):
        third.img.append(dl.link(path, creds_key="nope"))
    with pytest.raises(errors.UnsupportedFeatureError):
        third.add_creds_key("hub", managed=True)
    with pytest.raises(errors.ReadOnlyError):
        dl.load(ds.path, read_only=True).add_creds_key("late")
    assert dl.load(ds.path).get_creds_keys() == {"def", "new"}


def test_a_cloud_link_needs_a_creds_key(ds):
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg", verify=False)
    with pytest.raises(errors.MissingCredsError, match="add_creds_key"):
        ds.img.append(dl.link("s3://bucket/a.jpg"))
    ds.add_creds_key("S3")
    ds.img.append(dl.link("s3://bucket/a.jpg", creds_key="S3"))  # not read: verify=False
    assert ds.img[0].path().tolist() == ["s3://bucket/a.jpg"] and len(ds.img) == 1


@pytest.fixture
def auth_server(jpeg_file):
    """An http server giving a JPEG only to requests with ``Authorization: Bearer secret``."""
    import http.server
    import threading

    _, data, pixels = jpeg_file("served.jpg", 6, 9)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            ok = self.headers.get("Authorization") == "Bearer secret"
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(data if ok else b"no")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/img.jpg", pixels
    server.shutdown()


def test_http_links_are_read_with_their_credentials(ds, auth_server):
    url, pixels = auth_server
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
    ds.add_creds_key("token")
    with pytest.raises(errors.MissingCredsError):  # verify reads it now: its credentials are needed
        ds.img.append(dl.link(url, creds_key="token"))
    ds.populate_creds("token", {"Authorization": "wrong"})
    with pytest.raises(errors.LinkError, match="401"):
        ds.img.append(dl.link(url, creds_key="token"))
    ds.populate_creds("token", {"Authorization": "Bearer secret"})
    ds.img.append(dl.link(url, creds_key="token"))
    assert ds.img[0].shape == (6, 9, 3)
    np.testing.assert_array_equal(ds.img[0].numpy(), pixels)
    with pytest.raises(errors.LinkError):
        dl.load(ds.path).img[0].numpy()


@pytest.fixture
def s3_bucket(moto_s3):
    if "links" not in {b["Name"] for b in moto_s3.client.list_buckets()["Buckets"]}:
        moto_s3.client.create_bucket(Bucket="links")
    return moto_s3.client, moto_s3.endpoint


def test_s3_links_are_read_with_their_credentials(ds, s3_bucket, jpeg_file):
    client, endpoint = s3_bucket
    _, data, pixels = jpeg_file("s3.jpg", 5, 7)
    client.put_object(Bucket="links", Key="dir/a.jpg", Body=data)
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
    ds.add_creds_key("aws")
    ds.populate_creds("aws", {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                              "endpoint_url": endpoint, "aws_region": "us-east-1",
                              "client_options": {"allow_http": True}})  # v3's names
    ds.img.append(dl.link("s3://links/dir/a.jpg", creds_key="aws"))
    assert ds.img[0].shape == (5, 7, 3) and ds.img[0].tobytes() == data
    np.testing.assert_array_equal(ds.img[0].numpy(), pixels)
    with pytest.raises(errors.LinkError, match="missing.jpg"):
        ds.img.append(dl.link("s3://links/missing.jpg", creds_key="aws"))
    assert len(ds.img) == 1


def test_copies_of_keyed_links_keep_their_keys(ds, tmp_path, jpeg_file):
    path, _, pixels = jpeg_file("a.jpg", 4, 6)
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
    ds.add_creds_key("unused")
    ds.add_creds_key("k")
    ds.populate_creds("k", {})
    ds.img.extend([dl.link(path, creds_key="k"), dl.link(path)])
    copy = ds.copy(str(tmp_path / "copy"), progressbar=False)
    assert copy.img[0].creds_key() == "k" and copy.img[1].creds_key() is None
    np.testing.assert_array_equal(copy.img[0].numpy(), pixels)  # this session's credentials came along
    reopened = dl.load(str(tmp_path / "copy"))
    assert reopened.link_creds.creds_keys == ["unused", "k"] and reopened.link_creds.missing_keys == ["unused", "k"]
    ds.commit("links")
    view = dl.load(ds[:1].save_view(optimize=True))  # the saved view's address
    assert view.img[0].creds_key() == "k"  # the optimized copy has the keys (its session has no credentials)


# -- htypes: bbox.3d, keypoints_coco, instance_label; changing a tensor's htype -------------------------
def test_more_array_htypes(ds):
    ds.create_tensor("box3", htype="bbox.3d")
    ds.create_tensor("kp", htype="keypoints_coco", keypoints=["arm", "leg", "torso"], connections=[[0, 2], [1, 2]])
    ds.create_tensor("inst", htype="instance_label")
    ds.box3.append(np.zeros((2, 8), np.float32))
    ds.box3.append(None)
    ds.kp.append(np.ones((51, 2), np.int32))
    ds.inst.append(np.array([1, 2, 3], np.uint32))
    assert ds.box3[1].numpy().shape == (0, 8) and ds.box3.dtype == np.float32
    assert ds.kp.info.keypoints == ["arm", "leg", "torso"] and ds.kp.info.connections == [[0, 2], [1, 2]]
    assert ds.kp.dtype == np.int32 and ds.inst.dtype == np.uint32
    with pytest.raises(errors.ShapeMismatchError):
        ds.box3.append(np.zeros((2, 4), np.float32))
    with pytest.raises(errors.ShapeMismatchError):
        ds.kp.append(np.ones((50, 2), np.int32))
    assert {"bbox.3d", "keypoints_coco", "instance_label"} <= set(dl.htypes)


def test_changing_htype_follows_v3_rules(ds):
    ds.create_tensor("labels")
    ds.labels.extend(np.ones((3, 5, 5)))
    with pytest.raises(errors.IncompatibleHtypeError, match="shape"):  # 2-D labels do not become class labels
        ds.labels.htype = "class_label"
    ds.create_tensor("kp")
    ds.kp.extend(np.zeros((2, 10, 5)))
    with pytest.raises(errors.IncompatibleHtypeError):
        ds.kp.htype = "keypoints_coco"
    ds.create_tensor("kp2")
    ds.kp2.extend(np.zeros((2, 9, 5), np.int32))
    ds.kp2.htype = "keypoints_coco"
    ds.create_tensor("emb")
    ds.emb.extend(np.zeros((1, 16)))
    with pytest.raises(errors.IncompatibleHtypeError, match="float64"):
        ds.emb.htype = "embedding"
    ds.create_tensor("box3")
    ds.box3.extend(np.zeros((2, 5, 8), np.float32))
    ds.box3.htype = "bbox.3d"
    with pytest.raises(errors.HtypeChangeError) as no:  # not from a bbox.3d tensor
        ds.box3.htype = "embedding"
    assert isinstance(no.value, NotImplementedError)
    with pytest.raises(NotImplementedError):
        ds.labels.htype = "text"
    with pytest.raises(ValueError):
        ds.labels.htype = "sequence[image]"
    ds.create_tensor("jpegs", htype="image", sample_compression="jpg")
    with pytest.raises(errors.UnsupportedCompressionError):
        ds.jpegs.htype = "embedding"
    ds.create_tensor("masks", htype="image")
    ds.masks.extend(np.zeros((2, 6, 6, 3), np.uint8))
    ds.masks.htype = "binary_mask"  # image tensors change htype too
    again = dl.load(ds.path)
    assert (again.kp2.htype, again.box3.htype, again.masks.htype, again.labels.htype) == (
        "keypoints_coco", "bbox.3d", "binary_mask", "generic")


def test_image_tensors_take_any_dtype_and_uncompressed_channels(ds):
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.append(np.full((4, 4, 1), -3, np.int16))  # the first sample gives the dtype (v3)
    ds.images.append(np.full((4, 4, 1), 200, np.uint8))
    assert ds.images.dtype == np.int16
    again = dl.load(ds.path)
    assert again.images[0].numpy().dtype == np.int16 and int(again.images[0].numpy()[0, 0, 0]) == -3
    assert int(again.images[1].numpy()[0, 0, 0]) == 200
    with pytest.raises(errors.ShapeMismatchError, match="C = 1, 3 or 4"):
        ds.create_tensor("two", htype="image", sample_compression="png").append(np.zeros((4, 4, 2), np.uint8))
    mask = np.zeros((3, 10, 10, 5), bool)
    mask[:, :, :4, 1] = True
    ds.create_tensor("image_masks", htype="image", sample_compression=None)
    ds.image_masks.extend(mask)
    assert ds.image_masks.dtype == np.bool_ and ds.image_masks.shape == (3, 10, 10, 5)
    ds.image_masks.htype = "binary_mask"
    np.testing.assert_array_equal(dl.load(ds.path).image_masks.numpy(), mask)
