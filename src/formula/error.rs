//! The language's limits and its error (the leaf every other piece of `formula` uses).

use std::fmt;

/// Parameters travel in the kernel's one vec4 of parameters.
pub const MAX_PARAMS: usize = 4;
/// Operations a formula may build (definitions counted where used).
pub const MAX_NODES: usize = 1000;
/// Operations its derivative may grow to.
pub const MAX_DERIVATIVE_NODES: usize = 1_000_000;
/// Characters a formula may have.
pub const MAX_LEN: usize = 10_000;

/// A formula that cannot be a loss: where (column, 1-based) and why.
///
/// ```
/// let e = gpu_loss::formula::Formula::parse("(x - y)^2 + foo(x)").unwrap_err();
/// assert_eq!(e.to_string(), format!("column {}: {}", e.column, e.message));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormulaError {
    /// The column (in characters) where it went wrong.
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

impl FormulaError {
    pub(crate) fn new(column: usize, message: String) -> FormulaError {
        FormulaError { column, message }
    }
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for FormulaError {}
