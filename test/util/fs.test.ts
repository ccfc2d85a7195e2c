import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { clearStale, hasFormat, writeDirAtomic, writeFileAtomic } from '../../src/util/fs.js';
import { runInterruptCleanups } from '../../src/util/interrupt.js';

test('writeFileAtomic replaces the file and leaves no temporary behind', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    const file = path.join(dir, 'out.json');
    await writeFileAtomic(file, 'old');
    await writeFileAtomic(file, new Uint8Array([104, 105]));
    assert.equal(await fsp.readFile(file, 'utf8'), 'hi');
    assert.deepEqual(await fsp.readdir(dir), ['out.json']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic fails cleanly into a missing directory', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'out.txt'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /cannot write '.*missing\/out\.txt': no such file or folder/.test(e.message));
    assert.deepEqual(await fsp.readdir(dir), []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

/** The pid of a process that has exited (a killed run's). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

test('writeDirAtomic refuses a non-empty folder unless its owner check says it is robustify\'s own', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    const out = path.join(dir, 'out');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'mine.txt'), 'keep');
    const fill = (tmp: string) => fsp.writeFile(path.join(tmp, 'model.json'), '{"format":"x"}');
    await assert.rejects(writeDirAtomic(out, fill, { what: '--out' }), /--out: '.*out' exists, is not empty and is not an output robustify may replace/);
    await assert.rejects(writeDirAtomic(out, fill, { replaceIf: (d) => hasFormat(path.join(d, 'model.json'), 'x') }), /not an output robustify may replace/);
    assert.equal(await fsp.readFile(path.join(out, 'mine.txt'), 'utf8'), 'keep');
    await fsp.rm(path.join(out, 'mine.txt'));
    await writeDirAtomic(out, fill);
    await writeDirAtomic(out, (tmp) => fsp.writeFile(path.join(tmp, 'model.json'), '{"format":"x","v":2}'), { replaceIf: (d) => hasFormat(path.join(d, 'model.json'), 'x') });
    assert.match(await fsp.readFile(path.join(out, 'model.json'), 'utf8'), /"v":2/);
    assert.deepEqual(await fsp.readdir(dir), ['out'], 'no temporary, owner file or old copy left');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a failure names the user\'s path, not the temporary, and leaves nothing', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    await fsp.writeFile(path.join(dir, 'file'), '');
    await assert.rejects(writeDirAtomic(path.join(dir, 'file', 'out'), async () => undefined), (e: Error) => /cannot (read|write) '.*file\/out': a part of the path is a file/.test(e.message) && !/\.tmp/.test(e.message));
    await assert.rejects(writeDirAtomic(path.join(dir, 'out'), async () => Promise.reject(new Error('fill failed'))), /fill failed/);
    assert.deepEqual(await fsp.readdir(dir), ['file']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('an interruption removes the temporaries in flight', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    let seen: string[] = [];
    await assert.rejects(
      writeDirAtomic(path.join(dir, 'out'), async (tmp) => {
        await fsp.writeFile(path.join(tmp, 'a'), 'x');
        seen = await fsp.readdir(dir);
        runInterruptCleanups(); // what the CLI's SIGINT handler does
        await fsp.writeFile(path.join(tmp, 'b'), 'x'); // the temporary is gone
      }),
    );
    assert.equal(seen.length, 2, `a temporary folder and its owner file while filling: ${seen}`);
    assert.deepEqual(await fsp.readdir(dir), []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('clearStale removes only what dead robustify runs left, and puts back an output moved aside', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-fs-'));
  try {
    const dead = await deadPid();
    const owner = JSON.stringify({ pid: dead, host: os.hostname() });
    // A killed folder write: temporary + owner file.
    await fsp.mkdir(path.join(dir, `.out.${dead}.aaaaaaaaaaaa.tmp`));
    await fsp.writeFile(path.join(dir, `.out.${dead}.aaaaaaaaaaaa.tmp`, 'half.png'), 'x');
    await fsp.writeFile(path.join(dir, `.out.${dead}.aaaaaaaaaaaa.tmp.owner`), owner);
    // A kill between moving the old output aside and renaming the new one in: the old one comes back.
    await fsp.mkdir(path.join(dir, `.model.${dead}.bbbbbbbbbbbb.tmp.old`));
    await fsp.writeFile(path.join(dir, `.model.${dead}.bbbbbbbbbbbb.tmp.old`, 'model.json'), 'old');
    await fsp.mkdir(path.join(dir, `.model.${dead}.bbbbbbbbbbbb.tmp`));
    await fsp.writeFile(path.join(dir, `.model.${dead}.bbbbbbbbbbbb.tmp.owner`), owner);
    // A killed atomic file write.
    await fsp.writeFile(path.join(dir, `.index.json.${dead}.cccccccccccc.tmp`), '{');
    // Not robustify's: a look-alike folder without owner file, a live process's temporary, a user's file.
    await fsp.mkdir(path.join(dir, `.notes.${dead}.dddddddddddd.tmp`));
    await fsp.writeFile(path.join(dir, `.live.${process.ppid}.eeeeeeeeeeee.tmp`), 'x');
    await fsp.writeFile(path.join(dir, 'mine.tmp'), 'x');
    const notes = await clearStale(dir);
    assert.equal(notes.length, 4, notes.join('\n'));
    assert.ok(notes.some((n) => /restored '.*model'/.test(n)));
    assert.deepEqual((await fsp.readdir(dir)).sort(), [`.live.${process.ppid}.eeeeeeeeeeee.tmp`, `.notes.${dead}.dddddddddddd.tmp`, 'mine.tmp', 'model'].sort());
    assert.equal(await fsp.readFile(path.join(dir, 'model', 'model.json'), 'utf8'), 'old');
    assert.deepEqual(await clearStale(dir), [], 'idempotent');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
