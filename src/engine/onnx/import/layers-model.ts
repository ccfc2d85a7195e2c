/**
 * A TF.js LayersModel (model.json, format 'layers-model': a Keras topology) as an ONNX forward graph, NHWC
 * (channels_last) as Keras keeps it. Each layer's output takes the layer's name. A layer class outside the
 * table, or a layer applied more than once, is refused naming the layer and the file.
 */
import type { ModelProto } from '../proto.js';
import { OnnxBuilder, type Activation, type ConvSpec } from './builder.js';
import type { ConstValue, ModelJson } from './tfjs-weights.js';

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes?: unknown[];
}

interface LayerContext {
  b: OnnxBuilder;
  layer: KerasLayer;
  inputs: string[];
  /** The layer's weight `w` (e.g. 'kernel'); undefined when absent and `optional`. */
  weight(w: string, optional?: boolean): ConstValue | undefined;
  /** The weight as an ONNX initialiser. */
  tensor(w: string): string;
}

type Emit = (c: LayerContext) => void;

const cfg = <T>(c: LayerContext, key: string, fallback?: T): T => (c.layer.config[key] ?? fallback) as T;
const name = (c: LayerContext) => c.layer.config.name;

function channelsLast(c: LayerContext): void {
  const f = cfg<string>(c, 'data_format', 'channels_last');
  if (f !== 'channels_last') c.b.fail(name(c), `${c.layer.class_name}: data_format '${f}' not supported (channels_last only)`);
}

function activationOf(c: LayerContext, key = 'activation'): Activation {
  const a = cfg<string | Record<string, unknown>>(c, key, 'linear');
  const id = typeof a === 'string' ? a : String((a as { class_name?: string }).class_name ?? 'linear');
  const table: Record<string, Activation> = { linear: 'linear', relu: 'relu', relu6: 'relu6', sigmoid: 'sigmoid', tanh: 'tanh', elu: 'elu', selu: 'selu', softmax: 'softmax' };
  const act = table[id.toLowerCase()];
  if (!act) return c.b.fail(name(c), `${c.layer.class_name}: activation '${id}' not supported`);
  return act;
}

function paddingOf(c: LayerContext): 'same' | 'valid' {
  const p = cfg<string>(c, 'padding', 'valid');
  if (p !== 'same' && p !== 'valid') c.b.fail(name(c), `${c.layer.class_name}: padding '${p}' not supported`);
  return p;
}

const pairOf = (v: unknown, fallback: number): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : v === undefined ? [fallback, fallback] : [Number(v), Number(v)]);

function conv(kind: ConvSpec['kind'], filterName: string): Emit {
  return (c) => {
    channelsLast(c);
    const bias = cfg<boolean>(c, 'use_bias', true) ? c.weight('bias') : undefined;
    c.b.conv(
      c.inputs[0],
      {
        kind,
        filter: c.weight(filterName)!,
        bias: bias && Float32Array.from(bias.data),
        strides: pairOf(cfg(c, 'strides'), 1),
        dilations: pairOf(cfg(c, 'dilation_rate'), 1),
        padding: paddingOf(c),
      },
      activationOf(c),
      name(c),
    );
  };
}

function merge(type: string): Emit {
  return (c) => {
    let acc = c.inputs[0];
    for (let i = 1; i < c.inputs.length; i++) acc = c.b.op(type, [acc, c.inputs[i]], {}, i === c.inputs.length - 1 ? name(c) : undefined);
  };
}

function pool(kind: 'max' | 'avg'): Emit {
  return (c) => {
    channelsLast(c);
    const size = pairOf(cfg(c, 'pool_size'), 2);
    c.b.pool(c.inputs[0], kind, size, pairOf(cfg(c, 'strides') ?? size, 1), paddingOf(c), name(c));
  };
}

function globalPool(type: string): Emit {
  return (c) => {
    channelsLast(c);
    c.b.op(type, [c.inputs[0]], { axes: { ints: [1, 2] }, keepdims: { i: cfg<boolean>(c, 'keepdims', false) ? 1 : 0 } }, name(c));
  };
}

const EMIT: Record<string, Emit> = {
  Conv2D: conv('conv', 'kernel'),
  DepthwiseConv2D: conv('depthwise', 'depthwise_kernel'),
  Dense: (c) => {
    const bias = cfg<boolean>(c, 'use_bias', true) ? c.tensor('bias') : undefined;
    c.b.dense(c.inputs[0], c.tensor('kernel'), bias, activationOf(c), name(c));
  },
  BatchNormalization: (c) => {
    const axis = cfg<number | number[]>(c, 'axis', -1);
    const a = Array.isArray(axis) ? axis[0] : axis;
    if (a !== -1 && a !== 3 && a !== 1) c.b.fail(name(c), `BatchNormalization: axis ${a} not supported (the last axis only)`);
    const f = (w: string, optional: boolean) => {
      const v = c.weight(w, optional);
      return v && Float32Array.from(v.data);
    };
    c.b.batchNorm(
      c.inputs[0],
      {
        scale: cfg<boolean>(c, 'scale', true) ? f('gamma', false) : undefined,
        offset: cfg<boolean>(c, 'center', true) ? f('beta', false) : undefined,
        mean: f('moving_mean', false)!,
        variance: f('moving_variance', false)!,
        epsilon: cfg<number>(c, 'epsilon', 1e-3),
      },
      name(c),
    );
  },
  Activation: (c) => void c.b.activation(c.inputs[0], activationOf(c), name(c)),
  ReLU: (c) => {
    const max = cfg<number | null>(c, 'max_value', null);
    if (max !== null && max !== 6) c.b.fail(name(c), `ReLU: max_value ${max} not supported (none or 6)`);
    c.b.activation(c.inputs[0], max === 6 ? 'relu6' : 'relu', name(c));
  },
  PReLU: (c) => void c.b.activation(c.inputs[0], 'prelu', name(c), c.tensor('alpha')),
  LeakyReLU: (c) => void c.b.activation(c.inputs[0], 'leakyrelu', name(c), cfg<number>(c, 'alpha', 0.3)),
  ELU: (c) => void c.b.activation(c.inputs[0], 'elu', name(c), cfg<number>(c, 'alpha', 1)),
  Softmax: (c) => void c.b.activation(c.inputs[0], 'softmax', name(c)),
  Add: merge('Add'),
  Subtract: merge('Sub'),
  Multiply: merge('Mul'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: (c) => void c.b.op('Concat', c.inputs, { axis: { i: cfg<number>(c, 'axis', -1) } }, name(c)),
  MaxPooling2D: pool('max'),
  AveragePooling2D: pool('avg'),
  GlobalAveragePooling2D: globalPool('ReduceMean'),
  GlobalMaxPooling2D: globalPool('ReduceMax'),
  Flatten: (c) => void c.b.op('Flatten', [c.inputs[0]], { axis: { i: 1 } }, name(c)),
  Reshape: (c) => void c.b.op('Reshape', [c.inputs[0], c.b.int64s([0, ...cfg<number[]>(c, 'target_shape')])], {}, name(c)),
  Dropout: (c) => void c.b.op('Identity', [c.inputs[0]], {}, name(c)),
  ZeroPadding2D: (c) => {
    const p = cfg<unknown>(c, 'padding', 1);
    const [[t, bo], [l, r]] = Array.isArray(p) ? (p.map((q) => pairOf(q, 0)) as [number, number][]) : [pairOf(p, 0), pairOf(p, 0)];
    c.b.op('Pad', [c.inputs[0], c.b.int64s([0, t, l, 0, 0, bo, r, 0])], { mode: { s: 'constant' } }, name(c));
  },
};

export const LAYERS_MODEL_LAYERS: readonly string[] = [...Object.keys(EMIT), 'InputLayer'].sort();

/** Names of the layers feeding this one (tfjs/Keras 2 nested arrays, or Keras 3 keras_history). */
function inboundNames(layer: KerasLayer, b: OnnxBuilder): string[] {
  const nodes = layer.inbound_nodes ?? [];
  if (nodes.length > 1) b.fail(layer.config.name, `${layer.class_name}: a layer applied ${nodes.length} times (shared layers) is not supported`);
  if (nodes.length === 0) return [];
  const found: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number') found.push(v[0]);
      else v.forEach(walk);
    } else if (v && typeof v === 'object') {
      const history = (v as { config?: { keras_history?: unknown[] } }).config?.keras_history;
      if (history) found.push(String(history[0]));
      else Object.values(v).forEach(walk);
    }
  };
  walk(nodes[0]);
  return found;
}

export async function importLayersModel(json: ModelJson, readWeights: () => Promise<Map<string, ConstValue>>, file: string): Promise<ModelProto> {
  const b = new OnnxBuilder(file);
  const topo = json.modelTopology as { model_config?: unknown; class_name?: string; config?: unknown };
  const root = (topo.model_config ?? topo) as { class_name: string; config: { layers?: KerasLayer[]; output_layers?: unknown[] } | KerasLayer[] };
  const config = root.config;
  const layers = Array.isArray(config) ? config : (config.layers ?? []);
  const sequential = root.class_name === 'Sequential';
  for (const l of layers) if (!(l.class_name in EMIT) && l.class_name !== 'InputLayer') b.fail(l.config.name, `unsupported Keras layer '${l.class_name}'`);
  const weights = await readWeights();

  const lookup = (layer: string, w: string): ConstValue | undefined => {
    for (const [k, v] of weights) if (k === `${layer}/${w}` || k.endsWith(`/${layer}/${w}`) || k.startsWith(`${layer}/${w}`)) return v;
    return undefined;
  };
  let previous: string | undefined;
  const addInput = (l: KerasLayer): string => {
    const shape = (l.config.batch_input_shape ?? l.config.batch_shape) as (number | null)[] | undefined;
    if (!shape) return b.fail(l.config.name, 'input layer without batch_input_shape');
    const inName = l.class_name === 'InputLayer' ? l.config.name : `${l.config.name}__input`;
    b.input(inName, shape.map((d, i) => (d === null ? (i === 0 ? 'N' : `d${i}`) : d)));
    return inName;
  };
  for (const layer of layers) {
    let inputs: string[];
    if (layer.class_name === 'InputLayer') {
      previous = addInput(layer);
      continue;
    }
    if (sequential) inputs = [previous ?? addInput(layer)];
    else inputs = inboundNames(layer, b);
    const ctx: LayerContext = {
      b,
      layer,
      inputs,
      weight: (w, optional) => {
        const v = lookup(layer.config.name, w);
        if (!v && !optional) b.fail(layer.config.name, `${layer.class_name}: weight '${layer.config.name}/${w}' not in the manifest`);
        return v;
      },
      tensor: (w) => {
        const v = ctx.weight(w)!;
        return b.floats(Float32Array.from(v.data), v.shape);
      },
    };
    EMIT[layer.class_name](ctx);
    previous = layer.config.name;
  }
  const outs = sequential || Array.isArray(config) ? [previous] : (config.output_layers ?? []).map((o) => String((o as unknown[])[0]));
  for (const o of outs) if (o) b.output(o);
  return b.model();
}
