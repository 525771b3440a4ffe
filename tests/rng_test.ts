// The seeded generator: reproducible, resumable from its state, and statistically sane.
import fc from "fast-check";
import { Rng } from "../src/rng.ts";
import { assert, assertClose, assertThrowsWith } from "./_assert.ts";

Deno.test("Rng: equal seeds give equal streams; a saved state resumes exactly", () => {
  fc.assert(fc.property(fc.integer(), fc.integer({ min: 0, max: 50 }), (seed, skip) => {
    const a = new Rng(seed), b = new Rng(seed);
    for (let i = 0; i < skip; i++) assert.equal(a.nextUint32(), b.nextUint32());
    a.normal();
    const resumed = Rng.fromState(a.state);
    for (let i = 0; i < 10; i++) assert.equal(resumed.normal(), a.normal());
  }));
  assert.notEqual(new Rng(1).nextUint32(), new Rng(2).nextUint32());
});

Deno.test("Rng: int is in range, permutation is a permutation, uniform and normal have the right moments", () => {
  const rng = new Rng(123);
  fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), (n) => {
    const v = rng.int(n);
    return Number.isInteger(v) && v >= 0 && v < n;
  }));
  const p = Array.from(rng.permutation(100)).sort((a, b) => a - b);
  assert.deepEqual(p, Array.from({ length: 100 }, (_, i) => i));
  const n = 100_000;
  let su = 0, sn = 0, sn2 = 0;
  for (let i = 0; i < n; i++) {
    su += rng.uniform();
    const z = rng.normal();
    sn += z;
    sn2 += z * z;
  }
  // Five standard errors: 1/sqrt(12 n) for the uniform mean, 1/sqrt(n) and sqrt(2/n) for the normal.
  assertClose(su / n, 0.5, 5 / Math.sqrt(12 * n), "uniform mean");
  assertClose(sn / n, 0, 5 / Math.sqrt(n), "normal mean");
  assertClose(sn2 / n, 1, 5 * Math.sqrt(2 / n), "normal variance");
});

Deno.test("Rng: bad seeds and states are refused with the value named", () => {
  assertThrowsWith(() => new Rng(0.5), "seed", "0.5");
  assertThrowsWith(() => Rng.fromState([0, 0, 0, 0]), "not all zero");
  assertThrowsWith(() => Rng.fromState([1, 2, 3]), "four unsigned 32-bit words");
  assertThrowsWith(() => new Rng(1).int(0), "Rng.int");
});
