/** Loading a saved classifier for a command: the TF.js model, and the fastest engine to run it on here. */
import { promises as fs } from 'node:fs';
import type { Classifier } from '../models/classifier.js';
import { FaceClassifier } from '../models/classifier.js';
import { LogitsClassifier } from '../models/logits.js';
import { accelerated } from '../models/native.js';
import type { BackboneSource } from '../models/backbones.js';

export interface OpenModel {
  /** The model (identities, metadata; TF.js): a classifier saved by train, or a network whose output is logits. */
  model: FaceClassifier | LogitsClassifier;
  /** What to predict and attack with: the native engine when it loads (ROBUSTIFY_NATIVE=0: TF.js). */
  classifier: Classifier;
  /** The engine `classifier` runs on ('onnxruntime', 'tfjs-wasm', …): a queue's workers must run the same. */
  engine: string;
  close(): Promise<void>;
}

/**
 * `dir`: a classifier saved by `robustify train`, or a model file (ONNX / TF.js model.json) whose recogniser
 * spec says its output is the logits. `backbone`: where the saved model's backbone is now, when not where it
 * was trained (same network).
 */
export async function openModel(dir: string, backbone?: BackboneSource): Promise<OpenModel> {
  const file = await fs.stat(dir).then((s) => s.isFile(), () => false);
  if (file && backbone) throw new Error(`--backbone: --model '${dir}' is a network file, not a trained classifier (its spec is its sidecar)`);
  const model = file ? await LogitsClassifier.open(dir) : await FaceClassifier.load(dir, backbone);
  try {
    const { classifier, engine, release } = await accelerated(model);
    return {
      model,
      classifier,
      engine,
      close: async () => {
        await release();
        model.dispose();
      },
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
