// The ImageNet recipe: `deno run -A cli/imagenet.ts` with the reference `imagenet.py` flags (see --help).
//
//   deno run -A cli/imagenet.ts --imagenetpath ~/ILSVRC2012 --depth 18 --teacher_params resnet34.pth --beta 1e3
//   deno run -A cli/imagenet.ts --imagenetpath ~/ILSVRC2012 --evaluate resnet34.pth           # top-1/top-5 only
import { evaluateImagenet, runImagenet } from "../src/train/imagenet.ts";
import { imagenetHelp, parseImagenetArgs } from "../src/train/imagenet_options.ts";
import { exitWithError } from "./_errors.ts";

try {
  const args = parseImagenetArgs(Deno.args);
  if (args.help) {
    console.log(imagenetHelp("deno run -A cli/imagenet.ts"));
  } else if (args.options.evaluate) {
    await evaluateImagenet(args);
  } else {
    const report = await runImagenet(args);
    if (report.epochsRun > 0) {
      console.log(
        `done: ${report.network}, top-1 ${report.testAcc.toFixed(2)}% after ${report.epochs} epochs; ${report.save}`,
      );
    }
  }
} catch (e) {
  exitWithError(e);
}
