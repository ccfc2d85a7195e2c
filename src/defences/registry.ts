/**
 * The defences a pipeline can name. Built-ins register here; a later module (the BMCNN denoiser) plugs in
 * with `registerDefence` without touching the pipeline parser.
 */
import { JPEG_PARAMS, JpegCompression } from './jpeg.js';
import { GAUSS_PARAMS, GaussianAugmentation } from './gaussian.js';
import { MEDIAN_PARAMS, SpatialSmoothing } from './median.js';
import { TVM_PARAMS, TotalVarMin } from './tvm.js';
import { SQUEEZE_PARAMS, FeatureSqueezing } from './squeeze.js';
import type { ParamSpecs, Preprocessor } from './preprocessor.js';

/** Builds a defence from fully resolved (validated, defaults filled) parameters. */
export type DefenceFactory = (params: Readonly<Record<string, number>>) => Preprocessor | Promise<Preprocessor>;

export interface DefenceEntry {
  readonly name: string;
  readonly params: ParamSpecs;
  /** The parameter a bare number sets (`jpeg:20` → quality). */
  readonly main?: string;
  readonly description: string;
  readonly factory: DefenceFactory;
  /** False for a name that parses but cannot be built yet (a placeholder a later module replaces). */
  readonly available: boolean;
}

export interface RegisterOptions {
  main?: string;
  description?: string;
  /** Replace an existing, available entry (placeholders are always replaceable). */
  replace?: boolean;
}

const registry = new Map<string, DefenceEntry>();

function makeEntry(name: string, factory: DefenceFactory, params: ParamSpecs, opts: RegisterOptions, available: boolean): DefenceEntry {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`registerDefence: invalid name '${name}' (lower-case letters, digits, '_')`);
  if (opts.main !== undefined && !(opts.main in params)) {
    throw new Error(`registerDefence: ${name}: main parameter '${opts.main}' is not one of its parameters (${Object.keys(params).join(', ')})`);
  }
  return { name, params, main: opts.main, description: opts.description ?? name, factory, available };
}

/**
 * Make `name` usable in pipelines. `paramSpec` gives each parameter's default and valid range (in the order
 * the canonical token prints them); `opts.main` the parameter a bare number sets.
 */
export function registerDefence(name: string, factory: DefenceFactory, paramSpec: ParamSpecs, opts: RegisterOptions = {}): void {
  const existing = registry.get(name);
  if (existing?.available && !opts.replace) throw new Error(`registerDefence: '${name}' is already registered`);
  registry.set(name, makeEntry(name, factory, paramSpec, { main: existing?.main, description: existing?.description, ...opts }, true));
}

/** Names pipelines accept, in registration order. */
export function defenceNames(): string[] {
  return [...registry.keys()];
}

export function getDefence(name: string): DefenceEntry {
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown defence '${name}' (valid: ${defenceNames().join(', ')})`);
  return entry;
}

function builtin(name: string, main: string, description: string, params: ParamSpecs, factory: DefenceFactory): void {
  registry.set(name, makeEntry(name, factory, params, { main, description }, true));
}

builtin('jpeg', 'quality', 'JPEG compression (ART JpegCompression)', JPEG_PARAMS, (p) => new JpegCompression(p));
builtin('gauss', 'sigma', 'Gaussian noise, sigma = std on 0–255 (ART GaussianAugmentation)', GAUSS_PARAMS, (p) => new GaussianAugmentation(p));
builtin('median', 'window_size', 'median filter (ART SpatialSmoothing)', MEDIAN_PARAMS, (p) => new SpatialSmoothing(p));
builtin('tvm', 'prob', 'total variation minimisation (ART TotalVarMin)', TVM_PARAMS, (p) => new TotalVarMin(p));
builtin('squeeze', 'bit_depth', 'feature squeezing (ART FeatureSqueezing)', SQUEEZE_PARAMS, (p) => new FeatureSqueezing(p));

/** Parses now so pipelines can be written and checked; the denoiser module replaces it via registerDefence. */
registry.set(
  'bmcnn',
  makeEntry(
    'bmcnn',
    () => {
      throw new Error('bmcnn: not available yet (BMCNN denoiser not built)');
    },
    // Same spec as src/denoise/defence.ts registers (the seed paper's σ = 20), so tokens mean the same before.
    { sigma: { default: 20, min: 0.5, max: 100 } },
    { main: 'sigma', description: 'BMCNN denoiser, sigma = noise std on 0–255' },
    false,
  ),
);
