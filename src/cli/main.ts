#!/usr/bin/env node
/** The `robustify` command (the command tree is built in `program.ts`). */
import { createProgram } from './program.js';
import { runCli } from './run.js';

await runCli(await createProgram(process.argv), process.argv);
