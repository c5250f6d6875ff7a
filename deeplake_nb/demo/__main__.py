"""The main job: generate photo-like JPEGs, ingest them into a local dataset, show what is inside.

Run with ``python -m deeplake_nb.demo [--n 1000] [--out demo_data]`` (``make demo``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from tqdm.auto import tqdm

import deeplake_nb as dl

from .synthetic import CLASS_NAMES, write_jpeg_folder


def ingest(path: str, folder: str, samples: list, batch: int = 256) -> dl.Dataset:
    """Create the demo dataset at ``path`` from the JPEG files in ``folder`` and their annotations."""
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
        ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("embeddings", htype="embedding")
        for start in tqdm(range(0, len(samples), batch), desc="ingesting", unit="batch"):
            part = samples[start:start + batch]
            ds.extend({
                "images": [dl.read(os.path.join(folder, f"{start + i:05d}.jpg")) for i in range(len(part))],
                "labels": [CLASS_NAMES[s.label] for s in part],
                "boxes": [s.boxes for s in part],
                "captions": [s.caption for s in part],
                "embeddings": [s.embedding for s in part],
            })
    return ds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="number of images (default 1000)")
    parser.add_argument("--out", default="demo_data", help="working directory (default demo_data)")
    args = parser.parse_args(argv)

    folder = os.path.join(args.out, "jpegs")
    path = os.path.join(args.out, "shapes")
    print(f"== 1. {args.n} photo-like JPEGs (200-300 px) in {folder}")
    samples = write_jpeg_folder(folder, args.n)

    print(f"\n== 2. ingest into {path} (JPEG bytes stored as they are, no re-encoding)")
    t0 = time.perf_counter()
    ingest(path, folder, samples)
    seconds = time.perf_counter() - t0
    print(f"ingested {args.n} samples in {seconds:.2f} s ({args.n / seconds:,.0f} samples/s)")

    print("\n== 3. reopen read-only and look inside")
    ds = dl.load(path, read_only=True)
    ds.summary()
    for i in (0, 1, len(ds) - 1):
        image = ds.images[i].numpy()
        labels = ds.labels[i].data()["text"]
        print(f"sample {i}: image {image.shape} mean {image.mean():.1f}, label {labels}, "
              f"boxes {ds.boxes[i].numpy().astype(int).tolist()}, caption {ds.captions[i].text()!r}")
    same = ds.images[0].tobytes() == open(os.path.join(folder, "00000.jpg"), "rb").read()
    print(f"stored JPEG bytes identical to the file: {same}")
    counts = np.bincount(ds.labels.numpy().ravel(), minlength=len(CLASS_NAMES))
    print("label counts:", dict(zip(CLASS_NAMES, counts.tolist())))

    print("\n== 4. version control: commit, branch, fix a label, diff, merge")
    ds = dl.load(path)
    first = ds.commit("import synthetic shapes")
    ds.checkout("relabel", create=True)
    ds.labels[0] = "triangle"
    ds.commit("relabel sample 0")
    ds.checkout("main")
    ds.diff(first, "relabel")
    ds.merge("relabel")
    ds.tag("v1.0")
    print(f"main now at {ds.commit_id} with {len(ds.commits)} commits; sample 0 is "
          f"{ds.labels[0].data()['text']}; at the first commit it was "
          f"{dl.load(path, version=first).labels[0].data()['text']}")

    print("\n== 5. query with TQL")
    t0 = time.perf_counter()
    view = ds.query("SELECT * WHERE labels == 'circle' AND shape(images)[0] > 250 ORDER BY random() LIMIT 20")
    print(f"{len(view)} large circles in {1000 * (time.perf_counter() - t0):.1f} ms, "
          f"first indices {view.sample_indices[:5].tolist()}")
    probe = ds.embeddings[0].numpy()
    near = ds.query("SELECT * ORDER BY cosine_similarity(embeddings, ARRAY[" +
                    ", ".join(f"{x:.5f}" for x in probe) + "]) DESC LIMIT 3")
    print(f"nearest to sample 0 by embedding: {near.sample_indices.tolist()}")

    print("\n== 6. stream one shuffled epoch into PyTorch (decode, crop 224, normalise)")
    from ..loader import stream_epoch_images_per_s
    stream_epoch_images_per_s(dl.load(path, read_only=True), "images", batch_size=64, num_workers=2)


if __name__ == "__main__":
    main()
