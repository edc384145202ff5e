// The page's language-matching rule (web/static/protocol.js) against the shared vectors, with
// the tables the server serves. Run by tests/unit/test_language_matching.py, which writes the
// tables to $LANGUAGE_TABLES; $LANGUAGE_VECTORS is tests/data/language_matching.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';

import { Protocol, matches } from '../../web/static/protocol.js';

const tables = JSON.parse(readFileSync(process.env.LANGUAGE_TABLES, 'utf8'));
const { pairs } = JSON.parse(readFileSync(process.env.LANGUAGE_VECTORS, 'utf8'));

for (const [a, b, expected] of pairs) {
  test(`${a} ~ ${b} is ${expected}`, () => {
    assert.equal(matches(a, b, tables), expected);
    assert.equal(matches(b, a, tables), expected);
  });
}

test('the protocol object applies the same rule; nothing matches an empty code', () => {
  const protocol = new Protocol({ language_matching: tables, room_name: {} });
  for (const [a, b, expected] of pairs) assert.equal(protocol.matches(a, b), expected);
  assert.equal(matches('', 'en', tables), false);
  assert.equal(matches('en', null, tables), false);
});
