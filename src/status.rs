//! The checks kernels make on their inputs, and how their findings become an error. The GPU
//! records the first offending index of each check in the status words at the start of the
//! call's scratch buffer (shaders/scratch.wgsl; as !index with atomicMax, so a cleared buffer
//! means "nothing found"); the CPU reference fills the same slots. Either way,
//! `Status::error` reports the same error.

use crate::error::LossError;

/// The slots, in the order they are reported when several are set (as in elementwise.wgsl).
/// The shaders get them as `STATUS_{NAME}` constants written from this enum.
///
/// ```
/// use gpu_loss::status::{Check, CHECKS};
/// assert_eq!(Check::BadLabel as usize, 6); // its status word
/// assert_eq!(CHECKS[0], Check::NanInput); // reported first when several fire
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A NaN in `input`.
    NanInput = 0,
    /// A NaN in `target`.
    NanTarget = 1,
    /// A NaN in `weight`.
    NanWeight = 2,
    /// A NaN in the extra tensor.
    NanAux = 3,
    /// An `input` value outside its domain.
    InputDomain = 4,
    /// An extra tensor's value outside its domain.
    AuxDomain = 5,
    /// A class label neither in [0, C) nor the ignored label (the index is a row).
    BadLabel = 6,
    /// A `target` value outside its domain (cosine_embedding's ±1 labels; the index is a row).
    TargetDomain = 7,
}

/// Every check, in slot order.
pub const CHECKS: [Check; 8] = [
    Check::NanInput,
    Check::NanTarget,
    Check::NanWeight,
    Check::NanAux,
    Check::InputDomain,
    Check::AuxDomain,
    Check::BadLabel,
    Check::TargetDomain,
];

/// Status words at the start of the scratch buffer (some spare for later checks).
pub const STATUS_WORDS: usize = 16;
/// f32 normalisers after the status words, which one dispatch leaves for the next.
pub const SCRATCH_NORMS: usize = 8;
/// Bytes before the partials in the scratch buffer: status words, then the norms.
pub const SCRATCH_HEADER_BYTES: u64 = 4 * (STATUS_WORDS + SCRATCH_NORMS) as u64;

/// What a call's errors are to name: its loss, its tensors, their domains.
///
/// ```
/// let names = gpu_loss::status::Names { aux: "var", ..gpu_loss::status::Names::plain("gaussian_nll", 0) };
/// assert_eq!((names.input, names.aux), ("input", "var"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Names {
    /// The loss's catalogue name.
    pub loss: &'static str,
    /// The names of the tensors the kernel calls input and target.
    pub input: &'static str,
    /// See `input`.
    pub target: &'static str,
    /// The extra tensor's name.
    pub aux: &'static str,
    /// The tensor the NaN-weight check names (`weight` for most losses).
    pub weight: &'static str,
    /// `input`'s domain as errors quote it.
    pub input_domain: &'static str,
    /// The extra tensor's domain.
    pub aux_domain: &'static str,
    /// `target`'s domain.
    pub target_domain: &'static str,
    /// Classes, for a bad label's error.
    pub classes: usize,
}

impl Names {
    /// The names most losses' errors use: `input`, `target`, `weight`, `aux`, and "its domain".
    ///
    /// ```
    /// let names = gpu_loss::status::Names::plain("nll", 10);
    /// assert_eq!((names.loss, names.target, names.classes), ("nll", "target", 10));
    /// ```
    pub fn plain(loss: &'static str, classes: usize) -> Names {
        Names {
            loss,
            weight: "weight",
            input: "input",
            target: "target",
            aux: "aux",
            input_domain: "its domain",
            aux_domain: "its domain",
            target_domain: "its domain",
            classes,
        }
    }
}

impl Names {
    /// The names of a composite `loss` (an objective) whose part reads `input` and `target`.
    ///
    /// ```
    /// use gpu_loss::status::{Check, Names, Status};
    /// let names = Names::composite("lsgan_discriminator", "real_output", "fake_output");
    /// let mut s = Status::default();
    /// s.record(Check::NanTarget, 4);
    /// assert_eq!(s.error(&names).unwrap().to_string(), "lsgan_discriminator: fake_output[4] is NaN");
    /// ```
    pub fn composite(loss: &'static str, input: &'static str, target: &'static str) -> Names {
        Names {
            input,
            target,
            ..Names::plain(loss, 0)
        }
    }

    /// An error of a part (an objective's term, whose loss is `part`) in these names' words:
    /// this loss, and the tensors the part's `input` and `target` stand for, whatever the
    /// error's kind.
    ///
    /// ```
    /// use gpu_loss::{status::Names, LossError};
    /// let names = Names::composite("lsgan_discriminator", "real_output", "fake_output");
    /// let e = names.reword("mse", LossError::NaN { loss: "mse", tensor: "input", index: 3 });
    /// assert_eq!(e, LossError::NaN { loss: "lsgan_discriminator", tensor: "real_output", index: 3 });
    /// ```
    pub fn reword(&self, part: &str, e: LossError) -> LossError {
        let loss = self.loss;
        let tensor = |n: &'static str| match n {
            "input" => self.input,
            "target" => self.target,
            other => other,
        };
        // Errors that name a tensor in text say "{loss}: {tensor}".
        let text = |s: String| match s.strip_prefix(part).and_then(|r| r.strip_prefix(": ")) {
            Some("input") => format!("{loss}: {}", self.input),
            Some("target") => format!("{loss}: {}", self.target),
            Some(other) => format!("{loss}: {other}"),
            None => s,
        };
        match e {
            LossError::NaN {
                tensor: t, index, ..
            } => LossError::NaN {
                loss,
                tensor: tensor(t),
                index,
            },
            LossError::OutOfDomain {
                tensor: t,
                index,
                domain,
                ..
            } => LossError::OutOfDomain {
                loss,
                tensor: tensor(t),
                index,
                domain,
            },
            LossError::ShapeMismatch {
                tensor: t,
                got,
                expected,
                ..
            } => LossError::ShapeMismatch {
                loss,
                tensor: tensor(t),
                got,
                // "the shape of `input`"
                expected: expected.replace("`input`", &format!("`{}`", self.input)),
            },
            LossError::LabelOutOfRange {
                row,
                label,
                classes,
                ..
            } => LossError::LabelOutOfRange {
                loss,
                row,
                label,
                classes,
            },
            LossError::MissingTensor { tensor: t, .. } => LossError::MissingTensor {
                loss,
                tensor: tensor(t),
            },
            LossError::Aliasing { a, b, .. } => LossError::Aliasing {
                loss,
                a: tensor(a),
                b: tensor(b),
            },
            LossError::Buffer { tensor: t, why } => LossError::Buffer {
                tensor: text(t),
                why,
            },
            LossError::ShapeOverflow { tensor: t, shape } => LossError::ShapeOverflow {
                tensor: text(t),
                shape,
            },
            LossError::ForeignTensor { tensor: t, context } => LossError::ForeignTensor {
                tensor: text(t),
                context,
            },
            other => other,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
/// What a call's checks found: per check, the first offending index.
///
/// ```
/// use gpu_loss::status::{Check, Names, Status};
/// let mut s = Status::default();
/// assert_eq!(s.error(&Names::plain("mse", 0)), None); // nothing found
/// s.record(Check::NanInput, 7);
/// assert_eq!(s.first(Check::NanInput), Some(7));
/// ```
pub struct Status {
    first: [Option<u64>; 8],
    bad_label: Option<i64>,
}

impl Status {
    /// Decodes the GPU's status words.
    ///
    /// ```
    /// use gpu_loss::status::{Check, Status, STATUS_WORDS};
    /// let mut words = [0u32; STATUS_WORDS]; // 0: nothing found; a kernel writes !index
    /// words[Check::NanTarget as usize] = !5;
    /// assert_eq!(Status::from_words(&words).first(Check::NanTarget), Some(5));
    /// ```
    pub fn from_words(words: &[u32]) -> Status {
        let mut s = Status::default();
        for c in CHECKS {
            let w = words[c as usize];
            if w != 0 {
                s.first[c as usize] = Some(u64::from(!w));
            }
        }
        s
    }

    /// The label of the first bad row, which the GPU leaves for the host to read.
    ///
    /// ```
    /// use gpu_loss::{status::{Check, Names, Status}, LossError};
    /// let mut s = Status::default();
    /// s.set_first(Check::BadLabel, 2);
    /// s.set_bad_label(9);
    /// let e = s.error(&Names::plain("nll", 4)).unwrap();
    /// assert_eq!(e, LossError::LabelOutOfRange { loss: "nll", row: 2, label: 9, classes: 4 });
    /// ```
    pub fn set_bad_label(&mut self, label: i64) {
        self.bad_label = Some(label);
    }

    /// Notes that row `row` has the bad label `label` (keeps the first row).
    ///
    /// ```
    /// use gpu_loss::{status::{Check, Names, Status}, LossError};
    /// let mut s = Status::default();
    /// s.record_label(5, -1);
    /// s.record_label(2, 7); // an earlier row: its label is the one reported
    /// let e = s.error(&Names::plain("nll", 4)).unwrap();
    /// assert_eq!(e, LossError::LabelOutOfRange { loss: "nll", row: 2, label: 7, classes: 4 });
    /// ```
    pub fn record_label(&mut self, row: usize, label: i64) {
        if self.first(Check::BadLabel).is_none_or(|f| (row as u64) < f) {
            self.bad_label = Some(label);
        }
        self.record(Check::BadLabel, row);
    }

    /// Notes that element `index` fails `check` (keeps the first).
    ///
    /// ```
    /// use gpu_loss::status::{Check, Status};
    /// let mut s = Status::default();
    /// s.record(Check::NanInput, 8);
    /// s.record(Check::NanInput, 3);
    /// s.record(Check::NanInput, 5);
    /// assert_eq!(s.first(Check::NanInput), Some(3));
    /// ```
    pub fn record(&mut self, check: Check, index: usize) {
        let slot = &mut self.first[check as usize];
        let index = index as u64;
        if slot.is_none_or(|f| index < f) {
            *slot = Some(index);
        }
    }

    /// Sets the index `check` reports, where the host knows better than the kernel's flag.
    ///
    /// ```
    /// use gpu_loss::status::{Check, Status};
    /// let mut s = Status::default();
    /// s.record(Check::InputDomain, 3);
    /// s.set_first(Check::InputDomain, 10); // overrides, later or not
    /// assert_eq!(s.first(Check::InputDomain), Some(10));
    /// ```
    pub fn set_first(&mut self, check: Check, index: usize) {
        self.first[check as usize] = Some(index as u64);
    }

    /// Forgets what `check` found (a NaN the host shows is no input's).
    ///
    /// ```
    /// use gpu_loss::status::{Check, Status};
    /// let mut s = Status::default();
    /// s.record(Check::NanAux, 0);
    /// s.clear(Check::NanAux);
    /// assert_eq!(s, Status::default());
    /// ```
    pub fn clear(&mut self, check: Check) {
        self.first[check as usize] = None;
    }

    /// The first index `check` flagged, if any.
    ///
    /// ```
    /// use gpu_loss::status::{Check, Status};
    /// let mut s = Status::default();
    /// assert_eq!(s.first(Check::NanWeight), None);
    /// s.record(Check::NanWeight, 1);
    /// assert_eq!(s.first(Check::NanWeight), Some(1));
    /// ```
    pub fn first(&self, check: Check) -> Option<u64> {
        self.first[check as usize]
    }

    /// The error the first check that fired reports, in `names`' words.
    ///
    /// ```
    /// use gpu_loss::{status::{Check, Names, Status}, LossError};
    /// let mut s = Status::default();
    /// s.record(Check::NanTarget, 1);
    /// s.record(Check::NanInput, 9); // the earlier slot is reported
    /// let e = s.error(&Names::plain("mse", 0));
    /// assert_eq!(e, Some(LossError::NaN { loss: "mse", tensor: "input", index: 9 }));
    /// ```
    pub fn error(&self, names: &Names) -> Option<LossError> {
        let loss = names.loss;
        CHECKS.iter().find_map(|&c| {
            let index = self.first(c)?;
            let nan = |tensor| LossError::NaN {
                loss,
                tensor,
                index,
            };
            let outside = |tensor, domain| LossError::OutOfDomain {
                loss,
                tensor,
                index,
                domain,
            };
            Some(match c {
                Check::NanInput => nan(names.input),
                Check::NanTarget => nan(names.target),
                Check::NanWeight => nan(names.weight),
                Check::NanAux => nan(names.aux),
                Check::InputDomain => outside(names.input, names.input_domain),
                Check::AuxDomain => outside(names.aux, names.aux_domain),
                Check::TargetDomain => outside(names.target, names.target_domain),
                Check::BadLabel => LossError::LabelOutOfRange {
                    loss,
                    row: index,
                    label: self.bad_label.unwrap_or(i64::MIN),
                    classes: names.classes,
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_list_every_slot_in_order() {
        for (i, c) in CHECKS.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        assert!(CHECKS.len() <= STATUS_WORDS);
    }
}
