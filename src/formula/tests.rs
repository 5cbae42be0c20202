use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

fn err(text: &str) -> FormulaError {
    Formula::parse(text).expect_err(text)
}

#[test]
fn errors_name_the_column_and_what_was_expected() {
    let cases: [(&str, usize, &str); 14] = [
        ("log(1 + (x - y)^2", 18, "expected `,` or `)`"),
        ("floor(x - y)", 1, "`floor` has no derivative"),
        ("foo(x)", 1, "unknown function `foo`"),
        ("z + x", 1, "unknown name `z`"),
        ("min(x)", 1, "`min` takes 2 arguments, found 1"),
        ("abs(x, y)", 1, "`abs` takes 1 argument, found 2"),
        ("x +", 4, "expected a number, a name"),
        ("select(x, 1, 2)", 8, "expected a comparison"),
        ("x < y", 1, "expected a number, found a comparison"),
        ("1.2.3 * x", 1, "not a number"),
        ("x $ y", 3, "unexpected character `$`"),
        ("d = 1; d = 2; x", 8, "declared before"),
        ("x y", 3, "expected an operator"),
        ("a = x; a", 5, "expected a number"),
    ];
    for (text, column, message) in cases {
        let e = err(text);
        assert_eq!(e.column, column, "{text}: {e}");
        assert!(e.message.contains(message), "{text}: {e}");
    }
    assert!(err("p = 1; q = 2; r = 3; s = 4; t = 5; x")
        .message
        .contains("at most 4"));
    assert!(err("k = 1 / 0; k * x").message.contains("finite"));
    assert!(err("a = 3e38 * 10; a * x").message.contains("finite"));
    assert!(err(&format!("{}x{}", "(".repeat(100), ")".repeat(100)))
        .message
        .contains("nested"));
    assert!(err(&format!("{}x", "-".repeat(100)))
        .message
        .contains("nested"));
    // Definitions that double at each step are refused before they fill memory.
    let mut doubling = String::from("d0 = x * x;");
    for i in 1..40 {
        doubling += &format!(" d{i} = d{} * d{};", i - 1, i - 1);
    }
    assert!(err(&(doubling + " d39")).message.contains("grows past"));
}

#[test]
fn declarations_are_parameters_definitions_and_the_extra_tensors_default() {
    let f = Formula::parse("delta = 1.5; c = -2; e = x - y; a = 1; delta * e + c * a").unwrap();
    assert_eq!(f.params, vec![("delta".into(), 1.5), ("c".into(), -2.0)]);
    assert_eq!(f.aux_default, Some(1.0));
    assert!(f.uses_aux);
    let (v, g) = f.eval(&Env {
        x: 3.0,
        y: 1.0,
        a: 0.5,
        p: &[2.0, 4.0],
    });
    assert_eq!((v, g), (2.0 * 2.0 + 4.0 * 0.5, 2.0));
    let plain = Formula::parse("(x - y)^2").unwrap();
    assert!(!plain.uses_aux && plain.params.is_empty() && plain.aux_default.is_none());
}

#[test]
fn derivatives_simplify() {
    let f = Formula::parse("(x - y)^2").unwrap();
    let e = expr::sub(Expr::X, Expr::Y);
    assert_eq!(f.grad, expr::mul(Expr::Num(2.0), e));
    assert_eq!(Formula::parse("y^2 + x").unwrap().grad, Expr::Num(1.0));
    assert_eq!(Formula::parse("3 * x * 2").unwrap().grad, Expr::Num(6.0));
}

/// Every function and operator: the derivative against central differences of the twin.
#[test]
fn derivatives_match_central_differences_of_the_twin() {
    let formulas = [
        "log(1 + (x - y)^2)",
        "c = 4.685; e = x - y; select(abs(e) <= c, c^2 / 6 * (1 - (1 - (e / c)^2)^3), c^2 / 6)",
        "abs(x - y) + sqrt(x^2 + 1) + exp(x / 4) + log(x^2 + 0.5) + log1p(x^2) + expm1(x / 3)",
        "sin(x * y) + cos(x) + tanh(x - y) + cosh(x / 3) + sinh(x / 2)",
        "sigmoid(x * y) + softplus(-x) + min(x, y) + max(x, 2 * y) + clamp(x, -1, 1)",
        "x / (1 + y^2) - y / (2 + x^2) + (x^2 + 1)^-2 + x^3",
        "g = 1.5; (x^2 + 0.1)^g + (x^2 + 1)^(y / 4) + 2^x",
        "select(x * y > 0.5, x^2, -x) * (1 + a)",
        "k = 0.5; (1 + x^2)^k * pi",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for text in formulas {
        let f = Formula::parse(text).unwrap();
        let params: Vec<f64> = f.params.iter().map(|p| p.1).collect();
        let mut checked = 0;
        while checked < 200 {
            let (x, y, a) = (
                rng.random_range(-3.0..3.0),
                rng.random_range(-2.0..2.0),
                rng.random_range(0.0..2.0),
            );
            let at = |x| {
                f.eval(&Env {
                    x,
                    y,
                    a,
                    p: &params,
                })
            };
            let h = 1e-6 * (1.0 + f64::abs(x));
            let (lo, hi) = (at(x - h).0, at(x + h).0);
            let (_, g) = at(x);
            // Skip a kink within the step: the difference straddles two branches.
            let (slo, shi) = (at(x - h).1, at(x + h).1);
            if (slo - shi).abs() > 1e-3 * (1.0 + g.abs()) || !g.is_finite() {
                continue;
            }
            let fd = (hi - lo) / (2.0 * h);
            assert!(
                (fd - g).abs() <= 1e-5 * (1.0 + g.abs()),
                "{text} at x={x} y={y} a={a}: derivative {g}, central difference {fd}"
            );
            checked += 1;
        }
    }
}

/// The kinks take the built-in losses' side (README, "Custom losses").
#[test]
fn undefined_points_follow_the_built_in_conventions() {
    let g = |text: &str, x: f64, y: f64| {
        Formula::parse(text)
            .unwrap()
            .eval(&Env {
                x,
                y,
                a: 0.0,
                p: &[1.0],
            })
            .1
    };
    assert_eq!(g("abs(x - y)", 2.0, 2.0), 0.0); // mae
    assert_eq!(g("max(1 - x * y, 0)", 1.0, 1.0), 0.0); // hinge at its kink
    assert_eq!(g("max(x, 1e-7)", 1e-7, 0.0), 0.0); // msle's clamp
    assert_eq!(
        g(
            "d = 1; select(abs(x - y) <= d, 0.5 * (x - y)^2, d * (abs(x - y) - 0.5 * d))",
            1.0,
            0.0
        ),
        1.0
    );
}

#[test]
fn no_text_of_the_formula_reaches_the_wgsl() {
    let f = Formula::parse("evil_name = x - y; injected = 2; evil_name^2 * injected").unwrap();
    let w = f.wgsl();
    assert!(!w.contains("evil") && !w.contains("injected"), "{w}");
    assert!(w.contains(&format!("fn {FN_NAME}(")));
}

proptest! {
    /// Random text over the language's own characters: an answer, never a panic.
    #[test]
    fn the_parser_never_panics(text in "[xya0-9.e+*/^(),;=<>! -]{0,60}|[a-z_(), 0-9.]{0,40}") {
        let _ = Formula::parse(&text).map(|f| (f.wgsl(), f.eval(&Env { x: 0.5, y: -1.0, a: 2.0, p: &[1.0; 4] })));
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,80}") {
        let _ = Formula::parse(&text);
    }
}

/// The longest chains a formula may hold: parsed, differentiated, generated and evaluated on
/// a test thread's stack, and one more operation is refused. A product's derivative grows as
/// the square of its factors: the longest is refused as a typed error, half of it runs.
#[test]
fn the_largest_formulas_fit_the_stack_and_one_more_is_refused() {
    let chain = |op: &str, terms: usize| format!("x{}", format!("{op}x").repeat(terms - 1));
    let at_one = |text: &str| {
        let f = Formula::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.wgsl().contains("return Pair("));
        f.eval(&Env {
            x: 1.0,
            y: 0.0,
            a: 0.0,
            p: &[],
        })
    };
    let n = MAX_NODES as f64;
    // x + x + ..., x − x − ... at x = 1: (value, derivative).
    assert_eq!(at_one(&chain("+", MAX_NODES)), (n, n));
    assert_eq!(at_one(&chain("-", MAX_NODES)), (2.0 - n, 2.0 - n));
    assert_eq!(at_one(&chain("*", MAX_NODES / 2)), (1.0, n / 2.0));
    assert!(err(&chain("*", MAX_NODES))
        .message
        .contains("derivative grows past"));
    for op in ["+", "*", "-"] {
        assert!(
            err(&chain(op, MAX_NODES + 2))
                .message
                .contains("grows past"),
            "{op}"
        );
    }
}
