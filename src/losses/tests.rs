//! The typed losses cannot drift from the catalogue: one type per entry, and each type's
//! fields are the entry's parameters, in order, with the same defaults and words.

use super::table::every_default;
use super::TypedLoss;
use crate::catalogue::{self, Loss};
use crate::params::{ParamValue, Rule};

fn typed(name: &str) -> Option<Box<dyn TypedLoss>> {
    every_default().into_iter().find(|t| t.name() == name)
}

#[test]
fn every_catalogue_entry_has_a_type_and_no_type_is_extra() {
    let entries: Vec<&str> = catalogue::all().map(Loss::name).collect();
    let missing: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|n| typed(n).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "no typed loss for {missing:?} (src/losses/table.rs)"
    );
    let types = every_default();
    let extra: Vec<&str> = types
        .iter()
        .map(|t| t.name())
        .filter(|n| !entries.contains(n))
        .collect();
    assert!(
        extra.is_empty(),
        "typed losses of no catalogue entry: {extra:?}"
    );
    assert_eq!(
        types.len(),
        entries.len(),
        "a catalogue entry has two types"
    );
}

#[test]
fn every_type_has_its_entrys_parameters_and_defaults() {
    for loss in catalogue::all() {
        let t = typed(loss.name()).expect("checked by the test above");
        let fields = t.fields();
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        let specs: Vec<&str> = loss.params().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            specs,
            "{}: fields against the catalogue's parameters",
            loss.name()
        );
        for (f, spec) in fields.iter().zip(loss.params()) {
            let at = format!("{}.{}", loss.name(), f.name);
            let d = spec.default;
            match (&f.value, spec.rule) {
                (None, _) => assert!(d.is_nan(), "{at}: None but the default is {d}"),
                (Some(ParamValue::Bool(b)), Rule::Bool) => {
                    assert_eq!(f64::from(u8::from(*b)), d, "{at}")
                }
                (Some(ParamValue::Word(w)), Rule::OneOf { words, .. }) => {
                    assert_eq!(f.words, Some(words), "{at}: the enum's words");
                    assert_eq!(words.get(d as usize), Some(&w.as_str()), "{at}");
                }
                (Some(ParamValue::Number(x)), rule) if !matches!(rule, Rule::Bool) => {
                    assert_eq!(*x, d, "{at}: default");
                    assert!(
                        !matches!(rule, Rule::OneOf { .. }),
                        "{at}: a number for words"
                    );
                }
                (v, rule) => panic!("{at}: a field of {v:?} for a parameter that is {rule:?}"),
            }
            // An optional field is one whose catalogue default is "none".
            if d.is_nan() {
                assert!(
                    f.value.is_none(),
                    "{at}: the default is none, the field's is not"
                );
            }
        }
    }
}

#[test]
fn a_typed_call_resolves_to_the_same_parameters_as_by_name() {
    use crate::params::resolve;
    for loss in catalogue::all() {
        let t = typed(loss.name()).expect("typed");
        let given: Vec<(String, ParamValue)> = t
            .params()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        let typed = resolve(loss.name(), loss.params(), &given).expect("defaults resolve");
        let by_name = resolve(loss.name(), loss.params(), &[]).expect("no parameters");
        let same = typed
            .iter()
            .zip(&by_name)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same, "{}: {typed:?} against {by_name:?}", loss.name());
    }
}
