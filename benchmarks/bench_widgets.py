"""Dataset browser widget: time from display to the first 50 thumbnails visible, on a 100,000-sample
dataset, measured in a real browser (JupyterLab in the system Chromium, driven by Playwright).

    python benchmarks/bench_widgets.py [--n 100000] [--repeats 5] [--record]

- Data: ``--n`` samples of 64x64 JPEGs (about 2.4 KB each) with a class label, one box and a
  binary mask of that box. To build
  100,000 samples quickly, 256 distinct synthetic images (``deeplake_nb.demo.synthetic``) are reused
  across samples: the widget reads, sends and decodes every sample's stored bytes independently, so
  for a UI benchmark this costs the same as distinct images. Built once into
  ``benchmarks/data/widgets-masks-<n>/`` (git-ignored) and reused.
- Display to visible: in the browser, ``performance.now()`` when the cell ``w = ds.visualize(
  page_size=50); w`` is started, until 50 ``<img>`` tiles are loaded and decoded (``complete`` and
  ``naturalWidth > 0``), polled every animation frame. It includes the kernel creating the widget,
  the widget model and ES module reaching the browser, the page request, the kernel reading 50
  samples and their overlays, the buffers crossing the websocket, and the browser decoding them.
  ``cold`` is the first display in a fresh kernel (it imports anywidget); ``warm`` the median of
  ``--repeats`` re-displays.
- Paging: click "next page" until 50 new thumbnails are visible (median over ``--repeats``), and
  jumping to the last page (page 2,000 of 100,000 samples: only that page is read).
- Filter panel: in the query widget (``dl.ui.QueryWidget(ds, page_size=50)``), click a class's
  checkbox until 50 new thumbnails are visible, then click it again (median over both clicks of
  ``--repeats`` classes): the query written and run over every sample, and its first page shown.
- Kernel only: ``handle_request`` for a page of 50 (first, middle, last page), in this process;
  and the query widget's filter panel: making the widget (facets and chart over every sample) and
  a class ticked in the panel until the first page of its result is answered (the ``filter``
  message: query written and run, then the page request; median over ``--repeats``).

Targets: warm display to 50 visible thumbnails < 1.0 s, next page < 300 ms, filter click to the
new page < 500 ms. ``--record`` appends the table to the
"Widgets" section of benchmarks/RESULTS.md (date, machine, command). Needs /usr/bin/chromium
(``apt-get install chromium``) and Python Playwright; never ``playwright install``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import deeplake_nb as dl
from deeplake_nb.demo.synthetic import CLASS_NAMES, generate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))
import lab_driver as lab  # noqa: E402
from results_md import append_to_section  # noqa: E402

DISTINCT = 256

SHOW_AND_WAIT = """async ([cell, n, action, cls]) => {
    const app = window.jupyterapp;
    const nb = app.shell.currentWidget;
    const node = nb.content.widgets[cell].node;
    const before = new Set(node.querySelectorAll('.dlnb-tile img'));
    let t0;
    if (action === 'run') {
        nb.content.widgets[cell].model.outputs.clear();
        t0 = performance.now();
        nb.content.activeCellIndex = cell;
        app.commands.execute('notebook:run-cell');
    } else {
        t0 = performance.now();
        const root = [...node.querySelectorAll('.dlnb-root')].pop();
        if (action === 'next') root.querySelector('.dlnb-next').click();
        else if (action === 'last') root.querySelector('.dlnb-last').click();
        else node.querySelector(`.dlnb-q-facet[data-kind='class'] input[data-cls='${cls}']`).click();
    }
    return await new Promise((resolve, reject) => {
        const check = () => {
            const root = [...node.querySelectorAll('.dlnb-root')].pop();
            const imgs = root ? [...root.querySelectorAll('.dlnb-tile img')].filter((i) => !before.has(i)) : [];
            if (imgs.length >= n && imgs.slice(0, n).every((i) => i.complete && i.naturalWidth > 0
                                                              && /^(blob|data):/.test(i.src))) {
                return resolve(performance.now() - t0);
            }
            if (performance.now() - t0 > 60000) return reject(new Error('no thumbnails after 60 s'));
            requestAnimationFrame(check);
        };
        check();
    });
}"""


def _mask(sample) -> np.ndarray:
    """A one-object binary mask (64x64x1): the sample's first box filled."""
    mask = np.zeros(sample.shape[:2] + (1,), bool)
    left, top, width, height = np.asarray(sample.boxes[0]).astype(int)
    mask[max(0, top):top + height, max(0, left):left + width] = True
    return mask


def build(path: Path, n: int) -> dl.Dataset:
    """The benchmark dataset at ``path`` (reused when complete)."""
    if dl.exists(str(path)):
        ds = dl.load(str(path), read_only=True)
        if len(ds) == n:
            return ds
    print(f"building {n:,} samples in {path} ({DISTINCT} distinct 64x64 JPEGs, reused) ...")
    pool = list(generate(DISTINCT, seed=0, min_size=64, max_size=64))
    masks = [_mask(s) for s in pool]
    ds = dl.empty(str(path), overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
        ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
        ds.create_tensor("masks", htype="binary_mask", sample_compression="lz4")
        for start in tqdm(range(0, n, 5000), desc="building", unit="batch"):
            picks = np.arange(start, min(n, start + 5000)) % DISTINCT
            ds.extend({"images": [dl.Sample(buffer=pool[i].jpeg) for i in picks],
                       "labels": [[pool[i].label] for i in picks],
                       "boxes": [pool[i].boxes[:1] for i in picks],
                       "masks": [masks[i] for i in picks]})
    return dl.load(str(path), read_only=True)


def kernel_page_ms(ds: dl.Dataset, page_size: int, thumb: int, repeats: int) -> dict[str, float]:
    w = ds.visualize(page_size=page_size, thumb_size=thumb)
    out = {}
    for name, start in (("first", 0), ("middle", len(ds) // 2), ("last", len(ds) - page_size)):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            w.handle_request({"type": "page", "id": "b", "start": start, "count": page_size, "image": "images",
                              "overlays": list(w.overlays), "thumb": thumb})
            times.append((time.perf_counter() - t) * 1000)
        out[name] = statistics.median(times)
    return out


def browser_ms(path: Path, n: int, page_size: int, repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        lab.write_notebook(root, "bench.ipynb", [
            f"import deeplake_nb as dl\nds = dl.load({str(path)!r}, read_only=True)\nprint(f'{{len(ds):,}}')",
            f"w = ds.visualize(page_size={page_size})\nw",
            f"q = dl.ui.QueryWidget(ds, page_size={page_size})\nq"])
        server = lab.LabServer(root, Path(tmp) / "lab.log").start()
        try:
            with lab.chromium_page() as page:
                nb = lab.NotebookPage(page, server, "bench.ipynb").open()
                nb.run_cell(0)
                nb.wait_output(0, f"{n:,}")
                cold = page.evaluate(SHOW_AND_WAIT, [1, page_size, "run"])
                nb.wait_idle(1)
                warm = []
                for _ in range(repeats):
                    warm.append(page.evaluate(SHOW_AND_WAIT, [1, page_size, "run"]))
                    nb.wait_idle(1)
                paging = [page.evaluate(SHOW_AND_WAIT, [1, page_size, "next"]) for _ in range(repeats)]
                last = page.evaluate(SHOW_AND_WAIT, [1, page_size, "last"])
                nb.screenshot("bench-widgets.png")
                # the query widget's filter panel: tick a class, then untick it, to the new first page
                nb.run_cell(2)
                page.wait_for_selector(".dlnb-q-facet[data-kind='class'] input", timeout=120_000)
                nb.wait_idle(2, timeout_ms=120_000)
                filtering = []
                for k in range(repeats):
                    name = CLASS_NAMES[k % len(CLASS_NAMES)]
                    filtering.append(page.evaluate(SHOW_AND_WAIT, [2, page_size, "filter", name]))
                    filtering.append(page.evaluate(SHOW_AND_WAIT, [2, page_size, "filter", name]))
                nb.screenshot("bench-widgets-filter.png")
        finally:
            server.stop()
    return {"cold": cold, "warm": warm, "paging": paging, "last": last, "filter": filtering}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        chromium = subprocess.run([lab.CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        chromium = "chromium ?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, {chromium}; load average {load:.1f} at start (shared machine)")


def record(text: str) -> None:
    """Append ``text`` at the end of the "## Widgets" section of RESULTS.md."""
    append_to_section("Widgets", text)


def kernel_filter_ms(ds: dl.Dataset, page_size: int, thumb: int, repeats: int) -> dict[str, float]:
    from deeplake_nb.ui.query_widget import QueryWidget

    t = time.perf_counter()
    w = QueryWidget(ds, page_size=page_size, thumb_size=thumb)
    made = (time.perf_counter() - t) * 1000
    times = []
    for k in range(repeats):
        name = CLASS_NAMES[k % len(CLASS_NAMES)]
        t = time.perf_counter()
        w.handle_message({"type": "filter", "id": "f", "selection": {"classes": {"labels": [name]}}})
        w.handle_request({"type": "page", "id": "b", "start": 0, "count": page_size, "image": "images",
                          "overlays": list(w.overlays), "thumb": thumb})
        times.append((time.perf_counter() - t) * 1000)
    return {"widget": made, "filter": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="samples (default 100000)")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--thumb", type=int, default=160, help="thumbnail size of the kernel-only timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default=str(HERE / "data"))
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    missing = lab.missing_prerequisite()
    if missing:
        sys.exit(f"cannot run the browser benchmark: {missing}")

    about = machine()
    ds = build(Path(args.data) / f"widgets-masks-{args.n}", args.n)
    kernel = kernel_page_ms(ds, args.page_size, args.thumb, args.repeats)
    filtering = kernel_filter_ms(ds, args.page_size, args.thumb, args.repeats)
    t0 = time.monotonic()
    browser = browser_ms(Path(ds.path).resolve(), args.n, args.page_size, args.repeats)
    wall = time.monotonic() - t0
    warm = statistics.median(browser["warm"])
    k = args.page_size
    rows = [
        ("measure", "ms"),
        (f"display to {k} thumbnails visible, warm (median of {args.repeats})", f"{warm:,.0f}"),
        (f"display to {k} thumbnails visible, cold (first display in a fresh kernel)", f"{browser['cold']:,.0f}"),
        (f"next page to {k} new thumbnails visible (median of {args.repeats})",
         f"{statistics.median(browser['paging']):,.0f}"),
        (f"jump to the last page ({ds.visualize(page_size=k).num_pages:,}) to {k} visible", f"{browser['last']:,.0f}"),
        (f"query widget: tick or untick a class in the filter panel to {k} new thumbnails visible (median of "
         f"{len(browser['filter'])}; target < 500)", f"{statistics.median(browser['filter']):,.0f}"),
        (f"kernel only: answer a page request of {k} (first / middle / last page)",
         " / ".join(f"{kernel[p]:.0f}" for p in ("first", "middle", "last"))),
        ("kernel only: make the query widget (filter facets and chart over every sample)", f"{filtering['widget']:,.0f}"),
        (f"kernel only: tick a class in the filter panel to its first page of {k} answered (target < 500)",
         f"{filtering['filter']:,.0f}"),
    ]
    table = "\n".join(f"| {a} | {b} |" for a, b in [rows[0], ("---", "---:")] + rows[1:])
    paging = statistics.median(browser["paging"])
    clicks = statistics.median(browser["filter"])
    verdict = "; ".join(f"{what} {value:,.0f} ms {'meets' if value < target else 'misses'} the {target:,} ms target"
                        for what, value, target in (("warm display-to-visible", warm, 1000),
                                                    ("next page", paging, 300), ("filter click", clicks, 500)))
    command = (f"python benchmarks/bench_widgets.py --n {args.n} --page-size {k} --repeats {args.repeats}")
    text = (f"### {datetime.date.today().isoformat()}: display to first {k} thumbnails, {args.n:,} samples\n\n"
            f"- machine: {about}\n- command: `{command}`\n"
            f"- data: 64x64 JPEGs (~2.4 KB) + class label + box + binary mask; {DISTINCT} distinct images reused across "
            f"samples (each sample's stored bytes are still read, sent and decoded separately)\n\n"
            f"{table}\n\n{verdict[0].upper()}{verdict[1:]}. "
            f"Browser session wall time {wall:.0f} s (JupyterLab start and page load included).\n")
    print(text)
    if args.record:
        record(text)
        print("recorded in benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
