// Runs the README's resumable-run helper (its code is written beside this file by the test, as
// readme_helper_code.mjs) against a URL, and writes every data: text it delivered, in order.
//
//   node readme_helper.mjs <route url> <body json> <out.json>

import { writeFileSync } from "node:fs";
import { resumableRun } from "./readme_helper_code.mjs";

const [url, body, out] = process.argv.slice(2);
const received = [];
let error = null;
try {
  await resumableRun(url, JSON.parse(body), { onData: (data) => received.push(data), retries: 3 });
} catch (exc) {
  error = String(exc);
}
writeFileSync(out, JSON.stringify({ received, error }));
