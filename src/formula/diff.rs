//! The derivative with respect to x, by the rules of calculus on the tree, simplified as it is
//! built. Where a function has a kink the derivative takes one side, as the built-in losses
//! do (README, "Custom losses"):
//! - |u|' = sign(u)·u', so 0 at u = 0 (mae);
//! - max(u, v)' = u' where u > v, else v'; min(u, v)' = u' where u < v, else v': at a tie
//!   the second argument's (max(1 - x·y, 0) has slope 0 at its kink, as hinge);
//! - select(c, s, t)' = select(c, s', t'): the branch's own (huber at |e| = delta).

use super::expr::{self as e, integer_exponent, Cond, Expr, Func, Op};

pub fn d(ex: &Expr) -> Expr {
    if !ex.has_x() {
        return Expr::Num(0.0);
    }
    match ex {
        Expr::X => Expr::Num(1.0),
        Expr::Num(_) | Expr::Y | Expr::A | Expr::Param(_) => Expr::Num(0.0),
        Expr::Neg(u) => e::neg(d(u)),
        Expr::Bin(op, u, v) => bin(*op, u, v),
        Expr::Call(f, u) => e::mul(slope(*f, u), d(u)),
        Expr::Select(c, s, t) => e::select((**c).clone(), d(s), d(t)),
    }
}

fn bin(op: Op, u: &Expr, v: &Expr) -> Expr {
    let (du, dv) = (d(u), d(v));
    let (u, v) = (u.clone(), v.clone());
    match op {
        Op::Add => e::add(du, dv),
        Op::Sub => e::sub(du, dv),
        Op::Mul => e::add(e::mul(du, v), e::mul(u, dv)),
        // u'/v − u·v'/v², which is u'/v when v does not depend on x.
        Op::Div => e::sub(
            e::div(du, v.clone()),
            e::div(e::mul(u, dv), e::mul(v.clone(), v)),
        ),
        Op::Pow if !v.has_x() => {
            // v·u^(v−1)·u'; an integer exponent stays one (u^(n−1) by multiplication).
            let lower = match v.num() {
                Some(n) if integer_exponent(&v) => Expr::Num(n - 1.0),
                _ => e::sub(v.clone(), Expr::Num(1.0)),
            };
            e::mul(e::mul(v, e::pow(u, lower)), du)
        }
        // (u^v)' = u^v·(v'·log u + v·u'/u)
        Op::Pow => e::mul(
            e::pow(u.clone(), v.clone()),
            e::add(
                e::mul(dv, e::call(Func::Log, u.clone())),
                e::div(e::mul(v, du), u),
            ),
        ),
        Op::Max | Op::Min => {
            let cmp = if op == Op::Max {
                super::expr::Cmp::Gt
            } else {
                super::expr::Cmp::Lt
            };
            e::select(Cond { cmp, a: u, b: v }, du, dv)
        }
    }
}

/// f'(u).
fn slope(f: Func, u: &Expr) -> Expr {
    let u = u.clone();
    let two = || Expr::Num(2.0);
    match f {
        Func::Abs => e::call(Func::Sign, u),
        Func::Sqrt => e::div(Expr::Num(1.0), e::mul(two(), e::call(Func::Sqrt, u))),
        Func::Exp | Func::Expm1 => e::call(Func::Exp, u),
        Func::Log => e::div(Expr::Num(1.0), u),
        Func::Log1p => e::div(Expr::Num(1.0), e::add(Expr::Num(1.0), u)),
        Func::Sin => e::call(Func::Cos, u),
        Func::Cos => e::neg(e::call(Func::Sin, u)),
        Func::Tanh => {
            let t = e::call(Func::Tanh, u);
            e::sub(Expr::Num(1.0), e::mul(t.clone(), t))
        }
        Func::Cosh => e::call(Func::Sinh, u),
        Func::Sinh => e::call(Func::Cosh, u),
        // σ(u)·σ(−u): neither factor is formed as 1 − σ, which cancels in a tail.
        Func::Sigmoid => e::mul(
            e::call(Func::Sigmoid, u.clone()),
            e::call(Func::Sigmoid, e::neg(u)),
        ),
        Func::Softplus => e::call(Func::Sigmoid, u),
        // Only derivatives hold sign, and no derivative is taken twice.
        Func::Sign => Expr::Num(0.0),
    }
}
