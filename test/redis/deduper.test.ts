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

  it('as a Queue’s dedupe store, asked before push and submit: the first push of an id in any process wins', async () => {
    const deduper = new RedisDeduper({ client: conn.client, key: fresh() });
    const handled: string[] = [];
    const handler = (name: string) => (s: string) => {
      handled.push(`${name}:${s}`);
      return s;
    };
    const a = new Queue<string, string>({ handler: handler('a'), dedupe: deduper });
    const b = new Queue<string, string>({ handler: handler('b'), dedupe: deduper });
    expect(await a.push('x', { id: 'x' })).toMatchObject({ id: 'x', duplicate: false });
    expect(await b.push('x', { id: 'x' })).toMatchObject({ id: 'x', duplicate: true });
    await expect(b.submit('x', { id: 'x' })).rejects.toThrow('Queue: duplicate of key "x"');
    expect(await b.submit('y', { id: 'y' })).toBe('y');
    expect(() => a.tryPush('z', { id: 'z' })).toThrow('Queue: tryPush cannot wait for a shared dedupe store: use push');
    // A push the queue refuses (closed) forgets its key again: another process may take it.
    await a.close();
    await expect(a.push('w', { id: 'w' })).rejects.toThrow('closed');
    expect(await b.push('w', { id: 'w' })).toMatchObject({ duplicate: false });
    await b.onIdle();
    expect(handled.sort()).toEqual(['a:x', 'b:w', 'b:y']);
    expect([a.stats.duplicates, b.stats.duplicates]).toEqual([0, 2]);
  });

  it('a store that answers later without saying so is refused by a Queue, naming why', () => {
    const unmarked = { check: async () => true, has: async () => false, delete: async () => false };
    const queue = new Queue<string>({ handler: () => {}, dedupe: unmarked as never });
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
