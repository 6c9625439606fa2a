// How the runner reaches its Redis: the URL and ACL user from the config, the password from a 0600 file
// (never from the YAML, the environment or a URL), registered with the scrubber the moment it is read.
import { Redis, type RedisOptions } from 'ioredis';
import { readTokenFile, resolveTokenFile } from '../approve/token-files.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Scrubber } from '../log/scrub.ts';

/** Where and as whom to connect. */
export interface RedisTarget {
  url: string;
  username?: string;
  password?: string;
}

/** The Redis target of a runner config, reading `redis.passwordFile` when there is one. */
export async function redisTargetFor(loaded: LoadedConfig, scrubber: Scrubber): Promise<RedisTarget> {
  const { url, username, passwordFile } = loaded.config.redis;
  const password = passwordFile === undefined ? undefined : await readTokenFile(resolveTokenFile(passwordFile, loaded.file), scrubber, 'the Redis password of the runner\'s ACL user');
  return { url, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** ioredis options for a target, merged over `extra`. */
export function redisOptions(target: RedisTarget | string, extra: RedisOptions = {}): [string, RedisOptions] {
  if (typeof target === 'string') return [target, extra];
  return [target.url, { ...extra, ...(target.username !== undefined ? { username: target.username } : {}), ...(target.password !== undefined ? { password: target.password } : {}) }];
}

/** A new ioredis connection in the shape BullMQ needs (no per-request retry limit). */
export function connectRedis(target: RedisTarget | string): Redis {
  const [url, options] = redisOptions(target, { maxRetriesPerRequest: null, lazyConnect: false });
  return new Redis(url, options);
}
