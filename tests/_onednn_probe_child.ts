/**
 * Run as a child process by the onednn tests: probes the onednn backend under the permissions and
 * environment it was started with, and prints one JSON line: the availability, the error of an explicit
 * `onednn` request, and what `auto` chose and passed over.
 */
import { availability } from "../src/backends/onednn_ffi/mod.ts";
import { chooseBackend } from "../src/backends/registry.ts";

const probe = await availability();
let explicit = "";
try {
  await chooseBackend("onednn");
} catch (e) {
  explicit = e instanceof Error ? e.message : String(e);
}
const auto = await chooseBackend("auto");
console.log(
  JSON.stringify({ availability: probe, explicit, auto: { name: auto.backend.name, passedOver: auto.passedOver } }),
);
