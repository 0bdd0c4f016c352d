import { describe, expect, it } from 'vitest';
import { Queue, dedupe, pipe } from '../../src/index.js';
import { RedisDeduper } from '../../src/redis/index.js';
import { CLIENTS, redisAvailable, useClient, useRedisServer, warnIfMissing } from './server.js';

warnIfMissing('test/redis/deduper.test.ts');

const redis = useRedisServer();

let n = 0;
const fresh = () => `dedupe-${process.pid}-${n++}`;

describe.runIf(redisAvailable).each(CLIENTS)('RedisDeduper on a real redis-server, through %s', (kind) => {
  const conn = useClient(kind, redis);

  it('lets the first sight of a key through in any sharer, within the window; has and delete', async () => {
    const name = fresh();
    const a = new RedisDeduper({ client: conn.client, key: name, windowMs: 200 });
    const b = new RedisDeduper({ client: conn.client, key: name, windowMs: 200 });
    expect([await a.check('x'), await b.check('x'), await a.check(7), await b.check('7')]).toEqual([true, false, true, false]);
    expect([await b.has('x'), await b.has('y')]).toEqual([true, false]);
    expect([await a.delete('x'), await a.delete('x')]).toEqual([true, false]);
    expect(await b.check('x')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await a.check('7')).toBe(true); // the window passed: Redis forgot it
    expect(a.redisKeyOf('x')).toBe(`sluice:${name}:x`);
  });

  it('works as the dedupe() operator’s store: its answers awaited in order', async () => {
    const deduper = new RedisDeduper({ client: conn.client, key: fresh() });
    const duplicates: string[] = [];
    const out: string[] = [];
    for await (const id of pipe(['a', 'b', 'a', 'c', 'b'], dedupe(deduper))) out.push(id);
    const again = [];
    for await (const d of pipe(
      [{ id: 'a' }, { id: 'd' }],
      dedupe({ key: (x: { id: string }) => x.id, onDuplicate: (x) => duplicates.push(x.id) }),
    ))
      again.push(d.id);
    expect(out).toEqual(['a', 'b', 'c']);
    expect(again).toEqual(['a', 'd']); // its own in-memory window: a different store
  });

  it('a Queue refuses it, naming why: a push is decided in its call', () => {
    const deduper = new RedisDeduper({ client: conn.client, key: fresh() });
    const queue = new Queue<string>({ handler: () => {}, dedupe: deduper as never });
    expect(() => queue.tryPush('a', { id: 'a' })).toThrow(
      'Queue: dedupe store must answer has(key) at once with true or false, got a promise',
    );
  });
});

describe('RedisDeduper without a server', () => {
  it('refuses bad options and keys, naming them', async () => {
    const client = { sendCommand: async () => 'OK' };
    expect(() => new RedisDeduper({ client, key: '' })).toThrow('RedisDeduper: key must be a non-empty string');
    expect(() => new RedisDeduper({ client, key: 'k', windowMs: 1.5 })).toThrow('RedisDeduper: windowMs must be a positive integer');
    await expect(new RedisDeduper({ client, key: 'k' }).check({} as never)).rejects.toThrow(
      'RedisDeduper: key must be a string or a finite number',
    );
  });
});
