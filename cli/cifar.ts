// The CIFAR recipe: `deno run -A cli/cifar.ts` with the reference `cifar.py` flags (see --help).
//
//   deno run -A cli/cifar.ts --depth 16 --width 2 --save logs/wrn_16_2_teacher           # a teacher
//   deno run -A cli/cifar.ts --teacher_id wrn_16_2_teacher --beta 1e3 --save logs/at_16_1 # an AT student
import { helpText, parseCifarArgs } from "../src/train/options.ts";
import { runCifar } from "../src/train/cifar.ts";
import { exitWithError } from "./_errors.ts";

try {
  const args = parseCifarArgs(Deno.args);
  if (args.help) {
    console.log(helpText("deno run -A cli/cifar.ts"));
  } else {
    const report = await runCifar(args);
    if (report.epochsRun > 0) {
      console.log(
        `done: ${report.network}, test accuracy ${
          report.testAcc.toFixed(2)
        }% after ${report.epochs} epochs; ${report.save}`,
      );
    }
  }
} catch (e) {
  exitWithError(e);
}
