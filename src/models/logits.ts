/**
 * A user network whose output already is the logits (recogniser spec `output_kind: 'logits'`, class names in
 * `labels`): the classifier itself — no head, no gallery. Runs differentiably on TF.js; `accelerate` puts it
 * on the native engine like every other backbone.
 */
import * as tf from '@tensorflow/tfjs-core';
import { logitsLossGradient, toBackboneSize, type Classifier, type Labels } from './classifier.js';
import { OnnxBackbone } from './onnx-backbone.js';
import type { RecogniserSpecInput } from './recogniser.js';

export class LogitsClassifier implements Classifier {
  private constructor(
    readonly backbone: OnnxBackbone,
    /** Class names in output order (the spec's `labels`). */
    readonly identities: string[],
  ) {}

  /** `file` with its spec (sidecar and `given`); refused unless the spec says logits and names every class. */
  static async open(file: string, given: RecogniserSpecInput = {}): Promise<LogitsClassifier> {
    const net = await OnnxBackbone.open(file, given);
    const { output, output_kind, labels } = net.spec;
    const why =
      output_kind !== 'logits'
        ? `output '${output}' is an embedding (spec output_kind): train a head on it with \`robustify train --backbone ${file}\``
        : !labels
          ? `a logits output needs the spec's 'labels' (the ${net.featureDim} class names, in output order)`
          : labels.length !== net.featureDim
            ? `spec 'labels' names ${labels.length} classes, output '${output}' has ${net.featureDim}`
            : undefined;
    if (why) {
      net.dispose();
      throw new Error(`${file}: ${why}`);
    }
    return new LogitsClassifier(net, labels!);
  }

  get classes(): number {
    return this.identities.length;
  }

  /** What commands read of a saved classifier's metadata. */
  get meta(): { input_size: number } {
    return { input_size: this.backbone.inputSize };
  }

  /** Logits for a batch of any size (resized bilinearly to the network's input, differentiable). */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.backbone.features(toBackboneSize(x, this.backbone.inputSize)));
  }

  async predict(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    return this.logits(x);
  }

  async lossGradient(x: tf.Tensor4D, labels: Labels): Promise<tf.Tensor4D> {
    return logitsLossGradient((xi) => this.logits(xi), x, labels);
  }

  dispose(): void {
    this.backbone.dispose();
  }
}
