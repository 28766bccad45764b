// The web UI: photos in (drop, pick, paste), POST /api/remove for each (two at a time),
// the cut-out over a checkerboard with a before/after slider, downloads one by one or as a zip.
// No framework, no build step, nothing fetched from elsewhere.
"use strict";

const PARALLEL = 2;
const $ = (selector, root = document) => root.querySelector(selector);
const items = [];  // {file, element, result: Blob|null, name}
const waiting = [];
let running = 0;

function options() {
  const fields = new FormData();
  fields.append("model", $("#model").value);
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

function outputName(file, format) {
  const base = (file.name || "pasted").replace(/\.[^.]*$/, "");
  return `${base}.out.${format}`;
}

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
  $("#download-all").disabled = done === 0;
}

async function errorText(xhr) {
  try {
    const body = JSON.parse(await xhr.response.text());
    return body.detail || (body.errors && body.errors[0].title) || `HTTP ${xhr.status}`;
  } catch (e) {
    return `HTTP ${xhr.status}`;
  }
}

function showResult(item, blob) {
  const element = item.element;
  item.result = blob;
  $(".before", element).src = URL.createObjectURL(item.file);
  $(".after", element).src = URL.createObjectURL(blob);
  $(".compare", element).hidden = false;
  $(".slider", element).hidden = false;
  const link = $(".download", element);
  link.href = URL.createObjectURL(blob);
  link.download = item.name;
  link.textContent = `Download ${item.name}`;
  link.hidden = false;
  $("progress", element).hidden = true;
  setState(item, "done", "done");
}

function send(item) {
  return new Promise((resolve) => {
    const fields = options();
    fields.append("file", item.file, item.file.name || "pasted.png");
    item.name = outputName(item.file, $("#format").value);
    const xhr = new XMLHttpRequest();
    const progress = $("progress", item.element);
    xhr.open("POST", "/api/remove");
    xhr.responseType = "blob";
    const key = $("#api-key").value.trim();
    if (key) xhr.setRequestHeader("X-Api-Key", key);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
    };
    xhr.upload.onload = () => {
      progress.removeAttribute("value");  // indeterminate while the server works
      setState(item, "working", "removing the background…");
    };
    xhr.onload = async () => {
      if (xhr.status === 200) {
        showResult(item, xhr.response);
      } else {
        progress.hidden = true;
        setState(item, "failed", `failed: ${await errorText(xhr)}`);
      }
      resolve();
    };
    xhr.onerror = () => {
      progress.hidden = true;
      setState(item, "failed", "failed: the server did not answer");
      resolve();
    };
    setState(item, "uploading", "uploading…");
    xhr.send(fields);
  });
}

function pump() {
  while (running < PARALLEL && waiting.length) {
    const item = waiting.shift();
    running += 1;
    send(item).then(() => {
      running -= 1;
      pump();
    });
  }
}

function add(files) {
  for (const file of files) {
    const element = $("#item-template").content.firstElementChild.cloneNode(true);
    $(".name", element).textContent = file.name || "pasted image";
    const item = { file, element, result: null, name: "" };
    const split = $(".split", element);
    split.addEventListener("input", () => {
      $(".after-layer", element).style.clipPath = `inset(0 ${100 - split.value}% 0 0)`;
    });
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
  const done = items.filter((i) => i.result);
  const blob = await zip(done.map((i) => ({ name: i.name, blob: i.result })));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "cutouts.zip";
  document.body.append(link);
  link.click();
  link.remove();
}

// --- wiring ------------------------------------------------------------------------------
// JPEG has no alpha: choosing it turns the background colour on (white unless one is chosen),
// rather than letting every file fail on the server
function explainComposite() {
  const chosen = $("#composite").selectedOptions[0];
  $("#composite-help").textContent = chosen ? chosen.dataset.help : "";
}
$("#composite").addEventListener("change", explainComposite);
explainComposite();

$("#bg-image").addEventListener("change", () => {
  if ($("#bg-image").files.length) $("#use-bgc").checked = false;  // one background at a time
});
$("#clear-bg-image").addEventListener("click", () => { $("#bg-image").value = ""; });
// Only the mask: the background and shadow controls do not apply, so they are turned off
const BACKGROUND_CONTROLS = ["#use-bgc", "#bgc", "#bg-image", "#clear-bg-image", "#shadow"];
function followOnlyMask() {
  for (const id of BACKGROUND_CONTROLS) $(id).disabled = $("#om").checked;
}
$("#om").addEventListener("change", followOnlyMask);
followOnlyMask();
$("#format").addEventListener("change", () => {
  const background = $("#bg-image").files.length;
  if ($("#format").value === "jpg" && !$("#om").checked && !background) $("#use-bgc").checked = true;
});
const drop = $("#drop");
const picker = $("#files");
picker.addEventListener("change", () => {
  add(picker.files);
  picker.value = "";
});
// the whole zone is one button: a click anywhere in it (the input's own clicks aside) picks
drop.addEventListener("click", (event) => {
  if (event.target !== picker) picker.click();
});
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

// Models the server has not loaded (an int8 variant not built, say) stay in the menu, greyed
// out: /readyz lists the served names Triton has loaded; a request name is served under
// itself, or as NAME_trt / NAME_onnx (u2net/catalogue.py's served_candidates).
function markUnloadedModels(loaded) {
  for (const option of $("#model").options) {
    const names = [option.value, `${option.value}_trt`, `${option.value}_onnx`];
    const served = names.some((name) => loaded.includes(name));
    option.disabled = !served;
    if (!served) option.title = "not loaded on this server";
  }
  if ($("#model").selectedOptions[0]?.disabled) {
    const first = [...$("#model").options].find((option) => !option.disabled);
    if (first) $("#model").value = first.value;
  }
}
fetch("readyz")
  .then((response) => response.json())
  .then((body) => { if (body.triton && body.triton.models) markUnloadedModels(body.triton.models); })
  .catch(() => {});  // the menu stays as it is; a request for a missing model says why
