//! The float64 twin: the same tree the GPU code is generated from, evaluated in f64 with the
//! standard library's functions (written to be read, as every twin is).

use super::expr::{integer_exponent, pow_f64, Cond, Expr, Op};

/// The values a tree reads at one element.
///
/// ```
/// use gpu_loss::formula::{Env, Formula};
/// let f = Formula::parse("a * (x - y)^2")?; // `a`: the extra tensor's value
/// assert_eq!(f.eval(&Env { x: 2.0, y: 0.0, a: 0.5, p: &[] }), (2.0, 2.0));
/// # Ok::<(), gpu_loss::formula::FormulaError>(())
/// ```
pub struct Env<'a> {
    /// The prediction.
    pub x: f64,
    /// The target.
    pub y: f64,
    /// The extra tensor's value.
    pub a: f64,
    /// The parameters.
    pub p: &'a [f64],
}

pub fn eval(ex: &Expr, env: &Env<'_>) -> f64 {
    match ex {
        Expr::Num(v) => *v,
        Expr::X => env.x,
        Expr::Y => env.y,
        Expr::A => env.a,
        Expr::Param(i) => env.p.get(*i).copied().unwrap_or(f64::NAN),
        Expr::Neg(u) => -eval(u, env),
        Expr::Call(f, u) => f.eval(eval(u, env)),
        Expr::Select(c, s, t) => {
            if holds(c, env) {
                eval(s, env)
            } else {
                eval(t, env)
            }
        }
        Expr::Bin(op, u, v) => {
            let (a, b) = (eval(u, env), eval(v, env));
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                Op::Pow => pow_f64(a, b, integer_exponent(v)),
                // As WGSL's min and max on the GPU: NaN-free operands, so any tie rule agrees.
                Op::Min => a.min(b),
                Op::Max => a.max(b),
            }
        }
    }
}

pub fn holds(c: &Cond, env: &Env<'_>) -> bool {
    c.cmp.holds(eval(&c.a, env), eval(&c.b, env))
}
