/**
 * Where the queue is: a `redis://[:password@]HOST[:PORT][/DB]` URL, checked before anything connects, and the
 * one connection rule of the coordinator and the workers (reconnect for ever once reached, so a restarted Redis
 * is picked up again; the first contact fails fast with one line naming the URL).
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface QueueAddress {
  /** The URL as given, without its password (for messages). */
  shown: string;
  host: string;
  port: number;
  db: number;
  password?: string;
}

export function parseQueueUrl(text: string): QueueAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`queue: '${text}' is not a URL; expected redis://HOST:PORT`);
  }
  if (url.protocol !== 'redis:') throw new Error(`queue: '${text}' has the scheme '${url.protocol.replace(/:$/, '')}'; expected redis://HOST:PORT (rediss and others are not supported)`);
  if (!url.hostname) throw new Error(`queue: '${text}' names no host; expected redis://HOST:PORT`);
  const db = url.pathname && url.pathname !== '/' ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`queue: '${text}': the database '${url.pathname.slice(1)}' is not a number`);
  const port = url.port ? Number(url.port) : 6379;
  return { shown: `redis://${url.hostname}:${port}${db ? `/${db}` : ''}`, host: url.hostname, port, db, password: url.password ? decodeURIComponent(url.password) : undefined };
}

/** Options of every long-lived connection: BullMQ's (no per-command retry limit), retrying with a capped delay. */
export function connectionOptions(a: QueueAddress): RedisOptions {
  return { host: a.host, port: a.port, db: a.db, password: a.password, maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(100 * times, 2000) };
}

/** First contact: fails within `timeoutMs` with one line naming the address; returns the server's version. */
export async function probe(a: QueueAddress, timeoutMs = 3000): Promise<string> {
  const redis = new Redis({ ...connectionOptions(a), lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs, maxRetriesPerRequest: 0 });
  // ioredis rejects with "Connection is closed"; the reason is in the error event before it.
  let reason: Error | undefined;
  redis.on('error', (e: Error) => (reason = e));
  try {
    await redis.connect();
    const info = await redis.info('server');
    const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '?';
    if (Number(version.split('.')[0]) < 5) throw new Error(`queue: Redis at ${a.shown} is version ${version}; BullMQ needs 5 or later`);
    return version;
  } catch (err) {
    if ((err as Error).message.startsWith('queue:')) throw err;
    throw new Error(`queue: cannot reach Redis at ${a.shown} (${(reason ?? (err as Error)).message})`);
  } finally {
    redis.disconnect();
  }
}

/**
 * Close a BullMQ object, but not wait for ever on a Redis that is gone: after `ms` its connection is dropped
 * (a job it held comes back through the stalled-job check).
 */
export async function closeWithin(obj: { close(): Promise<void>; disconnect(): Promise<void> }, ms = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  try {
    if ((await Promise.race([obj.close().then(() => 'closed' as const), late])) === 'late') await obj.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
