import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readCifar } from "../src/data/cifar.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { CIFAR_ARCHIVES, cifarUrl, DEFAULT_CIFAR_URL, downloadCifar } from "../src/data/download.ts";
import { DataFileError } from "../src/data/errors.ts";
import { labelOf, tarGz, tinyCifarFiles, withTempDir } from "./_data.ts";

/** Serves `files` (URL path → bytes) on 127.0.0.1 while `fn` runs; counts the requests. */
async function withServer(
  files: Map<string, Uint8Array>,
  fn: (base: string, hits: string[]) => Promise<void>,
): Promise<void> {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    hits.push(path);
    const body = files.get(path);
    return body ? new Response(body.slice()) : new Response("not found", { status: 404 });
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/mirror`, hits);
  } finally {
    await server.shutdown();
  }
}

async function tinyArchive(extra: Map<string, Uint8Array> = new Map()): Promise<Uint8Array> {
  const entries = new Map<string, Uint8Array>();
  for (const [name, bytes] of tinyCifarFiles("CIFAR10", 2)) entries.set(`cifar-10-batches-bin/${name}`, bytes);
  entries.set("cifar-10-batches-bin/batches.meta.txt", new TextEncoder().encode("airplane\nautomobile\n"));
  for (const [name, bytes] of extra) entries.set(name, bytes);
  return await tarGz(entries);
}

function md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

class Sink {
  text = "";
  readonly isTTY = false;
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function rejection(promise: Promise<unknown>): Promise<DataFileError> {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof DataFileError, `expected a DataFileError, got ${error}`);
  return error;
}

Deno.test("cifarUrl: official archives by default, then AT_CIFAR_URL, then the baseUrl argument", () => {
  const saved = Deno.env.get("AT_CIFAR_URL");
  try {
    Deno.env.delete("AT_CIFAR_URL");
    assert.equal(cifarUrl("CIFAR10"), "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
    assert.equal(cifarUrl("CIFAR100"), `${DEFAULT_CIFAR_URL}cifar-100-binary.tar.gz`);
    Deno.env.set("AT_CIFAR_URL", "http://127.0.0.1:9/m");
    assert.equal(cifarUrl("CIFAR10"), "http://127.0.0.1:9/m/cifar-10-binary.tar.gz");
    assert.equal(cifarUrl("CIFAR10", "http://127.0.0.1:9/x/"), "http://127.0.0.1:9/x/cifar-10-binary.tar.gz");
  } finally {
    if (saved === undefined) Deno.env.delete("AT_CIFAR_URL");
    else Deno.env.set("AT_CIFAR_URL", saved);
  }
  assert.equal(CIFAR_ARCHIVES.CIFAR10.md5, "c32a1d4ab5d03f1284b67883e8d87530");
  assert.equal(CIFAR_ARCHIVES.CIFAR100.md5, "03b5dce01913d631647c71ecec9e9cb8");
});

Deno.test("downloadCifar: fetch, verify, unpack, read; then nothing is fetched again", async () => {
  const archive = await tinyArchive();
  await withServer(new Map([["/mirror/cifar-10-binary.tar.gz", archive]]), async (base, hits) => {
    await withTempDir(async (root) => {
      const sink = new Sink();
      const folder = await downloadCifar(root, "CIFAR10", { baseUrl: base, md5: md5(archive), progress: sink });
      assert.equal(folder, join(root, "cifar-10-batches-bin"));
      assert.deepEqual(hits, ["/mirror/cifar-10-binary.tar.gz"]);
      assert.ok(
        sink.text.includes(`cifar-10-binary.tar.gz`) &&
          sink.text.includes(`100% | ${archive.length} B / ${archive.length} B`),
        sink.text,
      );
      // Only the archive and the folder remain: no temporary file or staging folder.
      assert.deepEqual(await listing(root), ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]);
      assert.ok((await listing(folder)).includes("batches.meta.txt"));
      const test = await readCifar(root, "CIFAR10", { train: false, checkCount: false });
      assert.deepEqual([...test.labels], [labelOf(10, 10), labelOf(11, 10)]);
      assert.equal((await readCifar(root, "CIFAR10", { train: true, checkCount: false })).labels.length, 10);

      await downloadCifar(root, "CIFAR10", { baseUrl: base, md5: md5(archive), progress: false });
      assert.equal(hits.length, 1, "files present: no second download");
      // A lost file is restored from the kept archive, without fetching.
      await Deno.remove(join(folder, "data_batch_3.bin"));
      await downloadCifar(root, "CIFAR10", { baseUrl: base, md5: md5(archive), progress: false });
      assert.equal(hits.length, 1, "archive kept: no second download");
      assert.equal((await readCifar(root, "CIFAR10", { train: true, checkCount: false })).labels.length, 10);
    });
  });
});

Deno.test("downloadCifar: AT_CIFAR_URL redirects the download when no baseUrl is given", async () => {
  const archive = await tinyArchive();
  await withServer(new Map([["/mirror/cifar-10-binary.tar.gz", archive]]), async (base, hits) => {
    const saved = Deno.env.get("AT_CIFAR_URL");
    Deno.env.set("AT_CIFAR_URL", base);
    try {
      await withTempDir(async (root) => {
        await downloadCifar(root, "CIFAR10", { md5: md5(archive), progress: false });
        assert.deepEqual(hits, ["/mirror/cifar-10-binary.tar.gz"]);
      });
    } finally {
      if (saved === undefined) Deno.env.delete("AT_CIFAR_URL");
      else Deno.env.set("AT_CIFAR_URL", saved);
    }
  });
});

Deno.test("downloadCifar: a bad checksum deletes the download and says both sums", async () => {
  const archive = await tinyArchive();
  await withServer(new Map([["/mirror/cifar-10-binary.tar.gz", archive]]), async (base) => {
    await withTempDir(async (root) => {
      const dataroot = join(root, "data");
      // The official MD5 is expected; the tiny archive cannot match it.
      const e = await rejection(downloadCifar(dataroot, "CIFAR10", { baseUrl: base, progress: false }));
      assert.equal(e.problem, "checksum");
      assert.ok(e.message.includes(`expected MD5 ${CIFAR_ARCHIVES.CIFAR10.md5}, got ${md5(archive)}`), e.message);
      assert.ok(e.message.includes(`${base}/cifar-10-binary.tar.gz`), e.message);
      assert.deepEqual(await listing(dataroot), [], "nothing half-written");
    });
  });
});

Deno.test("downloadCifar: an HTTP error names the URL and leaves nothing behind", async () => {
  await withServer(new Map(), async (base) => {
    await withTempDir(async (root) => {
      const e = await rejection(downloadCifar(root, "CIFAR100", { baseUrl: base, progress: false }));
      assert.equal(e.problem, "download");
      assert.match(e.message, /cifar-100-binary\.tar\.gz: HTTP 404/);
      assert.deepEqual(await listing(root), []);
    });
  });
});

Deno.test("downloadCifar: an archive without the expected files, with an escaping path, or truncated, is refused", async () => {
  const incomplete = await tarGz(new Map([["cifar-10-batches-bin/test_batch.bin", new Uint8Array(3073)]]));
  const escaping = await tinyArchive(new Map([["../evil.txt", new Uint8Array(1)]]));
  const truncated = (await tinyArchive()).subarray(0, 400);
  const files = new Map([
    ["/a/cifar-10-binary.tar.gz", incomplete],
    ["/b/cifar-10-binary.tar.gz", escaping],
    ["/c/cifar-10-binary.tar.gz", truncated],
  ]);
  await withServer(files, async (base) => {
    const root = base.replace(/\/mirror$/, "");
    await withTempDir(async (dir) => {
      const a = await rejection(
        downloadCifar(join(dir, "a"), "CIFAR10", { baseUrl: `${root}/a`, md5: md5(incomplete), progress: false }),
      );
      assert.equal(a.problem, "archive");
      assert.match(a.message, /has no cifar-10-batches-bin\/data_batch_1\.bin/);
      assert.deepEqual(await listing(join(dir, "a")), ["cifar-10-binary.tar.gz"], "no folder, no staging left");

      const b = await rejection(
        downloadCifar(join(dir, "b"), "CIFAR10", { baseUrl: `${root}/b`, md5: md5(escaping), progress: false }),
      );
      assert.equal(b.problem, "archive");
      assert.match(b.message, /climbs out of the folder/);
      assert.deepEqual(await listing(dir), ["a", "b"], "nothing written outside dataroot");
      assert.deepEqual(await listing(join(dir, "b")), ["cifar-10-binary.tar.gz"]);

      const c = await rejection(
        downloadCifar(join(dir, "c"), "CIFAR10", { baseUrl: `${root}/c`, md5: md5(truncated), progress: false }),
      );
      assert.equal(c.problem, "archive");
      assert.match(c.message, /could not unpack/);
      assert.deepEqual(await listing(join(dir, "c")), ["cifar-10-binary.tar.gz"]);
    });
  });
});

Deno.test("loadDataset with download: fetches when missing, then reads both splits", async () => {
  const archive = await tinyArchive();
  await withServer(new Map([["/mirror/cifar-10-binary.tar.gz", archive]]), async (base, hits) => {
    await withTempDir(async (root) => {
      const data = await loadDataset("CIFAR10", {
        dataroot: root,
        download: true,
        checkCount: false,
        downloadOptions: { baseUrl: base, md5: md5(archive), progress: false },
      });
      assert.equal(hits.length, 1);
      assert.equal(data.train.labels.length, 10);
      assert.equal(data.test.labels.length, 2);
    });
  });
});
