"""``@dl.compute`` / ``dl.compose``: Deep Lake v3 transforms (deeplake_nb.ingest)."""

from __future__ import annotations

import pickle
import threading
import time
import warnings

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import (ReadOnlyError, SampleError, TensorNotFoundError, TransformArgumentError,
                                TransformError, TransformSkippedWarning, UnsupportedFeatureError)
from deeplake_nb.ingest import evaluate

SCHEDULERS = [("serial", 0), ("threaded", 3), ("processed", 2)]


# -- compute functions at module level (pickled by reference; local ones travel by value) --------
@dl.compute
def square(x, out, scale=1):
    out.images.append(np.full((3, 4), x * scale, np.uint8))
    out.labels.append(x % 3)


@dl.compute
def twice(x, out):
    for k in range(2):
        out.append({"images": np.full((3, 4), x, np.uint8), "labels": k})


@dl.compute
def times(sample_in, out, mul):
    out.images.append(sample_in.images.numpy() * mul)
    out.labels.append(sample_in.labels.numpy())


@dl.compute
def fail_on(x, out, bad):
    if x in bad:
        raise ValueError(f"input {x} is bad")
    out.images.append(np.full((3, 4), x, np.uint8))
    out.labels.append(x % 3)


@dl.compute
def copy_rows(sample_in, out):
    out.images.append(sample_in.images)
    out.labels.append(sample_in.labels)


@dl.compute
def slow_in_reverse(x, out):
    time.sleep(0.002 * (20 - x))  # later inputs finish first
    out.labels.append(x)


@dl.compute
def mixed(item, out):
    out.labels.append(item["label"])
    out.text.append(item["text"])
    out.meta.append(item["meta"])


def make(path_or_url, **tensors) -> dl.Dataset:
    ds = dl.empty(path_or_url, overwrite=True)
    for name, kwargs in tensors.items():
        ds.create_tensor(name, **kwargs)
    return ds


def image_ds(path) -> dl.Dataset:
    return make(path, images={"dtype": "uint8"}, labels={"htype": "class_label"})


def contents(ds: dl.Dataset) -> dict:
    return {name: t.numpy(aslist=True) if name != "text" else t.data()["value"] for name, t in ds.tensors.items()}


# -- running ------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_schedulers_give_identical_datasets(tmp_path, scheduler, workers):
    ds = image_ds(tmp_path / "out")
    square(scale=2).eval(list(range(25)), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert len(ds) == 25
    np.testing.assert_array_equal(ds.images.numpy(), np.stack([np.full((3, 4), 2 * x, np.uint8) for x in range(25)]))
    np.testing.assert_array_equal(ds.labels.numpy().ravel(), [x % 3 for x in range(25)])
    reopened = dl.load(ds.path, read_only=True)
    np.testing.assert_array_equal(reopened.images.numpy(), ds.images.numpy())


@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_text_json_and_class_names_land_in_input_order(tmp_path, scheduler, workers):
    ds = make(tmp_path / "out", labels={"htype": "class_label"}, text={"htype": "text"}, meta={"htype": "json"})
    items = [{"label": ["car", "ship", "train"][i % 3] if i else "train", "text": f"t{i}", "meta": {"i": i}}
             for i in range(12)]
    mixed().eval(items, ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert ds.labels.info.class_names == ["train", "ship", "car"]  # first seen first, as appends would
    assert ds.text.data()["value"] == [f"t{i}" for i in range(12)]
    assert ds.meta.data()["value"] == [{"i": i} for i in range(12)]
    assert ds.labels.data()["text"] == [[item["label"]] for item in items]


@pytest.mark.parametrize("start,stop,workers", [(0, 2000, 2), (7, 1007, 3), (0, 100, 2), (0, 2000, 1), (5, 6, 4),
                                                (0, 3, 2)])
def test_shares_shrink_as_the_work_runs_out(start, stop, workers):
    bounds = evaluate.shares(start, stop, workers)
    assert bounds[0][0] == start and bounds[-1][1] == stop
    assert all(a < b for a, b in bounds) and all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))
    sizes = [b - a for a, b in bounds]
    assert sizes == sorted(sizes, reverse=True)
    n = stop - start
    assert sizes[0] <= max(1, -(-n // (evaluate.MOST_PER_WORKER * workers)))
    assert sizes[-1] <= max(1, -(-n // (evaluate.LEAST_PER_WORKER * workers)))
    if n >= 1000:  # fewer shares than 16 equal ones a worker, and a last one a third of theirs or less
        assert len(bounds) < 16 * workers and 3 * sizes[-1] <= n / (16 * workers)


def test_pool_jobs_follow_the_shares(tmp_path):
    ds = image_ds(tmp_path / "out")
    seen = []

    class Recording(evaluate.schedulers.Threaded):
        def run(self, jobs, tick):
            seen.extend((job.start, job.stop) for job in jobs)
            return super().run(jobs, tick)

    evaluate.schedulers.register("recording", Recording)
    try:
        square().eval(list(range(250)), ds, num_workers=2, scheduler="recording", progressbar=False)
    finally:
        del evaluate.schedulers.SCHEDULERS["recording"]
    assert seen == evaluate.shares(0, 250, 2)
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], list(range(250)))


def test_threaded_results_keep_input_order(tmp_path):
    ds = make(tmp_path / "out", labels={})
    slow_in_reverse().eval(list(range(20)), ds, num_workers=4, scheduler="threaded", progressbar=False)
    assert ds.labels.numpy().ravel().tolist() == list(range(20))


def test_kwargs_positional_args_and_return_value_ignored(ds):
    ds.create_tensor("x")

    @dl.compute
    def shift(item, out, offset, factor=1):
        out.x.append(item * factor + offset)
        return out  # ignored

    shift(100, factor=3).eval([1, 2], ds, progressbar=False)
    assert ds.x.numpy().ravel().tolist() == [103, 106]
    with pytest.raises(TransformArgumentError, match="do not fit"):
        shift(1, 2, 3)  # one argument too many, refused when bound
    with pytest.raises(TransformArgumentError):
        shift(offset=1, scale=2)


def test_compose_feeds_every_row_to_the_next_function(tmp_path):
    ds = image_ds(tmp_path / "out")
    pipeline = dl.compose([twice(), times(mul=3)])
    assert len(pipeline) == 2
    pipeline.eval([1, 2, 3], ds, num_workers=2, progressbar=False)
    assert len(ds) == 6
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], [3, 3, 6, 6, 9, 9])
    np.testing.assert_array_equal(ds.labels.numpy().ravel(), [0, 1] * 3)
    assert evaluate.description(pipeline.functions) == "Evaluating [twice, times]"
    assert evaluate.description([square()]) == "Evaluating square"


def test_compose_refuses_what_is_not_a_called_compute_function():
    with pytest.raises(TransformArgumentError, match="at least one"):
        dl.compose([])
    with pytest.raises(TransformArgumentError, match=r"call it with its arguments: square\(\)"):
        dl.compose([square])
    with pytest.raises(TransformArgumentError):
        dl.compose([lambda a, b: None])
    with pytest.raises(ValueError):  # TransformArgumentError is also a ValueError
        dl.compose(square())


def test_sample_out_append_extend_and_append_empty(ds):
    ds.create_tensor("a")
    ds.create_tensor("b")

    @dl.compute
    def rows(item, out):
        out.append({"a": item, "b": -item})
        out.extend({"a": [item, item], "b": [0, 1]})
        out.append({"a": 7}, append_empty=True)

    rows().eval([1, 2], ds, progressbar=False)
    assert ds.a.numpy(aslist=True)[:4] == [1, 1, 1, 7]
    assert len(ds.a) == len(ds.b) == 8
    assert ds.b[3].numpy().size == 0  # the empty sample append_empty wrote
    assert ds.a.sample_ids.tolist() == ds.b.sample_ids.tolist()  # one input's rows share ids


@dl.compute
def read_file(path, out):
    out.images.append(dl.read(path))


@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_files_read_in_workers_and_a_missing_one_fails_its_input(tmp_path, jpeg_file, scheduler, workers):
    ds = make(tmp_path / "out", images={"htype": "image", "sample_compression": "jpeg"})
    files = [jpeg_file(f"{i}.jpg", 10, 12, seed=i) for i in range(5)]
    paths = [f[0] for f in files]
    paths.insert(3, str(tmp_path / "missing.jpg"))
    with pytest.raises(TransformError) as info:
        read_file().eval(paths, ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert info.value.index == 3 and len(ds) == 0
    fn = read_file()
    with pytest.warns(TransformSkippedWarning):
        fn.eval(paths, ds, num_workers=workers, scheduler=scheduler, ignore_errors=True, progressbar=False)
    assert list(fn.skipped) == [3]
    assert [ds.images[i].tobytes() for i in range(5)] == [f[1] for f in files]  # stored as read


@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_headers_read_in_workers_come_back_and_a_corrupt_file_is_refused_at_landing(tmp_path, jpeg_file,
                                                                                    scheduler, workers):
    """Workers read each ``dl.read`` file's header, which comes back with the sample (landing,
    alone after the workers, does not read it again); a file whose header does not read still
    fails at landing, naming its input."""
    from deeplake_nb.ingest import worker

    files = [jpeg_file(f"{i}.jpg", 10, 12 + i, seed=i) for i in range(4)]
    job = worker.Job((read_file(),), [f[0] for f in files], 0, 0, 4, ("images",), frozenset(), False, portable=True)
    back = pickle.loads(pickle.dumps(worker.run_share(job)))
    assert [out["images"][0]._header.shape for _, out in back.outputs] == [(10, 12 + i, 3) for i in range(4)]
    with open(files[2][0], "wb") as f:
        f.write(files[2][1][: len(files[2][1]) // 2])  # truncated
    ds = make(tmp_path / "out", images={"htype": "image", "sample_compression": "jpeg"})
    with pytest.raises(TransformError, match="input 2 of data_in") as info:
        read_file().eval([f[0] for f in files], ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert "truncated" in str(info.value) and len(ds) == 0


def test_sample_out_mistakes_fail_with_the_input_index(ds, unchanged):
    ds.create_tensor("a")
    ds.create_tensor("b")
    check = unchanged(ds)
    cases = {
        "unknown": lambda item, out: out.nope.append(1),
        "not a dict": lambda item, out: out.append([1, 2]),
        "uneven": lambda item, out: (out.a.append(1), out.a.append(2), out.b.append(3)),
        "update": lambda item, out: out.update({"a": 1}),
    }
    for case, body in cases.items():
        fn = dl.compute(body, name=case)
        with pytest.raises(TransformError) as info:
            fn().eval([5, 6], ds, progressbar=False)
        assert info.value.index == 0 and info.value.sample == 5, case
    with pytest.raises(TransformError) as info:
        dl.compute(cases["unknown"])().eval([5], ds, progressbar=False)
    assert isinstance(info.value.__cause__, TensorNotFoundError)
    check()


def test_groups_nested_tensor_names(ds):
    ds.create_tensor("stuff/x/y/image")
    ds.create_tensor("stuff/x/y/label")

    @dl.compute
    def nested(item, out):
        out.x["y"].image.append(np.full((2,), item))
        out.x.y["label"].append(item)
        assert sorted(out.x.tensors) == ["y/image", "y/label"]

    nested().eval([1, 2, 3], ds.stuff, num_workers=2, progressbar=False)
    assert ds.stuff.x.y.label.numpy().ravel().tolist() == [1, 2, 3]
    assert len(ds["stuff/x/y/image"]) == 3


# -- data_in a dataset --------------------------------------------------------------------------
@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_data_in_a_dataset_view(tmp_path, jpeg_file, scheduler, workers):
    src = make(tmp_path / "src", images={"htype": "image", "sample_compression": "jpeg"},
               labels={"htype": "class_label"})
    files = [jpeg_file(f"{i}.jpg", 16 + i, 20, seed=i) for i in range(6)]
    with src:
        for i, (path, _, _) in enumerate(files):
            src.append({"images": dl.read(path), "labels": ["cat", "dog"][i % 2]})
    out = make(tmp_path / "out", images={"htype": "image", "sample_compression": "jpeg"},
               labels={"htype": "class_label"})
    copy_rows().eval(src[1:5], out, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert len(out) == 4
    for i in range(4):
        source, copied = src.images[i + 1].numpy().astype(int), out.images[i].numpy().astype(int)
        assert copied.shape == source.shape and np.abs(copied - source).mean() < 3  # JPEG encoded again
    assert out.labels.data()["text"] == [["dog"], ["cat"], ["dog"], ["cat"]]


def test_data_in_buffered_in_a_with_block_is_read_by_threads(tmp_path):
    src = image_ds(tmp_path / "src")
    out = image_ds(tmp_path / "out")
    with src:
        square().eval(list(range(10)), src, progressbar=False)
        src.images.append(np.full((3, 4), 50, np.uint8))  # buffered, not yet written
        src.labels.append(1)
        times(mul=2).eval(src, out, num_workers=3, scheduler="threaded", progressbar=False)
    assert len(out) == 11
    assert out.images[10].numpy()[0, 0] == 100


def test_group_of_dataset_as_data_in_and_column_view(ds):
    ds.create_tensor("g/images", dtype="uint8")
    ds.create_tensor("g/labels")
    ds.create_tensor("text", htype="text")
    ds.create_tensor("text2", htype="text")
    with ds:
        ds.g.images.extend(np.arange(12, dtype=np.uint8).reshape(4, 3))
        ds.g.labels.extend([0, 1, 2, 3])
        ds.text.extend(["a", "b", "c"])

    @dl.compute
    def upper(sample_in, out):
        out.text2.append(sample_in.text.text().upper())

    upper().eval(ds[["text"]], ds, num_workers=2, check_lengths=False, progressbar=False)
    assert ds.text2.data()["value"] == ["A", "B", "C"]
    times(mul=2).eval(ds.g, ds.g, num_workers=2, check_lengths=False, progressbar=False)
    assert ds.g.labels.numpy().ravel().tolist() == [0, 1, 2, 3] * 2


def test_in_place_replaces_the_tensors_written(ds):
    ds.create_tensor("images", dtype="uint8")
    ds.create_tensor("labels")
    ds.create_tensor("unused")
    with ds:
        ds.images.extend(np.ones((5, 3, 4), np.uint8))
        ds.labels.extend([0, 1, 2, 3, 4])
        ds.unused.extend([9] * 5)

    @dl.compute
    def double_rows(sample_in, out):
        for mul in (2, 3):
            out.images.append(sample_in.images.numpy() * mul)
            out.labels.append(sample_in.labels)

    double_rows().eval(ds, num_workers=2, skip_ok=True, progressbar=False)
    assert len(ds.images) == len(ds.labels) == 10
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], [2, 3] * 5)
    assert ds.labels.numpy().ravel().tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert ds.unused.numpy().ravel().tolist() == [9] * 5  # not written: as it was
    reopened = dl.load(ds.path, read_only=True)
    assert len(reopened.images) == 10


def test_in_place_needs_a_dataset_and_no_checkpoints(ds):
    ds.create_tensor("labels")
    ds.labels.extend([1, 2])
    with pytest.raises(TransformArgumentError, match="ds_out"):
        square().eval([1, 2], progressbar=False)
    with pytest.raises(TransformArgumentError, match="checkpoint_interval"):
        copy_rows().eval(ds, checkpoint_interval=1, progressbar=False)
    with pytest.raises(TransformArgumentError, match="row view"):
        copy_rows().eval(ds[0:1], progressbar=False)


def test_read_only_ok_reads_without_writing(ds):
    ds.create_tensor("labels")
    ds.labels.extend(list(range(10)))
    read_only = dl.load(ds.path, read_only=True)
    seen = []

    @dl.compute
    def collect(sample_in, out, into):
        into.append(int(sample_in.labels.numpy()[0]))

    collect(into=seen).eval(read_only, num_workers=2, read_only_ok=True, progressbar=False)
    assert sorted(seen) == list(range(10))
    with pytest.raises(ReadOnlyError):
        collect(into=seen).eval(read_only, progressbar=False)


# -- failures -----------------------------------------------------------------------------------
@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_a_failing_input_lands_nothing(tmp_path, unchanged, scheduler, workers):
    ds = image_ds(tmp_path / "out")
    square().eval([1, 2], ds, progressbar=False)
    check = unchanged(ds)
    with pytest.raises(TransformError) as info:
        fail_on(bad={13, 21}).eval(list(range(30)), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    err = info.value
    assert (err.index, err.sample, err.samples_processed) == (13, 13, 0)  # the first failing input
    assert isinstance(err.__cause__, ValueError) and "input 13 is bad" in str(err)
    assert "left as it was" in str(err)
    check()


def test_refused_output_lands_nothing_and_names_the_input(ds, unchanged):
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label")
    ds.append({"images": np.zeros((4, 4, 3), np.uint8), "labels": 0})
    check = unchanged(ds)

    @dl.compute
    def upload(item, out):
        out.append({"images": item, "labels": 1})

    items = [np.zeros((4, 4, 3), np.uint8)] * 5 + ["not an image"] + [np.zeros((4, 4, 3), np.uint8)] * 3
    for workers in (0, 2):
        with pytest.raises(TransformError, match="refused what input 5") as info:
            upload().eval(items, ds, num_workers=workers, progressbar=False)
        assert info.value.index == 5
    check()


def test_clash_found_only_in_combination_names_the_input(ds, unchanged):
    ds.create_tensor("x")  # no dtype yet: the first value fixes it (uint8); a float one is refused after it
    check = unchanged(ds)
    items = [np.zeros(3, np.uint8), np.zeros(3, np.uint8), np.full(3, 1.5), np.zeros(3, np.uint8), np.full(2, 0.5)]

    @dl.compute
    def put(item, out):
        out.x.append(item)

    with pytest.raises(TransformError) as info:
        put().eval(items, ds, progressbar=False)  # each input alone would be taken
    assert info.value.index == 2
    check()
    fn = put()
    with pytest.warns(TransformSkippedWarning):
        fn.eval(items, ds, ignore_errors=True, progressbar=False)
    assert sorted(fn.skipped) == [2, 4] and ds.x.dtype == np.uint8 and len(ds.x) == 3


def test_missing_tensors_need_skip_ok(tmp_path, unchanged):
    ds = make(tmp_path / "out", images={}, labels={}, unused={})
    check = unchanged(ds)
    with pytest.raises(TransformError, match=r"no values to the tensors \['unused'\]"):
        square().eval([1, 2], ds, progressbar=False)
    check()
    square().eval([1, 2], ds, skip_ok=True, progressbar=False)
    assert (len(ds.images), len(ds.unused)) == (2, 0)


def test_check_lengths(ds):
    ds.create_tensor("images")
    ds.create_tensor("labels")
    ds.labels.append(1)
    with pytest.raises(TransformArgumentError, match="check_lengths=False"):
        square().eval([1], ds, progressbar=False)
    square().eval([1], ds, check_lengths=False, progressbar=False)
    assert (len(ds.images), len(ds.labels)) == (1, 2)


def test_argument_errors(tmp_path, mem_url):
    ds = image_ds(tmp_path / "out")
    with pytest.raises(TransformArgumentError, match="Unknown scheduler"):
        square().eval([1], ds, num_workers=2, scheduler="gpu")
    with pytest.raises(TransformArgumentError, match="len"):
        square().eval(iter([1, 2]), ds)
    with pytest.raises(TransformArgumentError, match="num_workers"):
        square().eval([1], ds, num_workers=-1)
    with pytest.raises(TransformArgumentError, match="unknown options"):
        square().eval([1], ds, progress=False)
    with pytest.raises(TransformArgumentError, match="row view"):
        square().eval([1], ds[0:0])

    @dl.compute
    def holding(item, out, lock):
        with lock:
            out.labels.append(item)

    with pytest.raises(TransformArgumentError, match="cannot be pickled.*scheduler='threaded'"):
        holding(threading.Lock()).eval([1, 2], ds, num_workers=2, scheduler="processed", skip_ok=True,
                                       progressbar=False)
    assert len(ds) == 0
    in_memory = image_ds(mem_url)
    in_memory.append({"images": np.zeros((3, 4), np.uint8), "labels": 0})
    with pytest.raises(TransformArgumentError, match="in memory"):
        copy_rows().eval(in_memory, ds, num_workers=2, scheduler="processed", progressbar=False)
    copy_rows().eval(in_memory, ds, num_workers=2, scheduler="threaded", progressbar=False)  # threads can
    assert len(ds) == 1
    square().eval([3], in_memory, num_workers=2, scheduler="processed", progressbar=False)  # ds_out stays here
    assert len(in_memory) == 2


@dl.compute
def unpicklable_output(x, out):
    out.labels.append(lambda: x)


def test_processed_outputs_that_cannot_come_back(ds, unchanged):
    ds.create_tensor("labels")
    check = unchanged(ds)
    with pytest.raises(TransformError, match="must be picklable"):
        unpicklable_output().eval([1, 2], ds, num_workers=2, scheduler="processed", progressbar=False)
    check()


def test_v3_options_accepted_and_pad_data_in_refused_when_it_would_pad(ds):
    ds.create_tensor("images")
    ds.create_tensor("labels")
    square().eval([1], ds, cache_size=64, verbose=False, disable_rechunk=True, pad_data_in=True, progressbar=False)
    assert len(ds) == 1
    ds.labels.append(5)
    out = make("mem://", images={}, labels={})
    with pytest.raises(UnsupportedFeatureError, match="pad_data_in"):
        copy_rows().eval(ds, out, pad_data_in=True, progressbar=False)
    copy_rows().eval(ds, out, progressbar=False)  # without padding: the rows every tensor has
    assert len(out) == 1


def test_processed_runs_local_functions_and_lambdas(tmp_path):
    ds = image_ds(tmp_path / "out")
    offset = 10  # a closure's value travels with the function

    @dl.compute
    def local(x, out, scale):
        out.images.append(np.full((3, 4), x * scale + offset, np.uint8))
        out.labels.append(x % 3)

    shift = dl.compute(lambda x, out: (out.images.append(np.full((3, 4), x + 1, np.uint8)),
                                       out.labels.append(x % 3)))
    local(2).eval([0, 1, 2, 3], ds, num_workers=2, scheduler="processed", progressbar=False)
    shift().eval([5, 6], ds, num_workers=2, scheduler="processed", progressbar=False)
    assert [int(v) for v in ds.images.numpy()[:, 0, 0]] == [10, 12, 14, 16, 6, 7]
    assert ds.labels.numpy().ravel().tolist() == [0, 1, 2, 0, 2, 0]

    @dl.compute
    def again(sample_in, out):  # the second of a pipeline gets every row the first wrote
        out.images.append(sample_in.images.numpy() + 100)
        out.labels.append(sample_in.labels.numpy())

    dl.compose([local(1), again()]).eval([7], ds, num_workers=2, scheduler="processed", progressbar=False)
    assert int(ds.images[-1].numpy()[0, 0]) == 117


def test_compute_functions_pickle_by_reference():
    fn = pickle.loads(pickle.dumps(square(scale=3)))
    assert (fn.name, fn.args, fn.kwargs) == ("square", (), {"scale": 3})
    assert fn.func is square.fn


# -- checkpoints and ignore_errors --------------------------------------------------------------
@pytest.mark.parametrize("scheduler,workers", [("serial", 0), ("threaded", 2)])
def test_checkpoints_land_partial_work_and_resume(tmp_path, scheduler, workers):
    ds = image_ds(tmp_path / "out")
    data = list(range(50))
    with pytest.raises(TransformError) as info:
        fail_on(bad={23}).eval(data, ds, num_workers=workers, scheduler=scheduler, checkpoint_interval=10,
                               progressbar=False)
    err = info.value
    assert (err.index, err.samples_processed) == (23, 20)
    assert "resume with data_in[20:]" in str(err)
    assert len(dl.load(ds.path, read_only=True)) == 20  # published
    fail_on(bad=set()).eval(data[20:], ds, num_workers=workers, scheduler=scheduler, checkpoint_interval=10,
                            progressbar=False)
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], data)


def test_one_publish_per_landing(tmp_path, monkeypatch):
    ds = image_ds(tmp_path / "out")
    repo = ds._state.zarr_store.repository
    entries = []
    write = repo.write_branch_state
    monkeypatch.setattr(repo, "write_branch_state", lambda *a, **k: entries.append(1) or write(*a, **k))
    square().eval(list(range(30)), ds, num_workers=3, progressbar=False)
    assert len(entries) == 1
    square().eval(list(range(30)), ds, num_workers=3, checkpoint_interval=10, progressbar=False)
    assert len(entries) == 4


@pytest.mark.parametrize("scheduler,workers", SCHEDULERS)
def test_ignore_errors_skips_and_records_failing_inputs(tmp_path, scheduler, workers):
    ds = make(tmp_path / "out", images={"htype": "image", "sample_compression": "png"})

    @dl.compute
    def upload(item, out):
        out.images.append(item)

    good = np.zeros((4, 4, 3), np.uint8)
    items = [good, "bad", good, good, "bad", good]
    pipeline = dl.compose([fail_on(bad={2, 7})]) if scheduler == "processed" else None
    if pipeline is None:
        fn = upload()
        with pytest.warns(TransformSkippedWarning, match="skipped 2 of 6"):
            fn.eval(items, ds, num_workers=workers, scheduler=scheduler, ignore_errors=True, progressbar=False)
        assert sorted(fn.skipped) == [1, 4] and len(ds) == 4
    else:
        ds = image_ds(tmp_path / "out2")
        with pytest.warns(TransformSkippedWarning):
            pipeline.eval(list(range(10)), ds, num_workers=workers, scheduler=scheduler, ignore_errors=True,
                          progressbar=False)
        assert sorted(pipeline.skipped) == [2, 7]
        assert isinstance(pipeline.skipped[2], ValueError)
        np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], [0, 1, 3, 4, 5, 6, 8, 9])


def test_ignore_errors_skips_function_errors_and_refused_outputs_together(ds):
    ds.create_tensor("x", htype="class_label", dtype="uint8")

    @dl.compute
    def put(item, out):
        if item is None:
            raise KeyError("none")
        out.x.append(item)

    fn = put()
    with pytest.warns(TransformSkippedWarning):
        fn.eval([1, None, 2, 300, 3, -1], ds, ignore_errors=True, progressbar=False)
    assert sorted(fn.skipped) == [1, 3, 5]
    assert ds.x.numpy().ravel().tolist() == [1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn.eval([4], ds, ignore_errors=True, progressbar=False)  # nothing skipped: no warning
    assert fn.skipped == {}


def test_every_input_skipped_is_an_error(ds, unchanged):
    ds.create_tensor("images")
    ds.create_tensor("labels")
    check = unchanged(ds)
    with pytest.raises(TransformError, match="Every input"):
        fail_on(bad={0, 1, 2}).eval([0, 1, 2], ds, ignore_errors=True, progressbar=False)
    check()


def test_progressbar(ds, capsys):
    ds.create_tensor("images")
    ds.create_tensor("labels")
    square().eval(list(range(5)), ds, num_workers=2, progressbar=True)
    assert "Evaluating square" in capsys.readouterr().err
    square().eval(list(range(5)), ds, num_workers=2, progressbar=False)
    assert "Evaluating" not in capsys.readouterr().err


def test_transform_inside_with_block_lands_at_its_end(ds):
    ds.create_tensor("images")
    ds.create_tensor("labels")
    with ds:
        square().eval(list(range(4)), ds, num_workers=2, progressbar=False)
        assert len(ds) == 4
        assert len(dl.load(ds.path, read_only=True)) == 0  # the block publishes
    assert len(dl.load(ds.path, read_only=True)) == 4


def test_transform_dataset_reads_for_pipelines():
    from deeplake_nb.ingest import TransformDataset

    out = TransformDataset(["a", "g/b"])
    out.a.extend(np.arange(6).reshape(3, 2))
    out.g.b.extend(["x", "y", "z"])
    assert len(out) == 3
    row = out[1]
    np.testing.assert_array_equal(row.a.numpy(), [2, 3])
    assert row.g.b.text() == "y"
    assert out.a[0:2].numpy().shape == (2, 2)
    assert out["g/b"].data()["value"] == ["x", "y", "z"]
    other = TransformDataset(["a"])
    other.a.append(row.a)  # a row of an output stands for its value
    np.testing.assert_array_equal(other.a.numpy(), [[2, 3]])
    with pytest.raises(SampleError, match="whole output tensor"):
        row.a.append(1)
    with pytest.raises(TensorNotFoundError):
        out.c


def test_processed_reads_a_dataset_on_an_object_store(tmp_path, moto_s3):
    """Workers of a dataset on s3:// are not forked from this process (obstore ran here) and
    reopen it with the storage options (credentials, endpoint) it was opened with."""
    src = dl.empty("s3://bucket/compute/src", overwrite=True, storage_options=moto_s3.options)
    src.create_tensor("images", dtype="uint8")
    src.create_tensor("labels", htype="class_label")
    with src:
        for i in range(6):
            src.append({"images": np.full((3, 4), i, np.uint8), "labels": i % 3})
    out = image_ds(tmp_path / "out")
    times(2).eval(src[1:5], out, num_workers=2, scheduler="processed", progressbar=False)
    assert [int(v) for v in out.images.numpy()[:, 0, 0]] == [2, 4, 6, 8]
    assert out.labels.numpy().ravel().tolist() == [1, 2, 0, 1]
