/**
 * Attention maps of trained networks, drawn: for each image, one PNG with a row per network (the teacher first, when
 * given), the input and every group's attention map laid over it, and with `--html` one page of them all.
 *
 *   deno run -A cli/visualize.ts --model logs/at --teacher logs/teacher --out attention --html cat.png dog.jpg
 *   deno run -A cli/visualize.ts --model logs/at --dataset MNIST --index 0,1,2 --out attention
 *
 * @module
 */
import { parseArgs } from "node:util";
import { atLoss } from "../src/at.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { DATASET_NAMES, type DatasetName } from "../src/data/datasets.ts";
import { IMAGE_SIZE } from "../src/data/dataset.ts";
import type { Normalization } from "../src/data/normalization.ts";
import { noGrad } from "../src/tensor/autograd.ts";
import { useBackend } from "../src/tensor/device.ts";
import { tidy } from "../src/tensor/memory.ts";
import { softmax } from "../src/tensor/softmax.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { type AttentionMap, attentionMaps } from "../src/viz/attention.ts";
import { attentionFigure, type MapRow } from "../src/viz/attention_figure.ts";
import { COLORMAP_NAMES, type ColormapName } from "../src/viz/colormap.ts";
import { type Figure, figureSvg } from "../src/viz/figure.ts";
import { figuresPage } from "../src/viz/html.ts";
import { centerSquare, decodeImage, fromPlanar, resizeImage, type RgbImage, toPlanar } from "../src/viz/image.ts";
import { svgToPng } from "../src/viz/render.ts";
import { exitWithError } from "./_errors.ts";
import { parseFlags } from "./_flags.ts";
import { ARCH_HELP, type LoadedModel, loadModel } from "./_models.ts";

/** What {@linkcode visualize} draws, parsed from the command line by {@linkcode parseVisualizeArgs}. */
export interface VisualizeOptions {
  /** Checkpoints drawn, one row each, in order. */
  readonly models: readonly string[];
  /** `--arch` per model (one for all, or none: each run's own). */
  readonly archs: readonly string[];
  readonly teacher?: string;
  readonly teacherArch?: string;
  readonly out: string;
  /** Image files. */
  readonly images: readonly string[];
  /** `--dataset`: the normalisation of runs that do not say, and the source of `indices`. */
  readonly dataset?: DatasetName;
  readonly dataroot: string;
  /** Test-split images of `dataset`. */
  readonly indices: readonly number[];
  readonly normalize: boolean;
  readonly html: boolean;
  readonly size: number;
  readonly opacity: number;
  readonly colormap: ColormapName;
  readonly backend?: string;
}

/** What {@linkcode visualize} wrote. */
export interface VisualizeReport {
  /** One PNG per image. */
  readonly pngs: readonly string[];
  /** The page, with `html`. */
  readonly html?: string;
}

const USAGE = `usage: deno run -A cli/visualize.ts --model CHECKPOINT [--model …] [--arch ARCH …]
       [--teacher CHECKPOINT [--teacher_arch ARCH]] --out DIR [--html] [--normalize]
       [--dataset MNIST|CIFAR10|CIFAR100 [--dataroot DIR] --index I,J,K] [IMAGE.png|IMAGE.jpg …]

  CHECKPOINT   a run folder (its checkpoint.json names the weights), its checkpoint.json, or a .safetensors file
  --arch       ${ARCH_HELP}; once per --model in the same order, or once for all; default: the run's own
  --normalize  draw at(x), each map L2-normalised as the AT loss compares them (the rows of a group share a colour
               scale); default: x².mean(1), as the reference notebook, each panel on its own scale
  --size N     panel side in pixels (default 128); --opacity F colour over the gray image (default 0.6)
  --colormap   ${COLORMAP_NAMES.join(", ")} (default inferno); --backend auto|cpu|onednn|webgpu|cudnn`;

function parseNumber(flag: string, text: string, min: number, max: number, integer: boolean): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(
      `${flag} ${JSON.stringify(text)}: expected ${integer ? "an integer" : "a number"} in [${min}, ${max}]`,
    );
  }
  return v;
}

/**
 * Parses the command line of `cli/visualize.ts`; throws one error naming the flag for bad input. `undefined` for
 * `--help`.
 *
 * @example
 * ```ts
 * const options = parseVisualizeArgs(["--model", "logs/at", "--out", "maps", "cat.png"]);
 * ```
 */
export function parseVisualizeArgs(args: readonly string[]): VisualizeOptions | undefined {
  const { values, positionals } = parseFlags(() =>
    parseArgs({
      args: [...args],
      options: {
        model: { type: "string", multiple: true },
        arch: { type: "string", multiple: true },
        teacher: { type: "string" },
        teacher_arch: { type: "string" },
        out: { type: "string" },
        dataset: { type: "string" },
        dataroot: { type: "string" },
        index: { type: "string" },
        normalize: { type: "boolean" },
        html: { type: "boolean" },
        size: { type: "string" },
        opacity: { type: "string" },
        colormap: { type: "string" },
        backend: { type: "string" },
        help: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    })
  );
  if (values.help) return undefined;
  const models = values.model ?? [];
  if (!models.length) throw new RangeError("--model is required: the checkpoint whose attention maps to draw");
  if (!values.out) throw new RangeError("--out is required: the folder the pictures go to");
  const archs = values.arch ?? [];
  if (archs.length > 1 && archs.length !== models.length) {
    throw new RangeError(
      `--arch is given ${archs.length} times for ${models.length} --model; give it once per --model`,
    );
  }
  if (values.teacher_arch && !values.teacher) throw new RangeError("--teacher_arch needs --teacher");
  const dataset = values.dataset;
  if (dataset !== undefined && !(DATASET_NAMES as readonly string[]).includes(dataset)) {
    throw new RangeError(`--dataset ${JSON.stringify(dataset)}: expected one of ${DATASET_NAMES.join(", ")}`);
  }
  let indices: number[] = [];
  if (values.index !== undefined) {
    if (!dataset) throw new RangeError("--index needs --dataset: the data set whose test images it numbers");
    indices = values.index.split(",").map((s) => parseNumber("--index", s, 0, 2 ** 31 - 1, true));
  }
  if (!positionals.length && !indices.length) {
    throw new RangeError("name at least one IMAGE file, or --dataset with --index");
  }
  const colormap = values.colormap ?? "inferno";
  if (!(COLORMAP_NAMES as readonly string[]).includes(colormap)) {
    throw new RangeError(`--colormap ${JSON.stringify(colormap)}: expected one of ${COLORMAP_NAMES.join(", ")}`);
  }
  return {
    models,
    archs,
    teacher: values.teacher,
    teacherArch: values.teacher_arch,
    out: values.out.replace(/(.)\/+$/, "$1"),
    images: positionals,
    dataset: dataset as DatasetName | undefined,
    dataroot: values.dataroot ?? ".",
    indices,
    normalize: values.normalize ?? false,
    html: values.html ?? false,
    size: values.size === undefined ? 128 : parseNumber("--size", values.size, 16, 1024, true),
    opacity: values.opacity === undefined ? 0.6 : parseNumber("--opacity", values.opacity, 0, 1, false),
    colormap: colormap as ColormapName,
    backend: values.backend,
  };
}

/** One image to draw: its title, a file-name stem, its pixels at the networks' input size. */
interface Input {
  readonly title: string;
  readonly stem: string;
  readonly image: RgbImage;
}

const CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

function className(model: LoadedModel, k: number): string {
  if (model.dataset === "MNIST") return String(k);
  if (model.dataset === "CIFAR10" && model.numClasses === 10) return CIFAR10_CLASSES[k];
  return `class ${k}`;
}

async function readInputs(o: VisualizeOptions, size: number): Promise<Input[]> {
  const inputs: Input[] = [];
  for (const path of o.images) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      throw new Error(`image ${path}: cannot read it (${why})`);
    }
    const image = resizeImage(centerSquare(decodeImage(bytes, `image ${path}`)), size, size);
    const name = path.split("/").pop()!;
    inputs.push({ title: name, stem: name.replace(/\.[^.]*$/, ""), image });
  }
  if (o.indices.length) {
    const data = await loadDataset(o.dataset!, { dataroot: o.dataroot, checkCount: false });
    const n = data.test.labels.length;
    const plane = 3 * IMAGE_SIZE * IMAGE_SIZE;
    for (const i of o.indices) {
      if (i >= n) throw new RangeError(`--index ${i}: the ${data.name} test split has ${n} images (0 to ${n - 1})`);
      const image = fromPlanar(data.test.images.subarray(i * plane, (i + 1) * plane), IMAGE_SIZE, IMAGE_SIZE);
      const label = data.test.labels[i];
      const named = data.name === "CIFAR10" ? `${CIFAR10_CLASSES[label]}` : String(label);
      inputs.push({
        title: `${data.name} test image ${i} (label ${named})`,
        stem: `${data.name.toLowerCase()}-test-${i}`,
        image: resizeImage(image, size, size),
      });
    }
  }
  return inputs;
}

/** `[1, 3, S, S]` float32: the image's planes scaled to [0, 1] and normalised per channel. */
function inputTensor(image: RgbImage, { mean, std }: Normalization): Tensor {
  const planes = toPlanar(image);
  const n = image.width * image.height;
  const x = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) x[c * n + i] = (planes[c * n + i] / 255 - mean[c]) / std[c];
  return tensor(x, [1, 3, image.height, image.width]);
}

/** One network's pass over one image: its groups (kept until disposed), maps and top class. */
interface Pass {
  readonly groups: readonly Tensor[];
  readonly maps: readonly AttentionMap[];
  readonly header: string;
}

async function runPass(model: LoadedModel, image: RgbImage, role: string, normalize: boolean): Promise<Pass> {
  const x = inputTensor(image, model.normalization);
  const out = noGrad(() =>
    tidy(() => {
      const o = model.net.apply(model.params, model.stats, x, { train: false });
      return { probs: softmax(o.logits), groups: o.groups };
    })
  );
  x.dispose();
  const probs = await out.probs.data();
  out.probs.dispose();
  const top = probs.indexOf(Math.max(...probs));
  const maps = (await attentionMaps(out.groups, { normalize }))[0];
  const name = !role || model.label.includes(role) ? model.label : `${model.label} (${role})`;
  const header = `${name} · ${model.net.name} · predicts ${className(model, top)} (${(100 * probs[top]).toFixed(1)}%)`;
  return { groups: out.groups, maps, header };
}

async function groupLosses(student: Pass, teacher: Pass, names: string): Promise<number[]> {
  if (student.groups.length !== teacher.groups.length) {
    throw new RangeError(
      `${names}: the networks have ${student.groups.length} and ${teacher.groups.length} groups; AT needs as many`,
    );
  }
  const losses: number[] = [];
  for (const [g, s] of student.groups.entries()) {
    let loss: Tensor;
    try {
      loss = noGrad(() => atLoss(s, teacher.groups[g]));
    } catch (e) {
      throw new RangeError(`${names}: group ${g + 1}: ${(e as Error).message}`);
    }
    losses.push(await loss.item());
    loss.dispose();
  }
  return losses;
}

/** The figure of one input: the teacher's row (when there is one), then each model's with its AT losses. */
async function drawInput(
  input: Input,
  teacher: LoadedModel | undefined,
  models: readonly LoadedModel[],
  o: VisualizeOptions,
): Promise<Figure> {
  const t = teacher ? await runPass(teacher, input.image, "teacher", o.normalize) : undefined;
  const rows: MapRow[] = t ? [{ header: t.header, maps: t.maps }] : [];
  for (const m of models) {
    const s = await runPass(m, input.image, "", o.normalize);
    const atLosses = t ? await groupLosses(s, t, `--model ${m.label} against --teacher ${teacher!.label}`) : undefined;
    rows.push({ header: s.header, maps: s.maps, atLosses });
    for (const g of s.groups) g.dispose();
  }
  for (const g of t?.groups ?? []) g.dispose();
  return attentionFigure(input.title, input.image, rows, {
    panelSize: o.size,
    opacity: o.opacity,
    colormap: o.colormap,
    shareScale: o.normalize,
  });
}

/**
 * Draws the attention maps of `o.models` (and `o.teacher`) on every input; writes `<out>/<image>.png` for each and,
 * with `o.html`, `<out>/attention.html`. Prints what it wrote.
 *
 * @example
 * ```ts
 * await visualize(parseVisualizeArgs(["--model", "logs/at", "--dataset", "MNIST", "--index", "0", "--out", "maps"])!);
 * ```
 */
export async function visualize(
  o: VisualizeOptions,
  print: (line: string) => void = console.log,
): Promise<VisualizeReport> {
  await useBackend(o.backend);
  const teacher = o.teacher
    ? await loadModel(o.teacher, {
      flag: "--teacher",
      arch: o.teacherArch,
      archFlag: "--teacher_arch",
      dataset: o.dataset,
    })
    : undefined;
  const models: LoadedModel[] = [];
  for (const [i, path] of o.models.entries()) {
    models.push(
      await loadModel(path, { flag: "--model", arch: o.archs[o.archs.length > 1 ? i : 0], dataset: o.dataset }),
    );
  }
  const all = teacher ? [teacher, ...models] : models;
  for (const m of all) for (const n of m.notes) print(`note: ${n}`);
  const size = all[0].inputSize;
  const other = all.find((m) => m.inputSize !== size);
  if (other) {
    const [a, b] = [all[0], other].map((m) => `${m.label} takes ${m.inputSize}×${m.inputSize} images`);
    throw new RangeError(`${a} but ${b}; draw them apart`);
  }
  const inputs = await readInputs(o, size);
  await Deno.mkdir(o.out, { recursive: true });
  const figures: Figure[] = [];
  const pngs: string[] = [];
  const used = new Set<string>();
  for (const input of inputs) {
    const figure = await drawInput(input, teacher, models, o);
    figures.push(figure);
    const base = input.stem.replace(/[^\w.-]+/g, "_");
    let stem = base;
    for (let k = 2; used.has(stem); k++) stem = `${base}-${k}`;
    used.add(stem);
    const path = `${o.out}/${stem}.png`;
    await Deno.writeFile(path, await svgToPng(figureSvg(figure)));
    pngs.push(path);
    print(`wrote ${path}`);
  }
  let html: string | undefined;
  if (o.html) {
    html = `${o.out}/attention.html`;
    const notes = [
      ...all.map((m) => `${m === teacher ? "teacher" : "model"} ${m.label}: ${m.net.name} from ${m.file}`),
      o.normalize
        ? "maps: at(x), the per-sample L2-normalised x².mean(1) the AT loss compares; one colour scale per group"
        : "maps: x².mean(1) of each group's output; each panel on its own colour scale",
    ];
    await Deno.writeTextFile(html, figuresPage(figures, { title: "Attention maps", notes }));
    print(`wrote ${html}`);
  }
  return { pngs, html };
}

if (import.meta.main) {
  try {
    const options = parseVisualizeArgs(Deno.args);
    if (!options) {
      console.log(USAGE);
      Deno.exit(0);
    }
    await visualize(options);
  } catch (e) {
    exitWithError(e);
  }
}
