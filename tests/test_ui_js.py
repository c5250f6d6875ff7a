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
