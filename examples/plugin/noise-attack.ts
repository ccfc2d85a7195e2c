/**
 * A plugin attack: uniform random noise in the L∞ eps-ball, `nb_trials` draws, keeping for each image the
 * first draw that changes the label. Score-based (it only calls `predict`); its parameters are a TypeBox spec
 * built from the shared blocks `P` and validated by `SpecifiedAttack`, so the CLI, study configs and `createAttack` validate them alike.
 */
import { Type, type Static } from '@sinclair/typebox';
import { P, SpecifiedAttack } from 'robustify/attacks';
import { predictLabels, tf, type Classifier } from 'robustify';

export const NOISE_SPEC = Type.Object({
  eps: P.eps(),
  nb_trials: Type.Integer({ default: 10, minimum: 1, maximum: 10000, description: 'random draws per image' }),
  seed: P.seed(),
});

export type NoiseParams = Static<typeof NOISE_SPEC>;

export class UniformNoiseAttack extends SpecifiedAttack<typeof NOISE_SPEC> {
  constructor(params: Partial<NoiseParams> = {}) {
    super('noise', 'score', NOISE_SPEC, params);
  }

  async generate(classifier: Classifier, x: tf.Tensor4D, y?: readonly number[]): Promise<tf.Tensor4D> {
    const { eps, nb_trials, seed } = this.params;
    const truth = y ?? (await predictLabels(classifier, x));
    let adv = x.clone();
    const fooled = truth.map(() => false);
    for (let t = 0; t < nb_trials && fooled.includes(false); t++) {
      const candidate = tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', seed + t)), 0, 255) as tf.Tensor4D);
      const labels = await predictLabels(classifier, candidate);
      const take = labels.map((l, i) => !fooled[i] && l !== truth[i]);
      take.forEach((v, i) => v && (fooled[i] = true));
      const next = tf.tidy(() => tf.where(tf.tensor1d(take, 'bool').reshape([-1, 1, 1, 1]).tile([1, ...x.shape.slice(1)]) as tf.Tensor4D, candidate, adv) as tf.Tensor4D);
      tf.dispose([adv, candidate]);
      adv = next;
    }
    return adv;
  }
}
