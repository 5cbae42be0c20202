//! The expression tree, and constructors that simplify as they build: constants fold, zeros
//! and ones vanish, a select with equal branches is its branch. The parser, the derivative
//! and nothing else build trees, so every tree the code generator and the interpreter see is
//! simplified the same way.

/// The functions of the language (and `Sign`, which only derivatives use: |u|' = sign(u)·u').
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    Abs,
    Sqrt,
    Exp,
    Log,
    Log1p,
    Expm1,
    Sin,
    Cos,
    Tanh,
    Cosh,
    Sinh,
    Sigmoid,
    Softplus,
    Sign,
}

impl Func {
    /// The unary functions a formula may name (min, max, clamp, select are the parser's).
    pub const NAMED: [(&'static str, Func); 13] = [
        ("abs", Func::Abs),
        ("sqrt", Func::Sqrt),
        ("exp", Func::Exp),
        ("log", Func::Log),
        ("log1p", Func::Log1p),
        ("expm1", Func::Expm1),
        ("sin", Func::Sin),
        ("cos", Func::Cos),
        ("tanh", Func::Tanh),
        ("cosh", Func::Cosh),
        ("sinh", Func::Sinh),
        ("sigmoid", Func::Sigmoid),
        ("softplus", Func::Softplus),
    ];

    /// Its value in float64: the twin's definition.
    pub fn eval(self, u: f64) -> f64 {
        match self {
            Func::Abs => u.abs(),
            Func::Sqrt => u.sqrt(),
            Func::Exp => u.exp(),
            Func::Log => u.ln(),
            Func::Log1p => u.ln_1p(),
            Func::Expm1 => u.exp_m1(),
            Func::Sin => u.sin(),
            Func::Cos => u.cos(),
            Func::Tanh => u.tanh(),
            Func::Cosh => u.cosh(),
            Func::Sinh => u.sinh(),
            Func::Sigmoid => sigmoid(u),
            Func::Softplus => u.max(0.0) + (-u.abs()).exp().ln_1p(),
            Func::Sign => {
                if u > 0.0 {
                    1.0
                } else if u < 0.0 {
                    -1.0
                } else {
                    // NaN stays NaN, as WGSL's sign of NaN is not 0 on every driver.
                    u * 0.0
                }
            }
        }
    }
}

/// 1 / (1 + e^-u) without overflow in either tail.
fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let t = u.exp();
        t / (1.0 + t)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    /// u^v; see `pow` for what it means where u < 0.
    Pow,
    Min,
    Max,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }

    pub fn wgsl(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }
}

/// A select's condition: one comparison of two numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub cmp: Cmp,
    pub a: Expr,
    pub b: Expr,
}

/// A number-valued expression of x (input), y (target), a (the extra tensor) and the
/// parameters (by index: p.x, p.y, p.z, p.w in WGSL).
///
/// ```
/// let f = gpu_loss::formula::Formula::parse("3 * (x - y)")?;
/// assert_eq!(f.grad.num(), Some(3.0)); // the derivative, simplified as it is built
/// # Ok::<(), gpu_loss::formula::FormulaError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64),
    /// The prediction `x`.
    X,
    /// The target `y`.
    Y,
    /// The extra tensor's value `a`.
    A,
    /// A parameter, by index.
    Param(usize),
    /// Negation.
    Neg(Box<Expr>),
    /// A binary operation.
    Bin(Op, Box<Expr>, Box<Expr>),
    /// A function of one argument.
    Call(Func, Box<Expr>),
    /// select(cond, then, otherwise): `then` where cond holds.
    Select(Box<Cond>, Box<Expr>, Box<Expr>),
}

use Expr::Num;

impl Expr {
    /// Its value, if it is a number.
    ///
    /// ```
    /// let f = gpu_loss::formula::Formula::parse("(2 + 3) * (x - y)")?;
    /// assert_eq!((f.value.num(), f.grad.num()), (None, Some(5.0))); // 2 + 3 folds
    /// # Ok::<(), gpu_loss::formula::FormulaError>(())
    /// ```
    pub fn num(&self) -> Option<f64> {
        match self {
            Num(v) => Some(*v),
            _ => None,
        }
    }

    fn is(&self, v: f64) -> bool {
        self.num() == Some(v)
    }

    /// Whether x appears in it (a derivative of what does not is 0).
    ///
    /// ```
    /// let f = gpu_loss::formula::Formula::parse("(x - y)^2")?;
    /// assert!(f.value.has_x() && f.grad.has_x());
    /// assert!(!gpu_loss::formula::Formula::parse("x - y")?.grad.has_x()); // d/dx = 1
    /// # Ok::<(), gpu_loss::formula::FormulaError>(())
    /// ```
    pub fn has_x(&self) -> bool {
        match self {
            Expr::X => true,
            Num(_) | Expr::Y | Expr::A | Expr::Param(_) => false,
            Expr::Neg(u) | Expr::Call(_, u) => u.has_x(),
            Expr::Bin(_, u, v) => u.has_x() || v.has_x(),
            Expr::Select(c, u, v) => c.a.has_x() || c.b.has_x() || u.has_x() || v.has_x(),
        }
    }

    /// Nodes in the tree (bounds what a formula may grow to).
    ///
    /// ```
    /// // x − y: a subtraction and its two leaves.
    /// assert_eq!(gpu_loss::formula::Formula::parse("x - y")?.value.size(), 3);
    /// # Ok::<(), gpu_loss::formula::FormulaError>(())
    /// ```
    pub fn size(&self) -> usize {
        1 + match self {
            Num(_) | Expr::X | Expr::Y | Expr::A | Expr::Param(_) => 0,
            Expr::Neg(u) | Expr::Call(_, u) => u.size(),
            Expr::Bin(_, u, v) => u.size() + v.size(),
            Expr::Select(c, u, v) => c.a.size() + c.b.size() + u.size() + v.size(),
        }
    }
}

/// u^v in float64 as the GPU computes it: an integer constant exponent by multiplication
/// (any u), otherwise only for u >= 0 (0^v = 0 for v > 0, u^0 = 1) and NaN for u < 0.
pub fn pow_f64(u: f64, v: f64, integer_exponent: bool) -> f64 {
    if integer_exponent {
        u.powi(v as i32)
    } else if v == 0.0 {
        1.0
    } else if u == 0.0 && v > 0.0 {
        0.0
    } else if u < 0.0 {
        f64::NAN
    } else {
        u.powf(v)
    }
}

/// Integer exponents up to this are multiplications on the GPU (exact to an ulp per step).
pub const MAX_INT_EXPONENT: f64 = 64.0;

/// Whether `v` is an exponent the GPU raises to by multiplication.
pub fn integer_exponent(v: &Expr) -> bool {
    v.num()
        .is_some_and(|n| n.fract() == 0.0 && n.abs() <= MAX_INT_EXPONENT)
}

fn fold(op: Op, a: f64, b: f64) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
        Op::Pow => pow_f64(a, b, b.fract() == 0.0 && b.abs() <= MAX_INT_EXPONENT),
        Op::Min => {
            if a < b {
                a
            } else {
                b
            }
        }
        Op::Max => {
            if a > b {
                a
            } else {
                b
            }
        }
    }
}

pub fn neg(u: Expr) -> Expr {
    match u {
        Num(v) => Num(-v),
        Expr::Neg(inner) => *inner,
        u => Expr::Neg(Box::new(u)),
    }
}

pub fn bin(op: Op, u: Expr, v: Expr) -> Expr {
    // Constants fold whatever they give (inf, NaN too): WGSL would evaluate an operation on
    // constants at compile time and refuse a non-finite result.
    if let (Some(a), Some(b)) = (u.num(), v.num()) {
        return Num(fold(op, a, b));
    }
    match op {
        Op::Add if u.is(0.0) => v,
        Op::Add | Op::Sub if v.is(0.0) => u,
        Op::Add => match v {
            Expr::Neg(w) => bin(Op::Sub, u, *w),
            v => Expr::Bin(op, Box::new(u), Box::new(v)),
        },
        Op::Sub if u.is(0.0) => neg(v),
        Op::Sub if u == v => Num(0.0),
        Op::Sub => match v {
            Expr::Neg(w) => bin(Op::Add, u, *w),
            v => Expr::Bin(op, Box::new(u), Box::new(v)),
        },
        // 0·u is 0 even where u is infinite: the derivative of a term that does not depend
        // on x vanishes, whatever the term is.
        Op::Mul if u.is(0.0) || v.is(0.0) => Num(0.0),
        Op::Mul if u.is(1.0) => v,
        Op::Mul if v.is(1.0) => u,
        Op::Mul if u.is(-1.0) => neg(v),
        Op::Mul if v.is(-1.0) => neg(u),
        Op::Mul => match (u, v) {
            (Expr::Neg(a), Expr::Neg(b)) => bin(Op::Mul, *a, *b),
            (Expr::Neg(a), b) | (b, Expr::Neg(a)) => neg(bin(Op::Mul, *a, b)),
            // Constants first, folded together: 2·(3·u) = 6·u.
            (a, Expr::Bin(Op::Mul, b, c)) if a.num().is_some() && b.num().is_some() => {
                bin(Op::Mul, bin(Op::Mul, a, *b), *c)
            }
            (a, b) if b.num().is_some() => bin(Op::Mul, b, a),
            (a, b) => Expr::Bin(op, Box::new(a), Box::new(b)),
        },
        Op::Div if u.is(0.0) => Num(0.0),
        Op::Div if v.is(1.0) => u,
        Op::Div => match (u, v) {
            (Expr::Neg(a), b) => neg(bin(Op::Div, *a, b)),
            (a, b) => Expr::Bin(op, Box::new(a), Box::new(b)),
        },
        Op::Pow if v.is(1.0) => u,
        Op::Pow if v.is(0.0) => Num(1.0),
        Op::Min | Op::Max if u == v => u,
        _ => Expr::Bin(op, Box::new(u), Box::new(v)),
    }
}

pub fn add(u: Expr, v: Expr) -> Expr {
    bin(Op::Add, u, v)
}
pub fn sub(u: Expr, v: Expr) -> Expr {
    bin(Op::Sub, u, v)
}
pub fn mul(u: Expr, v: Expr) -> Expr {
    bin(Op::Mul, u, v)
}
pub fn div(u: Expr, v: Expr) -> Expr {
    bin(Op::Div, u, v)
}
pub fn pow(u: Expr, v: Expr) -> Expr {
    bin(Op::Pow, u, v)
}

pub fn call(f: Func, u: Expr) -> Expr {
    if let Some(v) = u.num() {
        return Num(f.eval(v));
    }
    Expr::Call(f, Box::new(u))
}

pub fn select(c: Cond, then: Expr, otherwise: Expr) -> Expr {
    if let (Some(a), Some(b)) = (c.a.num(), c.b.num()) {
        return if c.cmp.holds(a, b) { then } else { otherwise };
    }
    if then == otherwise {
        return then;
    }
    Expr::Select(Box::new(c), Box::new(then), Box::new(otherwise))
}
