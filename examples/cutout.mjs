// Cut one photo from Node.js with only its standard library: KServe v2 over HTTP,
// binary-data extension, Triton's `cutout` model. Usage:
//   node examples/cutout.mjs photo.jpg out.png [http://127.0.0.1:8000] [u2net]
import { readFile, writeFile } from "node:fs/promises";

const [photoPath, outPath, base = "http://127.0.0.1:8000", model = "u2net"] =
  process.argv.slice(2);
const photo = await readFile(photoPath);

// A BYTES tensor element is a 4-byte little-endian length, then the bytes.
const element = Buffer.alloc(4 + photo.length);
element.writeUInt32LE(photo.length, 0);
photo.copy(element, 4);

const header = Buffer.from(JSON.stringify({
  inputs: [{ name: "image_bytes", shape: [1], datatype: "BYTES",
             parameters: { binary_data_size: element.length } }],
  outputs: [{ name: "result_bytes", parameters: { binary_data: true } },
            { name: "result_size" }, { name: "foreground_box" }],
  parameters: { model },
}));

const response = await fetch(`${base}/v2/models/cutout/infer`, {
  method: "POST",
  headers: { "Content-Type": "application/octet-stream",
             "Inference-Header-Content-Length": String(header.length) },
  body: Buffer.concat([header, element]),
});
const body = Buffer.from(await response.arrayBuffer());
if (!response.ok) {
  console.error(`error: HTTP ${response.status}: ${body.toString()}`);
  process.exit(1);
}
const jsonLength = Number(response.headers.get("inference-header-content-length"));
const answer = JSON.parse(body.subarray(0, jsonLength).toString());
const value = (name) => answer.outputs.find((o) => o.name === name).data;
const binary = body.subarray(jsonLength);
const resultLength = binary.readUInt32LE(0);
await writeFile(outPath, binary.subarray(4, 4 + resultLength));
console.log(JSON.stringify({ size: value("result_size"), box: value("foreground_box") }));
