//! Keeping secrets out of `Debug` output, and so out of logs, errors and
//! panics: a type that holds a hash, a key or a credential prints only the
//! fields named as safe to show.

/// `Debug` for a type that holds a secret: the type's name, then only the
/// fields named, then `..` for the rest (which are never printed).
///
/// ```
/// struct Token {
///     id: u32,
///     hash: [u8; 32],
/// }
/// rempart_model::debug_fields!(Token { id });
///
/// let token = Token { id: 7, hash: [0; 32] };
/// assert_eq!(format!("{token:?}"), "Token { id: 7, .. }");
/// # let _ = token.hash;
/// ```
#[macro_export]
macro_rules! debug_fields {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}
