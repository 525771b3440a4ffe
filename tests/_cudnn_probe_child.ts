/**
 * Run as a child process by the cudnn tests: probes the cudnn backend under the permissions and
 * environment it was started with, and prints one JSON line: the availability, the error of an explicit
 * `cudnn` request, and what `auto` chose and passed over.
 */
import { availability } from "../src/backends/cudnn_ffi/mod.ts";
import { chooseBackend } from "../src/backends/registry.ts";

const probe = await availability();
let explicit = "";
try {
  await chooseBackend("cudnn");
} catch (e) {
  explicit = e instanceof Error ? e.message : String(e);
}
const auto = await chooseBackend("auto");
console.log(
  JSON.stringify({ availability: probe, explicit, auto: { name: auto.backend.name, passedOver: auto.passedOver } }),
);
