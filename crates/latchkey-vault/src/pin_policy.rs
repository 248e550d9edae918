//! Which new PINs are accepted: enough possible values that an offline search of a copied key
//! file can't win in practice (the reasoning and the figures are in docs/SECURITY.md, "How long
//! a PIN must be").
//!
//! A PIN's *space* is the number of strings of its length over the character classes it uses
//! (digits 10, lower-case 26, upper-case 26, anything else 33): what a search of that shape must
//! try. A new PIN needs at least [`MIN_PIN_SPACE`] and [`MIN_DISTINCT`] different characters:
//! 12 digits, 9 letters, 8 characters of letters and digits, or 7 with a symbol. The rule bounds
//! a PIN chosen at random within its shape; a guessable one (a date, a phone number) is weaker
//! and the rule can't see that. Unlocking an existing vault still takes any PIN of
//! [`super::MIN_PIN_LEN`] characters or more: vaults set up before this rule keep opening.

/// The number of possible values a new PIN's shape must allow: 10¹².
pub const MIN_PIN_SPACE: f64 = 1e12;

/// Different characters a new PIN needs (refuses `111111111111` and `121212121212`).
pub const MIN_DISTINCT: usize = 4;

/// What the user is told when a new PIN is refused.
pub const NEW_PIN_RULE: &str = "a new PIN needs at least 12 digits, 9 letters, or 8 characters \
mixing letters and digits (a shorter one can be found by an offline search of a copied disk)";

/// log₁₀ of the PIN's space (see the module docs).
pub fn pin_space_log10(pin: &str) -> f64 {
    let has = |f: fn(&char) -> bool| pin.chars().any(|c| f(&c));
    let alphabet = [
        (has(char::is_ascii_digit), 10.0),
        (has(char::is_ascii_lowercase), 26.0),
        (has(char::is_ascii_uppercase), 26.0),
        (has(|c| !c.is_ascii_alphanumeric()), 33.0),
    ]
    .iter()
    .filter(|(used, _)| *used)
    .map(|(_, n)| n)
    .sum::<f64>();
    if alphabet == 0.0 {
        return 0.0;
    }
    pin.chars().count() as f64 * alphabet.log10()
}

/// Whether `pin` may be set as a new PIN.
pub fn new_pin_is_strong_enough(pin: &str) -> bool {
    let mut distinct: Vec<char> = pin.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    // A hair below 12 so that exactly 12 digits (log₁₀ = 12.0 in floating point) passes.
    distinct.len() >= MIN_DISTINCT && pin_space_log10(pin) >= MIN_PIN_SPACE.log10() - 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_named_in_the_rule_are_the_shortest_accepted() {
        for (shortest, one_less) in [
            ("246813579024", "24681357902"),
            ("abcdefghi", "abcdefgh"),
            ("abcd1234", "abc1234"),
            ("ab-1234", "ab-123"),
        ] {
            assert!(new_pin_is_strong_enough(shortest), "{shortest}");
            assert!(!new_pin_is_strong_enough(one_less), "{one_less}");
        }
    }

    #[test]
    fn a_long_pin_of_few_different_characters_is_refused() {
        assert!(!new_pin_is_strong_enough("111111111111111"));
        assert!(!new_pin_is_strong_enough("121212121212121"));
        assert!(new_pin_is_strong_enough("123412341234"));
    }
}
