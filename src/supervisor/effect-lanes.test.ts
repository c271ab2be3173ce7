import { describe, expect, test } from 'bun:test';
import { EffectLanes } from './effect-lanes.ts';

/** A promise with its resolver, to hold a job open until the test releases it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('EffectLanes', () => {
  test('one key runs in order; another key is not held up by it', async () => {
    // Proves per-allocation ordering (stop before remove) while a slow job of one
    // allocation does not delay another allocation's jobs.
    const lanes = new EffectLanes(8, () => {});
    const order: string[] = [];
    const slow = gate();
    lanes.run('a', async () => {
      await slow.promise;
      order.push('a1');
    });
    lanes.run('a', async () => {
      order.push('a2');
    });
    lanes.run('b', async () => {
      order.push('b1');
    });
    await Bun.sleep(5);
    expect(order).toEqual(['b1']);
    slow.open();
    await lanes.idle();
    expect(order).toEqual(['b1', 'a1', 'a2']);
    expect(lanes.pending).toBe(0);
  });

  test('a failing job is reported and the lane goes on', async () => {
    // Proves an error in one effect never wedges the allocation's later effects.
    const errors: string[] = [];
    const lanes = new EffectLanes(8, (key, error) =>
      errors.push(`${key}: ${(error as Error).message}`),
    );
    const order: string[] = [];
    lanes.run('a', async () => {
      throw new Error('boom');
    });
    lanes.run('a', async () => {
      order.push('after');
    });
    await lanes.idle();
    expect(errors).toEqual(['a: boom']);
    expect(order).toEqual(['after']);
  });

  test('a full lane refuses more jobs', async () => {
    // Proves the bound: a lane holds at most jobsMax jobs; the next is refused, not queued.
    const lanes = new EffectLanes(2, () => {});
    const hold = gate();
    expect(lanes.run('a', () => hold.promise)).toBe(true);
    expect(lanes.run('a', async () => {})).toBe(true);
    expect(lanes.run('a', async () => {})).toBe(false);
    expect(lanes.run('b', async () => {})).toBe(true);
    hold.open();
    await lanes.idle();
    expect(lanes.run('a', async () => {})).toBe(true);
    await lanes.idle();
  });
});
