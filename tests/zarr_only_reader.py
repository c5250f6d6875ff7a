"""Read a ``dl.export_zarr`` hierarchy with zarr and NumPy only, from its documented layout
(``deeplake_nb/core/export.py``), and print every tensor's samples as JSON. Run by
tests/test_export_zarr.py in processes where deeplake_nb cannot be imported (a fresh virtualenv
holding only zarr, or ``sys.modules["deeplake_nb"] = None``).

    python zarr_only_reader.py EXPORT_PATH

Each sample becomes: nested lists (raw arrays), {"sha256": ...} (encoded images), a str (text,
URLs), the parsed value (JSON), a list of those (sequences, polygons).
"""

import hashlib
import json
import sys

import numpy as np
import zarr


def samples(node, n):
    """The ``n`` samples of a tensor node (an array, or a group whose attributes name its layout)."""
    attrs = dict(node.attrs)
    layout = attrs["layout"]
    if layout == "dense":
        return [row.tolist() for row in node[:n]]
    offsets = node["offsets"][:].astype(np.int64)
    assert len(offsets) == n + 1, (len(offsets), n)
    if layout == "sequence":
        items = samples(node["items"], int(offsets[-1]))
        return [items[offsets[i]:offsets[i + 1]] for i in range(n)]
    assert layout == "bytes", layout
    heap = node["bytes"][:]
    shapes = node["shape"][:] if "shape" in node else None
    encoding, dtype = attrs["encoding"], attrs.get("dtype")
    out = []
    for i in range(n):
        data = heap[offsets[i]:offsets[i + 1]].tobytes()
        if encoding == "raw":
            shape = [int(x) for x in shapes[i]]
            out.append(np.frombuffer(data, dtype).reshape(shape).tolist())
        elif encoding in ("utf-8", "url"):
            out.append(data.decode("utf-8"))
        elif encoding == "json":
            out.append(json.loads(data))
        else:
            out.append({"sha256": hashlib.sha256(data).hexdigest(), "shape": [int(x) for x in shapes[i]]})
    return out


def main(path):
    assert "deeplake_nb" not in sys.modules or sys.modules["deeplake_nb"] is None
    root = zarr.open_group(path, mode="r")
    n = root.attrs["length"]
    result = {"attrs": dict(root.attrs), "sample_index": root["_sample_index"][:].tolist(), "tensors": {}}
    for name in root.attrs["tensors"]:
        result["tensors"][name] = samples(root[name], n)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
