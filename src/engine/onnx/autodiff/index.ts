/** The ONNX input-gradient compiler: differentiate, load-time checks, model (de)serialisation. */
export { differentiate, type DifferentiateOptions } from './differentiate.js';
export { checkSupported, readModel } from './check.js';
export { decodeModel, encodeModel, type ModelProto } from './model.js';
export { OP_RULES } from './registry.js';
export { withCrossEntropy } from './loss.js';
