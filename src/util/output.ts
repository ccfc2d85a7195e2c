/**
 * The one output guard every command runs before any work: an output must not overlap an input, its folder
 * must be creatable, and an existing output is kept (to resume) or replaced only when it is robustify's own of
 * the same kind — recognised by its manifest — and the caller allows it (the CLI's --force). What killed runs
 * left beside it is cleared first, and said.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { clearStale, fsReason } from './fs.js';
import { ParameterError, param } from './errors.js';

/** A refused output: the user named a path robustify will not write (the CLI exits 2). */
export class OutputRefused extends ParameterError {}

/** What robustify writes of one kind, and how it recognises its own. */
export interface OutputKind {
  /** Says what it is, e.g. 'a classifier saved by robustify train'. */
  what: string;
  /** Is the existing `target` robustify's own output of this kind (its manifest, format and version)? */
  owns(target: string): Promise<boolean>;
}

export interface OutputInput {
  label: string;
  path: string | undefined;
}

export interface OutputSpec {
  /** Names the output in messages (the CLI passes its flag or argument name). */
  label: string;
  path: string;
  type: 'dir' | 'file';
  /** Without a kind an existing non-empty target is always refused (robustify cannot recognise it). */
  kind?: OutputKind;
  /** An existing own output: 'resume' keeps it; 'replace' needs `replace` (else refused, naming `replaceHint`). */
  existing: 'resume' | 'replace';
  replace?: boolean;
  /** How the user allows replacing, e.g. 'use --force to replace it'. */
  replaceHint?: string;
  /** Inputs the output may not be, be inside, or contain. */
  inputs?: OutputInput[];
}

export interface OutputState {
  /** 'new': missing or empty; 'own': robustify's output of the kind (resumed or to be replaced). */
  state: 'new' | 'own';
  /** What was cleared or restored, one line each (for the command's first lines). */
  notes: string[];
}

/** The path with symlinks of its existing part resolved, so overlap checks see through links. */
async function realish(p: string): Promise<string> {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(await fsp.realpath(head), ...tail);
    } catch {
      const up = path.dirname(head);
      if (up === head) return abs;
      tail.unshift(path.basename(head));
      head = up;
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Refuse an output that is, lies inside, or contains one of the inputs. */
export async function checkOverlap(label: string, target: string, inputs: OutputInput[]): Promise<void> {
  const out = await realish(target);
  for (const input of inputs) {
    if (input.path === undefined) continue;
    const inp = await realish(input.path);
    const how = out === inp ? 'is' : inside(out, inp) ? 'is inside' : inside(inp, out) ? 'contains' : undefined;
    if (how) throw new OutputRefused(`${label} '${target}' ${how} the input ${input.label} '${input.path}'; choose an output apart from the inputs`);
  }
}

/**
 * A missing `target` must be creatable: a file's folder must exist, a folder's nearest existing ancestor (the rest
 * is created) must be a folder we may write into.
 */
async function checkCreatable(label: string, target: string, type: 'dir' | 'file'): Promise<void> {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const st = await fsp.stat(dir).catch((e: NodeJS.ErrnoException) => e);
    if (type === 'file' && st instanceof Error && st.code === 'ENOENT') throw new OutputRefused(`${label} '${target}': its folder '${dir}' does not exist`);
    if (!(st instanceof Error)) {
      if (!st.isDirectory()) throw new OutputRefused(`${label} '${target}': cannot create it, '${dir}' is a file, not a folder`);
      await fsp.access(dir, fsc.W_OK | fsc.X_OK).catch((e) => {
        throw new OutputRefused(`${label} '${target}': cannot create it in '${dir}': ${fsReason(e)}`);
      });
      return;
    }
    if (st.code !== 'ENOENT') throw new OutputRefused(`${label} '${target}': cannot create it: ${fsReason(st)} ('${dir}')`);
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * Check an output before any work (see the module comment). Refusals throw `OutputRefused` naming `label` and
 * the path.
 */
export async function checkOutput(spec: OutputSpec): Promise<OutputState> {
  const { label, path: target } = spec;
  await checkOverlap(label, target, spec.inputs ?? []);
  const notes = await clearStale(path.dirname(path.resolve(target)), path.basename(path.resolve(target)));
  const st = await fsp.lstat(target).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    if (st.code !== 'ENOENT' && st.code !== 'ENOTDIR') throw new OutputRefused(`${label} '${target}': ${fsReason(st)}`);
    await checkCreatable(label, target, spec.type);
    return { state: 'new', notes };
  }
  if (spec.type === 'dir') {
    if (!st.isDirectory()) throw new OutputRefused(`${label} '${target}' is ${st.isSymbolicLink() ? 'a symbolic link' : 'a file'}, not a folder`);
    const entries = await fsp.readdir(target).catch((e) => {
      throw new OutputRefused(`${label} '${target}': cannot read it: ${fsReason(e)}`);
    });
    await fsp.access(target, fsc.W_OK | fsc.X_OK).catch((e) => {
      throw new OutputRefused(`${label} '${target}': cannot write into it: ${fsReason(e)}`);
    });
    if (entries.length === 0) return { state: 'new', notes };
  } else if (!st.isFile()) {
    throw new OutputRefused(`${label} '${target}' is ${st.isDirectory() ? 'a folder' : 'not a regular file'}; name a file`);
  }
  if (!spec.kind) {
    throw new OutputRefused(
      spec.type === 'dir'
        ? `${label} '${target}' exists and is not empty; choose a new or empty folder`
        : `${label} '${target}' exists; robustify does not overwrite files it cannot recognise as its own, choose a new name`,
    );
  }
  if (!(await spec.kind.owns(target))) {
    const what = spec.type === 'dir' ? 'exists and holds files robustify did not write' : 'exists and was not written by robustify';
    const kind = ` (it is not ${spec.kind.what})`;
    const force = spec.replace ? ['; ', param('force'), " replaces only robustify's own outputs"] : [];
    throw new OutputRefused([`${label} '${target}' ${what}${kind}`, ...force, `; choose a new ${spec.type === 'dir' ? 'or empty folder' : 'file'}`]);
  }
  if (spec.existing === 'replace' && !spec.replace) {
    throw new OutputRefused(`${label} '${target}' holds ${spec.kind.what} from an earlier run; ${spec.replaceHint ?? 'choose another path'}`);
  }
  return { state: 'own', notes };
}
