/**
 * Any model robustify can load, as one ONNX forward graph: an ONNX file as it is, or a TF.js model.json
 * (GraphModel or LayersModel) converted. Errors are one line naming the file and the cause.
 */
import { promises as fs } from 'node:fs';
import { decodeModel, type ModelProto } from '../proto.js';
import { importGraphModel } from './graph-model.js';
import { importLayersModel } from './layers-model.js';
import { readModelJson, readWeights } from './tfjs-weights.js';

export { GRAPH_MODEL_OPS } from './graph-model.js';
export { LAYERS_MODEL_LAYERS } from './layers-model.js';

/** A TF.js model.json (graph-model or layers-model) as an ONNX forward graph. */
export async function importTfjsModel(file: string): Promise<ModelProto> {
  const json = await readModelJson(file);
  const layers = json.format === 'layers-model' || (json.modelTopology as { class_name?: string; model_config?: unknown }).class_name !== undefined || 'model_config' in (json.modelTopology as object);
  if (!layers && !(json.modelTopology as { node?: unknown }).node) throw new Error(`${file}: neither a graph-model nor a layers-model topology`);
  // The converters check every op before they read the (possibly large) weight shards.
  const weights = () => readWeights(file, json);
  return layers ? importLayersModel(json, weights, file) : importGraphModel(json, weights, file);
}

/** An ONNX file or a TF.js model.json (by extension), as an ONNX forward graph. */
export async function loadModelGraph(file: string): Promise<ModelProto> {
  if (file.endsWith('.json')) return importTfjsModel(file);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeModel(bytes, file);
}
