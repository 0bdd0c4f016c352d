/**
 * A redis-server of the tests' own (Debian's package): a free port, a
 * temporary directory, stopped after. Tests that need it skip, saying how to
 * install it, where the binary is missing; CI installs it and must run them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type RedisClient, RedisQueue, type RedisQueueOptions } from '../../src/redis/index.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const redisAvailable = existsSync(REDIS_SERVER);
if (process.env.CI && !redisAvailable)
  throw new Error(`CI must install ${REDIS_SERVER} (apt-get install -y redis-server) for the Redis tests`);

/** Says once why the Redis tests skip. */
export function warnIfMissing(file: string): void {
  if (!redisAvailable) {
    console.warn(
      `${file}: the Redis tests are skipped: ${REDIS_SERVER} is missing. Install Debian's redis-server to run them: apt-get install -y redis-server`,
    );
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops it (SIGTERM) and waits for its exit. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port and directory (its AOF, when on, is replayed). */
  restart(): Promise<void>;
  /** Removes its directory (after stop). */
  remove(): void;
}

export async function startRedis(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        options.appendonly ? 'yes' : 'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    for (let i = 0; i < 200; i++) {
      if (await answersPing(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`redis-server did not answer on port ${port}`);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The two clients sluice/redis supports, each connected to `port`; `close` quits it. */
export const CLIENTS = ['node-redis', 'ioredis'] as const;
export type ClientKind = (typeof CLIENTS)[number];

export async function connect(kind: ClientKind, port: number): Promise<{ client: RedisClient; close: () => Promise<void> }> {
  if (kind === 'ioredis') {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => {}); // reconnects are expected in the fault tests
    await client.connect();
    return { client, close: async () => void client.disconnect() };
  }
  const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: (n: number) => Math.min(n * 50, 500) } });
  client.on('error', () => {}); // reconnects are expected in the fault tests
  await client.connect();
  return { client, close: async () => void client.destroy() };
}

/** A redis-server of the test file's own, for its tests (started before them where the binary is, stopped after). */
export function useRedisServer(options: { appendonly?: boolean } = {}): { readonly server: RedisServer } {
  const holder = {} as { server: RedisServer };
  beforeAll(async () => {
    if (redisAvailable) holder.server = await startRedis(options);
  }, 30_000);
  afterAll(async () => {
    await holder.server?.stop();
    holder.server?.remove();
  });
  return holder;
}

/** A client of `kind` connected to the file's server for a describe block's tests. */
export function useClient(kind: ClientKind, redis: { readonly server: RedisServer }): { readonly client: RedisClient } {
  const holder = {} as { client: RedisClient; close?: () => Promise<void> };
  beforeAll(async () => {
    const connected = await connect(kind, redis.server.port);
    holder.client = connected.client;
    holder.close = connected.close;
  });
  afterAll(() => holder.close?.());
  return holder;
}

/**
 * Makes RedisQueues on `conn`'s client (`pollMs` 20 unless given) and closes them, without draining, after each test.
 */
export function useQueues(conn: {
  readonly client: RedisClient;
}): <T, R>(options: Omit<RedisQueueOptions<T, R>, 'client'>) => RedisQueue<T, R> {
  const open: RedisQueue<unknown, unknown>[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close({ drain: false })));
  });
  return <T, R>(options: Omit<RedisQueueOptions<T, R>, 'client'>): RedisQueue<T, R> => {
    const q = new RedisQueue<T, R>({ client: conn.client, pollMs: 20, ...options });
    open.push(q as RedisQueue<unknown, unknown>);
    return q;
  };
}
