/**
 * The defences a pipeline can name: one table of built-ins (BMCNN among them), and `registerDefence` for a
 * plugin's own, without touching the pipeline parser. Nothing registers itself on import.
 */
import { JPEG_PARAMS, JpegCompression } from './jpeg.js';
import { GAUSS_PARAMS, GaussianAugmentation } from './gaussian.js';
import { MEDIAN_PARAMS, SpatialSmoothing } from './median.js';
import { TVM_PARAMS, TotalVarMin } from './tvm.js';
import { SQUEEZE_PARAMS, FeatureSqueezing } from './squeeze.js';
import { BMCNN_PARAMS, BmcnnDefence, sharedBmcnn } from '../denoise/defence.js';
import type { ParamSpecs, Preprocessor } from './preprocessor.js';

/** Builds a defence from fully resolved (validated, defaults filled) parameters. */
export type DefenceFactory = (params: Readonly<Record<string, number>>) => Preprocessor | Promise<Preprocessor>;

/** One row of the defence registry: name, parameter specs, main parameter, factory. */
export interface DefenceEntry {
  readonly name: string;
  readonly params: ParamSpecs;
  /** The parameter a bare number sets (`jpeg:20` → quality). */
  readonly main?: string;
  readonly description: string;
  readonly factory: DefenceFactory;
}

/** Options of `registerDefence`: main parameter, description, replace. */
export interface RegisterOptions {
  main?: string;
  description?: string;
  /** Replace an existing entry of that name. */
  replace?: boolean;
}

const registry = new Map<string, DefenceEntry>();

function makeEntry(name: string, factory: DefenceFactory, params: ParamSpecs, opts: RegisterOptions): DefenceEntry {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`registerDefence: invalid name '${name}' (lower-case letters, digits, '_')`);
  if (opts.main !== undefined && !(opts.main in params.properties)) {
    throw new Error(`registerDefence: ${name}: main parameter '${opts.main}' is not one of its parameters (${Object.keys(params.properties).join(', ')})`);
  }
  return { name, params, main: opts.main, description: opts.description ?? name, factory };
}

/**
 * Make `name` usable in pipelines. `paramSpec` gives each parameter's default and valid range (in the order
 * the canonical token prints them); `opts.main` the parameter a bare number sets.
 *
 * @example
 * ```ts
 * import { registerDefence, paramSpecs, D, buildPipeline } from 'robustify/defences';
 * import { Pixelate } from './pixelate.js'; // an IdentityGradientDefence subclass (examples/plugin)
 * registerDefence('pixelate', (p) => new Pixelate(p), paramSpecs({ block_size: D.integer(2, 1, 32, 'block side') }), { main: 'block_size' });
 * const pipeline = await buildPipeline('pixelate:4,jpeg:20');
 * ```
 */
export function registerDefence(name: string, factory: DefenceFactory, paramSpec: ParamSpecs, opts: RegisterOptions = {}): void {
  const existing = registry.get(name);
  if (existing && !opts.replace) throw new Error(`registerDefence: '${name}' is already registered`);
  registry.set(name, makeEntry(name, factory, paramSpec, opts));
}

/**
 * Names pipelines accept, in registration order.
 *
 * @example
 * ```ts
 * import { defenceNames, getDefence } from 'robustify';
 * for (const name of defenceNames()) console.log(name, getDefence(name).main, getDefence(name).description);
 * ```
 */
export function defenceNames(): string[] {
  return [...registry.keys()];
}

/**
 * A registered defence's entry; the error lists the registered names.
 *
 * @example
 * ```ts
 * import { getDefence, describeDefenceParams } from 'robustify';
 * console.log(describeDefenceParams(getDefence('jpeg').params)); // see also {@link defenceNames}
 * ```
 */
export function getDefence(name: string): DefenceEntry {
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown defence '${name}' (valid: ${defenceNames().join(', ')})`);
  return entry;
}

function builtin(name: string, main: string, description: string, params: ParamSpecs, factory: DefenceFactory): void {
  registry.set(name, makeEntry(name, factory, params, { main, description }));
}

builtin('jpeg', 'quality', 'JPEG compression (ART JpegCompression)', JPEG_PARAMS, (p) => new JpegCompression(p));
builtin('gauss', 'sigma', 'Gaussian noise, sigma = std on 0–255 (ART GaussianAugmentation)', GAUSS_PARAMS, (p) => new GaussianAugmentation(p));
builtin('median', 'window_size', 'median filter (ART SpatialSmoothing)', MEDIAN_PARAMS, (p) => new SpatialSmoothing(p));
builtin('tvm', 'prob', 'total variation minimisation (ART TotalVarMin)', TVM_PARAMS, (p) => new TotalVarMin(p));
builtin('squeeze', 'bit_depth', 'feature squeezing (ART FeatureSqueezing)', SQUEEZE_PARAMS, (p) => new FeatureSqueezing(p));

builtin('bmcnn', 'sigma', 'BMCNN denoiser (block-matching CNN), sigma = noise std on 0–255', BMCNN_PARAMS, async (p) => new BmcnnDefence(p, await sharedBmcnn()));
