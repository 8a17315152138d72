import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { addressKey, BoundedMap, DEFAULT_MAX_BUCKETS, TokenBuckets } from '../src/receiver/rate-limit';

// A real garbage collection before each heap reading, so the figures are what is still held.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

describe('BoundedMap', () => {
  it('holds at most maxEntries, dropping the least recently used (a get counts as use)', () => {
    const map = new BoundedMap<string, number>({ maxEntries: 4 });
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    expect(map.get('a')).toBe(1);
    map.set('d', 4);
    map.set('e', 5);
    expect(map.size).toBeLessThanOrEqual(4);
    // b was neither set nor read since c arrived: it is the one gone.
    expect(map.get('b')).toBeUndefined();
    expect([map.get('a'), map.get('d'), map.get('e')]).toEqual([1, 4, 5]);
    for (let i = 0; i < 1_000; i++) map.set(`k${i}`, i);
    expect(map.size).toBeLessThanOrEqual(4);
  });

  it('never returns an expired entry, and prune() drops every expired one', () => {
    let now = 0;
    const map = new BoundedMap<string, number>({ maxEntries: 1_000, now: () => now });
    for (let i = 0; i < 100; i++) map.set(`idle-${i}`, i, 10);
    map.set('lasting', 1);
    map.set('later', 2, 20);
    expect(map.get('idle-0')).toBe(0);
    now = 10;
    expect(map.get('idle-0')).toBeUndefined();
    expect(map.size).toBe(101);
    map.prune();
    expect(map.size).toBe(2);
    expect([map.get('lasting'), map.get('later')]).toEqual([1, 2]);
    now = 20;
    expect(map.get('later')).toBeUndefined();
  });

  it('an idle entry leaves with its generation, once enough newer keys came', () => {
    const map = new BoundedMap<string, number>({ maxEntries: 10 });
    map.set('idle', 0);
    for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
    expect(map.get('idle')).toBeUndefined();
  });

  it('refuses a cap below 2', () => {
    expect(() => new BoundedMap({ maxEntries: 1 })).toThrow(/maxEntries of at least 2 \(got 1\)/);
  });
});

describe('addressKey', () => {
  it('keeps IPv4, groups IPv6 by /64 and reads IPv4-mapped IPv6 as IPv4', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('2001:db8:abcd:12::1')).toBe('2001:db8:abcd:12::/64');
    expect(addressKey('2001:0DB8:ABCD:0012:ffff:ffff:ffff:fffe')).toBe('2001:db8:abcd:12::/64');
    expect(addressKey('2001:db8:abcd:13::1')).toBe('2001:db8:abcd:13::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
    expect(addressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('::FFFF:c633:6407')).toBe('198.51.100.7');
    // Not an address (a socket that already closed): used as given, which is one shared key.
    expect(addressKey('')).toBe('');
  });
});

describe('TokenBuckets', () => {
  it('forgets a bucket once it has refilled, without changing any answer', () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    const limit = { requests: 2, perSeconds: 1 };
    expect([buckets.take('a', limit).ok, buckets.take('a', limit).ok, buckets.take('a', limit).ok]).toEqual([true, true, false]);
    // Half-way: one token back, so one more take, and the bucket is still remembered.
    now = 500;
    expect([buckets.take('a', limit).ok, buckets.take('a', limit).ok]).toEqual([true, false]);
    now = 1_500;
    // Full again, so expired: 'a' starts from a fresh bucket, which is what it had refilled to.
    expect([buckets.take('a', limit).ok, buckets.take('a', limit).ok, buckets.take('a', limit).ok]).toEqual([true, true, false]);
  });

  it('a million distinct senders leave at most the cap in memory', () => {
    const buckets = new TokenBuckets();
    // Slow enough to refill that no bucket expires during the run: only the cap can bound them.
    const limit = { requests: 3, perSeconds: 60 };
    const before = heapAfterGc();
    let allowed = 0;
    // Keys as the router makes them, one /64 each (addressKey itself is tested above).
    for (let i = 0; i < 1_000_000; i++) if (buckets.take(`oms|2001:db8:${i.toString(16)}:0::/64`, limit).ok) allowed++;
    expect(allowed).toBe(1_000_000);
    expect(buckets.size).toBeLessThanOrEqual(DEFAULT_MAX_BUCKETS);
    expect(buckets.size).toBeGreaterThanOrEqual(DEFAULT_MAX_BUCKETS / 2);
    const grownMiB = (heapAfterGc() - before) / 2 ** 20;
    // Unbounded, a million buckets took about 135 MiB; the cap's 100,000 take about a tenth of that.
    expect(grownMiB).toBeLessThan(40);
    console.info(`1,000,000 senders: ${buckets.size} buckets held, heap +${grownMiB.toFixed(1)} MiB`);
  });
});
