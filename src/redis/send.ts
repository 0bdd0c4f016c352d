import { StoreUnavailableError } from '../errors.js';

/** A Redis command's arguments: the command's name first. */
export type RedisArgs = readonly (string | number)[];

/**
 * A Redis client as `sluice/redis` takes it — the one the application
 * already has: node-redis (`redis`, v4 and later: `createClient()`, connected)
 * or `ioredis` (`new Redis()`). Only `sendCommand` (node-redis) or `call`
 * (ioredis) is used.
 */
export type RedisClient =
  | {
      /** node-redis: sends a command, its name first. */
      sendCommand(args: string[]): Promise<unknown>;
    }
  | {
      /** ioredis: sends a command by name. */
      call(command: string, ...args: (string | number)[]): Promise<unknown>;
    };

/** Options every Redis part shares. */
export interface RedisPartOptions {
  /** The client (node-redis or ioredis), connected. */
  readonly client: RedisClient;
  /**
   * How long a command may go unanswered, ms: past it the call rejects with
   * `StoreUnavailableError` (node-redis and ioredis hold commands while they
   * reconnect; a part never hangs on them).
   * @default 5000
   */
  readonly commandTimeoutMs?: number;
}

/** Sends a command; rejects with StoreUnavailableError when the client cannot deliver it, or no reply comes in time. */
export type Send = (args: RedisArgs) => Promise<unknown>;

/** Whether an error is Redis's answer to a command (the server said no), not a failure to reach it. */
function isReplyError(error: unknown): boolean {
  const name = (error as { name?: unknown })?.name;
  if (name === 'ReplyError' || name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError') return true;
  // A reply error's message starts with Redis's error code in capitals ("NOSCRIPT No matching script").
  return /^[A-Z]{3,}(?: |$)/.test(String((error as { message?: unknown })?.message ?? ''));
}

/**
 * The one adapter over node-redis and ioredis: `send(['SET', 'k', 'v'])`.
 * A reply error (the server answered with an error) rejects as the
 * client's error; anything else — a closed connection, a timeout — as
 * `StoreUnavailableError` with the client's error as its cause.
 */
export function toSend(part: string, client: RedisClient, commandTimeoutMs: number): Send {
  let raw: (args: string[]) => Promise<unknown>;
  if (typeof (client as { call?: unknown }).call === 'function') {
    const c = client as { call(command: string, ...args: string[]): Promise<unknown> };
    raw = (args) => c.call(args[0]!, ...args.slice(1));
  } else if (typeof (client as { sendCommand?: unknown }).sendCommand === 'function') {
    const c = client as { sendCommand(args: string[]): Promise<unknown> };
    raw = (args) => c.sendCommand(args);
  } else {
    throw new TypeError(`${part}: client must be a node-redis client (sendCommand) or an ioredis client (call), got ${String(client)}`);
  }
  return (args) => {
    const strings = args.map(String);
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new StoreUnavailableError(`${part}: Redis did not answer ${strings[0]} within ${commandTimeoutMs} ms`));
      }, commandTimeoutMs);
      let sent: Promise<unknown>;
      try {
        sent = Promise.resolve(raw(strings));
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (isReplyError(error)) reject(error);
          else
            reject(
              new StoreUnavailableError(`${part}: Redis could not be reached for ${strings[0]}: ${describe(error)}`, { cause: error }),
            );
        },
      );
    });
  };
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * A Lua script, loaded once per client (`SCRIPT LOAD`) and run by its SHA1
 * (`EVALSHA`); loaded again after `NOSCRIPT` (a restarted or flushed server).
 */
export class Script {
  #sha: string | undefined;
  #loading: Promise<string> | undefined;

  constructor(
    readonly send: Send,
    readonly source: string,
  ) {}

  /** Runs the script with `keys` and `args`; its reply. */
  async run(keys: readonly string[], args: RedisArgs): Promise<unknown> {
    const sha = this.#sha ?? (await this.#load());
    try {
      return await this.send(['EVALSHA', sha, keys.length, ...keys, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      this.#sha = undefined;
      return this.send(['EVALSHA', await this.#load(), keys.length, ...keys, ...args]);
    }
  }

  #load(): Promise<string> {
    this.#loading ??= this.send(['SCRIPT', 'LOAD', this.source]).then(
      (sha) => {
        this.#loading = undefined;
        this.#sha = String(sha);
        return this.#sha;
      },
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }
}

/**
 * The key of a part's state: `prefix` + `{name}` + `suffix`. The braces are a
 * Redis Cluster hash tag: every key of one part lands in one slot, so its
 * scripts may touch them all.
 */
export function keyOf(prefix: string, name: string, suffix = ''): string {
  return `${prefix}{${name}}${suffix}`;
}

/** A connection of its own, for blocking reads (`XREADGROUP … BLOCK`, `BLPOP`), and how to end it. @internal */
export interface Connection {
  readonly send: Send;
  close(): void;
}

/**
 * A second connection like `client`'s (its `duplicate()`: node-redis and
 * ioredis both have it), connected: a blocking read on the shared client
 * would hold every other command behind it.
 * @internal
 */
export async function duplicateOf(part: string, client: RedisClient, commandTimeoutMs: number): Promise<Connection> {
  const original = client as { duplicate?: () => unknown; call?: unknown };
  if (typeof original.duplicate !== 'function') {
    throw new TypeError(`${part}: client must have duplicate() (node-redis and ioredis do), for its blocking reads`);
  }
  const copy = original.duplicate() as RedisClient & {
    on?(event: string, listener: (error: unknown) => void): unknown;
    connect?(): Promise<unknown>;
    destroy?(): void;
    disconnect?(): unknown;
  };
  copy.on?.('error', () => {}); // reconnecting is the client's business; a read that fails says so
  // ioredis connects a duplicate by itself; node-redis waits for connect().
  if (typeof original.call !== 'function') await copy.connect?.();
  return {
    send: toSend(part, copy, commandTimeoutMs),
    close: () => {
      try {
        if (typeof copy.destroy === 'function') copy.destroy();
        else void Promise.resolve(copy.disconnect?.()).catch(() => {});
      } catch {
        // already closed
      }
    },
  };
}
