import { describe, expect, test } from 'vitest';

import { newPinIsStrongEnough } from './pinRule';

describe('the new-PIN rule mirrors Rust', () => {
  test('the shapes named in the rule are the shortest accepted', () => {
    for (const [shortest, oneLess] of [
      ['246813579024', '24681357902'],
      ['abcdefghi', 'abcdefgh'],
      ['abcd1234', 'abc1234'],
      ['ab-1234', 'ab-123'],
    ]) {
      expect(newPinIsStrongEnough(shortest)).toBe(true);
      expect(newPinIsStrongEnough(oneLess)).toBe(false);
    }
  });

  test('a long PIN of few different characters is refused', () => {
    expect(newPinIsStrongEnough('111111111111111')).toBe(false);
    expect(newPinIsStrongEnough('121212121212121')).toBe(false);
    expect(newPinIsStrongEnough('123412341234')).toBe(true);
  });
});
