// Version constraints as intervals, and module source classification: tables of the cases that matter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyModuleSource } from '../../src/guard/module-rules.ts';
import { intersect, isWithin, parseConstraint } from '../../src/guard/version-constraint.ts';

// [what the pull request asks for, what the runner allows, inside?]
const WITHIN: Array<[string, string, boolean]> = [
  ['~> 5.30', '~> 5.0', true],
  ['5.31.0', '~> 5.0', true],
  ['>= 5.1, < 5.9', '~> 5.0', true],
  ['~> 5.0', '~> 5.0', true],
  ['>= 4.0', '~> 5.0', false],
  ['~> 6.0', '~> 5.0', false],
  ['~> 5', '~> 5.0', false], // "~> 5" is ">= 5.0.0": only the major is named, so it may grow
  ['>= 5.0', '>= 5.0, != 5.3.0', false],
  ['>= 5.0, != 5.3.0', '>= 5.0, != 5.3.0', true],
  ['~> 5.2.0', '>= 5.0, != 5.3.0', true],
  ['= 1.2.3', '1.2.3', true],
  ['1.2.4', '1.2.3', false],
  ['> 5.0.0', '>= 5.0.0', true],
  ['>= 5.0.0', '> 5.0.0', false],
  ['< 2.0', '< 2.0.0', true],
  ['<= 2.0', '< 2.0.0', false],
];

describe('version constraints', () => {
  for (const [asked, allowed, inside] of WITHIN) {
    it(`${JSON.stringify(asked)} ${inside ? 'is' : 'is not'} within ${JSON.stringify(allowed)}`, () => {
      assert.equal(isWithin(parseConstraint(asked), parseConstraint(allowed)), inside);
    });
  }

  it('constraints from several modules intersect', () => {
    const both = intersect(parseConstraint('>= 5.0'), parseConstraint('< 5.5'));
    assert.equal(isWithin(both, parseConstraint('~> 5.0')), true);
    assert.equal(isWithin(parseConstraint('>= 5.0'), parseConstraint('~> 5.0')), false);
  });

  for (const bad of ['', 'latest', '>= 1.0.0-beta', '~>', '1.2.3.4', '>= 1,']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseConstraint(bad)));
  }
});

describe('module sources', () => {
  const H = 'registry.terraform.io';
  const rows: Array<[string, ReturnType<typeof classifyModuleSource>]> = [
    ['./modules/x', { kind: 'local', path: './modules/x' }],
    ['terraform-aws-modules/vpc/aws', { kind: 'registry', address: `${H}/terraform-aws-modules/vpc/aws` }],
    ['app.terraform.io/acme/vpc/aws//sub', { kind: 'registry', address: 'app.terraform.io/acme/vpc/aws' }],
    [`git::https://git.example/a/b.git//dns?ref=${'c'.repeat(40)}`, { kind: 'git', address: 'git::https://git.example/a/b.git', ref: 'c'.repeat(40), query: ['ref'] }],
    ['github.com/org/repo?ref=main', { kind: 'git', address: 'git::https://github.com/org/repo', ref: 'main', query: ['ref'] }],
    ['git@github.com:org/repo.git?ref=v1&sshkey=abc', { kind: 'git', address: 'git::git@github.com:org/repo.git', ref: 'v1', query: ['ref', 'sshkey'] }],
    ['https://example.com/module.zip', { kind: 'other', address: 'https://example.com/module.zip' }],
    ['s3::https://s3.amazonaws.com/bucket/x.zip', { kind: 'other', address: 's3::https://s3.amazonaws.com/bucket/x.zip' }],
  ];
  for (const [source, expected] of rows) {
    it(source, () => assert.deepEqual(classifyModuleSource(source, H), expected));
  }
});
