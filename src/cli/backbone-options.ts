/** `--backbone PATH|builtin` and `--backbone-spec PRESET|FILE|JSON`: which face network a command runs on. */
import { Command, Option } from 'commander';
import { promises as fs } from 'node:fs';
import { backboneSource, BUILTIN, type BackboneSource } from '../models/backbones.js';
import { recogniserPresets, readSpecFile, specHelp, type RecogniserSpecInput } from '../models/recogniser.js';
import { UsageError } from './run.js';

export interface BackboneFlags {
  backbone?: string;
  backboneSpec?: string;
}

/** `fallback`: what a command uses without --backbone (e.g. the backbone a saved model records). */
export function addBackboneOptions(cmd: Command, what = "the face network: 'builtin' (face-api's ResNet-34), an ONNX file or a TF.js model.json"): Command {
  return cmd
    .addOption(new Option('--backbone <path>', what))
    .addOption(
      new Option(
        '--backbone-spec <spec>',
        `the network's input contract: a preset (${recogniserPresets().join(', ')}), a JSON file or inline JSON, over the sidecar <model>.robustify.json. Fields: ${specHelp()}`,
      ),
    );
}

/** The backbone the flags name, or undefined without --backbone. */
export async function backboneFromFlags(f: BackboneFlags): Promise<BackboneSource | undefined> {
  if (f.backbone === undefined) {
    if (f.backboneSpec !== undefined) throw new UsageError('--backbone-spec: needs --backbone PATH');
    return undefined;
  }
  if (f.backbone === BUILTIN) {
    if (f.backboneSpec !== undefined) throw new UsageError('--backbone-spec: the built-in backbone has a fixed input contract');
    return backboneSource(BUILTIN);
  }
  return backboneSource(f.backbone, await parseSpecFlag(f.backboneSpec));
}

async function parseSpecFlag(value: string | undefined): Promise<RecogniserSpecInput> {
  if (value === undefined) return {};
  if (recogniserPresets().includes(value)) return { preset: value };
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value) as RecogniserSpecInput;
    } catch (err) {
      throw new UsageError(`--backbone-spec: not valid JSON (${(err as Error).message})`);
    }
  }
  const exists = await fs.access(value).then(
    () => true,
    () => false,
  );
  if (!exists) throw new UsageError(`--backbone-spec: '${value}' is neither a preset (${recogniserPresets().join(', ')}), a file nor JSON`);
  return readSpecFile(value);
}
