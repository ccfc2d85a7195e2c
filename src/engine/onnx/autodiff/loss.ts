/** Losses appended to a forward model before differentiating it. */
import { DT, onnx, type ModelProto } from './model.js';

/**
 * `model` (not modified) plus a float input `labels` [N, K] (label weights, rows summing to 1) and the tensor `loss/terms` =
 * −labels ⊙ log softmax(logits): its sum is the summed softmax cross-entropy, whose logits gradient is
 * softmax − labels. Returns the new model and the name to pass as `of`.
 */
export function withCrossEntropy(model: ModelProto, logits: string, labels: string, classes: number, batch: string | number = 'N'): { model: ModelProto; of: string } {
  const graph = model.graph!;
  const int = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  const node = (opType: string, input: string[], output: string, attribute = [] as ReturnType<typeof int>[]) => ({ opType, input, output: [output], name: output, attribute });
  const batchDim = typeof batch === 'number' ? { dimValue: batch } : { dimParam: batch };
  const input = onnx.ValueInfoProto.create({ name: labels, type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [batchDim, { dimValue: classes }] } } } });
  const nodes = [
    node('LogSoftmax', [logits], 'loss/logp', [int('axis', -1)]),
    node('Mul', ['loss/logp', labels], 'loss/picked'),
    node('Neg', ['loss/picked'], 'loss/terms'),
  ];
  return { model: { ...model, graph: { ...graph, input: [...(graph.input ?? []), input], node: [...(graph.node ?? []), ...nodes] } }, of: 'loss/terms' };
}
