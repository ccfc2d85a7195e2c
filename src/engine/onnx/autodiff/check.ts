/** Load-time checks of a user's ONNX model: decodable, every op differentiable, shapes consistent. */
import { analyse } from './analyse.js';
import { decodeModel, type ModelProto } from './model.js';

/**
 * Throws one line naming `file`, the op and the node for an op outside the supported set, and the node and
 * cause for a shape that does not fit (e.g. a declared input size the graph cannot take).
 */
export function checkSupported(model: ModelProto, file = 'model'): void {
  analyse(model, file);
}

/** Decode and check a model file's bytes. */
export function readModel(bytes: Uint8Array, file = 'model'): ModelProto {
  const model = decodeModel(bytes, file);
  checkSupported(model, file);
  return model;
}
