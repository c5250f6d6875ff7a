"""Widget comms whose model state is not recorded as a cell's output by headless executors.

nbclient (``jupyter nbconvert --execute``, papermill, nbval) keeps the state of every widget model
whose ``comm_open`` (and state update) carries the parent header of the cell it is executing, and
saves it in the notebook's metadata. nbconvert's HTML exporter then renders each such widget
through ``@jupyter-widgets/html-manager`` fetched from a CDN, in place of the output's text/html;
offline the cell stays empty. Our widgets draw nothing without their kernel, so a stored model
buys an export nothing but that empty cell.

``unrecorded()`` is the contract: while it is active, widgets opened in an IPython kernel get an
``UnrecordedComm``, which publishes the messages that carry model state (``comm_open`` and
``comm_msg`` with a ``state``) with an empty parent header. Live front ends (JupyterLab, Notebook 7,
VS Code's renderer, Voila) dispatch comm messages by comm id whatever their parent, as they do for
widgets created from a callback or a thread, and show the widget as before; an executor that
keeps only its cell's messages never records the model, so the executed notebook holds no widget
state for it and its HTML export shows the text/html summary with nothing fetched from outside.
Custom messages (requests and replies) and ``comm_close`` keep the kernel's parent header.

Outside an IPython kernel (a plain interpreter, another kernel) nothing changes. Importing this
module imports neither ``comm`` nor ipykernel.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Iterator

_swap_lock = threading.RLock()


def records_state(msg_type: str, data: Any) -> bool:
    """Whether an executor that stores widget state keeps this message (nbclient: a comm message
    whose data has a ``state``)."""
    return msg_type in ("comm_open", "comm_msg") and isinstance(data, dict) and "state" in data


def in_ipykernel() -> bool:
    """True inside a running IPython kernel (where ``comm.create_comm`` makes ipykernel comms). A
    process that has not imported ipykernel runs no kernel: it is not imported here."""
    if "ipykernel.kernelbase" not in sys.modules:
        return False
    return sys.modules["ipykernel.kernelbase"].Kernel.initialized()


def _comm_class() -> type:
    from ipykernel.comm.comm import BaseComm
    from ipykernel.jsonutil import json_clean
    from ipykernel.kernelbase import Kernel

    class UnrecordedComm(BaseComm):
        """An ipykernel comm that publishes its state-carrying messages without a parent header."""

        def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                        buffers: Any = None, **keys: Any) -> None:
            if not records_state(msg_type, data) or not Kernel.initialized():
                return super().publish_msg(msg_type, data, metadata, buffers, **keys)
            if self.kernel is None:
                self.kernel = Kernel.instance()
            session = self.kernel.session
            if session is None:  # a kernel without a session cannot publish: the plain path
                return super().publish_msg(msg_type, data, metadata, buffers, **keys)
            content = json_clean(dict(data=data, comm_id=self.comm_id, **keys))
            session.send(self.kernel.iopub_socket, msg_type, content,
                                     metadata=json_clean({} if metadata is None else metadata),
                                     parent={}, ident=self.topic, buffers=buffers)
            return None

    return UnrecordedComm


_UNRECORDED: list[type] = []


def comm_class() -> type:
    """``UnrecordedComm`` (made on first use: importing this module does not import ipykernel)."""
    if not _UNRECORDED:
        _UNRECORDED.append(_comm_class())
    return _UNRECORDED[0]


@contextlib.contextmanager
def unrecorded() -> Iterator[None]:
    """Within this block, ``comm.create_comm`` (the hook the ``comm`` package offers kernels, which
    ipywidgets calls to open a widget's comm) makes ``UnrecordedComm``s; outside an IPython kernel
    it does nothing. Used around ``Widget.open`` only: the hook is put back on exit."""
    if not in_ipykernel():
        yield
        return
    import comm

    cls = comm_class()
    with _swap_lock:
        previous = comm.create_comm
        comm.create_comm = lambda *args, **kwargs: cls(*args, **kwargs)
        try:
            yield
        finally:
            comm.create_comm = previous
