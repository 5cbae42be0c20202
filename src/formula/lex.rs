//! Tokens of a formula, each with its column (1-based, in characters) for error messages.

use super::error::FormulaError;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Num(f64),
    Ident(String),
    /// One of + - * / ^ ( ) , ; = < <= > >= == !=
    Sym(&'static str),
    End,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("the number {v}"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Sym(s) => format!("`{s}`"),
            Tok::End => "the end of the formula".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub col: usize,
}

/// Longest first, so that `<=` is not read as `<` then `=`.
const SYMBOLS: [&str; 16] = [
    "<=", ">=", "==", "!=", "+", "-", "*", "/", "^", "(", ")", ",", ";", "=", "<", ">",
];

pub fn lex(text: &str) -> Result<Vec<Token>, FormulaError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // An exponent: e or E, an optional sign, digits.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let s: String = chars[start..i].iter().collect();
            let v: f64 = s
                .parse()
                .map_err(|_| FormulaError::new(col, format!("`{s}` is not a number")))?;
            if !(v as f32).is_finite() {
                return Err(FormulaError::new(
                    col,
                    format!("{s} is beyond the f32 range the GPU computes in"),
                ));
            }
            out.push(Token {
                tok: Tok::Num(v),
                col,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                col,
            });
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let sym = SYMBOLS
                .iter()
                .find(|s| rest.starts_with(*s))
                .ok_or_else(|| FormulaError::new(col, format!("unexpected character `{c}`")))?;
            i += sym.chars().count();
            out.push(Token {
                tok: Tok::Sym(sym),
                col,
            });
        }
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}
