#!/usr/bin/env node
/** The `robustify` command (the command tree is built in `program.ts`; respawn.ts says why it may run twice). */
import { respawn } from './respawn.js';

if (!(await respawn())) {
  const { createProgram } = await import('./program.js');
  const { runCli } = await import('./run.js');
  await runCli(await createProgram(process.argv), process.argv);
}
