// The files a studio reads before adopting the package: the licence matches
// what package.json declares, and the changelog has a section for the
// version being worked on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { license: string; version: string };

/** The first lines of each licence text package.json may name. */
const LICENSE_HEADS = { 'Apache-2.0': /^\s*Apache License\s+Version 2\.0, January 2004/ } as const;

test('LICENSE is the full text of the licence package.json declares', () => {
  const head = LICENSE_HEADS[pkg.license as keyof typeof LICENSE_HEADS];
  assert.ok(head, `package.json license ${pkg.license} has no known text here`);
  const text = readFileSync(new URL('LICENSE', root), 'utf8');
  assert.match(text, head);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
});

test('CHANGELOG.md has an Unreleased section and one for the package version', () => {
  const text = readFileSync(new URL('CHANGELOG.md', root), 'utf8');
  assert.match(text, /^## \[Unreleased\]$/m);
  assert.match(text, new RegExp(`^## \\[${pkg.version.replace(/\./g, '\\.')}\\]`, 'm'));
});
