// Runs the documentation's resumable-run client (docs/examples/resumable-client.mjs, the very file
// docs/resumable-runs.md shows) against a URL, and writes every data: text it delivered, in order.
//
//   node resumable_client_run.mjs <route url> <body json> <out.json>

import { writeFileSync } from "node:fs";
import { resumableRun } from "../../docs/examples/resumable-client.mjs";

const [url, body, out] = process.argv.slice(2);
const received = [];
let error = null;
try {
  await resumableRun(url, JSON.parse(body), { onData: (data) => received.push(data), retries: 3 });
} catch (exc) {
  error = String(exc);
}
writeFileSync(out, JSON.stringify({ received, error }));
