/**
 * `robustify defend --pipeline P IN OUT [--seed N]`: run a defence pipeline over one image or a folder.
 *
 * OUT's extension picks the format for a file (.png, or .f32 = raw little-endian float32 HWC, lossless);
 * for a folder, --format, with the relative names mirrored. Each image gets its own seed derived from --seed
 * and its path relative to IN (its file name for a single file), so an image's output does not depend on
 * which other images are processed with it. Files are written atomically; a folder is built in a temporary
 * sibling and renamed into place, so a failure leaves nothing half-written.
 */
import { Command } from 'commander';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, encodePng, imageToTensor, tensorToImage, writeF32 } from '../../image/index.js';
import { writeFileAtomic } from '../../util/fs.js';
import { hashSeed } from '../../util/random.js';
import { buildPipeline, parsePipeline, formatPipeline, type Pipeline } from '../../defences/index.js';
// Registers the `bmcnn` stage (its weights load only when a pipeline uses it).
import '../../denoise/defence.js';
import { globalOptions, intOption, startEngine, UsageError } from '../run.js';

const FORMATS = ['png', 'f32'] as const;
type Format = (typeof FORMATS)[number];
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

interface DefendFlags {
  pipeline: string;
  seed?: string;
  format: string;
}

function formatOf(file: string): Format {
  const ext = path.extname(file).slice(1).toLowerCase();
  if ((FORMATS as readonly string[]).includes(ext)) return ext as Format;
  throw new UsageError(`OUT ${file}: extension must be .png or .f32`);
}

/** Image files under `dir`, recursively, sorted; hidden files and folders skipped. */
async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

async function defendFile(pipeline: Pipeline, src: string, dst: string, format: Format, seed: number | undefined): Promise<void> {
  const img = await decodeImage(src);
  const x = tf.tidy(() => tf.expandDims(imageToTensor(img), 0) as tf.Tensor4D);
  try {
    const y = await pipeline.apply(x, { seed });
    const out = await tensorToImage(y).finally(() => y.dispose());
    if (format === 'png') await writeFileAtomic(dst, await encodePng(out));
    else await writeF32(dst, out);
  } finally {
    x.dispose();
    pipeline.dispose();
  }
}

export function registerDefend(program: Command): void {
  program
    .command('defend')
    .description('apply a preprocessing defence pipeline to an image or a folder of images')
    .argument('<IN>', 'an image (png, jpg, webp) or a folder of them (searched recursively)')
    .argument('<OUT>', 'output file (.png or .f32) or, for a folder IN, a new folder')
    .requiredOption(
      '--pipeline <P>',
      "stages in order, e.g. 'median:3,jpeg:20', 'tvm:prob=0.3,lamb=0.5', or JSON [{\"name\":\"jpeg\",\"params\":{\"quality\":20}}]; 'none' = identity",
    )
    .option('--seed <n>', 'seed for stochastic stages (gauss, tvm); default: fresh randomness each run')
    .option('--format <fmt>', 'output format for a folder: png or f32 (raw float32 HWC, lossless)', 'png')
    .action(async (input: string, output: string, flags: DefendFlags, cmd: Command) => {
      let stages;
      try {
        stages = parsePipeline(flags.pipeline);
      } catch (err) {
        throw new UsageError(`--pipeline: ${(err as Error).message.replace(/^pipeline: /, '')}`);
      }
      const seed = flags.seed === undefined ? undefined : intOption('--seed', flags.seed, 0, 2 ** 32 - 1);
      if (!(FORMATS as readonly string[]).includes(flags.format)) throw new UsageError(`--format: expected png or f32, got '${flags.format}'`);
      const stat = await fsp.stat(input).catch(() => undefined);
      if (!stat) throw new UsageError(`IN ${input}: no such file or folder`);
      const imageSeed = (rel: string): number | undefined => (seed === undefined ? undefined : hashSeed(seed, rel));
      const quiet = Boolean(globalOptions(cmd).quiet);

      if (!stat.isDirectory()) {
        const format = formatOf(output);
        await startEngine(cmd);
        await defendFile(await buildPipeline(stages), input, output, format, imageSeed(path.basename(input)));
        return;
      }
      const files = await listImages(input);
      if (files.length === 0) throw new UsageError(`IN ${input}: no images (png, jpg, jpeg, webp) found`);
      const existing = await fsp.readdir(output).catch(() => undefined);
      if (existing && existing.length > 0) throw new UsageError(`OUT ${output}: folder exists and is not empty`);
      const rels = files.map((f) => path.relative(input, f));
      const outNames = rels.map((rel) => rel.slice(0, rel.length - path.extname(rel).length) + `.${flags.format}`);
      const clash = outNames.findIndex((n, i) => outNames.indexOf(n) !== i);
      if (clash >= 0) throw new UsageError(`IN ${input}: '${rels[outNames.indexOf(outNames[clash])]}' and '${rels[clash]}' would both be written as '${outNames[clash]}'`);
      await startEngine(cmd);
      const pipeline = await buildPipeline(stages);
      const tmp = `${output.replace(/[\\/]+$/, '')}.tmp-${process.pid}`;
      await fsp.rm(tmp, { recursive: true, force: true });
      try {
        for (const [i, f] of files.entries()) {
          const rel = rels[i];
          const dst = path.join(tmp, outNames[i]);
          await fsp.mkdir(path.dirname(dst), { recursive: true });
          await defendFile(pipeline, f, dst, flags.format as Format, imageSeed(rel));
          if (!quiet) process.stderr.write(`defend ${i + 1}/${files.length} ${rel}\n`);
        }
        if (existing) await fsp.rmdir(output);
        await fsp.rename(tmp, output);
      } catch (err) {
        await fsp.rm(tmp, { recursive: true, force: true });
        throw err;
      }
      if (!quiet) process.stderr.write(`defend: ${files.length} images through ${formatPipeline(stages)} → ${output}\n`);
    });
}
