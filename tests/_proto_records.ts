// Saves and loads tensors named "__proto__" and "constructor" and prints what each record holds, as JSON. The
// safetensors test runs it with --unstable-unsafe-proto, which gives Object.prototype the `__proto__` accessor
// that Node and browsers have (Deno removes it): there `record["__proto__"] = t` replaces the record's prototype.
import { parseSafetensors } from "../src/io/safetensors.ts";
import { loadTensors, saveTensors } from "../src/io/tensors.ts";
import { getBackend } from "../src/tensor/device.ts";
import { splitParams } from "../src/nn/params.ts";
import { tensor } from "../src/tensor/tensor.ts";

const path = Deno.args[0];
// Own properties, as a record built from names read off a file has them.
await saveTensors(
  path,
  Object.fromEntries([["__proto__", tensor([1, 2])], ["constructor", tensor([3])], ["a", tensor([4])]]),
);
const { tensors } = await loadTensors(path, getBackend());
console.log(JSON.stringify({
  accessor: Object.hasOwn(Object.prototype, "__proto__"),
  saved: [...parseSafetensors(await Deno.readFile(path), path).tensors.keys()],
  loaded: Object.keys(tensors),
  prototype: Object.getPrototypeOf(tensors) === Object.prototype,
  value: Array.from(await tensors["__proto__"].data()),
  params: Object.keys(splitParams(tensors).params),
}));
