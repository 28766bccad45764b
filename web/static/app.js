// The web UI: photos in (drop, pick, paste), POST /api/remove for each (two photos at a time),
// each result with its server time (the Server-Timing header) and size; with "Compare with a
// second model" each photo is cut by both and POST /api/ab says how far B's mask is from A's.
// A large view zooms, pans, slides before/after on the image and changes the backdrop.
// Downloads one by one or as a zip. No framework, no build step, nothing fetched from elsewhere.
"use strict";

const PARALLEL = 2;
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const items = [];  // {file, element, photoURL, variants: [{model, element, blob, name}], agreement}
const waiting = [];
let running = 0;

// --- what to ask for ----------------------------------------------------------------------
function options(model) {
  const fields = new FormData();
  fields.append("model", model);
  fields.append("format", $("#format").value);
  fields.append("composite", $("#composite").value);
  for (const flag of ["om", "ppm", "a"]) {
    if ($("#" + flag).checked) fields.append(flag, "true");
  }
  if ($("#om").checked) return fields;  // a mask has no background or shadow (the API says 400)
  if ($("#shadow").checked) fields.append("shadow", "true");
  const background = $("#bg-image").files[0];
  if (background) {
    fields.append("bg_image", background, background.name);  // covers the canvas
  } else if ($("#use-bgc").checked) {
    const hex = $("#bgc").value;  // #rrggbb
    const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    fields.append("bgc", rgb.concat(255).join(","));
  }
  return fields;
}

function chosenModels() {
  const a = $("#model").value;
  return $("#ab").checked ? [a, $("#model-b").value] : [a];
}

function outputName(file, format, model) {
  const base = (file.name || "pasted").replace(/\.[^.]*$/, "");
  return model ? `${base}.${model}.out.${format}` : `${base}.out.${format}`;
}

// --- talking to the gateway ----------------------------------------------------------------
// 'cutout;dur=812.4;desc="Triton cutout", total;dur=830.1' -> {cutout: 812.4, total: 830.1}
// (a quoted desc may hold commas and semicolons)
const SPAN = /([\w-]+)((?:\s*;\s*[\w-]+(?:=(?:"[^"]*"|[^,;"]*))?)*)/g;
function serverTiming(value) {
  const spans = {};
  for (const [, name, params] of (value || "").matchAll(SPAN)) {
    const dur = /;\s*dur=([\d.]+)/.exec(params);
    if (dur) spans[name] = parseFloat(dur[1]);
  }
  return spans;
}

// one POST, as a promise of {status, body: Blob, timing}; onUploaded: the bytes are all sent
function post(url, fields, progress, onUploaded) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.responseType = "blob";
    const key = $("#api-key").value.trim();
    if (key) xhr.setRequestHeader("X-Api-Key", key);
    xhr.upload.onprogress = (event) => {
      if (progress && event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
    };
    xhr.upload.onload = () => {
      if (progress) progress.removeAttribute("value");  // indeterminate while the server works
      if (onUploaded) onUploaded();
    };
    xhr.onload = () => resolve({
      status: xhr.status, body: xhr.response,
      timing: serverTiming(xhr.getResponseHeader("Server-Timing")),
    });
    xhr.onerror = () => reject(new Error("the server did not answer"));
    xhr.send(fields);
  });
}

async function failure(answer) {
  if (answer.status === 403) $("#advanced").open = true;  // where the API key goes
  try {
    const body = JSON.parse(await answer.body.text());
    return new Error(body.detail || (body.errors && body.errors[0].title) || `HTTP ${answer.status}`);
  } catch (e) {
    return new Error(`HTTP ${answer.status}`);
  }
}

// --- numbers as people read them -----------------------------------------------------------
function duration(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function size(bytes) {
  return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

// models of two input sizes (320² U²-Net, 1024² IS-Net): B's mask was compared on A's grid
function agreementText(found) {
  const size = (wh) => wh.join("×");
  const resized = found.b_mask_size && size(found.b_mask_size) !== size(found.mask_size);
  const where = resized ? `, on A's ${size(found.mask_size)} (B's ${size(found.b_mask_size)} resized)` : "";
  return `B against A: IoU ${found.iou.toFixed(4)}, mean |Δ| ${found.mean_abs_diff.toFixed(2)} `
    + `grey levels (max ${found.max_abs_diff})${where}`;
}

// --- one photo ------------------------------------------------------------------------------
function setState(item, state, text) {
  item.element.dataset.state = state;
  $(".state", item.element).textContent = text;
  summarize();
}

function summarize() {
  const count = (state) => items.filter((i) => i.element.dataset.state === state).length;
  const done = count("done");
  const failed = count("failed");
  const busy = items.length - done - failed;
  $("#summary").textContent = items.length
    ? `${done} done, ${failed} failed, ${busy} in progress` : "";
  const batch = $("#batch");
  batch.hidden = items.length === 0;
  batch.max = Math.max(1, items.length);
  batch.value = done + failed;
  batch.setAttribute("aria-valuetext", `${done + failed} of ${items.length} photos finished`);
  $("#download-all").disabled = !items.some((i) => i.variants.some((v) => v.blob));
}

function showVariant(item, variant, answer) {
  const element = variant.element;
  variant.blob = answer.body;
  variant.url = URL.createObjectURL(answer.body);
  variant.ms = answer.timing.total;
  const image = $(".after", element);
  const meta = $(".meta", element);
  const facts = [];
  if (variant.ms !== undefined) facts.push(`${duration(variant.ms)} on the server`);
  facts.push(size(answer.body.size));
  meta.textContent = facts.join(" · ");
  element.dataset.serverMs = variant.ms ?? "";
  element.dataset.bytes = answer.body.size;
  image.onload = () => { meta.textContent = `${facts.join(" · ")} · ${image.naturalWidth}×${image.naturalHeight}`; };
  image.src = variant.url;
  const link = $(".download", element);
  link.href = variant.url;
  link.download = variant.name;
  link.textContent = `Download ${variant.name}`;
  link.hidden = false;
  element.hidden = false;
}

async function cut(item, variant, first) {
  const fields = options(variant.model);
  fields.append("file", item.file, item.file.name || "pasted.png");
  const progress = first ? $("progress", item.element) : null;
  const working = () => setState(item, "working", `removing the background (${variant.model})…`);
  const answer = await post("api/remove", fields, progress, working);
  if (answer.status !== 200) throw await failure(answer);
  showVariant(item, variant, answer);
}

async function compare(item) {
  setState(item, "working", "comparing the masks…");
  const fields = new FormData();
  fields.append("file", item.file, item.file.name || "pasted.png");
  fields.append("model_a", item.variants[0].model);
  fields.append("model_b", item.variants[1].model);
  const answer = await post("api/ab", fields);
  if (answer.status !== 200) throw await failure(answer);
  const found = JSON.parse(await answer.body.text());
  item.agreement = found;
  const line = $(".agreement", item.element);
  line.textContent = agreementText(found);
  Object.assign(line.dataset, { iou: found.iou, meanAbsDiff: found.mean_abs_diff });
  line.hidden = false;
  $(".open-diff", item.element).hidden = false;
}

async function run(item) {
  setState(item, "uploading", "uploading…");
  try {
    for (const [i, variant] of item.variants.entries()) await cut(item, variant, i === 0);
    if (item.variants.length === 2) await compare(item);
    setState(item, "done", "done");
  } catch (error) {
    setState(item, "failed", `failed: ${error.message}`);
  }
  $("progress", item.element).hidden = true;
}

function pump() {
  while (running < PARALLEL && waiting.length) {
    const item = waiting.shift();
    running += 1;
    run(item).then(() => {
      running -= 1;
      pump();
    });
  }
}

function makeVariant(item, model, label) {
  const element = $("#variant-template").content.firstElementChild.cloneNode(true);
  const variant = { model, element, blob: null, url: "", name: outputName(item.file, $("#format").value, label && model) };
  $(".model-name", element).textContent = label ? `${label}: ${model}` : model;
  const open = $(".open", element);
  open.setAttribute("aria-label", `Open ${item.file.name || "the pasted image"} (${model}) in the large view`);
  open.addEventListener("click", () => openViewer(item, item.variants.indexOf(variant), "photo"));
  element.hidden = true;
  return variant;
}

function add(files) {
  const models = chosenModels();
  for (const file of files) {
    const element = $("#item-template").content.firstElementChild.cloneNode(true);
    $(".name", element).textContent = file.name || "pasted image";
    const item = { file, element, photoURL: "", agreement: null, variants: [] };
    const labels = models.length === 2 ? ["A", "B"] : [""];
    item.variants = models.map((model, i) => makeVariant(item, model, labels[i]));
    $(".variants", element).append(...item.variants.map((v) => v.element));
    element.classList.toggle("ab", models.length === 2);
    $(".open-diff", element).addEventListener("click", () => openViewer(item, 1, "diff"));
    $("#results").append(element);
    items.push(item);
    waiting.push(item);
  }
  summarize();
  pump();
}

// --- a zip writer (stored, no compression: the images are compressed already) -------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function header(fields) {  // [[value, bytes], ...] little-endian
  const size = fields.reduce((sum, [, n]) => sum + n, 0);
  const view = new DataView(new ArrayBuffer(size));
  let at = 0;
  for (const [value, n] of fields) {
    if (n === 2) view.setUint16(at, value, true); else view.setUint32(at, value, true);
    at += n;
  }
  return new Uint8Array(view.buffer);
}

async function zip(entries) {  // [{name, blob}] -> Blob
  const parts = [];
  const central = [];
  let offset = 0;
  const seen = new Set();
  for (const entry of entries) {
    let name = entry.name;
    for (let i = 2; seen.has(name); i++) name = entry.name.replace(/(\.[^.]*)$/, `-${i}$1`);
    seen.add(name);
    const data = new Uint8Array(await entry.blob.arrayBuffer());
    const nameBytes = new TextEncoder().encode(name);
    const crc = crc32(data);
    const common = [[20, 2], [0x0800, 2], [0, 2], [0, 2], [0x21, 2], [crc, 4],
      [data.length, 4], [data.length, 4], [nameBytes.length, 2], [0, 2]];
    parts.push(header([[0x04034b50, 4], ...common]), nameBytes, data);
    central.push(header([[0x02014b50, 4], [20, 2], ...common, [0, 2], [0, 2], [0, 2],
      [0, 4], [offset, 4]]), nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const size = central.reduce((sum, part) => sum + part.length, 0);
  const end = header([[0x06054b50, 4], [0, 2], [0, 2], [entries.length, 2],
    [entries.length, 2], [size, 4], [offset, 4], [0, 2]]);
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}

async function downloadAll() {
  const done = items.flatMap((i) => i.variants.filter((v) => v.blob));
  const blob = await zip(done.map((v) => ({ name: v.name, blob: v.blob })));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "cutouts.zip";
  document.body.append(link);
  link.click();
  link.remove();
}

// --- the large view: zoom, pan, a before/after slider on the image, backdrops ---------------
const viewer = { item: null, index: 0, view: "photo", scale: 1, x: 0, y: 0, split: 50, w: 1, h: 1 };
const stage = $("#stage");
const MIN_SCALE = 0.05;
const MAX_SCALE = 16;

function loaded(image, url) {
  return new Promise((resolve) => {
    if (image.complete && image.getAttribute("src") === url) {  // no second load event
      resolve(image);
      return;
    }
    image.onload = () => resolve(image);
    image.onerror = () => resolve(image);
    image.src = url;
  });
}

function place() {
  const { scale, x, y, split, w } = viewer;
  $("#canvas").style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
  $("#canvas").style.setProperty("--split", `${split}%`);
  $("#handle").style.left = `${x + (split / 100) * w * scale}px`;
  $("#handle").style.height = `${stage.clientHeight}px`;
  $("#handle").setAttribute("aria-valuenow", Math.round(split));
  $("#handle").setAttribute("aria-valuetext", `${Math.round(split)} % before`);
  $("#zoom-level").textContent = `${Math.round(scale * 100)} %`;
  stage.classList.toggle("pixels", scale >= 2);
}

function zoomTo(scale, cx = stage.clientWidth / 2, cy = stage.clientHeight / 2) {
  const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
  viewer.x = cx - ((cx - viewer.x) * next) / viewer.scale;
  viewer.y = cy - ((cy - viewer.y) * next) / viewer.scale;
  viewer.scale = next;
  place();
}

function fit() {
  const scale = Math.min(stage.clientWidth / viewer.w, stage.clientHeight / viewer.h);
  viewer.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
  viewer.x = (stage.clientWidth - viewer.w * viewer.scale) / 2;
  viewer.y = (stage.clientHeight - viewer.h * viewer.scale) / 2;
  place();
}

function moveSplit(split) {
  viewer.split = Math.min(100, Math.max(0, split));
  place();
}

async function drawDifference(item) {
  const found = item.agreement;
  const picture = await loaded(new Image(), `data:image/png;base64,${found.difference_png}`);
  const canvas = $("#diff");
  [canvas.width, canvas.height] = found.mask_size;
  const context = canvas.getContext("2d");
  context.drawImage(picture, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const data = pixels.data;
  for (let i = 0; i < data.length; i += 4) {  // |Δ| in grey levels -> magenta, stronger where larger
    const delta = data[i];
    data[i] = 214; data[i + 1] = 0; data[i + 2] = 150;
    data[i + 3] = delta < 2 ? 0 : Math.min(255, 60 + 3 * delta);
  }
  context.putImageData(pixels, 0, 0);
}

const VIEWS = {
  photo: (item, index) => [item.photoURL, item.variants[index].url,
    `Before (left) and after (right), ${item.variants[index].model}: drag the handle or press ← →`],
  ab: (item) => [item.variants[0].url, item.variants[1].url,
    `A, ${item.variants[0].model} (left) and B, ${item.variants[1].model} (right)`],
  diff: (item) => [item.photoURL, "", `Where the masks differ (magenta; stronger where they differ more). ${agreementText(item.agreement)}`],
};

async function setView(view) {
  const { item, index } = viewer;
  viewer.view = view;
  const [under, over, caption] = VIEWS[view](item, index);
  stage.classList.toggle("diff-view", view === "diff");
  $("#over").hidden = view === "diff";
  $("#diff").hidden = view !== "diff";
  $("#handle").hidden = view === "diff";
  for (const button of $$(".view")) button.setAttribute("aria-pressed", String(button.dataset.view === view));
  $("#viewer-caption").textContent = caption;
  const [photo] = await Promise.all([loaded($("#under"), under), over && loaded($("#over"), over),
    view === "diff" && drawDifference(item)]);
  $("#under").alt = view === "ab" ? `A: ${item.variants[0].model}` : "the photo";
  $("#over").alt = view === "ab" ? `B: ${item.variants[1].model}` : `the cut-out (${item.variants[index].model})`;
  viewer.w = photo.naturalWidth || 1;
  viewer.h = photo.naturalHeight || 1;
  $("#canvas").style.width = `${viewer.w}px`;
  $("#canvas").style.height = `${viewer.h}px`;
}

async function openViewer(item, index, view) {
  item.photoURL ||= URL.createObjectURL(item.file);
  Object.assign(viewer, { item, index, split: 50 });
  $("#viewer-title").textContent = item.file.name || "pasted image";
  const compared = item.variants.length === 2 && item.agreement;
  for (const button of $$(".ab-only")) button.hidden = !compared;
  $("#viewer").showModal();
  await setView(view);
  fit();
  $("#viewer").dataset.ready = "true";
}

// one backdrop for the large view and every card, as a class and a colour on the page
function chooseBackdrop(kind, colour) {
  for (const button of $$(".backdrop-choice")) {
    button.setAttribute("aria-pressed", String(button.dataset.backdrop === kind));
  }
  const plain = { white: "#ffffff", black: "#000000", colour }[kind];
  document.body.classList.toggle("plain-backdrop", Boolean(plain));
  document.body.style.setProperty("--backdrop", plain || "#ffffff");
}

function wireViewer() {
  const dialog = $("#viewer");
  $("#viewer-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { delete dialog.dataset.ready; });
  for (const button of $$(".view")) button.addEventListener("click", () => setView(button.dataset.view).then(place));
  for (const button of $$(".backdrop-choice")) {
    button.addEventListener("click", () => chooseBackdrop(button.dataset.backdrop));
  }
  $("#backdrop-colour").addEventListener("input", (event) => chooseBackdrop("colour", event.target.value));
  $("#zoom-in").addEventListener("click", () => zoomTo(viewer.scale * 1.25));
  $("#zoom-out").addEventListener("click", () => zoomTo(viewer.scale / 1.25));
  $("#zoom-fit").addEventListener("click", fit);
  $("#zoom-100").addEventListener("click", () => zoomTo(1));
  stage.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = stage.getBoundingClientRect();
    zoomTo(viewer.scale * Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  wireDragging();
  dialog.addEventListener("keydown", (event) => {
    if (event.target.matches("input, select, textarea")) return;
    const step = event.shiftKey ? 10 : 2;
    const keys = {
      ArrowLeft: () => moveSplit(viewer.split - step), ArrowRight: () => moveSplit(viewer.split + step),
      "+": () => zoomTo(viewer.scale * 1.25), "=": () => zoomTo(viewer.scale * 1.25),
      "-": () => zoomTo(viewer.scale / 1.25), "0": fit, "1": () => zoomTo(1),
    };
    if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  });
}

// a drag on the handle moves the slider; anywhere else on the image it pans
function wireDragging() {
  let drag = null;
  stage.addEventListener("pointerdown", (event) => {
    drag = { handle: event.target === $("#handle"), x: event.clientX, y: event.clientY };
    stage.setPointerCapture(event.pointerId);
    stage.classList.add("dragging");
  });
  stage.addEventListener("pointermove", (event) => {
    if (!drag) return;
    if (drag.handle) {
      const box = stage.getBoundingClientRect();
      moveSplit((100 * (event.clientX - box.left - viewer.x)) / (viewer.w * viewer.scale));
    } else {
      viewer.x += event.clientX - drag.x;
      viewer.y += event.clientY - drag.y;
      place();
    }
    Object.assign(drag, { x: event.clientX, y: event.clientY });
  });
  const stop = () => { drag = null; stage.classList.remove("dragging"); };
  stage.addEventListener("pointerup", stop);
  stage.addEventListener("pointercancel", stop);
}

// --- the model menus: measured speed and agreement from each model's manifest ----------------
function measuredText(found) {
  return `measured when staged here: ${found.speedup}x fp32's speed (${Math.round(found.ms)} against `
    + `${Math.round(found.reference_ms)} ms an image), ${found.inside_floor} of ${found.photos} `
    + "held-out photos inside fp32's own noise floor";
}

// under each menu: the chosen model's whole label, and what its manifest measured
function explainModel(menu, help, measured) {
  const option = menu.selectedOptions[0];
  const found = option && measured[option.value];
  const label = option ? option.dataset.label || option.textContent : "";
  help.textContent = found ? `${label}; ${measuredText(found)}.` : label;
}

function showMeasured(models) {
  const measured = Object.fromEntries(models.filter((m) => m.measured).map((m) => [m.name, m.measured]));
  for (const option of $$("#model option, #model-b option")) {
    const found = measured[option.value];
    option.dataset.label = option.textContent;
    if (found) option.textContent += ` · measured: ${found.speedup}x, ${found.inside_floor}/${found.photos} inside the floor`;
  }
  for (const [menu, help] of [["#model", "#model-help"], ["#model-b", "#model-b-help"]]) {
    const explain = () => explainModel($(menu), $(help), measured);
    $(menu).addEventListener("change", explain);
    explain();
  }
}

// The custom models staged here (python -m convert custom), after the catalogue's, in both
// menus: /api/models lists them with their family
function addCustomModels(models) {
  for (const found of models.filter((m) => m.custom)) {
    for (const menu of [$("#model"), $("#model-b")]) {
      if ([...menu.options].some((option) => option.value === found.name)) continue;
      const option = new Option(found.label, found.name);
      option.dataset.custom = "true";
      menu.append(option);
    }
  }
}

// Models the server has not loaded (an int8 variant not built, say) stay in the menu, greyed
// out: /readyz lists the served names Triton has loaded; a request name is served under
// itself, or as NAME_trt / NAME_onnx (u2net/catalogue.py's served_candidates). A custom model
// is listed there only once a request named it, so it is never greyed out: a request for one
// the server has not loaded says so.
function markUnloadedModels(loaded) {
  for (const menu of [$("#model"), $("#model-b")]) {
    for (const option of menu.options) {
      if (option.dataset.custom) continue;
      const names = [option.value, `${option.value}_trt`, `${option.value}_onnx`];
      const served = names.some((name) => loaded.includes(name));
      option.disabled = !served;
      if (!served) option.title = "not loaded on this server";
    }
  }
  const enabled = [...$("#model").options].filter((option) => !option.disabled);
  if ($("#model").selectedOptions[0]?.disabled && enabled.length) {
    $("#model").value = enabled[0].value;
    $("#model").dispatchEvent(new Event("change"));
  }
  pickModelB();
}

// B: the first loaded model other than A
function pickModelB() {
  const b = $("#model-b");
  if (b.value !== $("#model").value && !b.selectedOptions[0]?.disabled) return;
  const other = [...b.options].find((o) => !o.disabled && o.value !== $("#model").value);
  if (!other) return;
  b.value = other.value;
  b.dispatchEvent(new Event("change"));
}

function wireModels() {
  $("#model-b").append(...[...$("#model").options].map((o) => o.cloneNode(true)));
  $("#model-b").value = "u2net_int8";
  const followAB = () => { $("#model-b").disabled = !$("#ab").checked; };
  $("#ab").addEventListener("change", followAB);
  $("#model").addEventListener("change", pickModelB);
  followAB();
  const models = fetch("api/models")
    .then((r) => r.json())
    .then((body) => body.models || [])
    .catch(() => []);
  const listed = models.then((found) => { addCustomModels(found); showMeasured(found); });
  const loaded = fetch("readyz")
    .then((response) => response.json())
    .then((body) => body.triton && body.triton.models)
    .catch(() => null);  // the menu stays as it is; a request for a missing model says why
  Promise.all([loaded, listed]).then(([names]) => { if (names) markUnloadedModels(names); });
}

// --- wiring ------------------------------------------------------------------------------
function explainComposite() {
  const chosen = $("#composite").selectedOptions[0];
  $("#composite-help").textContent = chosen ? chosen.dataset.help : "";
}

// Only the mask: the background and shadow controls do not apply, so they are turned off
const BACKGROUND_CONTROLS = ["#use-bgc", "#bgc", "#bg-image", "#clear-bg-image", "#shadow"];
function followOnlyMask() {
  for (const id of BACKGROUND_CONTROLS) $(id).disabled = $("#om").checked;
}

function wireOptions() {
  $("#composite").addEventListener("change", explainComposite);
  explainComposite();
  $("#bg-image").addEventListener("change", () => {
    if ($("#bg-image").files.length) $("#use-bgc").checked = false;  // one background at a time
  });
  $("#bgc").addEventListener("input", () => { $("#use-bgc").checked = true; });
  $("#clear-bg-image").addEventListener("click", () => { $("#bg-image").value = ""; });
  $("#om").addEventListener("change", followOnlyMask);
  followOnlyMask();
  // JPEG has no alpha: choosing it turns the background colour on (white unless one is chosen),
  // rather than letting every file fail on the server
  $("#format").addEventListener("change", () => {
    const background = $("#bg-image").files.length;
    if ($("#format").value === "jpg" && !$("#om").checked && !background) $("#use-bgc").checked = true;
  });
}

function wirePhotos() {
  const drop = $("#drop");
  const picker = $("#files");
  picker.addEventListener("change", () => {
    add(picker.files);
    picker.value = "";
  });
  // the whole zone is one button: a click anywhere in it picks
  drop.addEventListener("click", () => picker.click());
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      picker.click();
    }
  });
  for (const kind of ["dragenter", "dragover"]) {
    drop.addEventListener(kind, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    add(event.dataTransfer.files);
  });
  document.addEventListener("paste", (event) => {
    const files = [...event.clipboardData.items]
      .filter((i) => i.kind === "file").map((i) => i.getAsFile());
    if (files.length) add(files);
  });
  $("#download-all").addEventListener("click", downloadAll);
  $("#clear").addEventListener("click", () => {
    items.splice(0).forEach((i) => i.element.remove());
    waiting.splice(0);
    summarize();
  });
}

wireOptions();
wirePhotos();
wireViewer();
wireModels();
