//! Measuring a candidate password: its zxcvbn strength score and whether
//! it is on the list of common and breached passwords.
//!
//! The list is the one zxcvbn ships (and so the binary): the 30,000 most
//! frequent passwords of public breach corpora, ranked. A password is
//! "common" when one entry of that list, possibly with leet substitutions,
//! reversed, or capitalised, makes up the whole of it: `P@ssw0rd` is on
//! the list, `correct-horse-battery-staple` is not.

use zxcvbn::matching::patterns::MatchPattern;

/// Longest password measured in full: zxcvbn's cost grows with length, and
/// a longer password is not common and is as strong as a score goes.
const MEASURED_CHARS: usize = 100;

/// Strength (0 to 4) and membership of the common-password list.
pub fn measure(password: &str, user_inputs: &[&str]) -> (u8, bool) {
    if password.chars().count() > MEASURED_CHARS {
        return (4, false);
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    let score = u8::from(entropy.score());
    let length = password.chars().count();
    let common = entropy.sequence().iter().any(|m| {
        m.i == 0
            && m.j + 1 == length
            && matches!(
                &m.pattern,
                MatchPattern::Dictionary(d) if is_password_list(d)
            )
    });
    (score, common)
}

/// zxcvbn does not export its dictionary type; its default variant is the
/// password list.
#[allow(
    clippy::default_trait_access,
    reason = "the type cannot be named outside zxcvbn"
)]
fn is_password_list(pattern: &zxcvbn::matching::patterns::DictionaryPattern) -> bool {
    pattern.dictionary_name == Default::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_recognised_whole() {
        assert!(measure("password", &[]).1);
        assert!(measure("P@ssw0rd", &[]).1);
        assert!(measure("trustno1", &[]).1);
        assert!(!measure("correct-horse-battery-staple", &[]).1);
        assert!(!measure("mY-b1cycle-is-Ochre-42", &[]).1);
    }

    #[test]
    fn scores() {
        assert_eq!(measure("password", &[]).0, 0);
        assert!(measure("correct-horse-battery-staple-91", &[]).0 >= 3);
        assert_eq!(measure(&"x".repeat(300), &[]), (4, false));
    }
}
