// dataset_browser.js: `ds.visualize()` — a grid of thumbnails over a dataset or view, with a
// tensor picker (the picture tensor and the overlays drawn over it) above the shared SampleGrid,
// the dataset's `branch@commit`, and polling that keeps it current.
//
// The shared code (grid.js) arrives as the `_lib_esm` trait and is imported from a blob: URL,
// the way anywidget imports this module; one import per distinct source is cached per page.
//
// Following the dataset (ui/browser.py): while the widget is on screen it sends {type: "poll"}
// every `poll_seconds` and when the pointer or focus enters it; when the dataset changed the kernel
// updates `length`, `tensors`, `version` and `_reload`, and the grid redraws from those traits.

const libraries = new Map();

function library(source) {
  if (!libraries.has(source)) {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    libraries.set(source, import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url)));
  }
  return libraries.get(source);
}

/** The dataset's name, shown first in the toolbar. */
function titleOf(lib, model) {
  const title = model.get("title");
  return title ? [lib.h("span", { class: "dlnb-title", title }, title.split("/").filter(Boolean).pop() || title)] : [];
}

export default {
  async render({ model, el }) {
    const lib = await library(model.get("_lib_esm"));
    const grid = new lib.SampleGrid(model, el);
    grid.root.classList.add("dlnb-dataset-browser");
    // one node for the version, kept across toolbar redraws and updated in place
    const version = lib.h("span", { class: "dlnb-version", title: "branch@commit (* = uncommitted changes)" });
    const redraw = () => {
      version.textContent = model.get("version");
      version.hidden = !model.get("version");
    };
    redraw();
    const stopPicker = lib.tensorPicker(model, grid.toolbar, () => [...titleOf(lib, model), version]);
    model.on("change:version", redraw);
    const following = lib.followKernel(model, grid.root, grid.channel);
    const stopSummary = lib.summaryWithoutKernel(model, grid.root, grid.channel);
    return () => {
      following.stop();
      stopSummary();
      model.off("change:version", redraw);
      stopPicker();
      grid.destroy();
    };
  },
};
