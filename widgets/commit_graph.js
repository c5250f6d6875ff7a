// commit_graph.js: `ds.commit_graph()` — the commit DAG of a dataset, drawn from the `graph` trait
// (rows and lanes are laid out in the kernel, ui/commit_graph.py): lanes as coloured lines, commits
// as dots (HEAD ringed, merges hollow), merge edges, branch / tag / HEAD chips, and a dashed node
// for uncommitted changes. Click a commit (Ctrl/Shift-click a second one) for the detail panel: its
// message, author, time and diff against its parent; the buttons check out, create a branch there,
// or diff the two selected commits. All actions are requests to the kernel over custom messages,
// which answers after it has updated `graph`.
//
// Staying current: while the widget is on screen it sends {type: "poll"} every `poll_seconds`, and
// at once when the pointer or the focus enters it; the kernel rebuilds `graph` only when the
// history changed.

const libraries = new Map();

function library(source) {
  if (!libraries.has(source)) {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    libraries.set(source, import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url)));
  }
  return libraries.get(source);
}

export const GEOMETRY = { row: 26, col: 16, pad: 12, dot: 5 };

export const laneX = (lane) => GEOMETRY.pad + lane * GEOMETRY.col;
export const rowY = (row) => row * GEOMETRY.row + GEOMETRY.row / 2;

/** The SVG path of an edge from a child at (x1, y1) down to its parent at (x2, y2). A first-parent
 * edge into another lane (a branch forking off) runs down the child's lane and bends into the
 * parent's just above it; a merge edge bends into the parent's lane just below the child. */
export function edgePath(x1, y1, x2, y2, merge) {
  if (x1 === x2) return `M ${x1} ${y1} L ${x2} ${y2}`;
  const step = GEOMETRY.row;
  if (y2 - y1 <= step) return `M ${x1} ${y1} C ${x1} ${y1 + step * 0.6}, ${x2} ${y2 - step * 0.6}, ${x2} ${y2}`;
  if (merge) {
    const bend = y1 + step;
    return `M ${x1} ${y1} C ${x1} ${y1 + step * 0.6}, ${x2} ${bend - step * 0.6}, ${x2} ${bend} L ${x2} ${y2}`;
  }
  const bend = y2 - step;
  return `M ${x1} ${y1} L ${x1} ${bend} C ${x1} ${bend + step * 0.6}, ${x2} ${y2 - step * 0.6}, ${x2} ${y2}`;
}

/** Branch and tag names per commit id, HEAD first. */
export function refsByCommit(graph) {
  const refs = new Map();
  const add = (id, ref) => { if (!refs.has(id)) refs.set(id, []); refs.get(id).push(ref); };
  if (graph.branch === null || graph.branch === undefined) add(graph.head, { kind: "head", name: "HEAD" });
  for (const [name, id] of Object.entries(graph.branches || {})) {
    add(id, { kind: "branch", name, current: name === graph.branch });
  }
  for (const [name, id] of Object.entries(graph.tags || {})) add(id, { kind: "tag", name });
  return refs;
}

function when(seconds) {
  const date = new Date(seconds * 1000);
  const ago = (Date.now() - date.getTime()) / 1000;
  const pad = (n) => String(n).padStart(2, "0");
  const full = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
  let rel = full;
  if (ago >= -60 && ago < 60) rel = "just now";
  else if (ago >= 0 && ago < 3600) rel = `${Math.round(ago / 60)} min ago`;
  else if (ago >= 0 && ago < 86400) rel = `${Math.round(ago / 3600)} h ago`;
  return { full, rel };
}

export default {
  async render({ model, el }) {
    const lib = await library(model.get("_lib_esm"));
    const { h, svg, colour } = lib;
    const channel = new lib.Channel(model);
    const G = GEOMETRY;

    const title = h("span", { class: "dlnb-title" });
    const where = h("span", { class: "dlnb-cg-where" });
    const diffButton = h("button", { class: "dlnb-btn dlnb-cg-diff", title: "diff the two selected commits (Ctrl-click a second one)" }, "Diff selected");
    const refreshButton = h("button", { class: "dlnb-btn dlnb-cg-refresh", title: "re-read the history" }, "↻");
    const toolbar = h("div", { class: "dlnb-toolbar" }, title, where, h("span", { class: "dlnb-cg-spacer" }), diffButton, refreshButton);
    const canvas = h("div", { class: "dlnb-cg-canvas", role: "listbox", tabindex: "0", "aria-label": "commits" });
    const scroll = h("div", { class: "dlnb-cg-scroll" }, canvas);
    const detail = h("aside", { class: "dlnb-cg-detail", dataset: { state: "empty" } },
      h("div", { class: "dlnb-note" }, "Click a commit for its details; Ctrl-click a second one to diff the two."));
    const status = h("div", { class: "dlnb-status dlnb-cg-status" });
    const root = h("div", { class: "dlnb-root dlnb-commit-graph", "data-lm-suppress-shortcuts": "true", dataset: { state: "ready" } },
      toolbar, h("div", { class: "dlnb-cg-body" }, scroll, detail), status);
    el.append(root);
    const stopSummary = lib.summaryWithoutKernel(model, root, channel);

    let rowNodes = new Map();
    let detailToken = 0;

    const graph = () => model.get("graph") || {};
    const selected = () => model.get("selected") || [];
    const byId = () => new Map((graph().commits || []).map((c) => [c.id, c]));
    const shortOf = (id) => (byId().get(id) || {}).short || String(id).slice(12, 20);

    function say(text, kind = "info") {
      status.textContent = text;
      status.dataset.kind = kind;
    }

    function select(ids) {
      model.set("selected", ids); // change:selected repaints and loads the detail panel
      model.save_changes();
    }

    function click(id, ev) {
      const now = selected();
      if ((ev.ctrlKey || ev.metaKey || ev.shiftKey) && now.length) {
        if (now.includes(id)) select(now.filter((c) => c !== id));
        else select([now[0], id]);
      } else {
        select([id]);
      }
    }

    // -- drawing the graph -------------------------------------------------------------------------
    function draw() {
      const g = graph();
      const commits = g.commits || [];
      const index = new Map(commits.map((c) => [c.id, c]));
      const refs = refsByCommit(g);
      const rows = g.rows || 0;
      const width = G.pad * 2 + Math.max(0, (g.columns || 1) - 1) * G.col;
      const height = Math.max(rows, 1) * G.row;
      title.textContent = (model.get("title") || "").split("/").filter(Boolean).pop() || "commits";
      title.title = model.get("title");
      const headCommit = index.get(g.head);
      where.replaceChildren(
        g.branch ? h("span", { class: "dlnb-cg-chip dlnb-cg-branch dlnb-cg-current" }, g.branch) : h("span", { class: "dlnb-cg-chip dlnb-cg-headchip" }, "detached HEAD"),
        ` at ${headCommit ? headCommit.short : String(g.head || "").slice(12, 20)}`,
        g.dirty ? h("span", { class: "dlnb-cg-dirty-note" }, " · uncommitted changes") : "",
        h("span", { class: "dlnb-note" }, ` · ${commits.length}${g.truncated ? ` of ${g.total}+` : ""} commits`));
      root.dataset.head = g.head || "";
      root.dataset.branch = g.branch || "";
      root.dataset.dirty = g.dirty ? "true" : "false";

      const edges = [];
      const dots = [];
      for (const c of commits) {
        const x1 = laneX(c.lane), y1 = rowY(c.row);
        c.parents.forEach((pid, k) => {
          const p = index.get(pid);
          if (!p) {
            edges.push(svg("path", { class: "dlnb-cg-edge dlnb-cg-cut", d: `M ${x1} ${y1} L ${x1} ${height}`,
              stroke: colour(c.lane) }));
            return;
          }
          const x2 = laneX(p.lane), y2 = rowY(p.row);
          edges.push(svg("path", { class: `dlnb-cg-edge${k ? " dlnb-cg-merge" : ""}`, d: edgePath(x1, y1, x2, y2, k > 0),
            stroke: colour(k ? p.lane : c.lane), dataset: { child: c.id, parent: pid } }));
        });
        const isHead = c.id === g.head;
        if (isHead) dots.push(svg("circle", { class: "dlnb-cg-headring", cx: x1, cy: y1, r: G.dot + 3.5, stroke: colour(c.lane) }));
        dots.push(svg("circle", { class: `dlnb-cg-dot${c.parents.length > 1 ? " dlnb-cg-mergedot" : ""}`, cx: x1, cy: y1,
          r: G.dot, stroke: colour(c.lane), fill: c.parents.length > 1 ? "var(--dlnb-bg)" : colour(c.lane),
          dataset: { commit: c.id } }));
      }
      if (g.working) {
        const x = laneX(g.working.lane), y = rowY(g.working.row);
        const head = index.get(g.head);
        if (head) edges.push(svg("path", { class: "dlnb-cg-edge dlnb-cg-working-edge", d: edgePath(x, y, laneX(head.lane), rowY(head.row), false), stroke: colour(g.working.lane) }));
        dots.push(svg("circle", { class: "dlnb-cg-working-dot", cx: x, cy: y, r: G.dot, stroke: colour(g.working.lane) }));
      }
      const picture = svg("svg", { class: "dlnb-cg-svg", width, height, viewBox: `0 0 ${width} ${height}` }, edges, dots);

      rowNodes = new Map();
      const lines = [];
      if (g.working) {
        lines.push(h("div", { class: "dlnb-cg-row dlnb-cg-working", style: { top: `${rowY(g.working.row) - G.row / 2}px`, paddingLeft: `${width + 4}px` } },
          h("span", { class: "dlnb-cg-msg" }, "uncommitted changes"),
          h("span", { class: "dlnb-note" }, ` on ${g.branch}`)));
      }
      for (const c of commits) {
        const t = when(c.time);
        const chips = (refs.get(c.id) || []).map((r) => h("span", {
          class: `dlnb-cg-chip dlnb-cg-${r.kind}${r.current ? " dlnb-cg-current" : ""}`,
          title: r.kind === "tag" ? `tag ${r.name}` : r.kind === "head" ? "HEAD (detached)" : `branch ${r.name}`,
          style: r.kind === "branch" ? { borderColor: colour(c.lane) } : undefined,
        }, r.kind === "tag" ? `⌂ ${r.name}` : r.current ? `HEAD → ${r.name}` : r.name));
        const line = h("div", { class: `dlnb-cg-row${c.id === g.head ? " dlnb-cg-head" : ""}`, role: "option", tabindex: "-1",
          dataset: { commit: c.id, row: c.row }, style: { top: `${rowY(c.row) - G.row / 2}px`, paddingLeft: `${width + 4}px` },
          title: `${c.id}\n${c.author} · ${t.full}` },
          chips, h("span", { class: "dlnb-cg-msg" }, c.message || "(no message)"),
          h("span", { class: "dlnb-cg-id" }, c.short),
          h("span", { class: "dlnb-cg-author" }, c.author),
          h("span", { class: "dlnb-cg-time", title: t.full }, t.rel));
        line.addEventListener("click", (ev) => click(c.id, ev));
        rowNodes.set(c.id, line);
        lines.push(line);
      }
      canvas.style.height = `${height}px`;
      canvas.replaceChildren(picture, ...lines);
      if (g.truncated) canvas.append(h("div", { class: "dlnb-note dlnb-cg-more", style: { top: `${height}px` } }, `… older commits not shown (max_commits)`));
      paintSelection();
    }

    function paintSelection() {
      const chosen = selected();
      for (const [id, node] of rowNodes) {
        const k = chosen.indexOf(id);
        node.classList.toggle("dlnb-cg-selected", k === 0);
        node.classList.toggle("dlnb-cg-second", k === 1);
        node.setAttribute("aria-selected", k >= 0 ? "true" : "false");
      }
      diffButton.disabled = chosen.length !== 2;
      diffButton.textContent = chosen.length === 2 ? `Diff ${shortOf(olderNewer(chosen)[0])} → ${shortOf(olderNewer(chosen)[1])}` : "Diff selected";
    }

    /** [older, newer] of two commit ids (the one further down the graph is older). */
    function olderNewer([a, b]) {
      const index = byId();
      const ra = (index.get(a) || { row: 0 }).row, rb = (index.get(b) || { row: 0 }).row;
      return ra >= rb ? [a, b] : [b, a];
    }

    // -- the detail panel ---------------------------------------------------------------------------
    function diffTable(tensors) {
      if (!tensors.length) return h("div", { class: "dlnb-note dlnb-cg-nochange" }, "no changes to samples or tensors");
      const cell = (n, cls) => h("td", { class: `dlnb-cg-num ${n ? cls : "dlnb-cg-zero"}` }, n ? `${cls === "dlnb-cg-add" ? "+" : cls === "dlnb-cg-del" ? "−" : "~"}${n}` : "0");
      return h("table", { class: "dlnb-cg-diff-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "tensor"), h("th", {}, "change"), h("th", {}, "added"), h("th", {}, "updated"), h("th", {}, "deleted"))),
        h("tbody", {}, tensors.map((t) => h("tr", { dataset: { tensor: t.tensor, status: t.status } },
          h("td", { title: t.renamed_from ? `renamed from ${t.renamed_from}` : "" }, h("b", {}, t.tensor)),
          h("td", { class: `dlnb-cg-status-${t.status}` }, t.status === "renamed" ? `renamed from ${t.renamed_from}` : t.status),
          cell(t.added, "dlnb-cg-add"), cell(t.updated, "dlnb-cg-upd"), cell(t.deleted, "dlnb-cg-del")))));
    }

    async function loadDetail() {
      const id = selected()[0];
      const token = ++detailToken;
      if (!id) {
        detail.dataset.state = "empty";
        detail.replaceChildren(h("div", { class: "dlnb-note" }, "Click a commit for its details; Ctrl-click a second one to diff the two."));
        return;
      }
      detail.dataset.state = "loading";
      detail.dataset.commit = id;
      detail.replaceChildren(h("div", { class: "dlnb-note" }, "loading…"));
      try {
        const { msg } = await channel.request({ type: "commit", commit: id });
        if (token !== detailToken) return;
        renderDetail(msg.info);
        detail.dataset.state = "ready";
      } catch (err) {
        if (token !== detailToken) return;
        detail.replaceChildren(h("div", { class: "dlnb-error" }, err.message));
        detail.dataset.state = "error";
      }
    }

    function renderDetail(info) {
      const t = when(info.time);
      const [subject, ...body] = (info.message || "(no message)").split("\n");
      const refOptions = [
        ...info.branches.map((b) => h("option", { value: b }, `branch ${b}`)),
        ...info.tags.map((name) => h("option", { value: name }, `tag ${name} (read-only)`)),
        h("option", { value: info.id }, `commit ${shortOf(info.id)} (read-only)`),
      ];
      const refPicker = h("select", { class: "dlnb-cg-ref", "aria-label": "what to check out" }, refOptions);
      const checkout = h("button", { class: "dlnb-btn dlnb-cg-checkout", onclick: () => act({ type: "checkout", ref: refPicker.value },
        (msg) => `Checked out ${msg.branch ? `branch ${msg.branch}` : `commit ${shortOf(msg.commit)} (read-only)`}`) }, "Check out");
      const name = h("input", { class: "dlnb-cg-branch-name", type: "text", placeholder: "new-branch", "aria-label": "new branch name", spellcheck: "false",
        onkeydown: (ev) => { ev.stopPropagation(); if (ev.key === "Enter") branchButton.click(); } });
      const branchButton = h("button", { class: "dlnb-btn dlnb-cg-branch-btn", onclick: () => {
        const value = name.value.trim();
        if (!value) { name.focus(); say("Type a name for the new branch.", "error"); return; }
        act({ type: "branch", name: value, commit: info.id }, (msg) => `Created branch ${msg.branch} at ${shortOf(msg.commit)} and checked it out`);
      } }, "Create branch here");
      const parents = info.parents.length
        ? info.parents.map((p, k) => h("a", { class: "dlnb-cg-parent", href: "#", onclick: (ev) => { ev.preventDefault(); select([p]); } }, `${shortOf(p)}${k ? " (merged)" : ""}`))
        : ["none (first commit)"];
      detail.replaceChildren(
        h("div", { class: "dlnb-cg-subject" }, subject),
        body.join("\n").trim() ? h("pre", { class: "dlnb-pre dlnb-cg-body-text" }, body.join("\n").trim()) : "",
        h("table", { class: "dlnb-cg-facts" }, h("tbody", {},
          h("tr", {}, h("th", {}, "commit"), h("td", { class: "dlnb-cg-fullid" }, info.id)),
          h("tr", {}, h("th", {}, "author"), h("td", { class: "dlnb-cg-author-full" }, info.author || "—")),
          h("tr", {}, h("th", {}, "time"), h("td", {}, `${t.full} (${t.rel})`)),
          h("tr", {}, h("th", {}, "parents"), h("td", {}, ...parents.flatMap((p, k) => (k ? [", ", p] : [p])))),
          info.branches.length || info.tags.length
            ? h("tr", {}, h("th", {}, "refs"), h("td", {}, [...info.branches, ...info.tags.map((x) => `tag ${x}`)].join(", "))) : "")),
        h("div", { class: "dlnb-cg-section" }, info.diff_base ? `Changes since ${shortOf(info.diff_base)}` : "Changes"),
        info.diff_base ? diffTable(info.diff) : h("div", { class: "dlnb-note" }, "the first commit has no parent to compare with"),
        h("div", { class: "dlnb-cg-actions" }, refPicker, checkout),
        h("div", { class: "dlnb-cg-actions" }, name, branchButton),
        h("div", { class: "dlnb-cg-diffbox" }));
    }

    async function act(request, done) {
      root.dataset.state = "busy";
      say("working…");
      try {
        const { msg } = await channel.request(request);
        say(done(msg), "ok");
        loadDetail();
      } catch (err) {
        say(err.message, "error");
      } finally {
        root.dataset.state = "ready";
      }
    }

    async function diffSelected() {
      const chosen = selected();
      if (chosen.length !== 2) return;
      const [a, b] = olderNewer(chosen);
      say(`diffing ${shortOf(a)} → ${shortOf(b)}…`);
      try {
        const { msg } = await channel.request({ type: "diff", a, b });
        let box = detail.querySelector(".dlnb-cg-diffbox");
        if (!box) {
          box = h("div", { class: "dlnb-cg-diffbox" });
          detail.append(box);
        }
        box.dataset.a = a;
        box.dataset.b = b;
        box.replaceChildren(h("div", { class: "dlnb-cg-section" }, `Diff ${shortOf(a)} → ${shortOf(b)}`), diffTable(msg.tensors));
        say(`diff ${shortOf(a)} → ${shortOf(b)}: ${msg.tensors.length} tensor${msg.tensors.length === 1 ? "" : "s"} changed`, "ok");
      } catch (err) {
        say(err.message, "error");
      }
    }

    // -- keeping up with the kernel ------------------------------------------------------------------
    const following = lib.followKernel(model, root, channel);

    canvas.addEventListener("keydown", (ev) => {
      if (!["ArrowUp", "ArrowDown"].includes(ev.key)) return;
      ev.preventDefault();
      ev.stopPropagation();
      const commits = graph().commits || [];
      const k = commits.findIndex((c) => c.id === selected()[0]);
      const next = commits[Math.min(commits.length - 1, Math.max(0, (k < 0 ? -1 : k) + (ev.key === "ArrowDown" ? 1 : -1)))];
      if (next) {
        select([next.id]);
        const node = rowNodes.get(next.id);
        if (node) node.scrollIntoView({ block: "nearest" });
      }
    });
    diffButton.addEventListener("click", diffSelected);
    refreshButton.addEventListener("click", () => following.poll());

    const onSelected = () => { paintSelection(); loadDetail(); };
    const listeners = [
      ["change:graph change:title", draw],
      ["change:selected", onSelected],
      ["change:height", () => { scroll.style.maxHeight = model.get("height") || ""; }],
    ];
    for (const [events, fn] of listeners) model.on(events, fn);
    scroll.style.maxHeight = model.get("height") || "";
    draw();
    if (selected().length) loadDetail();

    return () => {
      for (const [events, fn] of listeners) model.off(events, fn);
      following.stop();
      stopSummary();
      channel.close();
    };
  },
};
