// deeplake-nb JupyterLab / Notebook 7 extension: the summary of a widget whose model is gone.
//
// A notebook saved while its kernel ran keeps each widget output as a widget view
// (application/vnd.jupyter.widget-view+json) beside the widget's text/html summary. Reopened on a
// fresh kernel, no model answers to that view, and the ipywidgets renderer shows "Error displaying
// widget: model not found" (JupyterLab prefers the widget view in a trusted notebook and never falls
// back to the other entries of the bundle). This extension watches each notebook's outputs: where
// that error stands in an output marked by deeplake_nb (display metadata
// {"deeplake_nb": {"fallback": "text/html"}}), it shows the bundle's text/html instead, through the
// notebook's HTML sanitizer. Other packages' widgets are left alone; nothing is fetched.
//
// The file is a hand-written module-federation container, the form JupyterLab loads prebuilt
// extensions in (share/jupyter/labextensions/deeplake-nb/package.json names it): `init` receives
// the application's share scope, `get("./extension")` resolves to the plugin. The only shared module
// read is @jupyterlab/notebook, for the INotebookTracker token.
(function () {
  "use strict";

  const NAME = "deeplake-nb";
  const MISSING = "Error displaying widget: model not found";
  const MARK = "deeplake_nb";
  let shareScope = null;

  function newest(versions) {
    const key = (v) => v.split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
    return Object.keys(versions).sort((a, b) => {
      const x = key(a), y = key(b);
      for (let i = 0; i < Math.max(x.length, y.length); i++) {
        if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
      }
      return 0;
    })[0];
  }

  async function shared(pkg) {
    const versions = shareScope && shareScope[pkg];
    if (!versions || !Object.keys(versions).length) throw new Error(`${NAME}: the application shares no ${pkg}`);
    const factory = await versions[newest(versions)].get();
    return factory();
  }

  /** The text/html an output falls back to, or null when it is not ours (or has none). */
  function fallbackOf(output) {
    const mark = output && output.metadata && output.metadata[MARK];
    const mime = mark && mark.fallback;
    const html = mime && output.data && output.data[mime];
    if (typeof html === "string") return html;
    return Array.isArray(html) ? html.join("") : null;
  }

  /** Replace each "model not found" message in a code cell's outputs by the output's summary. */
  function mend(panel) {
    const notebook = panel.content;
    if (!notebook || !notebook.widgets) return;
    for (const cell of notebook.widgets) {
      if (!cell.model || cell.model.type !== "code" || !cell.outputArea) continue;
      const outputs = cell.model.outputs;
      cell.outputArea.widgets.forEach((child, i) => {
        const html = i < outputs.length ? fallbackOf(outputs.get(i)) : null;
        if (html === null) return;
        for (const node of child.node.querySelectorAll(".jupyter-widgets")) {
          if (node.textContent.trim() !== MISSING) continue;
          node.innerHTML = notebook.rendermime.sanitizer.sanitize(html);
          node.classList.add("dlnb-fallback");
          node.title = "this widget's kernel is gone: its summary is shown; run the cell again for the widget";
        }
      });
    }
  }

  function watch(panel) {
    let queued = false;
    const run = () => {
      queued = false;
      try {
        mend(panel);
      } catch (err) {
        console.error(`${NAME}: could not show a widget summary`, err);
      }
    };
    const observer = new MutationObserver(() => {
      if (!queued) {
        queued = true;
        setTimeout(run, 0);
      }
    });
    // the renderer sets its message with textContent, a childList change; text edits are not watched
    observer.observe(panel.node, { childList: true, subtree: true });
    panel.disposed.connect(() => observer.disconnect());
    run();
  }

  function plugin(INotebookTracker) {
    return {
      id: `${NAME}:widget-summary`,
      description: "Shows a deeplake_nb widget's text/html summary where its model is gone.",
      autoStart: true,
      requires: [INotebookTracker],
      activate(app, tracker) {
        tracker.forEach(watch);
        tracker.widgetAdded.connect((_, panel) => watch(panel));
      },
    };
  }

  const root = (window._JUPYTERLAB = window._JUPYTERLAB || {});
  root[NAME] = {
    init(scope) {
      shareScope = scope;
    },
    async get(module) {
      if (module !== "./extension") throw new Error(`${NAME}: no module ${module}`);
      const { INotebookTracker } = await shared("@jupyterlab/notebook");
      const exports = { __esModule: true, default: [plugin(INotebookTracker)] };
      return () => exports;
    },
  };
})();
