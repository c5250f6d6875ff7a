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

function tensorPicker(lib, model, toolbar) {
  const { h } = lib;
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
    const title = model.get("title");
    toolbar.replaceChildren(
      title ? h("span", { class: "dlnb-title", title }, title.split("/").filter(Boolean).pop() || title) : "",
      h("label", { class: "dlnb-field-label" }, "picture ", picker),
      toggles.length ? h("span", { class: "dlnb-field-label" }, "overlays ", ...toggles) : "");
  };
  draw();
  const events = "change:tensors change:image_tensor change:overlays change:title";
  model.on(events, draw);
  return () => model.off(events, draw);
}

export default {
  async render({ model, el }) {
    const lib = await library(model.get("_lib_esm"));
    const grid = new lib.SampleGrid(model, el);
    grid.root.classList.add("dlnb-dataset-browser");
    const stopPicker = tensorPicker(lib, model, grid.toolbar);
    return () => {
      stopPicker();
      grid.destroy();
    };
  },
};
