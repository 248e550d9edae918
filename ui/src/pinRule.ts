/**
 * The new-PIN rule, mirrored from Rust (`crates/latchkey-vault/src/pin_policy.rs`) so the
 * form can say what's wrong before a sign-in starts. A convenience only: Rust enforces it.
 */

/** What Rust says when it refuses a new PIN (`NEW_PIN_RULE`). */
export const NEW_PIN_RULE =
  'a new PIN needs at least 12 digits, 9 letters, or 8 characters mixing letters and digits ' +
  '(a shorter one can be found by an offline search of a copied disk)';

/** log10 of the number of strings of this PIN's length over the character classes it uses. */
export function pinSpaceLog10(pin: string): number {
  const chars = [...pin];
  const classes: [boolean, number][] = [
    [chars.some((c) => c >= '0' && c <= '9'), 10],
    [chars.some((c) => c >= 'a' && c <= 'z'), 26],
    [chars.some((c) => c >= 'A' && c <= 'Z'), 26],
    [chars.some((c) => !/^[0-9A-Za-z]$/.test(c)), 33],
  ];
  const alphabet = classes.filter(([used]) => used).reduce((n, [, size]) => n + size, 0);
  return alphabet === 0 ? 0 : chars.length * Math.log10(alphabet);
}

/** Whether `pin` may be set as a new PIN: 10^12 values for its shape, 4 different characters. */
export function newPinIsStrongEnough(pin: string): boolean {
  return new Set(pin).size >= 4 && pinSpaceLog10(pin) >= 12 - 1e-9;
}
