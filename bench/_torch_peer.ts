/**
 * The CPU peer in the benches: PyTorch on the CPU running the same workloads as `_at_step.ts`
 * (`tools/at_step_torch.py --device cpu --serve`: the attention-transfer reference code's functional WRN-16-1
 * and WRN-16-2, and its ResNet-18 student with a ResNet-34 teacher at 224×224, `torch.set_num_threads` = the
 * threads our backends use). The script stays alive and runs one
 * step per request, timed in Python, so the bench times PyTorch's steps in the same run as its own, and as many
 * of them as it likes: PyTorch's CPU step time varies by about ±30% from step to step, so compare medians.
 *
 * Python is `AT_TORCH_PYTHON` where set, else the first of `python3` on `PATH` and `/usr/bin/python3` that
 * imports torch. Debian's `python3-torch` links the slow reference BLAS unless `libopenblas0-pthread` is
 * installed; the description says which BLAS it runs on.
 *
 * @module
 */

/** The workloads, by the bench's names. */
export type TorchWorkload = "atStep" | "studentStep" | "teacherForward" | "resnetAtStep";

/** The script's name of each workload (its `--workloads` and the lines it reads). */
export const TORCH_WORKLOAD_NAMES: Readonly<Record<TorchWorkload, string>> = {
  atStep: "at",
  studentStep: "student",
  teacherForward: "teacher",
  resnetAtStep: "resnet",
};

function envGet(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name) || undefined
    : undefined;
}

/** A Python that imports torch, or why there is none. */
export async function findTorchPython(): Promise<{ python: string } | { reason: string }> {
  const candidates = [envGet("AT_TORCH_PYTHON"), "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
  const tried: string[] = [];
  for (const python of [...new Set(candidates)]) {
    try {
      const out = await new Deno.Command(python, { args: ["-c", "import torch"], stdout: "null", stderr: "null" })
        .output();
      if (out.success) return { python };
      tried.push(`${python} (no torch)`);
    } catch {
      tried.push(`${python} (not found)`);
    }
  }
  return { reason: `no Python with torch: tried ${tried.join(", ")}; set AT_TORCH_PYTHON` };
}

/** A running PyTorch peer: one step per {@linkcode TorchPeer.step} call. */
export class TorchPeer {
  /** Torch version, threads, oneDNN and BLAS, in words. */
  readonly description: string;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: Deno.ChildProcess, lines: AsyncIterator<string>, description: string) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
    this.description = description;
  }

  /**
   * Starts the script with `python` on `threads` threads, the WRN workloads at `batch` and the ResNet one at
   * `resnetBatch`, and waits until it has warmed up `workloads` (all four when not given).
   */
  static async start(
    python: string,
    options: {
      batch: number;
      resnetBatch?: number;
      threads: number;
      warmup: number;
      workloads?: readonly TorchWorkload[];
    },
  ): Promise<TorchPeer> {
    const script = new URL("../tools/at_step_torch.py", import.meta.url).pathname;
    const workloads = options.workloads ?? (Object.keys(TORCH_WORKLOAD_NAMES) as TorchWorkload[]);
    const child = new Deno.Command(python, {
      args: [
        script,
        ...["--device", "cpu", "--serve", "--threads", String(options.threads)],
        ...["--batch", String(options.batch), "--resnet-batch", String(options.resnetBatch ?? 32)],
        ...["--warmup", String(options.warmup), "--workloads", workloads.map((w) => TORCH_WORKLOAD_NAMES[w]).join(",")],
      ],
      env: { OMP_NUM_THREADS: String(options.threads) },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    if (first.done || !first.value.startsWith("READY ")) {
      child.kill();
      await child.status;
      throw new Error(`${script} did not start: ${first.done ? "it exited" : first.value}`);
    }
    return new TorchPeer(child, lines, JSON.parse(first.value.slice("READY ".length)).device);
  }

  /** Runs one step of `workload`; resolves to its time in milliseconds, as Python measured it. */
  async step(workload: TorchWorkload): Promise<number> {
    const name = TORCH_WORKLOAD_NAMES[workload];
    await this.#writer.write(new TextEncoder().encode(`${name}\n`));
    const line = await this.#lines.next();
    const m = line.done ? null : /^STEP (\w+) ([\d.]+)$/.exec(line.value);
    if (!m || m[1] !== name) throw new Error(`the PyTorch peer answered ${line.done ? "nothing" : line.value}`);
    return Number(m[2]);
  }

  /** Ends the script. */
  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode("quit\n"));
      await this.#writer.close();
    } catch {
      // already gone
    }
    await this.#child.status;
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let i;
    while ((i = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
    }
  }
  if (buffered) yield buffered;
}
