"""dl.ingest_classification / ingest_coco / ingest_yolo / ingest_dataframe / ingest_huggingface and
ds.to_huggingface: what lands where, byte-identical images, and bad inputs (errors name the file,
nothing is left at dest)."""

from __future__ import annotations

import io
import json
import os
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import deeplake_nb as dl
from deeplake_nb.ingest import files
from deeplake_nb.storage import links
from deeplake_nb.errors import (CorruptSampleError, DatasetExistsError, IngestionError, IngestionSourceNotFoundError,
                                IngestionWarning, UnsupportedFeatureError)


def encode(arr: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format=fmt)
    return out.getvalue()


def picture(seed: int, shape: tuple[int, ...] = (12, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- ImageFolder ------------------------------------------------------------------------------


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """cat: 3 JPEGs + 1 PNG, dog: 2 JPEGs, and a text file that is not an image."""
    root = tmp_path / "pets"
    for i in range(3):
        write(root / "cat" / f"c{i}.jpg", encode(picture(i), "JPEG"))
    write(root / "cat" / "c3.png", encode(picture(3), "PNG"))
    for i in range(2):
        write(root / "dog" / f"d{i}.JPG", encode(picture(10 + i), "JPEG"))
    write(root / "dog" / "notes.txt", "not an image")
    return root


def test_classification_stores_files_byte_identical_with_class_names(image_folder: Path, tmp_path: Path) -> None:
    ds = dl.ingest_classification(image_folder, tmp_path / "ds", progressbar=False, summary=False, shuffle=False)
    assert sorted(ds.tensors) == ["images", "labels"]
    assert ds.images.meta.sample_compression == "jpeg"  # the most common format
    assert ds.labels.info.class_names == ["cat", "dog"]
    assert len(ds) == 6
    files = sorted(p for p in image_folder.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    for i, path in enumerate(files):
        assert ds.labels[i].numpy().tolist() == [0 if path.parent.name == "cat" else 1]
        if path.suffix.lower() == ".jpg":
            assert ds.images[i].tobytes() == path.read_bytes()
        else:  # the PNG is re-encoded as JPEG: same shape
            assert ds.images[i].numpy().shape == (12, 16, 3)
    assert dl.load(tmp_path / "ds").labels.numpy().ravel().tolist() == [0, 0, 0, 0, 1, 1]


def twelve_images(tmp_path: Path) -> tuple[Path, files.Folder, list[list[str]]]:
    """A folder of 12 JPEGs, as a ``files.Folder``, and its names in four parts of three."""
    root = tmp_path / "many"
    names = [f"f{i:02d}.jpg" for i in range(12)]
    for i, name in enumerate(names):
        write(root / name, encode(picture(i), "JPEG"))
    return root, files.folder(root, "folder"), [names[i:i + 3] for i in range(0, 12, 3)]


def test_local_files_are_read_on_the_calling_thread_in_order(tmp_path: Path, monkeypatch) -> None:
    """A local folder read with num_workers <= 1 starts no thread: each part's files are read on
    the caller's thread when it asks for the part (a reader thread beside it made ingests slower)."""
    root, folder, parts = twelve_images(tmp_path)
    readers: list[int] = []
    real = links._read_local
    monkeypatch.setattr(links, "_read_local", lambda path: readers.append(threading.get_ident()) or real(path))
    threads = threading.active_count()
    reader = files.read_parts(folder, parts, num_workers=0)
    first = next(reader)
    assert [s.path for s in first] == [str(root / n) for n in parts[0]]
    assert all(s._buffer is not None for s in first) and len(readers) == 3  # this part only, read already
    assert [[s.path for s in part] for part in reader] == [[str(root / n) for n in part] for part in parts[1:]]
    assert readers == [threading.get_ident()] * 12 and threading.active_count() == threads


def test_files_are_read_a_part_ahead_on_threads_with_workers_and_the_readers_stop(tmp_path: Path) -> None:
    root, folder, parts = twelve_images(tmp_path)
    reader = files.read_parts(folder, parts, num_workers=3)
    first = next(reader)
    assert [s.path for s in first] == [str(root / n) for n in parts[0]]
    assert all(s._buffer is not None for s in first)
    second = next(reader)
    assert [s.path for s in second] == [str(root / n) for n in parts[1]]
    assert second[0].buffer == (root / parts[1][0]).read_bytes()
    assert any(t.name.startswith("ingest-read") for t in threading.enumerate())
    reader.close()  # the caller stops early: the read threads end
    assert not any(t.name.startswith("ingest-read") and t.is_alive() for t in threading.enumerate())
    assert [[s.path for s in part] for part in files.read_parts(folder, parts, num_workers=3)] == \
        [[str(root / n) for n in part] for part in parts]


def test_classification_shuffle_follows_random_seed(image_folder: Path, tmp_path: Path) -> None:
    random.seed(3)
    a = dl.ingest_classification(image_folder, tmp_path / "a", progressbar=False, summary=False)
    random.seed(3)
    b = dl.ingest_classification(image_folder, tmp_path / "b", progressbar=False, summary=False, num_workers=2)
    assert [a.images[i].tobytes() for i in range(6)] == [b.images[i].tobytes() for i in range(6)]
    assert sorted(a.labels.numpy().ravel().tolist()) == [0, 0, 0, 0, 1, 1]
    pairs = {a.images[i].tobytes(): int(a.labels[i].numpy()[0]) for i in range(6)}
    for path in image_folder.rglob("*.jpg"):
        assert pairs[path.read_bytes()] == 0


def test_classification_splits_become_groups_with_shared_class_names(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for split, n in (("train", 3), ("val", 1)):
        for cls in ("ant", "bee"):
            for i in range(n):
                write(root / split / cls / f"{i}.png", encode(picture(i, (5, 6)), "PNG"))
    write(root / "val" / "wasp" / "0.png", encode(picture(9, (5, 6)), "PNG"))
    ds = dl.ingest_classification(root, tmp_path / "ds", progressbar=False, summary=False,
                                  image_params={"name": "pics"}, label_params={"name": "y"})
    assert sorted(ds.tensors) == ["train/pics", "train/y", "val/pics", "val/y"]
    assert len(ds["train/pics"]) == 6 and len(ds["val/pics"]) == 3
    assert ds["train/y"].info.class_names == ds["val/y"].info.class_names == ["ant", "bee", "wasp"]
    assert ds["train/pics"].meta.sample_compression == "png"
    assert ds["train/pics"][0].numpy().shape in ((5, 6), (5, 6, 1))
    assert sorted(ds["val/y"].numpy().ravel().tolist()) == [0, 1, 2]


def test_classification_csv_goes_through_dataframe(tmp_path: Path) -> None:
    csv = write(tmp_path / "t.csv", "a,b\n1,x\n2,y\n")
    ds = dl.ingest_classification(csv, tmp_path / "ds", progressbar=False)
    assert ds.a.numpy().ravel().tolist() == [1, 2] and ds.b.text() == ["x", "y"]


def test_classification_progress_bar_and_summary(image_folder: Path, tmp_path: Path, capsys) -> None:
    dl.ingest_classification(image_folder, tmp_path / "ds", progressbar=True, summary=True)
    out, err = capsys.readouterr()
    assert "Ingested 6 images of 2 classes" in out
    assert "ingesting pets" in err and "6/6" in err


def test_classification_bad_inputs(image_folder: Path, tmp_path: Path) -> None:
    from deeplake_nb.util.exceptions import InvalidPathException  # v3's name

    with pytest.raises(IngestionSourceNotFoundError, match="nowhere") as info:
        dl.ingest_classification(tmp_path / "nowhere", tmp_path / "ds", progressbar=False)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, InvalidPathException)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestionSourceNotFoundError, match="No image files"):
        dl.ingest_classification(tmp_path / "empty", tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionError, match="image folder itself"):
        dl.ingest_classification(image_folder, image_folder, progressbar=False)
    with pytest.raises(IngestionError, match="lacks class folder"):
        dl.ingest_classification(image_folder, tmp_path / "ds", label_params={"class_names": ["cat"]},
                                 progressbar=False)
    assert not (tmp_path / "ds").exists()


def test_classification_corrupt_file_named_and_nothing_left(image_folder: Path, tmp_path: Path) -> None:
    bad = write(image_folder / "dog" / "broken.jpg", encode(picture(5), "JPEG")[:40])
    with pytest.raises(IngestionError, match="broken.jpg: CorruptSampleError") as info:
        dl.ingest_classification(image_folder, tmp_path / "ds", progressbar=False, summary=False, shuffle=False)
    assert isinstance(info.value.__cause__, CorruptSampleError)
    assert not dl.exists(tmp_path / "ds") and not (tmp_path / "ds").exists()
    ds = dl.ingest_classification(image_folder, tmp_path / "ds", progressbar=False, summary=False,
                                  ignore_errors=True)
    assert len(ds) == 6 and bad.exists()


def test_classification_existing_dest_is_left_as_it_was(image_folder: Path, tmp_path: Path) -> None:
    old = dl.empty(tmp_path / "ds")
    old.create_tensor("x")
    old.x.extend([1, 2])
    with pytest.raises(DatasetExistsError):
        dl.ingest_classification(image_folder, tmp_path / "ds", progressbar=False)
    assert dl.load(tmp_path / "ds").x.numpy().ravel().tolist() == [1, 2]


# --- COCO -------------------------------------------------------------------------------------


def rle_of(mask: np.ndarray) -> dict:
    from pycocotools import mask as coco_mask

    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


@pytest.fixture
def coco(tmp_path: Path) -> dict:
    """3 images; instances.json (boxes, a polygon, a compressed and an uncompressed RLE, a
    2-polygon object) and keypoints.json (a person with 2 keypoints)."""
    images = tmp_path / "images"
    for i in range(3):
        write(images / f"{i}.jpg", encode(picture(20 + i, (8, 10, 3)), "JPEG"))
    entries = [{"id": 100 + i, "file_name": f"{i}.jpg", "height": 8, "width": 10} for i in range(3)]
    eye = np.eye(8, 10, dtype=bool)
    instances = {
        "images": entries,
        "categories": [{"id": 3, "name": "cat"}, {"id": 9, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 100, "category_id": 9, "bbox": [1, 1, 4, 4], "area": 8.0, "iscrowd": 0,
             "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]},
            {"id": 2, "image_id": 100, "category_id": 3, "bbox": [0, 0, 8, 8], "area": 8.0, "iscrowd": 1,
             "segmentation": rle_of(eye)},
            {"id": 3, "image_id": 102, "category_id": 3, "bbox": [2, 2, 3, 3], "area": 3.0, "iscrowd": 1,
             "segmentation": {"counts": [5, 3, 72], "size": [8, 10]}},
            {"id": 4, "image_id": 102, "category_id": 9, "bbox": [0, 0, 9, 7], "area": 4.0, "iscrowd": 0,
             "segmentation": [[0, 0, 2, 0, 2, 2], [6, 4, 8, 4, 8, 6]]},
        ]}
    keypoints = {
        "images": entries,
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "eye"], "skeleton": [[1, 2]]}],
        "annotations": [{"id": 7, "image_id": 101, "category_id": 1, "bbox": [1, 2, 3, 4],
                         "keypoints": [1, 2, 2, 3, 4, 1], "num_keypoints": 2}]}
    files = [write(tmp_path / "instances.json", json.dumps(instances)),
             write(tmp_path / "keypoints.json", json.dumps(keypoints))]
    return {"images_directory": images, "annotation_files": files, "instances": instances}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own, under NumPy 2
def test_coco_two_files_merged_by_image(coco: dict, tmp_path: Path) -> None:
    from pycocotools import mask as coco_mask

    ds = dl.ingest_coco(coco["images_directory"], [str(p) for p in coco["annotation_files"]], tmp_path / "ds",
                        progressbar=False, num_workers=2)
    assert len(ds.images) == 3
    assert ds.images[1].tobytes() == (coco["images_directory"] / "1.jpg").read_bytes()
    assert {"instances/bbox", "instances/category_id", "instances/segmentation", "instances/segmentation_mask",
            "instances/iscrowd", "instances/image_id", "keypoints/keypoints", "keypoints/bbox"} <= set(ds.tensors)
    boxes = ds["instances/bbox"]
    assert boxes.htype == "bbox" and boxes.info.coords == {"type": "pixel", "mode": "LTWH"}
    np.testing.assert_array_equal(boxes[0].numpy(), [[1, 1, 4, 4], [0, 0, 8, 8]])
    assert boxes[1].numpy().shape == (0, 4)
    labels = ds["instances/category_id"]
    assert labels.info.class_names == ["cat", "dog"]
    assert labels[0].numpy().tolist() == [1, 0] and labels[2].numpy().tolist() == [0, 1]
    assert ds["instances/image_id"].numpy().ravel().tolist() == [100, 101, 102]
    assert ds["instances/iscrowd"][0].numpy().tolist() == [0, 1]
    polygons = ds["instances/segmentation"][0].numpy()
    np.testing.assert_array_equal(polygons[0], [[1, 1], [5, 1], [5, 5], [1, 5]])
    assert polygons[1].shape == (0, 2)  # an RLE object has no polygon
    masks = ds["instances/segmentation_mask"]
    assert masks.htype == "binary_mask" and masks[1].numpy().shape == (8, 10, 0)
    m0 = masks[0].numpy()
    expected = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([[1, 1, 5, 1, 5, 5, 1, 5]], 8, 10)))
    np.testing.assert_array_equal(m0[..., 0], expected.astype(bool))
    np.testing.assert_array_equal(m0[..., 1], np.eye(8, 10, dtype=bool))
    m2 = masks[2].numpy()
    assert m2[..., 0].sum() == 3  # the uncompressed RLE's 3 pixels
    two_polygons = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(
        coco["instances"]["annotations"][3]["segmentation"], 8, 10))).astype(bool)
    np.testing.assert_array_equal(m2[..., 1], two_polygons)
    kp = ds["keypoints/keypoints"]
    assert kp.htype == "keypoints_coco" and kp.info.keypoints == ["nose", "eye"]
    np.testing.assert_array_equal(kp[1].numpy(), [[1], [2], [2], [3], [4], [1]])
    assert kp[0].numpy().shape == (6, 0)


def test_coco_mappings_ignore_keys_and_one_group(coco: dict, tmp_path: Path) -> None:
    ds = dl.ingest_coco(coco["images_directory"], coco["annotation_files"][0], tmp_path / "flat", progressbar=False,
                        key_to_tensor_mapping={"bbox": "boxes", "category_id": "labels"},
                        ignore_keys=["area", "iscrowd", "id"], segmentation_format="mask",
                        image_params={"name": "pictures"})
    assert sorted(ds.tensors) == ["boxes", "image_id", "labels", "pictures", "segmentation_mask"]
    ds = dl.ingest_coco(coco["images_directory"], coco["annotation_files"], tmp_path / "grouped", progressbar=False,
                        file_to_group_mapping={"instances.json": "objects", "keypoints": "people"},
                        ignore_keys="segmentation")
    assert "objects/bbox" in ds.tensors and "people/keypoints" in ds.tensors
    assert not any("segmentation" in t for t in ds.tensors)
    ds = dl.ingest_coco(coco["images_directory"], coco["annotation_files"][0], tmp_path / "one", progressbar=False,
                        ignore_one_group=False, ignore_keys=["segmentation"])
    assert "instances/bbox" in ds.tensors


def test_coco_polygons_only_warn_about_extra_polygons(coco: dict, tmp_path: Path) -> None:
    data = json.loads(json.dumps(coco["instances"]))
    data["annotations"] = [a for a in data["annotations"] if not isinstance(a["segmentation"], dict)]
    polygons_only = write(tmp_path / "polygons.json", json.dumps(data))
    with pytest.warns(IngestionWarning, match="1 objects of .*polygons.json have several polygons"):
        ds = dl.ingest_coco(coco["images_directory"], polygons_only, tmp_path / "ds", progressbar=False)
    assert "segmentation_mask" not in ds.tensors and ds.segmentation.htype == "polygon"
    assert [p.shape for p in ds.segmentation[2].numpy()] == [(3, 2)]


def test_coco_linked_images(coco: dict, tmp_path: Path) -> None:
    ds = dl.ingest_coco(coco["images_directory"], coco["annotation_files"][1], tmp_path / "ds", progressbar=False,
                        image_params={"name": "linked", "htype": "link[image]"})
    assert ds.linked.htype == "link[image]" and ds.linked.numpy().shape[0] == 3
    assert str(np.ravel(ds.linked.path())[0]).endswith("0.jpg")


@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("annotations"), "no list 'annotations'"),
    (lambda d: d["annotations"][0].update(category_id=42), r"annotation id 1\).*category_id 42"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"annotation id 1\).*bbox must be 4"),
    (lambda d: d["annotations"][3].update(segmentation=[[1, 2, 3]]), r"annotation id 4\).*even count"),
    (lambda d: d["annotations"][1].update(segmentation={"counts": "garbage!", "size": [3, 3]}),
     r"annotation id 2\).*could not be decoded"),
    (lambda d: d["images"].pop(), "2.jpg.*none of the annotation files"),
])
def test_coco_bad_annotations_name_the_file(coco: dict, tmp_path: Path, change, match) -> None:
    data = json.loads(json.dumps(coco["instances"]))
    change(data)
    bad = write(tmp_path / "bad.json", json.dumps(data))
    with pytest.raises(IngestionError, match=match) as info:
        dl.ingest_coco(coco["images_directory"], bad, tmp_path / "ds", progressbar=False)
    assert "bad.json" in str(info.value) or "2.jpg" in str(info.value)
    assert not (tmp_path / "ds").exists()


@pytest.mark.filterwarnings("ignore::deeplake_nb.errors.IngestionWarning")
def test_coco_bad_inputs(coco: dict, tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.json", '{"images": [')
    with pytest.raises(IngestionError, match="broken.json.*not valid JSON"):
        dl.ingest_coco(coco["images_directory"], broken, tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionSourceNotFoundError, match="missing.json"):
        dl.ingest_coco(coco["images_directory"], tmp_path / "missing.json", tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionError, match="distinct tensor names"):
        dl.ingest_coco(coco["images_directory"], coco["annotation_files"], tmp_path / "ds", progressbar=False,
                       key_to_tensor_mapping={"bbox": "x", "area": "x"})
    with pytest.raises(IngestionError, match="segmentation_format='mask' or 'both'"):
        dl.ingest_coco(coco["images_directory"], coco["annotation_files"][0], tmp_path / "ds", progressbar=False,
                       segmentation_format="polygon")
    with pytest.raises(UnsupportedFeatureError):
        dl.ingest_coco("hub://org/images", coco["annotation_files"], tmp_path / "ds", progressbar=False)
    with pytest.raises(UnsupportedFeatureError, match="connect_kwargs"):
        dl.ingest_coco(coco["images_directory"], coco["annotation_files"], tmp_path / "ds", progressbar=False,
                       connect_kwargs={"org_id": "x"})
    assert not (tmp_path / "ds").exists()


def test_coco_corrupt_image_named_nothing_left(coco: dict, tmp_path: Path) -> None:
    write(coco["images_directory"] / "1.jpg", b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(IngestionError, match="1.jpg: CorruptSampleError"):
        dl.ingest_coco(coco["images_directory"], coco["annotation_files"], tmp_path / "ds", progressbar=False)
    assert not (tmp_path / "ds").exists()


# --- YOLO -------------------------------------------------------------------------------------


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    root = tmp_path / "yolo"
    for i in range(3):
        write(root / f"{i}.jpg", encode(picture(30 + i), "JPEG"))
    write(root / "0.txt", "0 0.5 0.5 0.2 0.4\n1 0.1 0.2 0.3 0.4\n")
    write(root / "1.txt", "")
    write(root / "2.txt", "1 0.9 0.9 0.1 0.1\n")
    write(tmp_path / "classes.names", "person\ncar\n")
    return root


def test_yolo_boxes_and_class_names(yolo: Path, tmp_path: Path) -> None:
    ds = dl.ingest_yolo(yolo, tmp_path / "ds", class_names_file=tmp_path / "classes.names", progressbar=False,
                        num_workers=2)
    assert sorted(ds.tensors) == ["boxes", "images", "labels"]
    assert ds.labels.info.class_names == ["person", "car"]
    assert ds.boxes.info.coords == {"type": "fractional", "mode": "CCWH"}
    np.testing.assert_allclose(ds.boxes[0].numpy(), [[0.5, 0.5, 0.2, 0.4], [0.1, 0.2, 0.3, 0.4]])
    assert ds.boxes[1].numpy().shape == (0, 4) and ds.labels[2].numpy().tolist() == [1]
    assert ds.images[2].tobytes() == (yolo / "2.jpg").read_bytes()


def test_yolo_polygons_separate_annotations_and_missing_ones(tmp_path: Path) -> None:
    images, labels = tmp_path / "img", tmp_path / "lbl"
    for i in range(2):
        write(images / f"{i}.png", encode(picture(i, (6, 6, 3)), "PNG"))
    write(labels / "0.txt", "2 0.1 0.1 0.5 0.1 0.5 0.5\n")
    with pytest.raises(IngestionError, match="1.png.*allow_no_annotation"):
        dl.ingest_yolo(images, tmp_path / "ds", annotations_directory=labels, progressbar=False)
    ds = dl.ingest_yolo(images, tmp_path / "ds", annotations_directory=labels, allow_no_annotation=True,
                        progressbar=False, coordinates_params={"name": "shapes"})
    assert ds.shapes.htype == "polygon"
    np.testing.assert_allclose(ds.shapes[0].numpy()[0], [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])
    assert ds.shapes[1].numpy() == [] and ds.labels[1].numpy().tolist() == []


@pytest.mark.parametrize("content, match", [
    ("5 0.5 0.5 0.1 0.1\n", r"0.txt:1: class 5 is not among the 2"),
    ("0 0.5 0.5 0.1 0.1\nx y\n", r"0.txt:2: a YOLO line"),
    ("0 0.5 0.5 0.1\n", r"0.txt:1: a box has 4 coordinates"),
])
def test_yolo_bad_lines_name_file_and_line(yolo: Path, tmp_path: Path, content: str, match: str) -> None:
    write(yolo / "0.txt", content)
    with pytest.raises(IngestionError, match=match):
        dl.ingest_yolo(yolo, tmp_path / "ds", class_names_file=tmp_path / "classes.names", progressbar=False)
    assert not (tmp_path / "ds").exists()


# --- tables -----------------------------------------------------------------------------------


@pytest.fixture
def frame():
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({
        "n": [1, 2, 3], "x": [0.5, np.nan, 2.0], "ok": [True, False, True], "name": ["a", "b", None],
        "kind": pd.Categorical(["dog", "cat", "dog"], categories=["dog", "cat"]),
        "vec": [[1.0, 2.0], [3.0], []], "words": [["p"], ["q", "r"], []], "extra": [{"k": 1}, {"k": 2}, {"k": 3}],
        "when": pd.to_datetime(["2020-01-01", "2021-06-01", "2022-12-31"]), "what?": [7, 8, 9]})


def test_dataframe_columns_to_tensors_with_inferred_htypes(frame, tmp_path: Path) -> None:
    ds = dl.ingest_dataframe(frame, tmp_path / "ds", progressbar=False)
    htypes = {name: t.htype for name, t in ds.tensors.items()}
    assert htypes == {"n": "generic", "x": "generic", "ok": "generic", "name": "text", "kind": "class_label",
                      "vec": "generic", "words": "list", "extra": "json", "when": "text", "what_": "generic"}
    assert ds.n.numpy().ravel().tolist() == [1, 2, 3] and ds.n.dtype == np.int64
    assert np.isnan(ds.x[1].numpy()).all() and ds.ok.dtype == bool
    assert ds.name.text()[:2] == ["a", "b"]
    assert ds.kind.info.class_names == ["dog", "cat"] and ds.kind.numpy().ravel().tolist() == [0, 1, 0]
    assert ds.vec[0].numpy().tolist() == [1.0, 2.0] and ds.vec[2].numpy().shape == (0,)
    assert ds.words[1].numpy().tolist() == ["q", "r"] and ds.extra[2].dict() == {"k": 3}
    assert ds.when[0].text().startswith("2020-01-01")


def test_dataframe_image_columns_from_bytes_and_paths(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    blobs = [encode(picture(i), "JPEG") for i in range(3)]
    paths = [os.fspath(write(tmp_path / f"{i}.png", encode(picture(i), "PNG"))) for i in range(3)]
    df = pd.DataFrame({"jpg": blobs, "file": paths, "label": [0, 1, 0]})
    ds = dl.ingest_dataframe(df, tmp_path / "ds", progressbar=False,
                             column_params={"jpg": {"name": "image", "htype": "image", "sample_compression": "jpeg"},
                                            "file": {"htype": "image", "sample_compression": "png"},
                                            "label": {"htype": "class_label", "class_names": ["a", "b"]}})
    assert [ds.image[i].tobytes() for i in range(3)] == blobs
    assert ds.file[1].tobytes() == Path(paths[1]).read_bytes()
    linked = dl.ingest_dataframe(df[["file"]], tmp_path / "linked", progressbar=False,
                                 column_params={"file": {"htype": "link[image]"}})
    assert linked.file.htype == "link[image]" and linked.file[2].numpy().shape == (12, 16, 3)
    assert ds.label.info.class_names == ["a", "b"] and ds.label.numpy().ravel().tolist() == [0, 1, 0]


def test_dataframe_from_pyarrow_table_and_parquet(frame, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    ds = dl.ingest_dataframe(table, tmp_path / "from_table", progressbar=False)
    assert len(ds) == 3 and ds.kind.info.class_names == ["dog", "cat"]
    pq.write_table(table, tmp_path / "t.parquet")
    ds = dl.ingest_dataframe(tmp_path / "t.parquet", tmp_path / "from_file", progressbar=False)
    assert ds.n.numpy().ravel().tolist() == [1, 2, 3] and ds.words[1].numpy().tolist() == ["q", "r"]
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 2), folder / "a.parquet")
    pq.write_table(table.slice(2, 1), folder / "b.parquet")
    ds = dl.ingest_dataframe(str(folder), tmp_path / "from_folder", progressbar=False)
    assert sorted(ds.n.numpy().ravel().tolist()) == [1, 2, 3]
    assert sorted(ds.kind.info.class_names) == ["cat", "dog"]


def test_dataframe_from_a_damaged_parquet_folder_is_our_error(frame, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 2), folder / "a.parquet")
    pq.write_table(table.slice(2, 1), folder / "b.parquet")
    whole = (folder / "b.parquet").read_bytes()
    (folder / "b.parquet").write_bytes(whole[: len(whole) // 2])  # a part cut short: no footer
    with pytest.raises(IngestionError, match="Could not read") as caught:
        dl.ingest_dataframe(str(folder), tmp_path / "out", progressbar=False)
    assert str(folder) in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_dataframe_into_open_dataset_restored_on_failure(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("n", dtype="int64")
    ds.n.extend([10])
    dl.ingest_dataframe(pd.DataFrame({"n": [1, 2], "s": ["a", "b"]}), ds, progressbar=False)
    assert ds.n.numpy().ravel().tolist() == [10, 1, 2] and ds.s.text() == ["a", "b"]
    bad = pd.DataFrame({"n": [3, 4], "img": [b"not an image", b"nor this"], "t": ["c", "d"]})
    with pytest.raises(IngestionError, match="row 0: CorruptSampleError"):
        dl.ingest_dataframe(bad, ds, progressbar=False, column_params={"img": {"htype": "image",
                                                                              "sample_compression": "png"}})
    assert sorted(ds.tensors) == ["n", "s"] and ds.n.numpy().ravel().tolist() == [10, 1, 2]
    assert dl.load(tmp_path / "ds").n.numpy().ravel().tolist() == [10, 1, 2]


def test_dataframe_into_committed_dataset_failing_leaves_it_exactly(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("n", dtype="int64")
    ds.n.extend([10])
    ds.info.update(owner="me")
    commit = ds.commit("one row")
    bad = pd.DataFrame({"n": [3, 4], "img": [b"not an image", b"nor this"]})
    with pytest.raises(IngestionError, match="row 0: CorruptSampleError"):
        dl.ingest_dataframe(bad, ds, progressbar=False, column_params={"img": {"htype": "image",
                                                                              "sample_compression": "png"}})
    for shown in (ds, dl.load(tmp_path / "ds")):
        assert not shown.has_head_changes and shown.commit_id == commit
        assert list(shown.tensors) == ["n"] and shown.n.numpy().ravel().tolist() == [10]
        assert dict(shown.info) == {"owner": "me"}


def test_dataframe_bad_inputs(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(IngestionError, match="takes a pandas DataFrame"):
        dl.ingest_dataframe([1, 2, 3], tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionError, match=r"names columns \['nope'\]"):
        dl.ingest_dataframe(pd.DataFrame({"a": [1]}), tmp_path / "ds", column_params={"nope": {}}, progressbar=False)
    with pytest.raises(IngestionError, match="Column 'mixed'"):
        dl.ingest_dataframe(pd.DataFrame({"mixed": [1, "a"]}), tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionError, match="same tensor names"):
        dl.ingest_dataframe(pd.DataFrame({"a?": [1], "a!": [2]}), tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionSourceNotFoundError, match="missing.parquet"):
        dl.ingest_dataframe(tmp_path / "missing.parquet", tmp_path / "ds", progressbar=False)
    with pytest.raises(IngestionError, match="image column"):
        dl.ingest_dataframe(pd.DataFrame({"a": [1]}), tmp_path / "ds", column_params={"a": {"htype": "image"}},
                            progressbar=False)
    assert not (tmp_path / "ds").exists()


# --- Hugging Face -----------------------------------------------------------------------------


@pytest.fixture
def hf_dataset():
    datasets = pytest.importorskip("datasets")
    blobs = [encode(picture(40 + i, (6, 7, 3)), "PNG") for i in range(3)]
    features = datasets.Features({
        "image": datasets.Image(decode=False), "label": datasets.ClassLabel(names=["cat", "dog"]),
        "caption": datasets.Value("string"), "score": datasets.Value("float32"),
        "meta": {"width": datasets.Value("int32"), "tags": datasets.Sequence(datasets.Value("string"))}})
    return datasets.Dataset.from_dict({
        "image": [{"bytes": b, "path": None} for b in blobs], "label": [1, 0, -1], "caption": ["a", "b", "c"],
        "score": [0.5, 1.5, 2.5], "meta": [{"width": 7, "tags": ["x"]}, {"width": 7, "tags": []},
                                            {"width": 7, "tags": ["y", "z"]}]}, features=features), blobs


def test_huggingface_keeps_image_bytes_and_class_names(hf_dataset, tmp_path: Path) -> None:
    hf, blobs = hf_dataset
    ds = dl.ingest_huggingface(hf, tmp_path / "ds", use_progressbar=False)
    assert sorted(ds.tensors) == ["caption", "image", "label", "meta/tags", "meta/width", "score"]
    assert ds.image.meta.sample_compression == "png" and [ds.image[i].tobytes() for i in range(3)] == blobs
    assert ds.label.htype == "class_label" and ds.label.info.class_names == ["cat", "dog"]
    assert ds.label[0].numpy().tolist() == [1] and ds.label[2].numpy().tolist() == []
    assert ds.caption.text() == ["a", "b", "c"] and ds["meta/tags"][2].numpy().tolist() == ["y", "z"]
    assert ds.score.dtype == np.float32


def test_huggingface_decoded_images_and_splits(hf_dataset, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    hf, blobs = hf_dataset
    decoded = hf.cast_column("image", datasets.Image(decode=True))
    dd = datasets.DatasetDict({"train": decoded, "test": decoded.select([2])})
    ds = dl.ingest_huggingface(dd, tmp_path / "ds", use_progressbar=False)
    assert len(ds["train/image"]) == 3 and len(ds["test/image"]) == 1
    assert ds["test/image"][0].tobytes() == blobs[2]


def test_to_huggingface_round_trip(hf_dataset, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    hf, blobs = hf_dataset
    ds = dl.ingest_huggingface(hf, tmp_path / "ds", use_progressbar=False)
    ds.create_tensor("boxes", htype="bbox")
    ds.boxes.extend([np.zeros((2, 4), np.float32), np.ones((1, 4), np.float32), np.zeros((0, 4), np.float32)])
    ds.create_tensor("extra", htype="json")
    ds.extra.extend([{"k": 1}, [1, 2], {"s": "x"}])
    back = ds.to_huggingface()
    assert [json.loads(v) for v in back["extra"]] == [{"k": 1}, [1, 2], {"s": "x"}]
    assert isinstance(back.features["label"], datasets.ClassLabel)
    assert back.features["label"].names == ["cat", "dog"] and back["label"] == [1, 0, -1]
    raw = back.cast_column("image", datasets.Image(decode=False))
    assert [row["bytes"] for row in raw["image"]] == blobs
    assert back["caption"] == ["a", "b", "c"] and back["meta/tags"][2] == ["y", "z"]
    assert back["boxes"][1] == [[1.0, 1.0, 1.0, 1.0]] and back["boxes"][2] == []
    assert ds[1:3].to_huggingface()["label"] == [0, -1]  # a view: its rows only
    again = dl.ingest_huggingface(back, tmp_path / "again", use_progressbar=False)
    assert again.label.info.class_names == ["cat", "dog"] and again.image[0].tobytes() == blobs[0]


def test_huggingface_bad_inputs(hf_dataset, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    with pytest.raises(IngestionError, match="datasets.Dataset or DatasetDict"):
        dl.ingest_huggingface({"a": [1]}, tmp_path / "ds")
    nested = datasets.Features({"a": datasets.Value("int64"), "s": datasets.Features({"x": datasets.Value("int8")})})
    plain = datasets.Dataset.from_dict({"a": [1, 2], "s": [{"x": 1}, {"x": 2}]}, features=nested)
    ds = dl.ingest_huggingface(plain, tmp_path / "ok", use_progressbar=False)
    assert ds["s/x"].numpy().ravel().tolist() == [1, 2]
    bad = datasets.Dataset.from_dict({"image": [{"bytes": b"not a picture", "path": None}]},
                                     features=datasets.Features({"image": datasets.Image(decode=False)}))
    with pytest.raises(IngestionError, match="row 0: CorruptSampleError"):
        dl.ingest_huggingface(bad, tmp_path / "ds", use_progressbar=False)
    assert not (tmp_path / "ds").exists()


def test_missing_optional_package_is_named(coco: dict, tmp_path: Path, monkeypatch) -> None:
    import sys

    from deeplake_nb.errors import IngestionDependencyError

    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)  # import fails as if not installed
    with pytest.raises(IngestionDependencyError, match=r"pip install pycocotools") as info:
        dl.ingest_coco(coco["images_directory"], coco["annotation_files"], tmp_path / "ds", progressbar=False,
                       segmentation_format="mask")
    assert isinstance(info.value, ImportError) and not (tmp_path / "ds").exists()


def test_kaggle_ingests_a_downloaded_folder_or_names_what_is_missing(image_folder: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    import sys

    from deeplake_nb.errors import IngestionDependencyError

    with pytest.raises(IngestionError, match="not empty.*exist_ok=True"):
        dl.ingest_kaggle("owner/pets", image_folder, tmp_path / "ds", progressbar=False)
    ds = dl.ingest_kaggle("owner/pets", image_folder, tmp_path / "ds", exist_ok=True, progressbar=False,
                          summary=False, images_compression="png")
    assert len(ds) == 6 and ds.images.meta.sample_compression == "png"
    monkeypatch.setitem(sys.modules, "kaggle", None)
    with pytest.raises(IngestionDependencyError, match="pip install kaggle"):
        dl.ingest_kaggle("owner/pets", tmp_path / "download", tmp_path / "ds2", progressbar=False)
    assert not (tmp_path / "ds2").exists()


def test_dataframe_v3_cases_arrays_nulls_and_bad_columns(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"AA": ["Alice", "Bob", None], "BB": [np.array([3, 22, 1]), np.array([1, 2, 10]),
                                                            np.array([0, 5, 3])],
                       "EE": [None, np.array([1, 22]), np.array([0, 56, 34])], "DD": [None, None, None]})
    ds = dl.ingest_dataframe(df, tmp_path / "ds", progressbar=False)
    assert list(ds.tensors) == ["AA", "BB", "EE", "DD"]
    np.testing.assert_array_equal(ds.BB.numpy(), np.stack(df.BB.values))
    assert ds.EE[0].numpy().size == 0 and ds.EE[2].numpy().tolist() == [0, 56, 34]
    with pytest.raises(IngestionError, match="Column 'BB'"):
        dl.ingest_dataframe(pd.DataFrame({"BB": [np.array([1, 2]), "bad_data"]}), tmp_path / "bad", progressbar=False)
    with pytest.raises(IngestionError, match="image column"):
        dl.ingest_dataframe(pd.DataFrame({"BB": [None, None]}), tmp_path / "bad", progressbar=False,
                            column_params={"BB": {"htype": "image"}})
    assert not (tmp_path / "bad").exists()


def test_yolo_without_class_names_and_polygons_asked_for(yolo: Path, tmp_path: Path) -> None:
    ds = dl.ingest_yolo(yolo, tmp_path / "ds", progressbar=False)
    assert ds.labels.info.class_names == [] and ds.boxes.htype == "bbox"
    ds = dl.ingest_yolo(yolo, tmp_path / "poly", class_names_file=tmp_path / "classes.names", progressbar=False,
                        coordinates_params={"name": "polygons", "htype": "polygon"})
    assert ds.polygons.htype == "polygon"
    np.testing.assert_allclose(ds.polygons[2].numpy()[0], [[0.9, 0.9], [0.1, 0.1]])
    with pytest.raises(IngestionError, match="nowhere"):
        dl.ingest_yolo(tmp_path / "nowhere", tmp_path / "bad", progressbar=False)


def test_coco_v3_image_settings_spelling(coco: dict, tmp_path: Path) -> None:
    ds = dl.ingest_coco(coco["images_directory"], coco["annotation_files"][1], tmp_path / "ds", progressbar=False,
                        file_to_group_mapping={"keypoints.json": "base"}, ignore_one_group=False,
                        image_settings={"name": "linked_images", "linked": True})
    assert ds.linked_images.htype == "link[image]" and "base/bbox" in ds.tensors


def test_coco_and_yolo_from_an_object_store(coco: dict, yolo: Path, tmp_path: Path, moto_s3) -> None:
    def upload(folder: Path, prefix: str) -> None:
        for path in folder.rglob("*"):
            if path.is_file():
                moto_s3.client.put_object(Bucket="bucket", Key=f"{prefix}/{path.relative_to(folder).as_posix()}",
                                          Body=path.read_bytes())

    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": moto_s3.endpoint,
             "aws_region": "us-east-1"}
    upload(coco["images_directory"], "coco/images")
    upload(coco["annotation_files"][0].parent, "coco/annotations")
    ds = dl.ingest_coco("s3://bucket/coco/images", "s3://bucket/coco/annotations/keypoints.json", tmp_path / "coco",
                        src_creds=creds, progressbar=False, num_workers=2)
    assert ds.images[2].tobytes() == (coco["images_directory"] / "2.jpg").read_bytes()
    assert ds.keypoints[1].numpy().shape == (6, 1)
    upload(yolo, "yolo/data")
    moto_s3.client.put_object(Bucket="bucket", Key="yolo/classes.names", Body=(tmp_path / "classes.names").read_bytes())
    ds = dl.ingest_yolo("s3://bucket/yolo/data", tmp_path / "yolo_ds", class_names_file="s3://bucket/yolo/classes.names",
                        src_creds=creds, progressbar=False)
    assert ds.labels.info.class_names == ["person", "car"] and ds.labels[0].numpy().tolist() == [0, 1]
    linked = dl.ingest_coco("s3://bucket/coco/images", "s3://bucket/coco/annotations/keypoints.json",
                            tmp_path / "linked", src_creds=creds, image_creds_key="bucket_key", progressbar=False,
                            image_params={"htype": "link[image]"})
    assert linked.get_creds_keys() == {"bucket_key"}
    np.testing.assert_array_equal(linked.images[0].numpy(), dl.load(tmp_path / "coco").images[0].numpy())
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"n": [1, 2, 3], "s": ["a", "b", "c"]}), sink)
    moto_s3.client.put_object(Bucket="bucket", Key="tables/t.parquet", Body=sink.getvalue().to_pybytes())
    table = dl.ingest_dataframe("s3://bucket/tables/t.parquet", tmp_path / "table", src_creds=creds, progressbar=False)
    assert table.n.numpy().ravel().tolist() == [1, 2, 3] and table.s.text() == ["a", "b", "c"]
    with pytest.raises(IngestionSourceNotFoundError, match="s3://bucket/tables/none.parquet"):
        dl.ingest_dataframe("s3://bucket/tables/none.parquet", tmp_path / "t2", src_creds=creds, progressbar=False)
    with pytest.raises(UnsupportedFeatureError, match="gs://bucket/t.parquet.*s3://"):
        dl.ingest_dataframe("gs://bucket/t.parquet", tmp_path / "t2", progressbar=False)
    assert not (tmp_path / "t2").exists()
    with pytest.raises(IngestionSourceNotFoundError, match="s3://bucket/nothing"):
        dl.ingest_coco("s3://bucket/nothing", "s3://bucket/coco/annotations/keypoints.json", tmp_path / "none",
                       src_creds=creds, progressbar=False)
    assert not (tmp_path / "none").exists()


def test_importing_deeplake_nb_loads_no_ingest_extras() -> None:
    import subprocess
    import sys

    code = ("import sys, deeplake_nb as dl; dl.ingest_coco, dl.Dataset.to_huggingface; "
            "print(sorted(m for m in ('pandas', 'datasets', 'pycocotools', 'kaggle') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
