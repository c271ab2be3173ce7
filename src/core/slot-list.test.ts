import { describe, expect, test } from 'bun:test';
import { SlotList, type Slotted } from './slot-list.ts';

interface Item extends Slotted {
  name: string;
}

function items(...names: string[]): Item[] {
  return names.map((name) => ({ name, slot: -1 }));
}

function namesIn(list: SlotList<Item>): string[] {
  const seen: string[] = [];
  list.forEach((item) => {
    seen.push(item.name);
  });
  return seen.sort();
}

describe('SlotList', () => {
  test('add and delete keep every other item reachable, whatever the order', () => {
    // Proves the swap-with-last bookkeeping: the moved item's slot follows it, and a second
    // add or delete is a no-op.
    const list = new SlotList<Item>();
    const [a, b, c, d] = items('a', 'b', 'c', 'd');
    for (const item of [a, b, c, d]) list.add(item!);
    list.add(a!);
    expect(list.size).toBe(4);
    expect(list.delete(b!)).toBe(true);
    expect(list.delete(b!)).toBe(false);
    expect(b!.slot).toBe(-1);
    expect(list.has(b!)).toBe(false);
    expect(namesIn(list)).toEqual(['a', 'c', 'd']);
    for (const item of [a, c, d]) expect(list.has(item!)).toBe(true);
    expect(list.delete(d!)).toBe(true);
    expect(list.delete(a!)).toBe(true);
    expect(namesIn(list)).toEqual(['c']);
    expect(list.delete(c!)).toBe(true);
    expect(list.size).toBe(0);
  });

  test('an item of another list is not taken for one of this list', () => {
    // Proves `has` checks the slot's occupant, not only that a slot is set.
    const one = new SlotList<Item>();
    const two = new SlotList<Item>();
    const [a, b] = items('a', 'b');
    one.add(a!);
    two.add(b!);
    expect(one.has(b!)).toBe(false);
    expect(one.delete(b!)).toBe(false);
    expect(two.size).toBe(1);
  });

  test('forEach visits each item once while items are removed and added', () => {
    // Proves the walk's contract whatever its order: removing the current, a visited or an
    // unvisited item skips no one still present and visits no one twice; new items wait.
    const list = new SlotList<Item>();
    const all = items('a', 'b', 'c', 'd', 'e', 'f');
    for (const item of all) list.add(item);
    const visits = new Map<string, number>();
    const late = items('late')[0]!;
    let removedUnvisited: string | undefined;
    let step = 0;
    list.forEach((item) => {
      visits.set(item.name, (visits.get(item.name) ?? 0) + 1);
      step += 1;
      if (step === 1) list.delete(item);
      if (step === 2) list.add(late);
      if (step === 3) {
        const unvisited = all.find((other) => list.has(other) && !visits.has(other.name))!;
        removedUnvisited = unvisited.name;
        list.delete(unvisited);
      }
      if (step === 4) list.delete(all.find((other) => visits.has(other.name) && list.has(other))!);
    });
    expect([...visits.values()].every((count) => count === 1)).toBe(true);
    expect(visits.has('late')).toBe(false);
    expect(visits.has(removedUnvisited!)).toBe(false);
    expect(visits.size).toBe(5);
    expect(list.size).toBe(4);
    expect(namesIn(list)).toContain('late');
  });

  test('garbage slots are treated as absent', () => {
    // Proves an item with a slot past the end, or a stale one, neither reads nor corrupts.
    const list = new SlotList<Item>();
    const [a] = items('a');
    list.add(a!);
    const stray: Item = { name: 'stray', slot: 0 };
    const far: Item = { name: 'far', slot: 99 };
    expect(list.has(stray)).toBe(false);
    expect(list.delete(far)).toBe(false);
    expect(namesIn(list)).toEqual(['a']);
  });
});
