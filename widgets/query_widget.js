// query_widget.js: `dl.ui.QueryWidget(ds)` — a TQL editor above the shared SampleGrid (grid.js):
// Enter runs the query (Shift+Enter adds a line), the count and run time show beside a bar chart of
// the result's class labels (inline SVG), a malformed query shows its error with a caret under the
// spot (the text stays in the editor, the spot selected), and a menu brings back earlier queries.
//
// Messages (ui/query_widget.py): {type: "run", id, query} -> {type: "result", id, ok, ...}; the
// kernel updates the `query`, `result`, `error`, `history` and `chart` traits before it replies, and
// the view is drawn from those traits, so a run started from Python shows the same way.

const libraries = new Map();

function library(source) {
  if (!libraries.has(source)) {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    libraries.set(source, import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url)));
  }
  return libraries.get(source);
}

const fmt = (n) => Number(n).toLocaleString("en-US");
const CHART = { width: 360, label: 96, bar: 14, gap: 4, countWidth: 44 };

/** The line of `query` an error points at and the caret line under it (tabs shown as spaces). */
export function caretLines(query, error) {
  const lines = String(query ?? "").split("\n");
  const source = (lines[(error.line || 1) - 1] ?? "").replace(/\t/g, " ");
  const column = Math.max(0, (error.column || 1) - 1);
  const room = Math.max(1, source.length - column);
  return { source, caret: " ".repeat(column) + "^".repeat(Math.max(1, Math.min(error.width || 1, room))) };
}

/** Bars of the chart trait with their geometry: [{name, count, kind, y, width}], widest = full scale. */
export function chartBars(chart, width = CHART.width) {
  const bars = (chart.bars || []).map((b) => ({ name: b.name, id: b.id, count: b.count, kind: "class" }));
  if (chart.other) bars.push({ name: "(other classes)", count: chart.other, kind: "other" });
  if (chart.unlabeled) bars.push({ name: "(no label)", count: chart.unlabeled, kind: "none" });
  const top = Math.max(1, ...bars.map((b) => b.count));
  const span = width - CHART.label - CHART.countWidth;
  return bars.map((b, k) => ({ ...b, y: k * (CHART.bar + CHART.gap),
                               width: Math.max(b.count ? 1 : 0, Math.round((b.count / top) * span)) }));
}

/** A TQL name: bare when it is a plain identifier, else "quoted". */
export function tqlName(name) {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The query a chart bar writes: `contains(t, 'x')` for a multi-label tensor, else `t == 'x'`;
 * `ident` is the tensor as TQL writes it (the chart's `tql`, which quotes keywords too). */
export function classQuery(tensor, name, multi, ident = tqlName(tensor)) {
  const value = `'${String(name).replace(/'/g, "''")}'`;
  return `SELECT * WHERE ${multi ? `contains(${ident}, ${value})` : `${ident} == ${value}`}`;
}

/** A share as text: "42.5%" (never above 100% for counts of samples). */
export function share(count, total) {
  return total ? `${((100 * count) / Math.max(1, total)).toFixed(1)}%` : "";
}

export default {
  async render({ model, el }) {
    const lib = await library(model.get("_lib_esm"));
    const { h } = lib;

    const editor = h("textarea", { class: "dlnb-q-editor", rows: 2, spellcheck: "false", autocomplete: "off",
      "aria-label": "TQL query", placeholder: "SELECT * WHERE labels == 'cat' ORDER BY random() LIMIT 100" });
    editor.value = model.get("query");
    const runButton = h("button", { class: "dlnb-btn dlnb-q-run", title: "Run (Enter; Shift+Enter for a new line)" },
      "▶ Run");
    const history = h("select", { class: "dlnb-q-history", "aria-label": "query history" });
    const errorBox = h("div", { class: "dlnb-q-error", role: "alert", hidden: true });
    const stats = h("div", { class: "dlnb-q-stats" });
    const chartBox = h("div", { class: "dlnb-q-chart" });
    const gridHost = h("div", { class: "dlnb-q-grid" });
    const filters = h("aside", { class: "dlnb-q-filters", "aria-label": "filters" });
    const root = h("div", { class: "dlnb-query", "data-lm-suppress-shortcuts": "true", dataset: { state: "idle" } },
      h("div", { class: "dlnb-q-bar" }, editor, h("div", { class: "dlnb-q-actions" }, runButton, history)),
      errorBox, h("div", { class: "dlnb-q-summary" }, stats, chartBox),
      h("div", { class: "dlnb-q-main" }, filters, gridHost));
    el.append(root);
    const grid = new lib.SampleGrid(model, gridHost, {
      similar: (p) => (model.get("similar_tensors").length ? findSimilar(p) : null),
    });
    grid.root.classList.add("dlnb-query-grid");
    const stopPicker = lib.tensorPicker(model, grid.toolbar);
    const stopSummary = lib.summaryWithoutKernel(model, root, grid.channel);

    let lastSent = null;
    let running = false;

    const autosize = () => {
      editor.rows = Math.min(10, Math.max(2, editor.value.split("\n").length));
    };

    /** Run the editor's query. */
    function run() {
      if (running) return;
      lastSent = editor.value;
      return send({ type: "run", query: editor.value }, "running…", (msg) => { if (!msg.ok) pointAtError(true); });
    }

    /** One request that runs a query in the kernel: the widget shows it running until the reply, then
     * `onReply(msg)` and the reply's state; a failed request shows its message in the error box. */
    async function send(body, note, onReply) {
      if (running) return;
      running = true;
      root.dataset.state = "running";
      runButton.disabled = true;
      stats.replaceChildren(h("span", { class: "dlnb-note" }, note));
      try {
        const reply = grid.channel.request(body);
        grid.prefetchFirstPage();   // answered right after the query: its first page, without waiting
        const { msg } = await reply;
        onReply(msg);
        root.dataset.state = msg.ok ? "ok" : "error";
      } catch (err) {
        root.dataset.state = "error";
        errorBox.replaceChildren(h("div", { class: "dlnb-q-error-msg" }, err.message));
        errorBox.hidden = false;
      } finally {
        running = false;
        runButton.disabled = false;
        drawStats();
      }
    }

    /** Select the erroneous span in the editor (when it still holds the failed text). */
    function pointAtError(focus) {
      const e = model.get("error");
      if (!e || e.position === null || e.position === undefined || editor.value !== e.query) return;
      if (focus) editor.focus();
      editor.setSelectionRange(e.position, Math.min(editor.value.length, e.position + (e.width || 1)));
    }

    function drawError() {
      const e = model.get("error");
      editor.classList.toggle("dlnb-q-invalid", !!(e && e.message));
      if (!e || !e.message) {
        errorBox.hidden = true;
        errorBox.replaceChildren();
        delete errorBox.dataset.line;
        delete errorBox.dataset.column;
        return;
      }
      const where = e.line ? ` (line ${e.line}, column ${e.column})` : "";
      const parts = [h("div", { class: "dlnb-q-error-msg" },
        h("b", {}, e.kind === "QueryError" ? "Query error" : e.kind || "Error"), `: ${e.message}${where}`)];
      if (e.line) {
        const { source, caret } = caretLines(e.query, e);
        parts.push(h("pre", { class: "dlnb-q-error-src" }, h("span", { class: "dlnb-q-src" }, source), "\n",
          h("span", { class: "dlnb-q-caret" }, caret)));
        errorBox.dataset.line = e.line;
        errorBox.dataset.column = e.column;
      }
      errorBox.replaceChildren(...parts);
      errorBox.hidden = false;
    }

    function drawStats() {
      if (running) return;
      const r = model.get("result");
      const e = model.get("error");
      const total = model.get("length");
      if (!r || !r.ok) {
        stats.dataset.count = String(total);
        stats.replaceChildren(h("span", { class: "dlnb-q-count" }, `all ${fmt(total)} samples`),
          h("span", { class: "dlnb-note" }, " · no query run yet"));
        return;
      }
      stats.dataset.count = String(r.count);
      const what = r.grouped ? `${fmt(r.count)} groups (${fmt(r.samples)} samples)`
        : `${fmt(r.count)} result${r.count === 1 ? "" : "s"}`;
      stats.replaceChildren(
        h("span", { class: "dlnb-q-count", title: r.query }, what),
        h("span", { class: "dlnb-q-time" }, ` · ${r.ms < 10 ? r.ms.toFixed(2) : fmt(Math.round(r.ms))} ms`),
        e && e.message ? h("span", { class: "dlnb-note" }, " · previous result (the last query failed)") : "");
    }

    // -- the filter panel: each change writes its query into the editor and runs it ----------------
    let selection = { classes: {}, ranges: {}, text: {} };

    function applyFilter() {
      return ask({ type: "filter", selection }, "filtering…");
    }

    /** "Find similar" in the detail panel: the kernel writes the cosine_similarity query and runs it. */
    function findSimilar(position) {
      return ask({ type: "similar", position }, "finding similar samples…");
    }

    /** Send a request whose reply is a query the kernel wrote and ran; show that query in the editor. */
    function ask(body, note) {
      return send(body, note, (msg) => {
        editor.value = msg.query;
        lastSent = msg.query;
        autosize();
      });
    }

    function classFacet(f) {
      const chosen = new Set(selection.classes[f.tensor] || []);
      const colours = model.get("class_colours");
      return h("details", { class: "dlnb-q-facet", open: true, dataset: { tensor: f.tensor, kind: "class" } },
        h("summary", {}, h("b", {}, f.tensor), f.multi ? h("span", { class: "dlnb-note" }, " · multi-label") : ""),
        f.classes.map((c) => {
          const k = lib.classColour(colours, c.name);
          return h("label", { class: "dlnb-q-facet-row", title: `${c.name}: ${fmt(c.count)} samples (${share(c.count, f.total)})` },
            h("input", { type: "checkbox", checked: chosen.has(c.name), dataset: { cls: c.name }, onchange: (ev) => {
              const next = new Set(selection.classes[f.tensor] || []);
              if (ev.target.checked) next.add(c.name); else next.delete(c.name);
              selection.classes[f.tensor] = [...next];
              applyFilter();
            } }),
            h("span", { class: "dlnb-q-swatch", style: { background: lib.colour(k) } }),
            h("span", { class: "dlnb-q-facet-name" }, c.name),
            h("span", { class: "dlnb-q-facet-count" }, fmt(c.count)));
        }));
    }

    function rangeFacet(f) {
      const [lo, hi] = selection.ranges[f.expr] || [f.min, f.max];
      const step = f.integer ? 1 : (f.max - f.min) / 100 || 1;
      const label = h("span", { class: "dlnb-q-range-text" }, `${lo} – ${hi}`);
      const slider = (value, which) => h("input", { type: "range", min: f.min, max: f.max, step, value,
        class: `dlnb-q-range-${which}`, "aria-label": `${f.expr} ${which}`,
        oninput: () => { label.textContent = `${low.value} – ${high.value}`; },
        onchange: () => {
          let [a, b] = [Number(low.value), Number(high.value)];
          if (a > b) [a, b] = [b, a];
          selection.ranges[f.expr] = [a, b];
          applyFilter();
        } });
      const low = slider(lo, "min");
      const high = slider(hi, "max");
      return h("details", { class: "dlnb-q-facet", open: true, dataset: { tensor: f.tensor, kind: "range", expr: f.expr } },
        h("summary", { title: f.expr }, h("b", {}, f.label || f.expr), " ", label), low, high);
    }

    function textFacet(f) {
      const input = h("input", { type: "search", class: "dlnb-q-search", placeholder: "contains…",
        value: selection.text[f.tensor] || "", "aria-label": `search ${f.tensor}`, spellcheck: "false",
        onkeydown: (ev) => { ev.stopPropagation(); },
        onchange: () => { selection.text[f.tensor] = input.value; applyFilter(); } });
      return h("details", { class: "dlnb-q-facet", open: true, dataset: { tensor: f.tensor, kind: "text" } },
        h("summary", {}, h("b", {}, f.tensor)), input);
    }

    function drawFilters() {
      const found = model.get("facets") || [];
      filters.hidden = !found.length;
      const draw = { class: classFacet, range: rangeFacet, text: textFacet };
      filters.replaceChildren(
        h("div", { class: "dlnb-q-filters-head" }, h("b", {}, "Filters"),
          h("button", { class: "dlnb-btn dlnb-q-clear", title: "clear every filter", onclick: () => {
            selection = { classes: {}, ranges: {}, text: {} };
            drawFilters();
            applyFilter();
          } }, "clear")),
        ...found.map((f) => draw[f.kind](f)));
    }

    function drawHistory() {
      const items = model.get("history");
      history.replaceChildren(
        h("option", { value: "", selected: true, disabled: true }, items.length ? `History (${items.length})` : "History"),
        ...items.map((item, k) => h("option", { value: String(k), title: item.error || item.query },
          `${item.ok ? "✓" : "✗"} ${item.query.replace(/\s+/g, " ").slice(0, 80)}${item.ok ? ` — ${fmt(item.count)}` : ""}`)));
      history.disabled = !items.length;
    }

    function drawChart() {
      const chart = model.get("chart");
      const labels = model.get("tensors").filter((t) => t.role === "label");
      if (!chart || !chart.tensor) {
        chartBox.replaceChildren();
        chartBox.hidden = true;
        return;
      }
      chartBox.hidden = false;
      const head = labels.length > 1
        ? h("select", { class: "dlnb-q-chart-tensor", "aria-label": "class-label tensor", onchange: (ev) => {
          model.set("chart_tensor", ev.target.value);
          model.save_changes();
        } }, labels.map((t) => h("option", { value: t.name, selected: t.name === chart.tensor }, t.name)))
        : h("b", {}, chart.tensor);
      if (chart.error) {
        chartBox.replaceChildren(h("div", { class: "dlnb-q-chart-head" }, head),
          h("div", { class: "dlnb-error" }, chart.error));
        return;
      }
      const bars = chartBars(chart);
      const height = Math.max(CHART.bar, bars.length * (CHART.bar + CHART.gap));
      const plot = lib.svg("svg", { class: "dlnb-q-chart-svg", width: CHART.width, height,
        viewBox: `0 0 ${CHART.width} ${height}`, role: "img", "aria-label": `${chart.tensor} classes in the result` },
        bars.map((b, k) => {
          const shareText = chart.total ? ` (${share(b.count, chart.total)} of samples)` : "";
          const clickable = b.kind === "class";
          return lib.svg("g", { class: `dlnb-q-bar-row dlnb-q-${b.kind}`, dataset: { label: b.name, count: b.count },
            transform: `translate(0, ${b.y})`, style: clickable ? "cursor:pointer" : undefined,
            onclick: clickable ? () => {
              editor.value = classQuery(chart.tensor, b.name, chart.multi, chart.tql);
              autosize();
              editor.focus();
            } : undefined },
          lib.svg("title", {}, `${b.name}: ${fmt(b.count)}${shareText}${clickable ? " — click to write a query for it" : ""}`),
          lib.svg("text", { class: "dlnb-q-bar-label", x: CHART.label - 6, y: CHART.bar - 3, "text-anchor": "end" },
            b.name.length > 14 ? `${b.name.slice(0, 13)}…` : b.name),
          lib.svg("rect", { class: "dlnb-q-bar", x: CHART.label, y: 0, width: b.width, height: CHART.bar, rx: 2,
            fill: b.kind === "class" ? lib.colour(lib.classColour(model.get("class_colours"), b.name)) : "#999" }),
          lib.svg("text", { class: "dlnb-q-bar-count", x: CHART.label + b.width + 4, y: CHART.bar - 3 }, fmt(b.count)));
        }));
      chartBox.replaceChildren(h("div", { class: "dlnb-q-chart-head" }, head,
        h("span", { class: "dlnb-note" }, ` in ${fmt(chart.total)} samples`)),
        bars.length ? plot : h("div", { class: "dlnb-note" }, "no labels"));
    }

    // -- events ------------------------------------------------------------------------------------
    editor.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") ev.stopPropagation(); // JupyterLab's shortcuts stay out of the editor
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        run();
      }
    });
    editor.addEventListener("input", () => {
      autosize();
      if (editor.classList.contains("dlnb-q-invalid")) editor.classList.toggle("dlnb-q-edited", true);
    });
    runButton.addEventListener("click", () => run());
    history.addEventListener("change", () => {
      const item = model.get("history")[Number(history.value)];
      history.selectedIndex = 0;
      if (!item) return;
      editor.value = item.query;
      autosize();
      editor.focus();
    });

    const onQuery = () => {
      const q = model.get("query");
      if (q !== editor.value && q !== lastSent) {
        editor.value = q;
        autosize();
      }
    };
    const onError = () => {
      editor.classList.remove("dlnb-q-edited");
      drawError();
      drawStats();
      if (!running) pointAtError(false);
    };
    const onRunning = () => { // a query started from Python
      if (model.get("running") && !running) stats.replaceChildren(h("span", { class: "dlnb-note" }, "running…"));
    };
    const listeners = [
      ["change:query", onQuery],
      ["change:running", onRunning],
      ["change:error", onError],
      ["change:result change:length", drawStats],
      ["change:history", drawHistory],
      ["change:chart change:tensors", drawChart],
      ["change:facets change:class_colours", drawFilters],
    ];
    for (const [events, fn] of listeners) model.on(events, fn);
    autosize();
    drawError();
    drawStats();
    drawHistory();
    drawChart();
    drawFilters();

    return () => {
      for (const [events, fn] of listeners) model.off(events, fn);
      stopSummary();
      stopPicker();
      grid.destroy();
    };
  },
};
