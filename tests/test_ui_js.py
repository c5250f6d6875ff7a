"""The browser modules outside a browser: they parse as ES modules, and grid.js's request channel
and geometry helpers behave (run under Node.js when it is installed; the browser tests cover the
DOM parts)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

WIDGETS = Path(__file__).resolve().parents[1] / "widgets"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (the browser tests cover the JS)")


def run_node(script: str) -> dict:
    out = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_modules_parse_and_export():
    grid, browser = (WIDGETS / "grid.js").as_uri(), (WIDGETS / "dataset_browser.js").as_uri()
    result = run_node(f"""
        const grid = await import({json.dumps(grid)});
        const browser = await import({json.dumps(browser)});
        console.log(JSON.stringify({{grid: Object.keys(grid).sort(), render: typeof browser.default.render}}));
    """)
    assert {"Channel", "SampleGrid", "UrlPool", "picture", "renderDetail", "maskCanvas", "fit"} <= set(result["grid"])
    assert result["render"] == "function"


def test_channel_assembles_parts_and_errors():
    grid = (WIDGETS / "grid.js").as_uri()
    result = run_node(f"""
        const {{ Channel, fit, ink }} = await import({json.dumps(grid)});
        const handlers = [], sent = [];
        const model = {{ on: (e, f) => handlers.push(f), off: () => {{}}, send: (m) => sent.push(m) }};
        const channel = new Channel(model);
        const deliver = (msg, buffers = []) => handlers.forEach((f) => f(msg, buffers));
        const parts = [];
        const page = channel.request({{ type: "page", start: 0 }}, (msg, buffers) => parts.push([msg.part, buffers.length]));
        const id = sent[0].id;
        deliver({{ type: "page", id: "someone-else", part: 0, last: true }});
        deliver({{ type: "page", id, part: 0, last: false }}, [new DataView(new ArrayBuffer(3))]);
        deliver({{ type: "page", id, part: 1, last: true }}, []);
        const last = await page;
        const failing = channel.request({{ type: "sample", position: 99 }});
        deliver({{ type: "error", id: sent[1].id, message: "out of range" }});
        const error = await failing.then(() => "no error", (e) => e.message);
        const single = channel.request({{ type: "sample", position: 1 }});
        deliver({{ type: "sample", id: sent[2].id, sample: {{ position: 1 }} }}, [new DataView(new ArrayBuffer(5))]);
        const reply = await single;
        console.log(JSON.stringify({{ parts, lastPart: last.part, error, ids: new Set(sent.map((m) => m.id)).size,
            position: reply.msg.sample.position, nbuf: reply.buffers.length, pending: channel.pending.size,
            fitWide: fit(200, 100, 64, 64), fitTall: fit(100, 400, 64, 64), inkLight: ink(12), inkDark: ink(16) }}));
    """)
    assert result["parts"] == [[0, 1], [1, 0]] and result["lastPart"] == 1
    assert result["error"] == "out of range" and result["ids"] == 3 and result["pending"] == 0
    assert result["position"] == 1 and result["nbuf"] == 1
    assert result["fitWide"] == [64, 32] and result["fitTall"] == [16, 64]
    assert result["inkLight"] == "#000" and result["inkDark"] == "#fff"


def test_url_pool_small_pictures_as_data_urls_large_as_blobs():
    grid = (WIDGETS / "grid.js").as_uri()
    result = run_node(f"""
        const {{ UrlPool, DATA_URL_MAX }} = await import({json.dumps(grid)});
        const pool = new UrlPool();
        const bytes = new Uint8Array(70000).map((_, i) => (i * 7) % 256);
        const view = new DataView(bytes.buffer, 5, 1000);             // a view into a larger buffer
        const small = pool.url(view, "image/jpeg");
        const decoded = Buffer.from(small.split(",")[1], "base64");
        const same = decoded.length === 1000 && decoded.every((b, i) => b === bytes[i + 5]);
        const large = pool.url(new DataView(bytes.buffer), "image/png");
        const kept = pool.urls.length;
        pool.clear();
        console.log(JSON.stringify({{ small: small.slice(0, 23), same, large: large.slice(0, 5), kept,
                                     after: pool.urls.length, max: DATA_URL_MAX }}));
    """)
    assert result["small"] == "data:image/jpeg;base64," and result["same"]
    assert result["large"] == "blob:" and result["kept"] == 1 and result["after"] == 0
    assert result["max"] < 70000


def test_summary_without_kernel_shows_and_steps_back():
    """summaryWithoutKernel under Node.js with a minimal DOM: nothing happens while requests are
    answered or young; a request unanswered past the limit hides the widget and shows the
    `_summary_html` trait; the first reply brings the widget back; stop() removes the box."""
    grid = (WIDGETS / "grid.js").as_uri()
    result = run_node(f"""
        class Node {{}}
        class El extends Node {{
          constructor(tag) {{ super(); this.tag = tag; this.children = []; this.style = {{}}; this.dataset = {{}};
                             this.attrs = {{}}; this.hidden = false; this.innerHTML = ""; this.removed = false; }}
          setAttribute(k, v) {{ this.attrs[k] = v; if (k === "hidden") this.hidden = true; }}
          addEventListener() {{}}
          append(...c) {{ this.children.push(...c); }}
          replaceChildren(...c) {{ this.children = c; }}
          after(n) {{ this.next = n; }}
          remove() {{ this.removed = true; }}
        }}
        globalThis.Node = Node;
        globalThis.document = {{ createElement: (t) => new El(t), createTextNode: (t) => Object.assign(new Node(), {{ text: t }}) }};
        const {{ Channel, summaryWithoutKernel }} = await import({json.dumps(grid)});
        const handlers = [], sent = [];
        const model = {{ on: (e, f) => handlers.push(f), off: () => {{}}, send: (m) => sent.push(m),
                         get: (k) => (k === "_summary_html" ? "<div class='dlnb-summary'>S</div>" : null) }};
        const channel = new Channel(model);
        const root = new El("div");
        const stop = summaryWithoutKernel(model, root, channel, 200);
        const box = root.next;
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        await sleep(300);
        const idle = [box.hidden, root.style.display || ""];          // nothing asked: nothing shown
        channel.request({{ type: "page" }}).catch(() => {{}});
        await sleep(100);
        const young = box.hidden;
        await sleep(250);
        const shown = [box.hidden, root.style.display, box.children[1].innerHTML];
        handlers.forEach((f) => f({{ type: "page", id: sent[0].id, last: true, samples: [] }}, []));
        const back = [box.hidden, root.style.display];
        stop();
        console.log(JSON.stringify({{ idle, young, shown, back, removed: box.removed, listeners: channel.onAnswer.size }}));
    """)
    assert result["idle"] == [True, ""] and result["young"] is True
    assert result["shown"] == [False, "none", "<div class='dlnb-summary'>S</div>"]
    assert result["back"] == [True, ""] and result["removed"] and result["listeners"] == 0
