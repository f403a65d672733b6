// Checks event sequences with the official client's verifyEvents (@ag-ui/client), the rules a
// run's events must keep (first RUN_STARTED, nothing after the end, no END without its START...).
//
//   node verify_events.mjs sequences.json results.json
//
// sequences.json: [{id, events: [...]}, ...]; results.json: [{id, error}] (error null: accepted).
// Driven by tests/integration/test_resumable_recordings.py, for the events of a run read in two
// pieces (before a dropped connection, then after a reattach).

import { readFileSync, writeFileSync } from "node:fs";
import { verifyEvents } from "@ag-ui/client";
import { from, lastValueFrom, toArray } from "rxjs";

const [sequencesPath, resultsPath] = process.argv.slice(2);
const results = [];
for (const { id, events } of JSON.parse(readFileSync(sequencesPath, "utf8"))) {
  let error = null;
  try {
    await lastValueFrom(from(events).pipe(verifyEvents(false), toArray()));
  } catch (exc) {
    error = exc instanceof Error ? exc.message : String(exc);
  }
  results.push({ id, error });
}
writeFileSync(resultsPath, JSON.stringify(results));
