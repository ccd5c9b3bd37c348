// Uploads a file with the stock tus-js-client (Node), stopping at ~60% and resuming with
// a new Upload pointed at the same upload URL, as an app does after a restart.
//   node tus_js_upload.mjs <uploadUrl> <file> --deps-dir <dir>
// Prints one JSON line: { url, abortedAt, resumedFrom, total }.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [endpoint, file, flag, depsDir] = process.argv.slice(2);
if (!endpoint || !file || flag !== "--deps-dir" || !depsDir) {
  console.error("usage: tus_js_upload.mjs <uploadUrl> <file> --deps-dir <dir>");
  process.exit(2);
}
const require = createRequire(join(resolve(depsDir), "node_modules", "noop.js"));
const tus = require("tus-js-client");
const data = readFileSync(file);
const chunkSize = Math.ceil(data.length / 10);

function firstPart() {
  return new Promise((done, fail) => {
    const upload = new tus.Upload(data, {
      endpoint,
      chunkSize,
      metadata: { filename: "movie.bin", filetype: "application/octet-stream" },
      retryDelays: null,
      onError: fail,
      onSuccess: () => fail(new Error("finished before the interruption")),
      onChunkComplete: (_size, accepted, total) => {
        if (accepted >= 0.6 * total) {
          upload.abort(false).then(() => done({ url: upload.url, abortedAt: accepted }), fail);
        }
      },
    });
    upload.start();
  });
}

function rest(url) {
  return new Promise((done, fail) => {
    let resumedFrom = null;
    const upload = new tus.Upload(data, {
      uploadUrl: url,
      chunkSize,
      retryDelays: null,
      onError: fail,
      onProgress: (sent) => {
        if (resumedFrom === null) resumedFrom = sent;
      },
      onSuccess: () => done({ resumedFrom }),
    });
    upload.start();
  });
}

try {
  const first = await firstPart();
  const second = await rest(first.url);
  console.log(JSON.stringify({ ...first, ...second, total: data.length }));
} catch (error) {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
}
