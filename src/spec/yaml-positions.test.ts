import { describe, expect, test } from 'bun:test';
import { indexYamlPositions, lookupPosition, pathKey } from './yaml-positions.ts';

function positionOf(text: string, path: string): string {
  const found = indexYamlPositions(text).positions.get(path);
  return found ? `${found.line}:${found.column}` : 'none';
}

describe('indexYamlPositions', () => {
  const text = [
    'name: web # comment',
    'update:',
    '  max_parallel: 2',
    'routes:',
    '  - hosts:',
    '      - a.example.com',
    '      - b.example.com',
    '    port: http',
    '  - hosts: [c.example.com]',
    'constraints:',
    '- attribute: node.role',
    '  value: voter',
    'env:',
    '  NOTE: |',
    '    name: not a key',
    '    port: neither',
    '  "QUOTED": yes',
    'ports: {http: 80,',
    '  admin: 81}',
    'spread: false',
  ].join('\n');

  // Proves nested mappings and sequences (dash items, inline keys) get their own positions.
  test('maps key paths to line and column', () => {
    expect(positionOf(text, 'name')).toBe('1:1');
    expect(positionOf(text, 'update.max_parallel')).toBe('3:3');
    expect(positionOf(text, 'routes[0]')).toBe('5:5');
    expect(positionOf(text, 'routes[0].hosts')).toBe('5:5');
    expect(positionOf(text, 'routes[0].hosts[1]')).toBe('7:9');
    expect(positionOf(text, 'routes[0].port')).toBe('8:5');
    expect(positionOf(text, 'routes[1].hosts')).toBe('9:5');
  });

  // Proves a sequence written at its parent key's indentation still nests under that key.
  test('handles sequences at the parent indentation', () => {
    expect(positionOf(text, 'constraints[0].attribute')).toBe('11:3');
    expect(positionOf(text, 'constraints[0].value')).toBe('12:3');
    expect(positionOf(text, 'env')).toBe('13:1');
  });

  // Proves block scalars and multi-line flow maps are skipped, not read as keys.
  test('skips block scalars and open flow collections', () => {
    expect(positionOf(text, 'env.NOTE')).toBe('14:3');
    expect(positionOf(text, 'env.name')).toBe('none');
    expect(positionOf(text, 'env.QUOTED')).toBe('17:3');
    expect(positionOf(text, 'ports')).toBe('18:1');
    expect(positionOf(text, 'admin')).toBe('none');
    expect(positionOf(text, 'spread')).toBe('20:1');
    expect(indexYamlPositions(text).issues).toEqual([]);
  });

  // Proves elements of one-line flow collections get their own columns.
  test('indexes one-line flow collections', () => {
    expect(positionOf(text, 'routes[1].hosts[0]')).toBe('9:13');
    expect(positionOf(text, 'ports.http')).toBe('18:9');
    const flow = 'a: [x, "y, z", {k: [1, 2]}]\nb: {p: q, "r": [s]} # note\n';
    expect(positionOf(flow, 'a[1]')).toBe('1:8');
    expect(positionOf(flow, 'a[2].k')).toBe('1:17');
    expect(positionOf(flow, 'a[2].k[1]')).toBe('1:24');
    expect(positionOf(flow, 'b.r[0]')).toBe('2:17');
    expect(positionOf('- [m, n]\n', '[0][1]')).toBe('1:7');
  });

  // Proves lookups fall back to the nearest written parent (keys inside flow maps).
  test('falls back to the nearest indexed parent', () => {
    const index = indexYamlPositions(text);
    expect(lookupPosition(index, ['ports', 'admin'])).toEqual({ line: 18, column: 1 });
    expect(lookupPosition(index, ['missing'])).toEqual({ line: 1, column: 1 });
  });

  // Proves equal keys in one mapping are reported, but equal keys in sibling items are not.
  test('reports duplicate keys per mapping', () => {
    const duplicated = 'a:\n  b: 1\n  b: 2\nitems:\n  - name: x\n  - name: y\na: 3\n';
    const issues = indexYamlPositions(duplicated).issues;
    expect(issues.map((issue) => [issue.code, pathKey(issue.path), issue.position])).toEqual([
      ['yaml_duplicate_key', 'a.b', { line: 3, column: 3 }],
      ['yaml_duplicate_key', 'a', { line: 7, column: 1 }],
    ]);
  });

  // Proves a tab in the indentation is reported at its own column.
  test('reports tab indentation', () => {
    const issues = indexYamlPositions('a:\n  \tb: 1\n').issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('yaml_tab_indent');
    expect(issues[0]!.position).toEqual({ line: 2, column: 3 });
  });
});
