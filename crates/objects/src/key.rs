//! Object keys, validated before any I/O: a key names one object and can
//! never climb out of the storage root or collide with the local backend's
//! temporary files.

use std::fmt;
use std::str::FromStr;

use object_store::path::Path;

use crate::error::ObjectError;

/// The longest key, in bytes (S3's limit).
pub const MAX_KEY_LEN: usize = 1024;

/// A valid object key: `/`-separated segments of ASCII letters, digits,
/// `-`, `_` and `.`; no empty segment (so no leading, trailing or doubled
/// `/`), no `.` or `..` segment, at most [`MAX_KEY_LEN`] bytes.
///
/// The character set is narrow on purpose: every provider stores such a
/// key unchanged (no percent-encoding, no case folding), and the local
/// backend's temporary files (`name#1`) cannot be named by one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    pub fn new(key: impl Into<String>) -> Result<Self, ObjectError> {
        let key = key.into();
        match problem(&key) {
            None => Ok(Self(key)),
            Some(reason) => Err(ObjectError::InvalidKey {
                key: shown(&key),
                reason,
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as an `object_store` path (the same text).
    pub(crate) fn path(&self) -> Path {
        self.0.split('/').collect()
    }

    /// The key a store path names, if it is a valid key (a list can meet
    /// objects that Rempart did not write).
    pub(crate) fn from_path(path: &Path) -> Result<Self, ObjectError> {
        Self::new(path.as_ref())
    }
}

/// What is wrong with `key`, if anything.
fn problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("it is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Some("it is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Some("it starts with '/'");
    }
    if key.ends_with('/') {
        return Some("it ends with '/'");
    }
    for segment in key.split('/') {
        match segment {
            "" => return Some("it has an empty segment ('//')"),
            "." | ".." => return Some("it has a '.' or '..' segment"),
            _ => {}
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Some(
                "it holds a character other than ASCII letters, digits, '-', '_', '.' and '/'",
            );
        }
    }
    None
}

/// A refused key as an error shows it: escaped, and cut short.
fn shown(key: &str) -> String {
    const SHOWN: usize = 80;
    let mut shown: String = key
        .chars()
        .take(SHOWN)
        .collect::<String>()
        .escape_debug()
        .collect();
    if key.chars().count() > SHOWN {
        shown.push('…');
    }
    shown
}

impl FromStr for ObjectKey {
    type Err = ObjectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_its_path() {
        let key = ObjectKey::new("tenant-1/attachments/0190.a_b").unwrap();
        assert_eq!(key.path().as_ref(), "tenant-1/attachments/0190.a_b");
        assert_eq!(ObjectKey::from_path(&key.path()).unwrap(), key);
    }

    #[test]
    fn the_longest_key_is_accepted_and_one_more_byte_refused() {
        let longest = "a".repeat(MAX_KEY_LEN);
        assert!(ObjectKey::new(longest.clone()).is_ok());
        assert!(ObjectKey::new(longest + "a").is_err());
    }

    #[test]
    fn a_refused_key_is_shown_escaped_and_short() {
        let Err(ObjectError::InvalidKey { key, .. }) =
            ObjectKey::new(format!("a\n{}", "b".repeat(500)))
        else {
            panic!("accepted");
        };
        assert!(key.starts_with("a\\nbbb"));
        assert!(key.ends_with('…'));
        assert!(key.len() < 100);
    }
}
