/**
 * `sluice/redis`: sluice's parts shared by many processes, on a real Redis
 * (6.2 or later; Valkey too), through the client the application already
 * has — node-redis (`redis`) or `ioredis`, both optional peer dependencies.
 * The core never imports this entry point.
 *
 * @packageDocumentation
 */
export { StoreUnavailableError, isStoreUnavailableError } from '../errors.js';
export type { RedisClient, RedisPartOptions } from './send.js';
export type { KeyedRedisTokenBucketOptions, RedisTokenBucketOptions } from './token-bucket.js';
export { KeyedRedisTokenBucket, RedisTokenBucket } from './token-bucket.js';
export type { RedisDeduperOptions } from './deduper.js';
export { RedisDeduper } from './deduper.js';
export type { RedisDeadLetterKeys, RedisDeadLetterOptions, StoredError } from './dead-letter.js';
export { RedisDeadLetter } from './dead-letter.js';
export type { GroupRateLimiter, RedisPushOptions, RedisQueueDedupeOptions, RedisQueueOptions } from './queue/redis-queue.js';
export { RedisQueue } from './queue/redis-queue.js';
export type { QueueRateLimiter } from './queue/grants.js';
