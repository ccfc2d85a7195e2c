/**
 * `robustify serve`: the defended re-identification service (src/server). Flags map onto the server's
 * parameters (src/server/options.ts); SIGTERM or SIGINT drains in-flight requests before exiting.
 */
import { Command } from 'commander';
import { createServer } from '../../server/app.js';
import type { ServeOptions } from '../../server/options.js';
import { intOption, numberOption, takeOverSignals, UsageError } from '../run.js';

interface ServeFlags {
  gallery: string;
  backbone?: string;
  pipeline?: string;
  allowPipelines?: string;
  host?: string;
  port?: string;
  apiKey?: string;
  readKey?: boolean;
  allowAttacks?: boolean;
  workers?: string;
  queue?: string;
  timeoutMs?: string;
  maxBody?: string;
  maxPixels?: string;
  maxFaces?: string;
  rateLimit?: string;
  threshold?: string;
  logLevel?: string;
}

/** The server parameters the flags give (unset flags stay unset: the schema's defaults apply). */
export function serveOptionsOfFlags(f: ServeFlags, env: NodeJS.ProcessEnv = process.env): Partial<ServeOptions> {
  const o: Partial<ServeOptions> = { gallery: f.gallery };
  const int = (name: string, v: string | undefined, min: number, max?: number): number | undefined => (v === undefined ? undefined : intOption(name, v, min, max));
  if (f.backbone !== undefined) o.backbone = f.backbone;
  if (f.pipeline !== undefined) o.pipeline = f.pipeline;
  if (f.allowPipelines !== undefined) o.allowPipelines = f.allowPipelines.split('|').map((s) => s.trim());
  if (f.host !== undefined) o.host = f.host;
  o.port = int('--port', f.port, 0, 65535);
  const key = f.apiKey ?? env.ROBUSTIFY_API_KEY;
  if (key !== undefined) {
    if (key.length < 8) throw new UsageError('--api-key: use at least 8 characters');
    o.apiKey = key;
  }
  o.readKey = f.readKey ?? false;
  o.allowAttacks = f.allowAttacks ?? false;
  o.workers = int('--workers', f.workers, 1, 32);
  o.queue = int('--queue', f.queue, 0, 10000);
  o.timeoutMs = int('--timeout-ms', f.timeoutMs, 100);
  o.maxBody = int('--max-body', f.maxBody, 1024);
  o.maxPixels = int('--max-pixels', f.maxPixels, 1);
  o.maxFaces = int('--max-faces', f.maxFaces, 1, 100);
  o.rateLimit = int('--rate-limit', f.rateLimit, 0);
  if (f.threshold !== undefined) o.threshold = numberOption('--threshold', f.threshold, 0.001, 10);
  if (f.logLevel !== undefined) o.logLevel = f.logLevel as ServeOptions['logLevel'];
  for (const k of Object.keys(o) as (keyof ServeOptions)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('HTTP service: enrol, identify and verify faces through a defence pipeline (web page at /, API docs at /docs)')
    .option('--gallery <file|url>', 'SQLite file (created if missing) or postgres:// URL', 'gallery.sqlite')
    .option('--backbone <name>', 'descriptor network (default face-api)')
    .option('--pipeline <p>', 'defence pipeline (default median:3,jpeg:20)')
    .option('--allow-pipelines <list>', "pipelines a request may choose, separated by '|'")
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'port (default 8080)')
    .option('--api-key <key>', 'key for writes (or ROBUSTIFY_API_KEY); without one, writes are refused')
    .option('--read-key', 'reads need the key too')
    .option('--allow-attacks', 'enable POST /v1/attack (red team)')
    .option('--workers <n>', 'inference worker threads (default min(2, cores))')
    .option('--queue <n>', 'requests that may wait before 503 (default 32)')
    .option('--timeout-ms <ms>', 'deadline per request, queueing included (default 30000)')
    .option('--max-body <bytes>', 'largest request body (default 10 MiB)')
    .option('--max-pixels <n>', 'largest photo in pixels (default 40000000)')
    .option('--max-faces <n>', 'most faces per photo (default 20)')
    .option('--rate-limit <n>', 'requests per minute per client (0: none; default 600)')
    .option('--threshold <d>', 'same-person distance (default 0.6)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|silent (default info)')
    .action(async (flags: ServeFlags) => {
      const server = await createServer(serveOptionsOfFlags(flags));
      const address = await server.listen();
      server.app.log.info({ address, gallery: server.ctx.gallery.store.kind, faces: server.ctx.gallery.size, pipeline: server.ctx.pipelines[0] }, 'robustify serve ready');
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          server.app.log.info({ signal }, 'draining in-flight requests');
          server.close().then(resolve, (e: Error) => {
            server.app.log.error({ err: e.message }, 'shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        takeOverSignals(stop);
      });
    });
}
