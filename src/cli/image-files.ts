/**
 * Image-to-image commands (`defend`, `denoise`): one file to one file, or a folder to a new folder with the
 * relative names mirrored. Output is PNG, or `.f32` (raw little-endian float32 HWC, lossless). Files are written
 * atomically and a folder appears only complete; OUT must be new (a missing file, a missing or empty folder) and
 * apart from IN, since robustify cannot recognise images as its own to replace them.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { listImages } from '../denoise/train.js';
import { decodeImage, encodePng, imageToTensor, tensorToImage, writeF32, type DecodeOptions } from '../image/index.js';
import { writeDirAtomic, writeFileAtomic } from '../util/fs.js';
import type { Command } from 'commander';
import { parseMaxPixels, type Warnings } from './decode-options.js';
import { claimOutput, globalOptions, UsageError } from './run.js';

export const FORMATS = ['png', 'f32'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(format: string): Format {
  if ((FORMATS as readonly string[]).includes(format)) return format as Format;
  throw new UsageError(`--format: expected png or f32, got '${format}'`);
}

function formatOf(file: string): Format {
  const ext = path.extname(file).slice(1).toLowerCase();
  if ((FORMATS as readonly string[]).includes(ext)) return ext as Format;
  throw new UsageError(`OUT ${file}: extension must be .png or .f32`);
}

/** One image as a batch of one through `transform`, written as `format`. */
async function transformFile(
  src: string,
  dst: string,
  format: Format,
  decode: DecodeOptions,
  transform: (x: tf.Tensor4D) => Promise<tf.Tensor4D>,
): Promise<void> {
  const img = await decodeImage(src, undefined, decode);
  const x = tf.tidy(() => tf.expandDims(imageToTensor(img), 0) as tf.Tensor4D);
  try {
    const y = await transform(x);
    const out = await tensorToImage(y).finally(() => y.dispose());
    if (format === 'png') await writeFileAtomic(dst, await encodePng(out));
    else await writeF32(dst, out);
  } finally {
    x.dispose();
  }
}

export interface ImageJob {
  /** Checks are done (paths, names, formats): load models and start the engine now. */
  prepare(): Promise<void>;
  /** `rel`: the image's path relative to IN (its file name for a single file). */
  transform(x: tf.Tensor4D, rel: string): Promise<tf.Tensor4D>;
}

export interface TransformOptions {
  /** The folder output format; for a single file, the format its extension must agree with when `explicit`. */
  format: Format;
  /** --format was given on the command line (not its default). */
  explicit?: boolean;
  /** The pixel budget and where warnings go. */
  decode?: DecodeOptions;
  log?: (line: string) => void;
}

/**
 * The options of image command `name` from its flags (`--format`, `--max-pixels`, the global `--quiet`):
 * decode warnings go to `warnings`, log lines (unless quiet) to stderr prefixed with the command's name.
 */
export function transformOptions(name: string, flags: { format: string; maxPixels: string }, cmd: Command, warnings: Warnings): TransformOptions & { quiet: boolean } {
  const quiet = Boolean(globalOptions(cmd).quiet);
  return {
    quiet,
    format: parseFormat(flags.format),
    explicit: cmd.getOptionValueSource('format') === 'cli',
    decode: { maxPixels: parseMaxPixels(flags.maxPixels), onWarning: warnings.add },
    log: quiet ? undefined : (line: string) => process.stderr.write(`${name} ${line}\n`),
  };
}

/** Run `job` over IN → OUT; returns how many images were written. */
export async function transformImages(input: string, output: string, opts: TransformOptions, job: ImageJob): Promise<number> {
  const { format: folderFormat, decode = {}, log } = opts;
  const claim = (type: 'file' | 'dir') => claimOutput({ label: 'OUT', path: output, type, existing: 'replace', inputs: [{ label: 'IN', path: input }] }, !log);
  const stat = await fsp.stat(input).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`IN ${input}: ${e.code === 'ELOOP' ? 'symbolic link loop' : e.code === 'EACCES' ? 'permission denied' : 'no such file or folder'}`);
  });
  if (!stat.isDirectory()) {
    const format = formatOf(output);
    // Writing a PNG when f32 was asked for (or the reverse) would surprise more than a refusal.
    if (opts.explicit && format !== folderFormat) {
      throw new UsageError(`--format ${folderFormat} contradicts OUT '${output}': a single file's format is its extension (name it .${folderFormat}, or drop --format)`);
    }
    await claim('file');
    await job.prepare();
    await transformFile(input, output, format, decode, (x) => job.transform(x, path.basename(input)));
    return 1;
  }
  const files = await listImages(input);
  if (files.length === 0) throw new UsageError(`IN ${input}: no images (png, jpg, jpeg, webp) found`);
  const rels = files.map((f) => path.relative(input, f));
  const outNames = rels.map((rel) => rel.slice(0, rel.length - path.extname(rel).length) + `.${folderFormat}`);
  const clash = outNames.findIndex((n, i) => outNames.indexOf(n) !== i);
  if (clash >= 0) throw new UsageError(`IN ${input}: '${rels[outNames.indexOf(outNames[clash])]}' and '${rels[clash]}' would both be written as '${outNames[clash]}'`);
  await claim('dir');
  await job.prepare();
  await writeDirAtomic(output, async (tmp) => {
    for (const [i, f] of files.entries()) {
      const dst = path.join(tmp, outNames[i]);
      await fsp.mkdir(path.dirname(dst), { recursive: true });
      await transformFile(f, dst, folderFormat, decode, (x) => job.transform(x, rels[i]));
      log?.(`${i + 1}/${files.length} ${rels[i]}`);
    }
  }, { what: 'OUT' });
  return files.length;
}
