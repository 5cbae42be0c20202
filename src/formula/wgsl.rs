//! WGSL for a tree: one `let` per distinct operation (a subexpression the value and the
//! derivative share is computed once), constants as VT literals, parameters as p.x..p.w.
//! Nothing of the formula's text reaches the shader: only the tree's operators, numbers
//! printed from f32 and names generated here.

use super::expr::{integer_exponent, Cond, Expr, Func, Op};
use std::collections::HashMap;
use std::fmt::Write;

/// The function the elementwise template calls through `loss_fn`.
pub const FN_NAME: &str = "custom_loss";

/// `fn custom_loss(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair` computing `value` and `grad`.
pub fn function(value: &Expr, grad: &Expr) -> String {
    let mut g = Gen::default();
    let v = g.emit(value);
    let d = g.emit(grad);
    let mut s = String::new();
    if g.uses_pow {
        s.push_str(POW_V);
    }
    if g.uses_sinh {
        s.push_str(SINH_V);
    }
    let _ = writeln!(
        s,
        "fn {FN_NAME}(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {{"
    );
    for line in &g.lines {
        let _ = writeln!(s, "    {line}");
    }
    let _ = writeln!(s, "    return Pair({v}, {d});\n}}");
    s
}

/// b^g for a g not known to be a small integer: defined for b >= 0 (0^g = 0 for g > 0,
/// b^0 = 1), NaN below, as the twin (`expr::pow_f64`).
const POW_V: &str = "fn custom_pow(b: VT, g: VT) -> VT {
    let nan = VT(bitcast<f32>(0x7fc00000u));
    let r = select(pow(b, g), VT(0.0), (b == VT(0.0)) & (g > VT(0.0)));
    return select(select(r, nan, b < VT(0.0)), VT(1.0), g == VT(0.0));
}
";

/// sinh accurate near 0 (WGSL's may be (e^z - e^-z)/2, which cancels there).
const SINH_V: &str = "fn custom_sinh(z: VT) -> VT {
    return 0.5 * (expm1_v(z) - expm1_v(-z));
}
";

#[derive(Default)]
struct Gen {
    lines: Vec<String>,
    /// An operation's text → the name of the `let` that holds it.
    seen: HashMap<String, String>,
    uses_pow: bool,
    uses_sinh: bool,
}

impl Gen {
    /// The name (or literal) holding `ex`'s value.
    fn emit(&mut self, ex: &Expr) -> String {
        let text = match ex {
            Expr::Num(v) => return literal(*v),
            Expr::X => return "x".into(),
            Expr::Y => return "y".into(),
            Expr::A => return "a".into(),
            Expr::Param(i) => return format!("VT(p.{})", ["x", "y", "z", "w"][*i]),
            Expr::Neg(u) => format!("-{}", self.emit(u)),
            Expr::Bin(Op::Pow, u, v) if integer_exponent(v) => {
                let n = v.num().expect("an integer exponent is a number");
                return self.integer_power(u, n as i32);
            }
            Expr::Bin(op, u, v) => self.bin(*op, u, v),
            Expr::Call(f, u) => {
                let u = self.emit(u);
                if *f == Func::Sinh {
                    self.uses_sinh = true;
                }
                format!("{}({u})", wgsl_name(*f))
            }
            Expr::Select(c, s, t) => {
                let c = self.cond(c);
                let (s, t) = (self.emit(s), self.emit(t));
                format!("select({t}, {s}, {c})")
            }
        };
        self.named(text, 't')
    }

    fn named(&mut self, text: String, prefix: char) -> String {
        if let Some(name) = self.seen.get(&text) {
            return name.clone();
        }
        let name = format!("{prefix}{}", self.lines.len());
        self.lines.push(format!("let {name} = {text};"));
        self.seen.insert(text, name.clone());
        name
    }

    fn cond(&mut self, c: &Cond) -> String {
        let (a, b) = (self.emit(&c.a), self.emit(&c.b));
        self.named(format!("{a} {} {b}", c.cmp.wgsl()), 'c')
    }

    fn bin(&mut self, op: Op, u: &Expr, v: &Expr) -> String {
        if op == Op::Pow {
            self.uses_pow = true;
            let (u, v) = (self.emit(u), self.emit(v));
            return format!("custom_pow({u}, {v})");
        }
        let (u, v) = (self.emit(u), self.emit(v));
        match op {
            Op::Add => format!("{u} + {v}"),
            Op::Sub => format!("{u} - {v}"),
            Op::Mul => format!("{u} * {v}"),
            Op::Div => format!("{u} / {v}"),
            Op::Min => format!("min({u}, {v})"),
            Op::Max => format!("max({u}, {v})"),
            Op::Pow => unreachable!("handled above"),
        }
    }

    /// u^n by repeated squaring (the twin's powi rounds once; this within an ulp a step);
    /// the name holding it.
    fn integer_power(&mut self, u: &Expr, n: i32) -> String {
        let base = self.emit(u);
        let mut result: Option<String> = None;
        let mut square = base;
        let mut k = n.unsigned_abs();
        while k > 0 {
            if k & 1 == 1 {
                result = Some(match result {
                    None => square.clone(),
                    Some(r) => self.named(format!("{r} * {square}"), 't'),
                });
            }
            k >>= 1;
            if k > 0 {
                square = self.named(format!("{square} * {square}"), 't');
            }
        }
        let r = result.unwrap_or_else(|| "VT(1.0)".into());
        if n < 0 {
            self.named(format!("1.0 / {r}"), 't')
        } else {
            r
        }
    }
}

/// A number as WGSL reads it: an f32 literal in VT. WGSL has no literal for inf or NaN and
/// refuses a constant expression that gives one, so those are made at run time from their
/// bits and reduce.wgsl's `opaque_zero` (0, unknown to the compiler).
fn literal(v: f64) -> String {
    let f = v as f32;
    if f.is_finite() {
        format!("VT({f:?})")
    } else {
        format!(
            "VT(bitcast<f32>({:#x}u | bitcast<u32>(opaque_zero)))",
            f.to_bits()
        )
    }
}

/// The WGSL of each function: math.wgsl's accurate ones where WGSL's builtin is not.
fn wgsl_name(f: Func) -> &'static str {
    match f {
        Func::Abs => "abs",
        Func::Sqrt => "sqrt",
        Func::Exp => "exp",
        Func::Log => "ln_v",
        Func::Log1p => "log1p_v",
        Func::Expm1 => "expm1_v",
        Func::Sin => "sin",
        Func::Cos => "cos",
        Func::Tanh => "tanh_v",
        Func::Cosh => "cosh",
        Func::Sinh => "custom_sinh",
        Func::Sigmoid => "sigmoid",
        Func::Softplus => "softplus",
        Func::Sign => "sign",
    }
}
