"""The fallback: a text and HTML summary of what a widget shows, for places where no widget front
end runs (nbconvert exports, a plain terminal, a notebook opened without its kernel).

Both come out of the widget's mimebundle (``text/plain`` and ``text/html`` beside the widget view),
so a front end that renders widgets shows the widget and any other shows the summary. They read
little: tensor metadata and the first ``PREVIEW_ROWS`` rows of labels (``PREVIEW_LABELS`` names
each), text and picture shapes;
a failure to read shows up as a note, never as an exception from a repr. The HTML also carries a
strip of the first ``STRIP_COUNT`` pictures as small inline JPEG/PNG ``data:`` URIs (nothing is
fetched from anywhere), each at most ``STRIP_SIDE`` pixels and ``STRIP_BYTES`` bytes.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np
import traitlets as t

from . import kernel_comm, thumbnails
from . import overlays as ov
from .source import READ_ERRORS, SampleSource, read_picture

PREVIEW_ROWS = 5
PREVIEW_LABELS = 8
STRIP_COUNT = 8
STRIP_SIDE = 64
STRIP_BYTES = 6 << 10
HINT = ("Interactive browser: run this notebook in JupyterLab, Notebook 7 or VS Code "
        "(with anywidget installed) to page through thumbnails.")


def header(source: SampleSource, title: str) -> str:
    ds = source.dataset
    path = getattr(ds, "path", "")
    index = getattr(ds, "index", None)
    where = f" (a view of {len(index)} rows)" if index is not None else ""
    return f"{title}: {path!r}, {len(source)} samples{where}"


def preview(source: SampleSource, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """Column names and up to ``rows`` rows of short cells: index, picture shape, labels, text."""
    n = min(rows, len(source))
    columns, cells = ["index"], [[str(i) for i in source.indices(0, n)]]
    if n:
        head = source.dataset[0:n]
        for info in source.tensors():
            name, role = info["name"], info["role"]
            if role not in ("image", "label", "text"):
                continue
            tensor = head[name]
            try:
                if role == "image":
                    values = ["x".join(str(int(d)) for d in shape) for shape in np.asarray(tensor.shapes())]
                elif role == "label":
                    names = list(tensor.meta.info.get("class_names", []))
                    values = [_label_cell(ids, names) for ids in tensor.numpy(aslist=True)]
                else:
                    values = [ov.short_text(str(t))[:60] for t in tensor.data()["value"]]
            except READ_ERRORS as exc:
                values = [f"<unreadable: {exc}>"[:60]] * n
            columns.append(name)
            cells.append(values)
    return columns, [list(row) for row in zip(*cells)]


def _label_cell(ids: Any, names: list[str]) -> str:
    """The first ``PREVIEW_LABELS`` class names of one sample, and how many there are in all."""
    flat = np.ravel(ids)
    text = ", ".join(ov.label_names(flat[:PREVIEW_LABELS], names))
    return text if flat.size <= PREVIEW_LABELS else f"{text}, … ({flat.size:,} in all)"


def summary_text(source: SampleSource, title: str = "Dataset browser") -> str:
    lines = [header(source, title)]
    tensors = source.tensors()
    if tensors:
        table = [("tensor", "htype", "dtype", "compression")] + [
            (t["name"], t["htype"], t["dtype"], str(t["compression"])) for t in tensors]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
    else:
        lines.append("  (no tensors)")
    columns, rows = preview(source)
    if rows:
        lines.append("first samples:")
        lines += ["  " + " | ".join(f"{c}={v}" for c, v in zip(columns, row)) for row in rows]
    lines.append(HINT)
    return "\n".join(lines)


def thumbnail_strip(source: SampleSource, image: str, count: int = STRIP_COUNT) -> str:
    """``<img>`` tags with ``data:`` URIs of the first ``count`` pictures of tensor ``image`` ('' when
    there is none, or no picture can be read)."""
    if not image or image not in source.names("image"):
        return ""
    rows = source.dataset[0:min(count, len(source))]
    tags = []
    for j in range(len(rows)):
        try:
            stored, pixels = read_picture(rows[image][j])
            pic = thumbnails.picture(stored, None if pixels is None else (lambda p=pixels: p), STRIP_SIDE,
                                     STRIP_BYTES, STRIP_SIDE)
        except READ_ERRORS:
            continue
        uri = f"data:{pic.mime};base64,{base64.b64encode(pic.data).decode('ascii')}"
        tags.append(f"<img src='{uri}' width='{pic.width}' height='{pic.height}' alt='sample {j}' "
                    "style='margin:0 4px 4px 0;vertical-align:top'>")
    return f"<div class='dlnb-strip'>{''.join(tags)}</div>" if tags else ""


def summary_html(source: SampleSource, title: str = "Dataset browser", image: str = "") -> str:
    esc = html.escape
    tensors = "".join(
        f"<tr><td><b>{esc(t['name'])}</b></td><td>{esc(t['htype'])}</td><td>{esc(t['dtype'])}</td>"
        f"<td>{esc(str(t['compression']))}</td></tr>" for t in source.tensors())
    columns, rows = preview(source)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    sample_table = (f"<p style='margin:6px 0 2px'>First samples</p><table><thead><tr>{head}</tr></thead>"
                    f"<tbody>{body}</tbody></table>") if rows else ""
    return (f"<div class='dlnb-summary'><p style='margin:0 0 4px'><b>{esc(header(source, title))}</b></p>"
            f"{thumbnail_strip(source, image)}"
            "<table><thead><tr><th>tensor</th><th>htype</th><th>dtype</th><th>compression</th></tr></thead>"
            f"<tbody>{tensors}</tbody></table>{sample_table}"
            f"<p style='margin:6px 0 0;color:#666'><i>{esc(HINT)}</i></p></div>")


FALLBACK_MARK = "deeplake_nb"
"""Display metadata key marking a widget output whose summary stands in where its model is gone:
``{"deeplake_nb": {"fallback": "text/html"}}``, read by the JupyterLab / Notebook 7 extension in
``widgets/labextension`` (installed as ``share/jupyter/labextensions/deeplake-nb``)."""


class SummaryRepr(t.HasTraits):
    """Mixin for anywidget classes: the widget view plus ``_summary_parts()`` (text, HTML) in the
    mimebundle, for front ends without widgets. A failing summary keeps anywidget's plain text.

    The display metadata carries ``FALLBACK_MARK``: JupyterLab always prefers the widget view of a
    trusted notebook, and where its model is gone (the notebook reopened on a fresh kernel) our
    extension shows the text/html summary in place of ipywidgets' "model not found".

    The widget's comm is opened with ``kernel_comm.unrecorded()``: a headless executor (nbclient,
    so ``jupyter nbconvert --execute --to html`` with its defaults) stores no state for the model,
    and the export shows the text/html summary instead of a widget view loaded from a CDN.

    Each display also sets the synced ``_summary_html`` to that summary, so that a widget state
    saved by a front end carries it: a model restored from the state with no kernel behind it
    (JupyterLab's "Save Widget State Automatically") shows it when its requests go unanswered
    (``summaryWithoutKernel`` in ``widgets/grid.js``)."""

    _summary_html = t.Unicode("", read_only=True).tag(sync=True)

    def open(self) -> None:
        """Open the widget's comm so that executors do not record its state (``kernel_comm``)."""
        with kernel_comm.unrecorded():
            super().open()  # type: ignore[misc]

    def _summary_parts(self) -> tuple[str, str]:
        raise NotImplementedError

    def summary_text(self) -> str:
        """The text summary a front end without widgets shows."""
        return self._summary_parts()[0]

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if bundle is None:
            return None
        data, metadata = bundle
        try:
            data["text/plain"], data["text/html"] = self._summary_parts()
        except Exception:  # a repr must not raise
            self.log.exception("deeplake_nb widget summary failed")  # type: ignore[attr-defined]
            return data, metadata
        self.set_trait("_summary_html", data["text/html"])
        return data, {**(metadata or {}), FALLBACK_MARK: {"fallback": "text/html"}}
