/**
 * APGD-T as AutoAttack runs it (Croce & Hein 2020): for an untargeted goal, targeted APGD with the targeted
 * DLR loss against each of the top `nb_target_classes` other classes of the clean prediction in turn (the
 * 2nd-highest first), each target only on the samples no earlier target fooled. Fooled = misclassified. With
 * `targeted`, the given labels are the one target (plain targeted APGD).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Type, type Static } from '@sinclair/typebox';
import type { Classifier } from '../models/classifier.js';
import { hashSeed } from '../util/random.js';
import { APGD_SPEC, AutoProjectedGradientDescent, scatterRows } from './apgd.js';
import { checkLabels, mapBatches, SpecifiedAttack, type AttackHooks } from './attack.js';
import { LOSS_TYPES } from './loss.js';

/**
 * APGD-T's parameters (TypeBox): APGD's plus `nb_target_classes`.
 *
 * @example
 * ```ts
 * import { APGD_T_SPEC, describeParams, resolveAttackParams } from 'robustify/attacks';
 * console.log(describeParams(APGD_T_SPEC).join('\n'), resolveAttackParams('apgd_t', APGD_T_SPEC, { eps: 8 }));
 * ```
 */
export const APGD_T_SPEC = Type.Object({
  ...APGD_SPEC.properties,
  loss_type: Type.Union(
    LOSS_TYPES.map((l) => Type.Literal(l)),
    { default: 'difference_logits_ratio', description: "loss of each targeted run: 'difference_logits_ratio' (AutoAttack's targeted DLR) or 'cross_entropy'" },
  ),
  nb_target_classes: Type.Integer({ default: 9, minimum: 1, maximum: 1000, description: "untargeted: how many of the clean prediction's top other classes are tried as targets, in order (AutoAttack's n_target_classes)" }),
});

/** APGD-T's resolved parameters. */
export type ApgdTParams = Static<typeof APGD_T_SPEC>;

/**
 * APGD-T (AutoAttack's): targeted-DLR APGD against each of the `nb_target_classes` classes ranked next to the
 * true one, in turn, on the samples not yet fooled.
 *
 * @example
 * ```ts
 * import { tf, initEngine, classifierFromLogits, TargetedAutoProjectedGradientDescent } from 'robustify';
 * await initEngine();
 * const w = tf.randomNormal([3, 4], 0, 1, 'float32', 1); // 4 classes: the targeted DLR loss needs at least 4
 * const model = classifierFromLogits(4, (x) => tf.matMul(tf.mean(x, [1, 2]) as tf.Tensor2D, w));
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
 * const adv = await new TargetedAutoProjectedGradientDescent({ eps: 8, max_iter: 3, nb_target_classes: 2 }).generate(model, x, [0, 1]);
 * console.log(adv.shape);
 * ```
 */
export class TargetedAutoProjectedGradientDescent extends SpecifiedAttack<typeof APGD_T_SPEC> {
  constructor(params: Partial<ApgdTParams> = {}) {
    super('apgd_t', 'gradient', APGD_T_SPEC, params);
  }

  private inner(seed: number): AutoProjectedGradientDescent {
    const { nb_target_classes: _, ...apgd } = this.params;
    return new AutoProjectedGradientDescent({ ...apgd, targeted: true, seed });
  }

  async generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[], hooks: AttackHooks = {}): Promise<tf.Tensor4D> {
    const p = this.params;
    checkLabels(this.name, x, y);
    if (p.targeted) {
      if (!y) throw new Error(`${this.name}: targeted needs the target labels`);
      return this.inner(p.seed).generate(classifier, x, y, hooks);
    }
    const targets = Math.min(p.nb_target_classes, classifier.classes - 1);
    const perRun = p.nb_random_init * p.max_iter;
    const total = Math.ceil(x.shape[0] / p.batch_size) * targets * perRun;
    let done = 0;
    return mapBatches(x, p.batch_size, async (x0, start, size) => {
      const z = await classifier.predict(x0);
      const logits = (await z.array()) as number[][];
      z.dispose();
      const truth = y ? y.slice(start, start + size) : logits.map(argmax);
      // The other classes of each sample by clean score, highest first.
      const ranked = logits.map((row, i) => row.map((v, k) => [v, k] as const).filter(([, k]) => k !== truth[i]).sort((a, b) => b[0] - a[0]).map(([, k]) => k));
      let best = tf.clone(x0);
      const fooled = new Array<boolean>(size).fill(false);
      for (let t = 0; t < targets; t++) {
        const rows = fooled.flatMap((f, i) => (f ? [] : [i]));
        if (rows.length > 0) {
          const xr = tf.gather(x0, rows) as tf.Tensor4D;
          const at = done;
          const adv = await this.inner(hashSeed(p.seed, 'target', start, t) & 0x7fffffff).generate(classifier, xr, rows.map((i) => ranked[i][t]), {
            onProgress: (d) => hooks.onProgress?.(at + d, total),
          });
          const za = await classifier.predict(adv);
          const pred = ((await za.array()) as number[][]).map(argmax);
          za.dispose();
          const merged = scatterRows(best, adv, rows);
          tf.dispose([best, adv, xr]);
          best = merged;
          rows.forEach((i, k) => (fooled[i] = pred[k] !== truth[i]));
        }
        done += perRun;
        hooks.onProgress?.(done, total);
      }
      return best;
    });
  }
}

function argmax(row: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}
