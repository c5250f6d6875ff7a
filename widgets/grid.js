// grid.js: the part of the notebook widgets that shows samples, shared by every widget that does
// (the dataset browser; next the query widget and the commit graph's sample diffs).
//
// A widget's own module imports this one from the `_lib_esm` trait (see dataset_browser.js) and
// builds a `SampleGrid` on a model that has the sample-grid traits (ui/grid.py): length, page,
// page_size, thumb_size, image_tensor, overlays, selected_indices, width, height, _reload.
// Pictures and masks arrive as binary buffers of custom messages (ui/protocol.py) and are shown
// through data: and blob: URLs and canvases; nothing is fetched from the network.

const PALETTE = [
  [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
  [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255], [170, 110, 40],
  [255, 225, 25], [128, 0, 0], [170, 255, 195], [128, 128, 0], [0, 0, 128], [128, 128, 128],
];
const MASK_ALPHA = 110; // of 255: semi-transparent
const OBJECTS_PAGE = 5000; // objects per "objects" request (overlays.DETAIL_OBJECTS in the kernel)
export const PAGE_SIZES = [12, 24, 48, 96, 200];
export const THUMB_SIZES = [64, 96, 128, 160, 224, 320];

export function colour(i, alpha = 1) {
  const [r, g, b] = PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
  return alpha === 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha})`;
}

/** Black or white, whichever reads better on palette colour `i`. */
export function ink(i) {
  const [r, g, b] = PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#000" : "#fff";
}

/** The colour number of a class name: its number in the `class_colours` trait (one per class of
 * the dataset, ui/classes.py), else a hash of the name — the same in boxes, masks, badges and charts. */
export function classColour(colours, name) {
  const k = colours ? colours[name] : undefined;
  return k === undefined ? hash(String(name)) : k;
}

function badgeStyle(name, colours) {
  const k = classColour(colours, name);
  return { background: colour(k, 0.9), color: ink(k) };
}

const num = (v) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 10) / 10);

/** Tooltip text of box k of a box layer: class, tensor and index, and where it is (pixels when the
 * picture's size is known, else fractions of it). */
export function boxTitle(layer, k, shape) {
  const [x, y, w, hh] = layer.boxes[k];
  const name = layer.names ? layer.names[k] : null;
  const where = shape && shape.length >= 2
    ? `x ${num(x * shape[1])}, y ${num(y * shape[0])}, w ${num(w * shape[1])}, h ${num(hh * shape[0])} px`
    : `x ${x}, y ${y}, w ${w}, h ${hh} (fractions)`;
  return `${name !== null && name !== undefined ? `${name} · ` : ""}${layer.tensor}[${k}] · ${where}`;
}

/** Colour numbers of a mask layer's label values: the class of each named object, else value - 1. */
function maskColours(layer, colours) {
  const out = new Map();
  for (const o of layer.objects || []) if (o.name !== null && o.name !== undefined) out.set(o.value, classColour(colours, o.name));
  return out;
}

function hash(text) {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  return Math.abs(h);
}

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

const fmt = (n) => Number(n).toLocaleString("en-US");
const shapeText = (shape) => (shape ? `(${shape.map((d) => (d === null ? "None" : d)).join(", ")})` : "");

// -- requests over the widget's comm ------------------------------------------------------------
/** Request/reply over anywidget custom messages; replies carry the request's id. A page reply
 * comes in parts (`onPart` sees each); the promise resolves with the last part, or with
 * `{msg, buffers}` for single replies, and rejects on an `error` reply. */
export class Channel {
  constructor(model) {
    this.model = model;
    this.prefix = Math.random().toString(36).slice(2, 10);
    this.count = 0;
    this.pending = new Map();
    this.answered = false;       // whether any reply came: a kernel stands behind the model
    this.onAnswer = new Set();   // called at the first reply
    this.listener = (msg, buffers) => this.receive(msg, buffers || []);
    model.on("msg:custom", this.listener);
  }

  request(body, onPart) {
    const id = `${this.prefix}-${++this.count}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onPart, at: Date.now() });
      this.model.send({ ...body, id });
    });
  }

  /** Milliseconds the oldest unanswered request has waited (0 when none waits). */
  waiting() {
    let oldest = Infinity;
    for (const { at } of this.pending.values()) oldest = Math.min(oldest, at);
    return oldest === Infinity ? 0 : Date.now() - oldest;
  }

  receive(msg, buffers) {
    if (!this.answered) {
      this.answered = true;
      for (const fn of this.onAnswer) fn();
    }
    const waiting = msg && this.pending.get(msg.id);
    if (!waiting) return;
    if (msg.type === "error") {
      this.pending.delete(msg.id);
      waiting.reject(new Error(msg.message));
    } else if (msg.type === "page") {
      if (waiting.onPart) waiting.onPart(msg, buffers);
      if (msg.last) {
        this.pending.delete(msg.id);
        waiting.resolve(msg);
      }
    } else {
      this.pending.delete(msg.id);
      waiting.resolve({ msg, buffers });
    }
  }

  close() {
    this.model.off("msg:custom", this.listener);
    for (const waiting of this.pending.values()) waiting.reject(new Error("closed"));
    this.pending.clear();
  }
}

// -- without a kernel ------------------------------------------------------------------------------
export const SILENCE_MS = 5_000;

/** A model restored from saved widget state has no kernel behind it (JupyterLab or Notebook 7 with
 * "Save Widget State Automatically", reopened on a fresh kernel; an HTML export's widget manager):
 * its requests go unanswered. When no reply has ever come on `channel` and a request has waited
 * `ms`, `root` is hidden and the `_summary_html` trait (the display's text/html summary, kept in the
 * saved state) is shown after it; a first reply (a kernel that was only busy) brings `root` back.
 * Returns `stop()`. */
export function summaryWithoutKernel(model, root, channel, ms = SILENCE_MS) {
  const box = h("div", { class: "dlnb-no-kernel", hidden: true });
  root.after(box);
  const show = () => {
    if (channel.answered || channel.waiting() < ms) return;
    clearInterval(timer);
    box.replaceChildren(h("div", { class: "dlnb-note" },
      "No kernel has answered this widget yet: its summary is shown until one does (a widget saved in the notebook " +
      "and reopened without its kernel never will: run its cell again)."));
    const summary = h("div");
    summary.innerHTML = model.get("_summary_html") || "";   // our kernel's own markup: escaped text, data: pictures
    box.append(summary);
    box.hidden = false;
    root.style.display = "none";   // (the hidden attribute loses to the root's own display rule)
  };
  const back = () => {
    clearInterval(timer);
    box.hidden = true;
    root.style.display = "";
  };
  const timer = setInterval(show, Math.max(50, Math.min(1000, ms / 4)));
  channel.onAnswer.add(back);
  return () => {
    clearInterval(timer);
    channel.onAnswer.delete(back);
    box.remove();
  };
}

// -- following the kernel's dataset ---------------------------------------------------------------
const POLL_STALE_MS = 30_000;

/** Keep a widget current: while `root` is on screen and the page visible, send `{type: "poll"}` on
 * `channel` every `poll_seconds` (the model's trait, followed as it changes) and when the pointer or
 * focus enters `root`; a poll unanswered after 30 s no longer blocks the next. Returns
 * `{ poll, stop }`: `poll()` asks now (a refresh button), `stop()` undoes everything. */
export function followKernel(model, root, channel) {
  let since = 0;
  let onScreen = true;
  const poll = async () => {
    if (!root.isConnected || document.visibilityState !== "visible" || !onScreen) return;
    if (since && Date.now() - since < POLL_STALE_MS) return;
    since = Date.now();
    try {
      await channel.request({ type: "poll" });
    } catch (err) {
      // the kernel went away or is busy: try again next time
    } finally {
      since = 0;
    }
  };
  const onEnter = () => { poll(); };
  let timer = null;
  const schedule = () => {
    if (timer) clearInterval(timer);
    const seconds = model.get("poll_seconds");
    timer = seconds > 0 ? setInterval(poll, Math.max(0.5, seconds) * 1000) : null;
  };
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => { onScreen = entries.some((e) => e.isIntersecting); }) : null;
  if (observer) observer.observe(root);
  root.addEventListener("pointerenter", onEnter);
  root.addEventListener("focusin", onEnter);
  model.on("change:poll_seconds", schedule);
  schedule();
  return {
    poll: () => { since = 0; return poll(); },
    stop: () => {
      if (timer) clearInterval(timer);
      if (observer) observer.disconnect();
      root.removeEventListener("pointerenter", onEnter);
      root.removeEventListener("focusin", onEnter);
      model.off("change:poll_seconds", schedule);
    },
  };
}

/** Pictures up to this size become data: URLs, larger ones blob: URLs. Chromium resolves each
 * blob: URL through its browser process, which made 50 thumbnails take 70-350 ms to appear on a
 * loaded machine against 25-50 ms as data: URLs. */
export const DATA_URL_MAX = 48 << 10;

function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** URLs of the pictures of one page (or one detail view): data: URLs for small pictures (thumbnails),
 * blob: URLs for large ones, revoked together by `clear()`. */
export class UrlPool {
  constructor() { this.urls = []; }
  url(buffer, mime) {
    const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (bytes.length <= DATA_URL_MAX) return `data:${mime};base64,${base64(bytes)}`;
    const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
    this.urls.push(url);
    return url;
  }
  clear() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}

// -- pictures and overlays ----------------------------------------------------------------------
function typedArray(buffer, dtype) {
  const view = buffer instanceof DataView ? buffer : new DataView(buffer.buffer || buffer);
  if (dtype === "uint16") {
    const copy = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength); // alignment
    return new Uint16Array(copy);
  }
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Colour a label map (0 = transparent) into a canvas the size of the map; `numbers` maps a
 * label value to its colour number (default: value - 1). */
export function maskCanvas(buffer, info, alpha = MASK_ALPHA, numbers = new Map()) {
  const canvas = h("canvas", { class: "dlnb-mask", width: info.width, height: info.height });
  const labels = typedArray(buffer, info.dtype);
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(info.width, info.height);
  const px = image.data;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!v) continue;
    const k = numbers.size && numbers.has(v) ? numbers.get(v) : v - 1;
    const [r, g, b] = PALETTE[k % PALETTE.length];
    px[i * 4] = r; px[i * 4 + 1] = g; px[i * 4 + 2] = b; px[i * 4 + 3] = alpha;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** Fit (w, h) into (maxW, maxH) keeping the aspect ratio. */
export function fit(w, hgt, maxW, maxH) {
  const scale = Math.min(maxW / Math.max(w, 1), maxH / Math.max(hgt, 1));
  return [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(hgt * scale))];
}

/** A picture with its overlays: an <img> from the sample's picture buffer, masks as canvases with
 * each object's class name on it, boxes as positioned rectangles with their class name, class
 * labels as badges (unless their names are drawn on the objects of a paired box/mask layer).
 * `colours` is the `class_colours` trait: one colour per class everywhere. Text overlays come back
 * separately (`captions`) for the caller to place. Boxes are fractions of the picture, so they
 * fit any size. */
export function picture(sample, buffers, pool, maxW, maxH, colours = {}) {
  const image = sample.image;
  const size = image && image.width ? fit(image.width, image.height, maxW, maxH) : [maxW, Math.round(maxH * 0.6)];
  const frame = h("div", { class: "dlnb-frame", style: { width: `${size[0]}px`, height: `${size[1]}px` } });
  if (image && image.buffer !== undefined && image.buffer !== null) {
    frame.append(h("img", { src: pool.url(buffers[image.buffer], image.mime), alt: `sample ${sample.index}`,
                            draggable: "false", decoding: "async" }));
  } else {
    frame.classList.add("dlnb-noimage");
    if (image && image.error) frame.append(h("div", { class: "dlnb-error", title: image.error }, "⚠ unreadable"));
  }
  const badges = h("div", { class: "dlnb-badges" });
  const captions = [];
  const drawn = new Set((sample.overlays || []).filter((l) => !l.error).map((l) => l.tensor));
  const shape = image && image.shape;
  for (const layer of sample.overlays || []) {
    if (layer.error) {
      badges.append(h("span", { class: "dlnb-badge dlnb-badge-error", title: `${layer.tensor}: ${layer.error}` }, "⚠"));
    } else if (layer.kind === "mask") {
      frame.append(maskCanvas(buffers[layer.buffer], layer, MASK_ALPHA, maskColours(layer, colours)));
      for (const o of layer.objects || []) {
        if (o.name === null || o.name === undefined) continue;
        const k = classColour(colours, o.name);
        const at = shape && shape.length >= 2 ? ` · around x ${Math.round(o.x * shape[1])}, y ${Math.round(o.y * shape[0])} px` : "";
        frame.append(h("span", { class: "dlnb-obj-label dlnb-mask-label", dataset: { tensor: layer.tensor, cls: o.name },
          title: `${o.name} · ${layer.tensor} ${layer.binary ? `channel ${o.value - 1}` : `value ${o.value}`}${at}`,
          style: { left: `${o.x * 100}%`, top: `${o.y * 100}%`, background: colour(k, 0.85), color: ink(k) } }, o.name));
      }
    } else if (layer.kind === "box") {
      layer.boxes.forEach(([x, y, w, hh], k) => {
        const name = layer.names ? layer.names[k] : null;
        const c = name !== null && name !== undefined ? classColour(colours, name) : k;
        frame.append(h("div", { class: "dlnb-box", title: boxTitle(layer, k, shape),
          dataset: name !== null && name !== undefined ? { tensor: layer.tensor, cls: name, k } : { tensor: layer.tensor, k }, style: {
          left: `${x * 100}%`, top: `${y * 100}%`, width: `${w * 100}%`, height: `${hh * 100}%`,
          borderColor: colour(c) } },
          name !== null && name !== undefined
            ? h("span", { class: "dlnb-obj-label dlnb-box-label", style: { background: colour(c, 0.85), color: ink(c) } }, name)
            : null));
      });
    } else if (layer.kind === "label") {
      if (layer.paired && drawn.has(layer.paired)) continue; // its names are on the objects
      for (const name of layer.names) {
        badges.append(h("span", { class: "dlnb-badge", title: `${name} · ${layer.tensor}`,
                                  style: badgeStyle(name, colours) }, name));
      }
    } else if (layer.kind === "text") {
      captions.push(layer);
    }
  }
  for (const layer of cappedLayers(sample)) {
    const shown = objectsOf(layer).length;
    badges.append(h("span", { class: "dlnb-badge dlnb-more", dataset: { tensor: layer.tensor },
      title: `${layer.tensor}: ${fmt(shown)} of ${fmt(layer.total)} objects drawn; the detail view loads more` },
      `+${fmt(layer.total - shown)}`));
  }
  if (badges.childElementCount) frame.append(badges);
  return { frame, captions };
}

// -- the detail panel ----------------------------------------------------------------------------
function fieldBody(entry, buffers, pool, colours) {
  switch (entry.kind) {
    case "image":
      if (entry.main) {
        return h("div", { class: "dlnb-note" }, entry.stored ? `shown above (stored ${entry.mime.split("/")[1]} bytes)`
                                                               : `shown above (preview ${entry.width}×${entry.height})`);
      }
      return h("img", { class: "dlnb-detail-img", src: pool.url(buffers[entry.buffer], entry.mime), alt: entry.name });
    case "mask": {
      const canvas = maskCanvas(buffers[entry.buffer], { ...entry, dtype: entry.map_dtype }, 255);
      const [w, hh] = fit(entry.width, entry.height, 320, 240);
      Object.assign(canvas.style, { width: `${w}px`, height: `${hh}px`, position: "static" });
      return h("div", { class: "dlnb-maskbox" }, canvas);
    }
    case "label":
      return h("div", {}, (entry.names || []).map((name, k) =>
        h("span", { class: "dlnb-badge dlnb-inline", style: badgeStyle(name, colours) },
          `${name} (${[].concat(entry.value)[k]})`)));
    case "text":
      return h("pre", { class: "dlnb-pre" }, entry.value + (entry.truncated ? "\n…(truncated)" : ""));
    case "json":
      return h("pre", { class: "dlnb-pre" },
        entry.text !== undefined ? entry.text + "\n…(truncated)" : JSON.stringify(entry.value, null, 2));
    case "array":
      if (entry.summary) {
        const s = entry.summary;
        const stats = s.min !== undefined ? `min ${s.min}, max ${s.max}, mean ${s.mean}\n` : "";
        return h("pre", { class: "dlnb-pre" }, `${stats}first values: ${JSON.stringify(s.head)} …`);
      }
      return h("pre", { class: "dlnb-pre" }, arrayText(entry.value));
    case "sequence":
      return h("div", { class: "dlnb-note" }, `sequence of ${entry.items} items`);
    case "error":
      return h("div", { class: "dlnb-error" }, entry.message);
    default:
      return h("div", { class: "dlnb-note" }, "(not shown)");
  }
}

function arrayText(value) {
  if (Array.isArray(value) && value.length && Array.isArray(value[0])) {
    return "[" + value.map((row) => JSON.stringify(row)).join(",\n ") + "]";
  }
  return JSON.stringify(value);
}

/** The detail picture in a viewport: the wheel (or + / −) zooms around the pointer, dragging pans,
 * "fit" resets. The frame keeps its size; a CSS transform scales and moves it. */
function zoomable(frame) {
  const view = { scale: 1, x: 0, y: 0 };
  const port = h("div", { class: "dlnb-detail-picture dlnb-zoom", dataset: { scale: "1" } }, frame);
  const apply = () => {
    frame.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    port.dataset.scale = String(Math.round(view.scale * 100) / 100);
  };
  const zoom = (factor, cx = frame.offsetWidth / 2, cy = frame.offsetHeight / 2) => {
    const scale = Math.min(16, Math.max(1, view.scale * factor));
    const f = scale / view.scale;
    view.x = cx - (cx - view.x) * f;
    view.y = cy - (cy - view.y) * f;
    view.scale = scale;
    if (scale === 1) { view.x = 0; view.y = 0; }
    apply();
  };
  frame.style.transformOrigin = "0 0";
  port.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = frame.getBoundingClientRect();
    // the pointer in the frame's untransformed coordinates (its box moves with the translation)
    zoom(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - r.left + view.x, ev.clientY - r.top + view.y);
  }, { passive: false });
  let drag = null;
  port.addEventListener("pointerdown", (ev) => {
    if (view.scale === 1) return;
    drag = { x: ev.clientX - view.x, y: ev.clientY - view.y };
    port.setPointerCapture(ev.pointerId);
  });
  port.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    view.x = ev.clientX - drag.x;
    view.y = ev.clientY - drag.y;
    apply();
  });
  port.addEventListener("pointerup", () => { drag = null; });
  const tools = h("div", { class: "dlnb-zoom-tools" },
    h("button", { class: "dlnb-btn dlnb-zoom-in", title: "zoom in (wheel)", onclick: () => zoom(1.5) }, "+"),
    h("button", { class: "dlnb-btn dlnb-zoom-out", title: "zoom out (wheel)", onclick: () => zoom(1 / 1.5) }, "−"),
    h("button", { class: "dlnb-btn dlnb-zoom-fit", title: "fit the picture", onclick: () => zoom(1 / view.scale) }, "fit"));
  return h("div", { class: "dlnb-zoom-wrap" }, port, tools);
}

/** The objects drawn on the detail picture (boxes, named mask objects), each with a checkbox that
 * shows or hides it and a highlight of it while the pointer is over its row. */
function objectList(sample, frame) {
  const rows = [];
  for (const layer of sample.overlays || []) {
    if (layer.error) continue;
    if (layer.kind === "box") {
      layer.boxes.forEach((_, k) => rows.push({ layer, k, name: layer.names ? layer.names[k] : null,
        find: () => frame.querySelector(`.dlnb-box[data-tensor="${CSS.escape(layer.tensor)}"][data-k="${k}"]`) }));
    } else if (layer.kind === "mask") {
      (layer.objects || []).forEach((o, k) => {
        if (o.name !== null && o.name !== undefined) {
          rows.push({ layer, k, name: o.name,
            find: () => frame.querySelectorAll(`.dlnb-mask-label[data-tensor="${CSS.escape(layer.tensor)}"]`)[k] });
        }
      });
    }
  }
  if (!rows.length) return null;
  return h("details", { class: "dlnb-objects", open: rows.length <= 50 },
    h("summary", {}, `${fmt(rows.length)} object${rows.length === 1 ? "" : "s"}`),
    rows.slice(0, 2000).map((r) => h("label", { class: "dlnb-object-row", dataset: { tensor: r.layer.tensor, k: r.k },
      onmouseenter: () => { const el = r.find(); if (el) el.classList.add("dlnb-highlight"); },
      onmouseleave: () => { const el = r.find(); if (el) el.classList.remove("dlnb-highlight"); } },
      h("input", { type: "checkbox", checked: true, onchange: (ev) => {
        const el = r.find();
        if (el) el.hidden = !ev.target.checked;
      } }),
      ` ${r.name ?? "(no class)"} · ${r.layer.tensor}[${r.k}]`)));
}

/** "More objects" buttons for the overlays of a detail sample that are capped (`total`). */
function moreButtons(sample, controls) {
  return cappedLayers(sample).map((layer) =>
    h("button", { class: "dlnb-btn dlnb-more-objects", dataset: { tensor: layer.tensor },
      onclick: () => controls.more && controls.more(layer) },
      `${layer.tensor}: ${fmt(objectsOf(layer).length)} of ${fmt(layer.total)} objects · load ${fmt(OBJECTS_PAGE)} more`));
}

/** The layers of a sample that hold more objects than they carry (`total`), but for class labels
 * whose names are drawn on the objects of a paired layer (those come with that layer's objects). */
function cappedLayers(sample) {
  const layers = (sample.overlays || []).filter((l) => !l.error);
  const drawn = new Set(layers.map((l) => l.tensor));
  return layers.filter((l) => l.total > objectsOf(l).length && !(l.paired && drawn.has(l.paired)));
}

/** The objects a box or label layer carries so far. */
function objectsOf(layer) {
  return (layer.kind === "box" ? layer.boxes : layer.names) || [];
}

/** Fill `panel` with one sample: picture with overlays, then every tensor (shape, dtype, value). */
export function renderDetail(panel, sample, buffers, pool, controls, colours = {}) {
  const title = sample.index !== sample.position
    ? `Sample ${fmt(sample.position)} (dataset index ${fmt(sample.index)})` : `Sample ${fmt(sample.index)}`;
  const { frame, captions } = picture(sample, buffers, pool, 360, 300, colours);
  const fields = (sample.tensors || []).map((entry) =>
    h("div", { class: "dlnb-field", dataset: { tensor: entry.name, kind: entry.kind } },
      h("div", { class: "dlnb-field-head" }, h("b", {}, entry.name),
        h("span", { class: "dlnb-meta" }, ` ${entry.htype} · ${entry.dtype} · ${shapeText(entry.shape)}`)),
      fieldBody(entry, buffers, pool, colours)));
  panel.replaceChildren(
    h("div", { class: "dlnb-detail-head" },
      h("button", { class: "dlnb-btn", title: "previous sample", onclick: controls.prev }, "‹"),
      h("span", { class: "dlnb-detail-title" }, title),
      h("button", { class: "dlnb-btn", title: "next sample", onclick: controls.next }, "›"),
      controls.similar ? h("button", { class: "dlnb-btn dlnb-similar", title: "show the samples closest to this one "
        + "(cosine similarity of their embeddings)", onclick: controls.similar }, "Find similar") : null,
      h("button", { class: "dlnb-btn dlnb-close", title: "close (Escape)", onclick: controls.close }, "×")),
    zoomable(frame),
    objectList(sample, frame),
    ...moreButtons(sample, controls),
    ...captions.map((c) => h("div", { class: "dlnb-caption-full" }, c.text)),
    h("div", { class: "dlnb-fields" }, fields));
}

// -- the paged grid --------------------------------------------------------------------------------
/** The grid of one page of samples, a pager, a status line, keyboard navigation, selection synced
 * to `selected_indices`, and the detail panel. `toolbar` is left empty for the widget's own controls. */
export class SampleGrid {
  constructor(model, el, { requestExtras = () => ({}), similar = null } = {}) {
    this.model = model;
    this.requestExtras = requestExtras;
    this.similar = similar;
    this.channel = new Channel(model);
    this.pool = new UrlPool();
    this.detailPool = new UrlPool();
    this.token = 0;
    this.detailToken = 0;
    this.cursor = null;
    this.anchor = null;
    this.detailPosition = null;
    this.tiles = new Map();

    this.toolbar = h("div", { class: "dlnb-toolbar" });
    this.pager = h("div", { class: "dlnb-pager" });
    this.grid = h("div", { class: "dlnb-grid", role: "grid", tabindex: "0", "aria-label": "samples" });
    this.detail = h("aside", { class: "dlnb-detail", hidden: true, tabindex: "-1" });
    this.status = h("div", { class: "dlnb-status" });
    this.actions = this.curationBar();
    this.root = h("div", { class: "dlnb-root", "data-lm-suppress-shortcuts": "true", dataset: { state: "idle" } },
      this.toolbar, this.pager, this.actions, h("div", { class: "dlnb-body" }, this.grid, this.detail), this.status);
    el.append(this.root);

    this.onKey = (ev) => this.key(ev);
    this.root.addEventListener("keydown", this.onKey);
    this.listeners = [
      ["change:page change:page_size change:thumb_size change:image_tensor change:overlays change:_reload change:length",
        () => this.scheduleLoad()],
      ["change:selected_indices", () => this.paintSelection()],
      ["change:width change:height", () => this.layout()],
    ];
    for (const [events, fn] of this.listeners) model.on(events, fn);
    this.layout();
    this.load();
  }

  destroy() {
    for (const [events, fn] of this.listeners) this.model.off(events, fn);
    this.root.removeEventListener("keydown", this.onKey);
    this.channel.close();
    this.pool.clear();
    this.detailPool.clear();
  }

  /** Tag the selection (a `tag` tensor) or save it as a view; what happened shows in `actionNote`. */
  curationBar() {
    const tagInput = h("input", { class: "dlnb-tag-input", type: "text", placeholder: "tag", "aria-label": "tag",
      onkeydown: (ev) => { if (ev.key === "Enter") { ev.preventDefault(); this.curate({ type: "tag", tag: tagInput.value }); } } });
    this.actionNote = h("span", { class: "dlnb-action-note", role: "status" });
    return h("div", { class: "dlnb-actions" }, tagInput,
      h("button", { class: "dlnb-btn dlnb-tag", title: "add this tag to the selected samples (tensor 'tags')",
                    onclick: () => this.curate({ type: "tag", tag: tagInput.value }) }, "Tag selection"),
      h("button", { class: "dlnb-btn dlnb-save-view", title: "save the selected samples (or all shown) as a view",
                    onclick: () => this.curate({ type: "save_view" }) }, "Save as view"),
      this.actionNote);
  }

  async curate(body) {
    const count = this.selection().size;
    if (body.type === "tag" && !count) {
      this.note("select samples first (click, Shift+click, Ctrl+click)", true);
      return;
    }
    this.note(body.type === "tag" ? "tagging…" : "saving…", false);
    try {
      const { msg } = await this.channel.request(body);
      this.note(msg.type === "tagged" ? `tagged ${fmt(msg.count)} of ${fmt(count)} samples '${body.tag}' (tensor ${msg.tensor})`
        : `saved: ${msg.address}`, false);
    } catch (err) {
      this.note(err.message, true);
    }
  }

  note(text, error) {
    this.actionNote.textContent = text;
    this.actionNote.classList.toggle("dlnb-error", error);
  }

  get total() { return this.model.get("length"); }
  get pageSize() { return this.model.get("page_size"); }
  get numPages() { return Math.max(1, Math.ceil(this.total / this.pageSize)); }
  get pageStart() { return this.model.get("page") * this.pageSize; }

  layout() {
    const width = this.model.get("width");
    const height = this.model.get("height");
    this.root.style.width = width || "";
    const limited = height && height !== "none" && height !== "auto";
    this.grid.style.maxHeight = limited ? height : "";
    this.grid.style.overflowY = limited ? "auto" : "";
  }

  setPage(page) {
    const clamped = Math.min(Math.max(0, page), this.numPages - 1);
    if (clamped !== this.model.get("page")) {
      this.model.set("page", clamped);
      this.model.save_changes();
    }
  }

  renderPager() {
    const page = this.model.get("page");
    const pages = this.numPages;
    const input = h("input", { class: "dlnb-page-input", type: "number", min: 1, max: pages, value: page + 1,
      "aria-label": "page", onchange: (ev) => this.setPage(Number(ev.target.value) - 1) });
    const sizes = [...new Set([...PAGE_SIZES, this.pageSize])].sort((a, b) => a - b);
    const select = h("select", { class: "dlnb-page-size", "aria-label": "samples per page", onchange: (ev) => {
      const size = Number(ev.target.value);
      const first = this.pageStart;
      this.model.set("page_size", size);
      this.model.set("page", Math.floor(first / size));
      this.model.save_changes();
    } }, sizes.map((s) => h("option", { value: s, selected: s === this.pageSize }, `${s} / page`)));
    const thumb = this.model.get("thumb_size");
    const thumbs = [...new Set([...THUMB_SIZES, thumb])].sort((a, b) => a - b);
    const thumbSelect = h("select", { class: "dlnb-thumb-size", "aria-label": "thumbnail size", onchange: (ev) => {
      this.model.set("thumb_size", Number(ev.target.value));
      this.model.save_changes();
    } }, thumbs.map((s) => h("option", { value: s, selected: s === thumb }, `${s} px`)));
    const button = (label, title, target, disabled, cls) =>
      h("button", { class: `dlnb-btn ${cls}`, title, disabled, onclick: () => this.setPage(target) }, label);
    this.pager.replaceChildren(
      button("«", "first page", 0, page === 0, "dlnb-first"),
      button("‹", "previous page (PageUp)", page - 1, page === 0, "dlnb-prev"),
      h("span", { class: "dlnb-page-label" }, "Page ", input, ` of ${fmt(pages)}`),
      button("›", "next page (PageDown)", page + 1, page >= pages - 1, "dlnb-next"),
      button("»", "last page", pages - 1, page >= pages - 1, "dlnb-last"),
      select, thumbSelect);
  }

  renderStatus(extra = "") {
    const start = this.pageStart;
    const stop = Math.min(this.total, start + this.pageSize);
    const selected = this.model.get("selected_indices").length;
    const range = this.total ? `Samples ${fmt(start)}–${fmt(Math.max(start, stop - 1))} of ${fmt(this.total)}` : "No samples";
    this.status.textContent = `${range}${selected ? ` · ${fmt(selected)} selected` : ""}${extra ? ` · ${extra}` : ""}`;
  }

  /** One load for several trait changes made together (page_size and page, say). */
  scheduleLoad() {
    if (this.loadQueued) return;
    this.loadQueued = true;
    queueMicrotask(() => {
      this.loadQueued = false;
      this.load();
    });
  }

  async load() {
    const token = ++this.token;
    const start = this.pageStart;
    const count = Math.max(0, Math.min(this.pageSize, this.total - start));
    const thumb = this.model.get("thumb_size");
    this.renderPager();
    this.renderStatus("loading…");
    this.root.dataset.state = "loading";
    this.grid.style.setProperty("--dlnb-thumb", `${thumb}px`);
    const old = this.pool;
    this.pool = new UrlPool();
    this.tiles = new Map();
    const tiles = [];
    for (let p = start; p < start + count; p++) {
      const tile = h("div", { class: "dlnb-tile dlnb-pending", role: "gridcell", tabindex: "-1", dataset: { position: p } },
        h("div", { class: "dlnb-thumb" }), h("div", { class: "dlnb-foot" }, h("span", { class: "dlnb-index" }, `#${fmt(p)}`)));
      tile.addEventListener("click", (ev) => this.click(p, ev));
      this.tiles.set(p, tile);
      tiles.push(tile);
    }
    this.grid.replaceChildren(...(tiles.length ? tiles : [h("div", { class: "dlnb-empty" }, "No samples to show.")]));
    old.clear();
    this.paintSelection();
    if (!count) {
      this.root.dataset.state = "ready";
      this.renderStatus();
      return;
    }
    const body = this.pageRequest(start, count, thumb);
    const onPart = (msg, buffers) => {
      if (token === this.token) for (const sample of msg.samples) this.fill(sample, buffers, thumb);
    };
    const early = this.prefetched;
    this.prefetched = null;
    try {
      if (!(early && await early.takeOver(body, this.model.get("_reload"), onPart))) {
        await this.channel.request(body, onPart);
      }
    } catch (err) {
      if (token === this.token) {
        this.renderStatus(`error: ${err.message}`);
        this.root.dataset.state = "error";
      }
      return;
    }
    if (token !== this.token) return;
    this.root.dataset.state = "ready";
    this.root.dataset.page = String(this.model.get("page"));
    this.renderStatus();
    if (this.cursor !== null && this.tiles.has(this.cursor) && this.root.contains(document.activeElement)) {
      this.focusTile(this.cursor);
    }
  }

  /** The request for samples `[start, start + count)` as thumbnails of side `thumb`. */
  pageRequest(start, count, thumb) {
    return { type: "page", start, count, thumb, image: this.model.get("image_tensor"),
             overlays: this.model.get("overlays"), ...this.requestExtras() };
  }

  /** Ask now for the first page of the samples that a request just sent will show (a query run
   * from the query widget). The kernel answers the two in order, so this page comes right behind
   * that request's trait update instead of one more round trip after it; the load the update starts
   * (with a new `_reload`) takes it over. Unused, it is dropped at the next load. */
  prefetchFirstPage() {
    const body = this.pageRequest(0, this.pageSize, this.model.get("thumb_size"));
    const key = JSON.stringify(body);
    const reload = this.model.get("_reload");
    const parts = [];
    let listener = null;
    const done = this.channel.request(body, (msg, buffers) => {
      parts.push([msg, buffers]);
      if (listener) listener(msg, buffers);
    });
    done.catch(() => {});   // a failed prefetch only means the load asks again
    this.prefetched = {
      /** Feed `onPart` this page's parts (those come and those to come) when `wanted` is the same
       * request on a changed `_reload`; whether it did (false: ask anew). */
      async takeOver(wanted, reloadNow, onPart) {
        if (reloadNow === reload || wanted.start !== 0 || JSON.stringify({ ...wanted, count: body.count }) !== key) {
          return false;
        }
        for (const [msg, buffers] of parts) onPart(msg, buffers);
        listener = onPart;
        try {
          await done;
          return true;
        } catch (err) {
          return false;
        }
      },
    };
  }

  fill(sample, buffers, thumb) {
    const tile = this.tiles.get(sample.position);
    if (!tile) return;
    const { frame, captions } = picture(sample, buffers, this.pool, thumb, thumb, this.model.get("class_colours"));
    tile.querySelector(".dlnb-thumb").replaceChildren(frame);
    const foot = tile.querySelector(".dlnb-foot");
    const label = sample.index !== sample.position ? `#${fmt(sample.position)} · idx ${fmt(sample.index)}` : `#${fmt(sample.index)}`;
    foot.replaceChildren(h("span", { class: "dlnb-index" }, label),
      ...captions.map((c) => h("span", { class: "dlnb-caption", title: c.text }, c.text)));
    tile.classList.remove("dlnb-pending");
    tile.dataset.index = sample.index;
    if (sample.group && (sample.position === sample.group.start || sample.position === this.pageStart)) {
      const g = sample.group;
      const more = sample.position === g.start ? "" : " (continued)";
      tile.before(h("div", { class: "dlnb-group-head", dataset: { group: g.number } },
        `Group ${fmt(g.number + 1)} · ${fmt(g.size)} sample${g.size === 1 ? "" : "s"}${more}`));
    }
  }

  // -- selection, cursor, keyboard ---------------------------------------------------------------
  selection() { return new Set(this.model.get("selected_indices")); }

  setSelection(set) {
    this.model.set("selected_indices", [...set].sort((a, b) => a - b));
    this.model.save_changes();
    this.paintSelection();
  }

  paintSelection() {
    const selected = this.selection();
    for (const [p, tile] of this.tiles) {
      tile.classList.toggle("dlnb-selected", selected.has(p));
      tile.setAttribute("aria-selected", selected.has(p) ? "true" : "false");
    }
    if (this.root.dataset.state !== "loading") this.renderStatus();
  }

  click(p, ev) {
    const selected = this.selection();
    if (ev.ctrlKey || ev.metaKey) {
      if (selected.has(p)) selected.delete(p); else selected.add(p);
      this.setSelection(selected);
      this.anchor = p;
    } else if (ev.shiftKey && this.anchor !== null) {
      const [a, b] = [Math.min(this.anchor, p), Math.max(this.anchor, p)];
      for (let i = a; i <= b; i++) selected.add(i);
      this.setSelection(selected);
    } else {
      this.setSelection(new Set([p]));
      this.anchor = p;
      this.open(p);
    }
    this.focusTile(p);
  }

  focusTile(p) {
    this.cursor = p;
    for (const [q, tile] of this.tiles) tile.classList.toggle("dlnb-cursor", q === p);
    const tile = this.tiles.get(p);
    if (tile) tile.focus({ preventScroll: false });
  }

  columns() {
    const tiles = [...this.tiles.values()];
    if (tiles.length < 2) return 1;
    const top = tiles[0].offsetTop;
    const n = tiles.findIndex((t) => t.offsetTop !== top);
    return n < 0 ? tiles.length : n;
  }

  move(to) {
    if (!this.total) return;
    const target = Math.min(Math.max(0, to), this.total - 1);
    this.cursor = target;
    const page = Math.floor(target / this.pageSize);
    if (page !== this.model.get("page")) this.setPage(page); // load() focuses the cursor when done
    else this.focusTile(target);
    if (this.detailPosition !== null) this.open(target);
  }

  key(ev) {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    if (ev.target instanceof HTMLButtonElement && (ev.key === "Enter" || ev.key === " ")) return;
    const cursor = this.cursor ?? this.pageStart;
    const handled = {
      ArrowRight: () => this.move(cursor + 1),
      ArrowLeft: () => this.move(cursor - 1),
      ArrowDown: () => this.move(cursor + this.columns()),
      ArrowUp: () => this.move(cursor - this.columns()),
      PageDown: () => this.move(cursor + this.pageSize),
      PageUp: () => this.move(cursor - this.pageSize),
      Enter: () => { this.setSelection(new Set([cursor])); this.anchor = cursor; this.open(cursor); },
      " ": () => {
        const selected = this.selection();
        if (selected.has(cursor)) selected.delete(cursor); else selected.add(cursor);
        this.setSelection(selected);
      },
      Escape: () => { if (this.detailPosition !== null) this.close(); else this.setSelection(new Set()); },
    }[ev.key];
    if (!handled) return;
    ev.preventDefault();
    ev.stopPropagation();
    handled();
  }

  // -- detail panel -------------------------------------------------------------------------------
  async open(p) {
    const token = ++this.detailToken;
    this.detailPosition = p;
    this.detail.hidden = false;
    this.detail.dataset.position = p;
    this.detail.dataset.state = "loading";
    if (!this.detail.childElementCount) this.detail.append(h("div", { class: "dlnb-note" }, "loading…"));
    try {
      const { msg, buffers } = await this.channel.request({
        type: "sample", position: p, image: this.model.get("image_tensor"), overlays: this.model.get("overlays"),
        ...this.requestExtras(),
      });
      if (token !== this.detailToken) return;
      this.detailPool.clear();
      this.showDetail(p, msg.sample, buffers, token);
    } catch (err) {
      if (token !== this.detailToken) return;
      this.detail.replaceChildren(h("div", { class: "dlnb-error" }, err.message));
      this.detail.dataset.state = "error";
    }
  }

  showDetail(p, sample, buffers, token) {
    renderDetail(this.detail, sample, buffers, this.detailPool, {
      prev: () => this.move(p - 1), next: () => this.move(p + 1), close: () => this.close(),
      more: (layer) => this.moreObjects(p, sample, buffers, layer, token),
      similar: this.similar && this.model.get("similar_tensors") && this.model.get("similar_tensors").length
        ? () => this.similar(p) : null,
    }, this.model.get("class_colours"));
    this.detail.dataset.state = "ready";
  }

  /** Load the next objects of a capped overlay of the detail sample (an `objects` request) and redraw. */
  async moreObjects(p, sample, buffers, layer, token) {
    this.detail.dataset.state = "loading";
    try {
      const { msg } = await this.channel.request({
        type: "objects", position: p, tensor: layer.tensor, image: this.model.get("image_tensor"),
        start: objectsOf(layer).length, count: OBJECTS_PAGE, ...this.requestExtras(),
      });
      if (token !== this.detailToken) return;
      const got = msg.objects;
      if (layer.kind === "box") {
        layer.boxes = layer.boxes.concat(got.boxes);
        layer.names = layer.names && got.names ? layer.names.concat(got.names) : null;
      } else {
        layer.names = layer.names.concat(got.names);
      }
      this.showDetail(p, sample, buffers, token);
    } catch (err) {
      if (token !== this.detailToken) return;
      this.detail.dataset.state = "error";
      this.status.textContent = err.message;
    }
  }

  close() {
    this.detailToken++;
    this.detailPosition = null;
    this.detail.hidden = true;
    this.detail.replaceChildren();
    this.detailPool.clear();
    if (this.cursor !== null) this.focusTile(this.cursor);
  }
}

// -- shared toolbar controls ----------------------------------------------------------------------
/** The picture-tensor picker and overlay toggles of a sample grid, drawn into `toolbar` and kept in
 * step with the `tensors`, `image_tensor` and `overlays` traits. `lead` (a function returning nodes)
 * puts the widget's own items first. Returns a function that stops it. */
export function tensorPicker(model, toolbar, lead = () => []) {
  const draw = () => {
    const tensors = model.get("tensors");
    const images = tensors.filter((t) => t.role === "image");
    const layers = tensors.filter((t) => ["label", "box", "mask", "text"].includes(t.role));
    const current = model.get("image_tensor");
    const shown = new Set(model.get("overlays"));
    const picker = h("select", { class: "dlnb-image-picker", "aria-label": "picture tensor", onchange: (ev) => {
      model.set("image_tensor", ev.target.value);
      model.save_changes();
    } }, images.map((t) => h("option", { value: t.name, selected: t.name === current }, `${t.name} (${t.htype})`)),
      h("option", { value: "", selected: current === "" }, "(no picture)"));
    const toggles = layers.map((t) => h("label", { class: "dlnb-toggle", title: `${t.htype} · ${t.dtype}` },
      h("input", { type: "checkbox", checked: shown.has(t.name), dataset: { tensor: t.name }, onchange: (ev) => {
        const next = new Set(model.get("overlays"));
        if (ev.target.checked) next.add(t.name); else next.delete(t.name);
        model.set("overlays", layers.map((l) => l.name).filter((n) => next.has(n)));
        model.save_changes();
      } }), ` ${t.name}`));
    toolbar.replaceChildren(...lead(),
      h("label", { class: "dlnb-field-label" }, "picture ", picker),
      toggles.length ? h("span", { class: "dlnb-field-label" }, "overlays ", ...toggles) : "");
  };
  draw();
  const events = "change:tensors change:image_tensor change:overlays";
  model.on(events, draw);
  return () => model.off(events, draw);
}

/** The SVG namespace, taken from a parsed <svg> (an HTML parser puts it there). */
let svgNamespace = null;
export function svg(tag, attrs = {}, ...children) {
  if (svgNamespace === null) {
    const template = document.createElement("template");
    template.innerHTML = "<svg></svg>";
    svgNamespace = template.content.firstChild.namespaceURI;
  }
  const node = document.createElementNS(svgNamespace, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
