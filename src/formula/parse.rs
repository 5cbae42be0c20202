//! The parser: declarations, then one expression, into a simplified tree. Names resolve as
//! they are read (x, y, a, pi, parameters, definitions), so an unknown name, a wrong arity or
//! a comparison where a number belongs fails here, at its column.
//!
//! ```text
//! formula  := (name '=' expr ';')* expr ';'?
//! expr     := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
//! sum      := product (('+' | '-') product)*
//! product  := unary (('*' | '/') unary)*
//! unary    := '-' unary | power
//! power    := atom ('^' unary)?
//! atom     := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
//! ```

use super::error::{FormulaError, MAX_NODES, MAX_PARAMS};
use super::expr::{self as e, Cmp, Cond, Expr, Func, Op};
use super::lex::{lex, Tok, Token};

/// What the parser reads: the parameters (name, default) in order, the extra tensor's
/// default if declared, and the loss.
pub struct Parsed {
    pub params: Vec<(String, f64)>,
    pub aux_default: Option<f64>,
    pub body: Expr,
}

/// Parentheses, calls and unary minus nest at most this deep (the parser recurses).
const MAX_DEPTH: usize = 64;

/// Known, refused with a reason: their derivative is 0 almost everywhere and undefined at
/// their jumps, which no gradient step can use.
const NOT_DIFFERENTIABLE: [&str; 7] = ["floor", "ceil", "round", "trunc", "fract", "sign", "step"];
const OTHER_FUNCTIONS: [(&str, usize); 4] = [("min", 2), ("max", 2), ("clamp", 3), ("select", 3)];

enum Value {
    Num(Expr),
    Bool(Cond),
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    params: Vec<(String, f64)>,
    defs: Vec<(String, Expr)>,
    aux_default: Option<f64>,
    depth: usize,
    /// Nodes built so far, definitions counted each time they are used.
    nodes: usize,
}

pub fn parse(text: &str) -> Result<Parsed, FormulaError> {
    let mut p = Parser {
        toks: lex(text)?,
        i: 0,
        params: Vec::new(),
        defs: Vec::new(),
        aux_default: None,
        depth: 0,
        nodes: 0,
    };
    loop {
        let declares = matches!(p.peek(), Tok::Ident(_))
            && p.toks.get(p.i + 1).is_some_and(|t| t.tok == Tok::Sym("="));
        if !declares {
            break;
        }
        p.declaration()?;
    }
    let body = p.number()?;
    if p.peek() == &Tok::Sym(";") {
        p.i += 1;
    }
    if p.peek() != &Tok::End {
        return Err(p.expected("an operator or the end of the formula"));
    }
    Ok(Parsed {
        params: p.params,
        aux_default: p.aux_default,
        body,
    })
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn col(&self) -> usize {
        self.toks[self.i].col
    }

    fn expected(&self, what: &str) -> FormulaError {
        FormulaError::new(
            self.col(),
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }

    fn eat(&mut self, sym: &'static str) -> bool {
        let yes = self.peek() == &Tok::Sym(sym);
        if yes {
            self.i += 1;
        }
        yes
    }

    fn expect(&mut self, sym: &'static str) -> Result<(), FormulaError> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{sym}`")))
        }
    }

    /// `name = expr;`: a constant declares a parameter (its default), `a = number` the extra
    /// tensor's default, anything else a definition used by name further on.
    fn declaration(&mut self) -> Result<(), FormulaError> {
        let col = self.col();
        let Tok::Ident(name) = self.peek().clone() else {
            unreachable!("declaration() follows a name")
        };
        self.i += 2;
        let taken = ["x", "y", "pi"].contains(&name.as_str())
            || is_function(&name)
            || self.params.iter().any(|(n, _)| *n == name)
            || self.defs.iter().any(|(n, _)| *n == name)
            || (name == "a" && self.aux_default.is_some());
        if taken {
            return Err(FormulaError::new(
                col,
                format!("`{name}` is already a name of the language or declared before"),
            ));
        }
        let value_col = self.col();
        let value = self.number()?;
        self.expect(";")?;
        match (name.as_str(), value.num()) {
            (_, Some(v)) if !(v as f32).is_finite() => {
                return Err(FormulaError::new(
                    value_col,
                    format!("`{name}` = {v}: a default must be a finite f32 number"),
                ))
            }
            ("a", Some(v)) => self.aux_default = Some(v),
            ("a", None) => {
                return Err(FormulaError::new(
                    value_col,
                    "expected a number: `a = v;` declares the extra tensor's default".into(),
                ))
            }
            (_, Some(v)) => {
                if self.params.len() == MAX_PARAMS {
                    return Err(FormulaError::new(
                        col,
                        format!("at most {MAX_PARAMS} parameters (they travel in one vec4)"),
                    ));
                }
                self.params.push((name, v));
            }
            (_, None) => self.defs.push((name, value)),
        }
        Ok(())
    }

    /// An expression that must be a number.
    fn number(&mut self) -> Result<Expr, FormulaError> {
        let col = self.col();
        match self.expr()? {
            Value::Num(e) => Ok(e),
            Value::Bool(_) => Err(FormulaError::new(
                col,
                "expected a number, found a comparison (comparisons are select's first argument)"
                    .into(),
            )),
        }
    }

    fn expr(&mut self) -> Result<Value, FormulaError> {
        let left_col = self.col();
        let left = self.sum()?;
        let cmp = match self.peek() {
            Tok::Sym("<") => Cmp::Lt,
            Tok::Sym("<=") => Cmp::Le,
            Tok::Sym(">") => Cmp::Gt,
            Tok::Sym(">=") => Cmp::Ge,
            Tok::Sym("==") => Cmp::Eq,
            Tok::Sym("!=") => Cmp::Ne,
            _ => return Ok(left),
        };
        self.i += 1;
        let a = num(left, left_col)?;
        let right_col = self.col();
        let b = num(self.sum()?, right_col)?;
        if matches!(self.peek(), Tok::Sym("<" | "<=" | ">" | ">=" | "==" | "!=")) {
            return Err(self.expected("`)` or `,` (comparisons do not chain)"));
        }
        Ok(Value::Bool(Cond { cmp, a, b }))
    }

    fn sum(&mut self) -> Result<Value, FormulaError> {
        let col = self.col();
        let mut acc = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("+") => Op::Add,
                Tok::Sym("-") => Op::Sub,
                _ => return Ok(acc),
            };
            self.i += 1;
            let rcol = self.col();
            let r = self.product()?;
            acc = Value::Num(self.built(e::bin(op, num(acc, col)?, num(r, rcol)?))?);
        }
    }

    fn product(&mut self) -> Result<Value, FormulaError> {
        let col = self.col();
        let mut acc = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("*") => Op::Mul,
                Tok::Sym("/") => Op::Div,
                _ => return Ok(acc),
            };
            self.i += 1;
            let rcol = self.col();
            let r = self.unary()?;
            acc = Value::Num(self.built(e::bin(op, num(acc, col)?, num(r, rcol)?))?);
        }
    }

    fn unary(&mut self) -> Result<Value, FormulaError> {
        if self.eat("-") {
            let col = self.col();
            self.nest()?;
            let u = self.unary();
            self.depth -= 1;
            return Ok(Value::Num(e::neg(num(u?, col)?)));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Value, FormulaError> {
        let col = self.col();
        let base = self.atom()?;
        if !self.eat("^") {
            return Ok(base);
        }
        let rcol = self.col();
        self.nest()?;
        let exponent = self.unary();
        self.depth -= 1;
        let exponent = num(exponent?, rcol)?;
        Ok(Value::Num(self.built(e::pow(num(base, col)?, exponent))?))
    }

    fn nest(&mut self) -> Result<(), FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FormulaError::new(
                self.col(),
                format!("nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    /// Counts a new node against the formula's size limit.
    fn built(&mut self, e: Expr) -> Result<Expr, FormulaError> {
        self.nodes += 1;
        self.limit()?;
        Ok(e)
    }

    fn limit(&self) -> Result<(), FormulaError> {
        if self.nodes > MAX_NODES {
            return Err(FormulaError::new(
                self.col(),
                format!("the formula grows past {MAX_NODES} operations"),
            ));
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<Value, FormulaError> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Num(v) => {
                self.i += 1;
                Ok(Value::Num(Expr::Num(v)))
            }
            Tok::Sym("(") => {
                self.i += 1;
                self.nest()?;
                let v = self.expr();
                self.depth -= 1;
                let v = v?;
                self.expect(")")?;
                Ok(v)
            }
            Tok::Ident(name) => {
                self.i += 1;
                if self.peek() == &Tok::Sym("(") {
                    return self.call(&name, col);
                }
                if is_function(&name) || NOT_DIFFERENTIABLE.contains(&name.as_str()) {
                    return Err(self.expected(&format!("`(` after the function `{name}`")));
                }
                self.name(&name, col).map(Value::Num)
            }
            _ => Err(self.expected("a number, a name, a function or `(`")),
        }
    }

    fn name(&mut self, name: &str, col: usize) -> Result<Expr, FormulaError> {
        if let Some(i) = self.params.iter().position(|(n, _)| n == name) {
            return Ok(Expr::Param(i));
        }
        if let Some((_, d)) = self.defs.iter().find(|(n, _)| n == name) {
            let d = d.clone();
            self.nodes += d.size();
            self.limit()?;
            return Ok(d);
        }
        Ok(match name {
            "x" => Expr::X,
            "y" => Expr::Y,
            "a" => Expr::A,
            "pi" => Expr::Num(std::f64::consts::PI),
            _ => {
                return Err(FormulaError::new(
                    col,
                    format!(
                        "unknown name `{name}` (the names are x, y, a, pi and what the formula \
                         declares before it)"
                    ),
                ))
            }
        })
    }

    fn call(&mut self, name: &str, col: usize) -> Result<Value, FormulaError> {
        if NOT_DIFFERENTIABLE.contains(&name) {
            return Err(FormulaError::new(
                col,
                format!("`{name}` has no derivative (a loss here must be differentiable in x)"),
            ));
        }
        let unary = Func::NAMED.iter().find(|(n, _)| *n == name).map(|f| f.1);
        let arity = match (unary, OTHER_FUNCTIONS.iter().find(|(n, _)| *n == name)) {
            (Some(_), _) => 1,
            (None, Some((_, k))) => *k,
            (None, None) => {
                return Err(FormulaError::new(
                    col,
                    format!(
                        "unknown function `{name}` (the functions are {})",
                        functions()
                    ),
                ))
            }
        };
        self.expect("(")?;
        self.nest()?;
        let args = self.arguments();
        self.depth -= 1;
        let args = args?;
        if args.len() != arity {
            return Err(FormulaError::new(
                col,
                format!(
                    "`{name}` takes {arity} argument{}, found {}",
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let mut it = args.into_iter();
        let next_num = |it: &mut std::vec::IntoIter<(Value, usize)>| {
            let (v, c) = it.next().expect("arity checked");
            num(v, c)
        };
        let built = match (unary, name) {
            (Some(f), _) => e::call(f, next_num(&mut it)?),
            (None, "min") => e::bin(Op::Min, next_num(&mut it)?, next_num(&mut it)?),
            (None, "max") => e::bin(Op::Max, next_num(&mut it)?, next_num(&mut it)?),
            (None, "clamp") => {
                let (u, lo, hi) = (next_num(&mut it)?, next_num(&mut it)?, next_num(&mut it)?);
                e::bin(Op::Min, e::bin(Op::Max, u, lo), hi)
            }
            _ => {
                let (c, ccol) = it.next().expect("arity checked");
                let Value::Bool(cond) = c else {
                    return Err(FormulaError::new(
                        ccol,
                        "expected a comparison (select's first argument), found a number".into(),
                    ));
                };
                let (then, otherwise) = (next_num(&mut it)?, next_num(&mut it)?);
                e::select(cond, then, otherwise)
            }
        };
        Ok(Value::Num(self.built(built)?))
    }

    fn arguments(&mut self) -> Result<Vec<(Value, usize)>, FormulaError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            let col = self.col();
            args.push((self.expr()?, col));
            if self.eat(")") {
                return Ok(args);
            }
            if !self.eat(",") {
                return Err(self.expected("`,` or `)`"));
            }
        }
    }
}

fn num(v: Value, col: usize) -> Result<Expr, FormulaError> {
    match v {
        Value::Num(e) => Ok(e),
        Value::Bool(_) => Err(FormulaError::new(
            col,
            "expected a number, found a comparison (comparisons are select's first argument)"
                .into(),
        )),
    }
}

fn is_function(name: &str) -> bool {
    Func::NAMED.iter().any(|(n, _)| *n == name) || OTHER_FUNCTIONS.iter().any(|(n, _)| *n == name)
}

/// The functions, for messages.
///
/// ```
/// let all = gpu_loss::formula::functions();
/// assert!(all.contains("softplus") && all.contains("clamp (3 arguments)"));
/// ```
pub fn functions() -> String {
    let mut names: Vec<String> = Func::NAMED.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(
        OTHER_FUNCTIONS
            .iter()
            .map(|(n, k)| format!("{n} ({k} arguments)")),
    );
    names.join(", ")
}
