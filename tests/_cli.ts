// Running the recipes (`cli/cifar.ts`, `cli/imagenet.ts`) as a user does, in a folder of their own.
import { assert } from "./_assert.ts";
import { writeTinyCifar } from "./_data.ts";

export const CLI = new URL("../cli/cifar.ts", import.meta.url).pathname;
export const IMAGENET_CLI = new URL("../cli/imagenet.ts", import.meta.url).pathname;
export const BACKEND = Deno.env.get("AT_BACKEND") ?? "cpu";
/** Small networks and data: the recipe's code paths, in seconds. */
export const TINY = ["--dataset", "CIFAR10", "--batch_size", "16", "--backend", BACKEND];
export const TEACHER = [...TINY, "--depth", "10", "--width", "0.5"];
export const STUDENT = [...TINY, "--depth", "10", "--width", "0.25"];

/** Runs the CLI in `cwd`; returns exit code and output. */
export async function cli(cwd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return await cliWith({}, cwd, ...args);
}

export async function cliWith(
  env: Record<string, string>,
  cwd: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  return await runCli(CLI, env, cwd, args);
}

/** Runs `script` with `args` in `cwd`; returns exit code and output. */
export async function runCli(
  script: string,
  env: Record<string, string>,
  cwd: string,
  args: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: new TextDecoder().decode(p.stdout), err: new TextDecoder().decode(p.stderr) };
}

export async function ok(cwd: string, ...args: string[]): Promise<string> {
  return await succeeds(CLI, cwd, args);
}

/** Runs `script` and asserts exit status 0; returns standard output. */
export async function succeeds(script: string, cwd: string, args: readonly string[]): Promise<string> {
  const r = await runCli(script, {}, cwd, args);
  assert.equal(r.code, 0, `${script} ${args.join(" ")} failed:\n${r.out}\n${r.err}`);
  return r.out;
}

export async function fails(cwd: string, parts: string[], ...args: string[]): Promise<string> {
  return await failsWith(CLI, cwd, parts, args);
}

/** Runs `script` and asserts exit status 1 with one clear error holding every one of `parts`, and no stack. */
export async function failsWith(
  script: string,
  cwd: string,
  parts: string[],
  args: readonly string[],
): Promise<string> {
  const r = await runCli(script, {}, cwd, args);
  assert.equal(r.code, 1, `expected exit status 1 from ${script} ${args.join(" ")}:\n${r.out}\n${r.err}`);
  for (const p of parts) assert.ok(r.err.includes(p), `error output lacks ${JSON.stringify(p)}:\n${r.err}`);
  assert.ok(!r.err.includes("    at "), `a stack trace was printed for bad input:\n${r.err}`);
  return r.err;
}

export async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "at-cifar-" });
  try {
    await writeTinyCifar(dir, "CIFAR10", 8);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
