"""The typed public API: methods higher packages implement are declared on ``Dataset`` (seen by
``inspect.signature`` and ``typing.get_type_hints``), provided through ``core.extensions``; the
higher packages reach datasets through ``core.internal``; lower layers never import higher ones;
``py.typed`` ships; ``_repr_html_`` of datasets, tensors and views."""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys
import typing

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.core import extensions, html_repr, internal
from deeplake_nb.errors import DatasetError

PACKAGE = pathlib.Path(dl.__file__).parent

# method -> (a parameter it must declare, the class its return annotation names, or None for Any)
DECLARED = {
    "query": ("seed", "deeplake_nb.query.view.View"),
    "filter": ("num_workers", "deeplake_nb.query.view.View"),
    "save_view": ("optimize", "builtins.str"),
    "get_views": ("commit_id", "builtins.list"),
    "get_view": ("id", "deeplake_nb.query.saved.ViewEntry"),
    "load_view": ("optimize", "deeplake_nb.query.view.View"),
    "delete_view": ("id", "builtins.NoneType"),
    "pytorch": ("batch_size", "deeplake_nb.loader.torch_loader.Loader"),
    "torch_dataset": ("num_threads", "deeplake_nb.loader.torch_loader.TorchDataset"),
    "dataloader": (None, "deeplake_nb.loader.builder.DataLoaderBuilder"),
    "numpy_batches": ("num_replicas", "deeplake_nb.loader.numpy_batches.NumpyBatches"),
    "jax": ("device", "deeplake_nb.loader.numpy_batches.NumpyBatches"),
    "tensorflow": ("fetch_chunks", None),
    "visualize": ("image_tensor", "deeplake_nb.ui.browser.DatasetBrowser"),
    "commit_graph": ("max_commits", "deeplake_nb.ui.commit_graph.CommitGraphWidget"),
    "to_huggingface": (None, None),
}


def _qualified(tp: typing.Any) -> str:
    tp = typing.get_origin(tp) or tp
    return f"{tp.__module__}.{tp.__qualname__}"


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_methods_are_declared_on_dataset_with_signatures_and_type_hints(name):
    method = getattr(dl.Dataset, name)
    assert method.__qualname__ == f"Extensions.{name}" and method.__doc__ and len(method.__doc__) > 40
    parameter, returns = DECLARED[name]
    signature = inspect.signature(method)
    assert next(iter(signature.parameters)) == "self"
    if parameter is not None:
        assert parameter in signature.parameters
    hints = typing.get_type_hints(method)  # evaluates every annotation; raises if one names nothing
    assert set(hints) >= {p for p in signature.parameters if p != "self"} | {"return"}
    if returns is None:
        assert hints["return"] is typing.Any
    else:
        assert _qualified(hints["return"]) == returns
    assert name in extensions.provided()


@pytest.mark.parametrize("name", ["create_vdb_index", "delete_vdb_index", "get_vdb_indexes", "fetch_vdb_indexes"])
def test_tensor_methods_of_the_query_package_are_declared_on_tensor(name):
    method = getattr(dl.Tensor, name)
    assert method.__qualname__ == f"TensorExtensions.{name}" and method.__doc__
    assert "return" in typing.get_type_hints(method)
    assert name == "fetch_vdb_indexes" or name in extensions.provided()


def test_v3_storage_is_a_declared_property():
    ds = dl.empty("mem://typing_storage")
    hints = typing.get_type_hints(dl.Dataset.storage.fget)
    assert _qualified(hints["return"]) == "deeplake_nb.core.storage.provider.StorageProvider"
    assert isinstance(ds.storage, hints["return"]) and "storage" in extensions.provided()


def test_is_view_is_a_dataset_property():
    ds = dl.empty("mem://typing_is_view")
    ds.create_tensor("x")
    ds.extend({"x": [1, 2, 3]})
    assert isinstance(inspect.getattr_static(dl.Dataset, "is_view"), property)
    assert (ds.is_view, ds[1:2].is_view, ds[["x"]].is_view) == (False, True, True)


def test_declared_methods_run_what_their_packages_provide():
    ds = dl.empty("mem://typing_calls")
    ds.create_tensor("x", htype="class_label")
    ds.extend({"x": [0, 1, 2, 1]})
    assert len(ds.query("SELECT * WHERE x == 1")) == 2
    assert len(ds.filter(lambda row: int(row.x.numpy()[0]) == 2)) == 1
    assert sum(len(b["x"]) for b in ds.numpy_batches(tensors=["x"], batch_size=3)) == 4
    assert type(ds.dataloader()).__name__ == "DataLoaderBuilder"


def test_provide_refuses_a_method_that_is_not_declared():
    with pytest.raises(DatasetError, match="declares"):
        extensions.provide(no_such_method=lambda ds: None)
    assert "no_such_method" not in extensions.provided()


def test_importing_the_package_loads_no_higher_dependency_and_hints_load_on_demand():
    code = ("import sys, typing, deeplake_nb as dl\n"
            "heavy = [m for m in ('torch', 'anywidget', 'tensorflow', 'jax') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert 'return' in typing.get_type_hints(dl.Dataset.query)\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- layering ----------------------------------------------------------------------------------------
LOWER = ("storage", "version", "format", "core")
HIGHER = ("query", "loader", "ui", "ingest", "gpu", "demo")


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, at any depth (lazy ones too), except
    those only made for type checkers (under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            out += [(node.lineno, m) for m in names]
    return out


def test_lower_layers_never_import_higher_ones():
    offences = []
    for layer in LOWER:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for line, module in _imports(path):
                parts = module.split(".")
                if parts[0] == "deeplake_nb" and len(parts) > 1 and parts[1] in HIGHER:
                    offences.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not offences, offences


def test_higher_layers_reach_datasets_through_the_internal_interface():
    """No ``ds._state`` / ``ds._repo`` / ``type(ds)(ds._state, ...)`` outside core."""
    offences = []
    for layer in HIGHER:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if "._state" in code.replace("_state_", "") or "._repo" in code.replace("._repository", ""):
                    offences.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not offences, offences


def test_internal_interface_round_trips_a_selection():
    ds = dl.empty("mem://typing_internal")
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.extend({"x": [1, 2, 3, 4], "y": [5, 6, 7, 8]})
    view = ds[[1, 3]][["y"]]
    shown = internal.selection(view)
    assert shown.columns == frozenset({"y"}) and shown.rows.tolist() == [1, 3]
    again = internal.over(internal.state(ds), *shown)
    assert list(again.tensors) == ["y"] and again.y.numpy().ravel().tolist() == [6, 8]
    assert internal.whole(view).index is None and list(internal.whole(view).tensors) == ["x", "y"]
    assert internal.repository(ds) is ds.zarr_store().repository
    assert len(internal.tensor_store(ds, "x")) == 4 and internal.tensor_meta(ds, "x").dtype == "int64"


# -- packaging -------------------------------------------------------------------------------------
def test_py_typed_marker_is_in_the_package():
    assert (PACKAGE / "py.typed").is_file()


# -- _repr_html_ -------------------------------------------------------------------------------------
@pytest.fixture
def shown():
    ds = dl.empty("mem://typing_html")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("vec", dtype="float32")
    ds.extend({"labels": [0, 1, 1], "images": [np.zeros((4, 5, 3), np.uint8), np.zeros((6, 5, 3), np.uint8),
                                                np.zeros((4, 5, 3), np.uint8)],
               "vec": np.zeros((3, 8), np.float32)})
    ds.commit("three rows")
    return ds


def test_dataset_and_tensor_html_are_tables_of_metadata(shown):
    page = shown._repr_html_()
    assert "<table>" in page and "<script" not in page.lower()
    assert "mem://typing_html" in page and shown.commit_id[:12] in page and "rows: <code>3</code>" in page
    for cell in ("class_label", "image", "png", "(3, 8)", "(3, ?, ?, ?)", "float32"):
        assert f">{cell}<" in page, cell
    assert "row selection" in shown[1:3]._repr_html_() and "rows: <code>2</code>" in shown[1:3]._repr_html_()
    tensor = shown.vec._repr_html_()
    assert "key: <code>vec</code>" in tensor and ">(3, 8)<" in tensor
    assert ">(8,)<" in shown.vec[2]._repr_html_()


def test_html_reads_no_sample(shown, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a sample or shape was read")

    from deeplake_nb.format import columns
    for cls in (columns.DenseColumn, columns.RaggedColumn, columns.AdaptiveColumn):
        for method in ("read", "take", "take_bytes", "shapes", "nbytes"):
            if hasattr(cls, method):
                monkeypatch.setattr(cls, method, refuse)
    assert "(3, ?, ?, ?)" in shown._repr_html_()


def test_html_escapes_every_value():
    page = html_repr.table("<T>", [("path", "<script>alert(1)</script>")], ["a&b"], [["<img src=x>"]])
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;img src=x&gt;" in page
    assert "<b>&lt;T&gt;</b>" in page and "a&amp;b" in page


def test_view_html_lists_stored_and_computed_columns(shown):
    view = shown.query("SELECT labels, vec, labels + 1 AS next WHERE labels == 'dog'")
    page = view._repr_html_()
    assert "<script" not in page.lower() and "rows: <code>2</code>" in page
    assert "labels == &#x27;dog&#x27;" in page  # the query, escaped
    assert ">class_label<" in page and ">tensor vec<" in page and ">= labels + 1<" in page


def test_html_lists_at_most_max_rows_tensors():
    ds = dl.empty("mem://typing_html_many")
    for i in range(html_repr.MAX_ROWS + 3):
        ds.create_tensor(f"t{i}")
    page = ds._repr_html_()
    assert page.count("<tr>") == html_repr.MAX_ROWS + 1 and "and 3 more" in page
