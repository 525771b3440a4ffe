/**
 * Probing the cudnn backend in a child process (`_cudnn_probe_child.ts`), under chosen permissions and
 * environment: the tests' way to see what a fresh process would report.
 *
 * @module
 */

/** What the child process reports. */
export interface Probe {
  availability: { available: boolean; reason?: string; description?: string };
  /** The error of `chooseBackend("cudnn")`, or "" when it started. */
  explicit: string;
  auto: { name: string; passedOver: string[] };
}

/** Extra deno flags for child processes, from `AT_DENO_FLAGS` (space-separated). */
export function childDenoFlags(): string[] {
  return Deno.env.get("AT_DENO_FLAGS")?.split(" ").filter((f) => f) ?? [];
}

/** Runs the probe script in a child deno with `flags` and extra `env`; returns its report. */
export async function probe(flags: readonly string[], env: Record<string, string> = {}): Promise<Probe> {
  const child = new URL("./_cudnn_probe_child.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    // AT_DENO_FLAGS: extra deno flags for child processes (tools/gpu_check.sh runs offline with its own config).
    args: ["run", "--no-prompt", "--no-check", ...childDenoFlags(), ...flags, child],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`the probe exited with ${out.code}:\n${stdout}\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(stdout.split("\n").at(-1)!);
}
