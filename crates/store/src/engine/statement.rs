//! A statement as the domains write it: SQL text and its parameters,
//! engine-neutral.
//!
//! Parameters are numbered `$1`, `$2`, … on both engines. A statement is
//! either a constant (`Stmt::new(CONST).bind(a).bind(b)`) or built
//! (`push` text, `push_bind` a value: the placeholder is numbered for it).
//! Values are plain Rust types; [`Db`](super::Db) binds them with the same
//! sqlx types as before on each engine.

use std::borrow::Cow;
use std::fmt::Write as _;

use uuid::Uuid;

/// One bound value. A `None` binds a NULL of the variant's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param<'a> {
    Bool(Option<bool>),
    I32(Option<i32>),
    I64(Option<i64>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<Cow<'a, [u8]>>),
    Uuid(Option<Uuid>),
}

/// SQL text and its parameters, in order.
#[derive(Debug, Clone)]
#[must_use = "a statement does nothing until it is run"]
pub struct Stmt<'a> {
    sql: Cow<'static, str>,
    params: Vec<Param<'a>>,
    invalidates_auth: bool,
}

impl<'a> Stmt<'a> {
    /// A statement with this text; parameters follow with [`Stmt::bind`].
    pub fn new(sql: &'static str) -> Self {
        Self {
            sql: Cow::Borrowed(sql),
            params: Vec::new(),
            invalidates_auth: false,
        }
    }

    /// Binds the next `$n` of the text.
    pub fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Appends SQL text (never a value: values go through `push_bind`).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.to_mut().push_str(sql);
        self
    }

    /// Appends a placeholder for `value` and binds it.
    pub fn push_bind(&mut self, value: impl Into<Param<'a>>) -> &mut Self {
        self.params.push(value.into());
        let n = self.params.len();
        // Writing to a `String` cannot fail.
        let _ = write!(self.sql.to_mut(), "${n}");
        self
    }

    /// Appends `value, value, …`: one placeholder per value.
    pub fn push_list<P: Into<Param<'a>>>(&mut self, values: impl IntoIterator<Item = P>) {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
    }

    /// Appends `(value, value, …)`: a row of a multi-row `VALUES`.
    pub fn push_tuple<P: Into<Param<'a>>>(&mut self, values: impl IntoIterator<Item = P>) {
        self.push("(");
        self.push_list(values);
        self.push(")");
    }

    /// Marks a change that can end or narrow what a cached authentication
    /// holds: the transaction that runs it moves the auth epoch when it
    /// commits (see [`EngineTx::commit`](super::EngineTx::commit)).
    pub fn invalidates_auth(mut self) -> Self {
        self.invalidates_auth = true;
        self
    }

    pub(crate) fn invalidates_auth_flag(&self) -> bool {
        self.invalidates_auth
    }

    pub(crate) fn into_parts(self) -> (Cow<'static, str>, Vec<Param<'a>>) {
        (self.sql, self.params)
    }
}

/// A value binds as its column type, and its `Option` as the same type
/// (`None`: NULL).
macro_rules! bind_as {
    ($($ty:ty => $variant:ident),+ $(,)?) => {$(
        impl From<$ty> for Param<'_> {
            fn from(v: $ty) -> Self {
                Self::$variant(Some(v))
            }
        }

        impl From<Option<$ty>> for Param<'_> {
            fn from(v: Option<$ty>) -> Self {
                Self::$variant(v)
            }
        }
    )+};
}

bind_as!(bool => Bool, i32 => I32, i64 => I64, Uuid => Uuid);

impl From<String> for Param<'_> {
    fn from(v: String) -> Self {
        Self::Text(Some(Cow::Owned(v)))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(v: Option<String>) -> Self {
        Self::Text(v.map(Cow::Owned))
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Self::Text(v.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Bytes(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<Option<&'a [u8]>> for Param<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Self::Bytes(v.map(Cow::Borrowed))
    }
}

#[cfg(test)]
mod tests {
    use super::{Param, Stmt};

    #[test]
    fn built_statements_number_their_placeholders() {
        let mut stmt = Stmt::new("SELECT x FROM t WHERE a = $1").bind(7_i64);
        stmt.push(" AND b IN (");
        stmt.push_list(["p", "q"]);
        stmt.push(")");
        let (sql, params) = stmt.into_parts();
        assert_eq!(sql, "SELECT x FROM t WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(params.len(), 3);
        assert_eq!(params.get(2), Some(&Param::from("q")));
    }
}
