//! Custom elementwise losses written as formulas: `log(1 + (x - y)^2)` becomes a tree
//! (`parse`), its derivative in x (`diff`), the WGSL `loss_fn` the elementwise kernel calls
//! (`wgsl`) and a float64 interpreter of the same trees (`eval`), the twin. The language:
//!
//! - `x` (input), `y` (target), `a` (the extra tensor), `pi`, numbers (`2`, `0.5`, `1e-3`);
//! - `+ - * / ^` (`^` binds tightest and to the right: `-x^2` is `-(x^2)`);
//! - `abs sqrt exp log log1p expm1 sin cos tanh cosh sinh sigmoid softplus` (one argument),
//!   `min max` (two), `clamp(u, lo, hi)`, `select(cond, then, otherwise)` with `cond` one
//!   comparison `< <= > >= == !=`;
//! - declarations before the loss, each ending in `;`: `delta = 1.0;` a parameter and its
//!   default (a declaration whose value is a constant; at most four), `a = 1;` the extra
//!   tensor's value where none is given (without it a formula that reads `a` requires one),
//!   `e = x - y;` a definition used by name after it.
//!
//! This module depends on nothing else of the crate; the catalogue builds entries from it.

mod diff;
mod error;
mod eval;
mod expr;
mod lex;
mod parse;
mod wgsl;

pub use error::{FormulaError, MAX_DERIVATIVE_NODES, MAX_LEN, MAX_NODES, MAX_PARAMS};
pub use eval::Env;
pub use expr::Expr;
pub use parse::functions;
pub use wgsl::FN_NAME;

/// A parsed formula: its parameters, the extra tensor's use, the loss and its derivative.
///
/// ```
/// use gpu_loss::formula::Formula;
/// let f = Formula::parse("delta = 1.0; delta * (x - y)^2")?;
/// assert_eq!(f.params, [("delta".to_string(), 1.0)]); // read as p.x
/// assert!(!f.uses_aux);
/// # Ok::<(), gpu_loss::formula::FormulaError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Formula {
    /// (name, default), in the order p.x, p.y, p.z, p.w.
    pub params: Vec<(String, f64)>,
    /// Whether the loss reads `a`.
    pub uses_aux: bool,
    /// `a`'s value where no tensor is given (None: one is required when `a` is read).
    pub aux_default: Option<f64>,
    /// The loss's expression.
    pub value: Expr,
    /// d value / d x.
    pub grad: Expr,
}

impl Formula {
    /// Parses a formula, or says where and why it cannot.
    ///
    /// ```
    /// use gpu_loss::formula::Formula;
    /// assert!(Formula::parse("log(1 + (x - y)^2)").is_ok());
    /// let e = Formula::parse("(x - y)^2 +").unwrap_err();
    /// println!("column {}: {}", e.column, e.message); // where and why
    /// assert!(e.column > 1);
    /// ```
    pub fn parse(text: &str) -> Result<Formula, FormulaError> {
        if text.chars().count() > MAX_LEN {
            return Err(FormulaError::new(
                MAX_LEN + 1,
                format!("a formula has at most {MAX_LEN} characters"),
            ));
        }
        let p = parse::parse(text)?;
        let grad = diff::d(&p.body);
        if grad.size() > MAX_DERIVATIVE_NODES {
            return Err(FormulaError::new(
                1,
                format!("its derivative grows past {MAX_DERIVATIVE_NODES} operations"),
            ));
        }
        Ok(Formula {
            params: p.params,
            uses_aux: reads_aux(&p.body),
            aux_default: p.aux_default,
            value: p.body,
            grad,
        })
    }

    /// The WGSL function `custom_loss(x, y, a, p) -> Pair` (see `FN_NAME`).
    ///
    /// ```
    /// let f = gpu_loss::formula::Formula::parse("(x - y)^2")?;
    /// assert!(f.wgsl().contains(&format!("fn {}(", gpu_loss::formula::FN_NAME)));
    /// # Ok::<(), gpu_loss::formula::FormulaError>(())
    /// ```
    pub fn wgsl(&self) -> String {
        wgsl::function(&self.value, &self.grad)
    }

    /// The twin: value and derivative at one element, in float64.
    ///
    /// ```
    /// use gpu_loss::formula::{Env, Formula};
    /// let f = Formula::parse("delta = 1.0; delta * (x - y)^2")?;
    /// // delta = 2, e = 2: (2e², 4e)
    /// assert_eq!(f.eval(&Env { x: 3.0, y: 1.0, a: 0.0, p: &[2.0] }), (8.0, 8.0));
    /// # Ok::<(), gpu_loss::formula::FormulaError>(())
    /// ```
    pub fn eval(&self, env: &Env<'_>) -> (f64, f64) {
        (eval::eval(&self.value, env), eval::eval(&self.grad, env))
    }
}

fn reads_aux(e: &Expr) -> bool {
    match e {
        Expr::A => true,
        Expr::Num(_) | Expr::X | Expr::Y | Expr::Param(_) => false,
        Expr::Neg(u) | Expr::Call(_, u) => reads_aux(u),
        Expr::Bin(_, u, v) => reads_aux(u) || reads_aux(v),
        Expr::Select(c, u, v) => reads_aux(&c.a) || reads_aux(&c.b) || reads_aux(u) || reads_aux(v),
    }
}

#[cfg(test)]
mod tests;
