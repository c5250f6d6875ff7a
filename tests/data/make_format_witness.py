"""Write a frozen format witness: a small dataset with every htype, commits, a branch, a tag and a
saved view. tests/data/format_v1_witness.tar.gz was written by this script with the code of commit
1f0bd79 (format version 1): `PYTHONPATH=<that tree> python make_format_witness.py OUT`, then tar -czf;
tests/data/format_vc2_witness.tar.gz the same way with the code of bc1af78 (version-control format 2);
tests/data/format_v3_witness.tar.gz with the code of 2f3b3ac (dataset format 3, version-control format 3),
its tree made with `git archive 2f3b3ac deeplake_nb | tar -x -C TREE`."""
import io
import os
import shutil
import sys

import numpy as np
from PIL import Image
import deeplake_nb as dl

out = sys.argv[1]
shutil.rmtree(out, ignore_errors=True)
rng = np.random.default_rng(7)

def jpeg(seed):
    arr = np.random.default_rng(seed).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    buf = io.BytesIO(); Image.fromarray(arr).save(buf, format="JPEG", quality=90); return buf.getvalue()

tmp = out + "_files"; os.makedirs(tmp, exist_ok=True)
paths = []
for i in range(3):
    p = os.path.join(tmp, f"img{i}.jpg"); open(p, "wb").write(jpeg(i)); paths.append(p)

ds = dl.empty(out)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    ds.create_tensor("masks", htype="binary_mask")
    ds.create_tensor("caption", htype="text")
    ds.create_tensor("meta", htype="json")
    ds.create_tensor("tags", htype="list")
    ds.create_tensor("emb", htype="embedding")
    ds.create_tensor("points", htype="point")
    ds.create_tensor("poly", htype="polygon")
    ds.create_tensor("seg", htype="segment_mask", class_names=["bg", "fg"])
    ds.create_tensor("frames", htype="sequence[image]", sample_compression="png")
    ds.create_tensor("x", dtype="int64", chunk_compression="lz4")
    ds.create_tensor("group/score", dtype="float32")
    for i in range(3):
        ds.append({"images": dl.read(paths[i]), "labels": i % 2, "boxes": [[1, 2, 3, 4]] * (i + 1),
                   "masks": np.eye(4, dtype=bool), "caption": f"caption {i}", "meta": {"i": i},
                   "tags": ["a", str(i)], "emb": rng.random(8).astype("float32"),
                   "points": [[i, i]], "poly": [[[0, 0], [1, 0], [1, 1]]], "seg": np.full((4, 4), i % 2, "uint32"),
                   "frames": [np.full((4, 4, 3), i, "uint8")] * 2, "x": i, "group/score": float(i)})
first = ds.commit("three rows")
ds.tag("v1")
ds.checkout("alt", create=True)
ds.labels[0] = 1
ds.caption[1] = "changed on alt"
ds.commit("alt changes")
ds.checkout("main")
ds.caption[2] = "changed on main"
ds.commit("main change")
ds.query("SELECT * WHERE labels == 'dog'").save_view(id="dogs")
shutil.rmtree(tmp)
print("witness written:", sorted(ds.branches), ds.version_tags, len(ds))
