import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import { parseJobSpec } from '../../src/spec/parse.ts';
import type { SpecError } from '../../src/spec/spec-error.ts';

/** Parses `text` and returns its errors, failing the test when it parses. */
function errorsOf(text: string): SpecError[] {
  const result = parseJobSpec(text, 'app.yml');
  if (result.ok) throw new Error('expected the spec to be refused');
  return result.errors;
}

/** The first error as `code path line:column`, the form the table below states. */
function firstError(text: string): string {
  const error = errorsOf(text)[0]!;
  return `${error.code} ${error.path} ${error.line}:${error.column}`;
}

const cases: [string, string, string][] = [
  ['duplicate key', 'name: web\nimage: nginx\nname: other\n', 'yaml_duplicate_key name 3:1'],
  [
    'nested duplicate key',
    'name: web\nimage: nginx\nupdate:\n  canary: 1\n  canary: 2\n',
    'yaml_duplicate_key update.canary 5:3',
  ],
  [
    'tab indentation',
    'name: web\nimage: nginx\nupdate:\n\tcanary: 1\n',
    'yaml_tab_indent update 4:1',
  ],
  ['top-level list', '- name: web\n  image: nginx\n', 'spec_not_mapping  1:1'],
  ['top-level scalar', 'just a string\n', 'spec_not_mapping  1:1'],
  ['empty file', '', 'spec_not_mapping  1:1'],
  ['image and command', 'name: web\nimage: nginx\ncommand: [ls]\n', 'driver_conflict command 3:1'],
  ['neither image nor command', 'name: web\ncount: 2\n', 'driver_missing  1:1'],
  ['negative count', 'name: web\nimage: nginx\ncount: -1\n', 'out_of_range count 3:1'],
  ['fractional count', 'name: web\nimage: nginx\ncount: 1.5\n', 'invalid_type count 3:1'],
  [
    'unknown port in check',
    'name: web\nimage: nginx\nports:\n  http: 80\ncheck:\n  tcp: htp\n',
    'unknown_port check.tcp 6:3',
  ],
  [
    'unknown port in route',
    'name: web\nimage: nginx\nports:\n  http: 80\nroutes:\n  - hosts: [a.example.com]\n    port: web\n',
    'unknown_port routes[0].port 7:5',
  ],
  [
    'route port left out among two ports',
    'name: web\nimage: nginx\nports: {a: 80, b: 81}\nroutes:\n  - hosts: [a.example.com]\n',
    'missing_port routes[0].port 5:5',
  ],
  [
    'invalid host',
    'name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts:\n      - ok.example.com\n      - bad_host.example.com\n',
    'invalid_host routes[0].hosts[1] 7:9',
  ],
  [
    'host label too long',
    `name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts:\n      - ${'a'.repeat(64)}.com\n`,
    'invalid_host routes[0].hosts[0] 6:9',
  ],
  [
    'invalid host in a flow list',
    'name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts: [ok.example.com, -bad.example.com]\n',
    'invalid_host routes[0].hosts[1] 5:29',
  ],
  [
    'bad secret name in a flow list',
    'name: web\nimage: nginx\nsecrets: [OK, bad-name]\n',
    'invalid_value secrets[1] 3:15',
  ],
  [
    'wildcard host with tls',
    'name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts:\n      - "*.example.com"\n    tls: true\n',
    'invalid_host routes[0].hosts[0] 6:9',
  ],
  [
    'custom certificate without tls',
    'name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts: [a.example.com]\n    certificate:\n      certificate_pem: CRT\n      private_key_pem: KEY\n',
    'certificate_without_tls routes[0].certificate 6:5',
  ],
  [
    'custom certificate missing its key',
    'name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts: [a.example.com]\n    tls: true\n    certificate:\n      certificate_pem: CRT\n',
    'missing_field routes[0].certificate.private_key_pem 7:5',
  ],
  [
    'duration without unit',
    'name: web\nimage: nginx\nupdate:\n  healthy_deadline: 300\n',
    'invalid_duration update.healthy_deadline 4:3',
  ],
  [
    'duration in words',
    'name: web\nimage: nginx\nrestart:\n  delay: 10 seconds\n',
    'invalid_duration restart.delay 4:3',
  ],
  ['missing name', 'image: nginx\n', 'missing_field name 1:1'],
  ['bad name', 'name: My_App\nimage: nginx\n', 'invalid_value name 1:1'],
  ['yaml syntax', 'name: web\nimage: nginx\nenv:\n  A: [1, 2\n  B: 3\n', 'yaml_syntax  4:1'],
  [
    'enum typo',
    'name: web\nimage: nginx\nrestart:\n  mode: fial\n',
    'invalid_value restart.mode 4:3',
  ],
  [
    'static port clash',
    'name: web\nimage: nginx\nports:\n  a: {to: 80, static: 8080}\n  b: {to: 81, static: 8080}\n',
    'duplicate_port ports.b 5:3',
  ],
  [
    'env and secret clash',
    'name: web\nimage: nginx\nenv:\n  TOKEN: x\nsecrets: [TOKEN]\n',
    'env_conflict env.TOKEN 4:3',
  ],
  [
    'constraint list operator with one value',
    'name: web\nimage: nginx\nconstraints:\n  - attribute: node.label.zone\n    operator: in\n    value: a\n',
    'invalid_constraint constraints[0].value 6:5',
  ],
  [
    'bad volume',
    'name: web\nimage: nginx\nvolumes:\n  - /host/path:/data\n',
    'invalid_volume volumes[0] 4:5',
  ],
  ['workdir with image', 'name: web\nimage: nginx\nworkdir: /srv\n', 'driver_conflict workdir 3:1'],
  [
    'check with two probes',
    'name: web\nimage: nginx\nports: {http: 80}\ncheck:\n  http: /up\n  tcp: http\n',
    'invalid_check check 4:1',
  ],
  [
    'command with open quote',
    'name: web\ncommand: "sh -c \'echo"\n',
    'invalid_command command 2:1',
  ],
  [
    'accessory with unknown field',
    'name: web\nimage: x\naccessories:\n  db:\n    image: postgres\n    volumez: [a:/b]\n',
    'unknown_field accessories.db.volumez 6:5',
  ],
  [
    'accessory without a driver',
    'name: web\nimage: x\naccessories:\n  db:\n    count: 1\n',
    'driver_missing accessories.db 4:3',
  ],
];

describe('parseJobSpec refuses bad specs with code, path, line and column', () => {
  for (const [title, text, expected] of cases) {
    // Proves this bad spec is refused with the stated code at the stated place.
    test(title, () => {
      expect(firstError(text)).toBe(expected);
    });
  }
});

describe('did you mean', () => {
  // Proves a misspelt key is reported at its own position with the closest allowed key.
  test('suggests the allowed key at that level', () => {
    const result = parseJobSpec(
      'name: web\nimage: nginx\nupdate:\n  max_paralel: 2\nimgae: x\n',
      'app.yml',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.report).toBe(
      [
        'app.yml:4:3: update.max_paralel: unknown field (did you mean max_parallel?)',
        'app.yml:5:1: imgae: unknown field (did you mean image?)',
      ].join('\n'),
    );
  });

  // Proves keys inside a port object and misspelt enum values also get suggestions.
  test('suggests inside unions and for enum values', () => {
    const errors = errorsOf(
      'name: web\ntype: servce\nimage: x\nports:\n  web:\n    to: 80\n    statik: 8080\n',
    );
    expect(errors.map((error) => [error.path, error.hint])).toEqual([
      ['type', 'did you mean service?'],
      ['ports.web.statik', 'did you mean static?'],
    ]);
  });

  // Proves a key far from every allowed key gets no suggestion rather than a bad one.
  test('offers nothing when nothing is close', () => {
    const [error] = errorsOf('name: web\nimage: x\nfrobnicate: 1\n');
    expect(error!.code).toBe('unknown_field');
    expect(error!.hint).toBeUndefined();
  });
});

describe('limits', () => {
  // Proves an oversized file is refused before any parsing work.
  test('refuses a spec larger than the byte limit', () => {
    const text = `name: web\nimage: x\n# ${'x'.repeat(limits.specBytesMax)}\n`;
    expect(firstError(text)).toBe('spec_too_large  1:1');
  });

  // Proves the error list is capped and says how many errors it left out.
  test('caps the number of errors reported', () => {
    const keys = Array.from({ length: limits.specErrorsMax + 5 }, (_, i) => `bogus${i}: 1`);
    const errors = errorsOf(`name: web\nimage: x\n${keys.join('\n')}\n`);
    expect(errors).toHaveLength(limits.specErrorsMax + 1);
    expect(errors.at(-1)!.code).toBe('too_many_errors');
    expect(errors.at(-1)!.message).toBe('5 more error(s) not shown');
  });
});
