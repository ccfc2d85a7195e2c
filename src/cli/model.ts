/** Loading a saved classifier for a command: the TF.js model, and the fastest engine to run it on here. */
import type { Classifier } from '../models/classifier.js';
import { FaceClassifier } from '../models/classifier.js';
import { accelerated } from '../models/native.js';
import type { BackboneSource } from '../models/backbones.js';

export interface OpenModel {
  /** The saved model (identities, metadata; TF.js). */
  model: FaceClassifier;
  /** What to predict and attack with: the native engine when it loads (ROBUSTIFY_NATIVE=0: TF.js). */
  classifier: Classifier;
  close(): Promise<void>;
}

/** `backbone`: where the model's backbone is now, when not where it was trained (same network). */
export async function openModel(dir: string, backbone?: BackboneSource): Promise<OpenModel> {
  const model = await FaceClassifier.load(dir, backbone);
  try {
    const { classifier, release } = await accelerated(model);
    return {
      model,
      classifier,
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
