// dataset_browser.js: `ds.visualize()` — a grid of thumbnails over a dataset or view, with a
// tensor picker (the picture tensor and the overlays drawn over it) above the shared SampleGrid.
//
// The shared code (grid.js) arrives as the `_lib_esm` trait and is imported from a blob: URL,
// the way anywidget imports this module; one import per distinct source is cached per page.

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
    const stopPicker = lib.tensorPicker(model, grid.toolbar, () => titleOf(lib, model));
    return () => {
      stopPicker();
      grid.destroy();
    };
  },
};
