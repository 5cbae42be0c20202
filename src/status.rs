//! The checks every elementwise kernel makes on its inputs, and how their findings become an
//! error. The GPU records the first offending index of each check in a small status buffer
//! (as !index with atomicMax, so a cleared buffer means "nothing found"); the CPU reference
//! fills the same slots. Either way, `Status::error` reports the same error.

use crate::error::LossError;
use crate::problem::Problem;

/// The slots, in the order they are reported when several are set (as in elementwise.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    NanInput = 0,
    NanTarget = 1,
    NanWeight = 2,
    NanAux = 3,
    InputDomain = 4,
    AuxDomain = 5,
}

pub const CHECKS: [Check; 6] = [
    Check::NanInput,
    Check::NanTarget,
    Check::NanWeight,
    Check::NanAux,
    Check::InputDomain,
    Check::AuxDomain,
];

/// Words in the GPU status buffer (a few spare for later checks).
pub const STATUS_WORDS: usize = 8;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    first: [Option<u64>; 6],
}

impl Status {
    /// Decodes the GPU's status words.
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

    /// Notes that element `index` fails `check` (keeps the first).
    pub fn record(&mut self, check: Check, index: usize) {
        let slot = &mut self.first[check as usize];
        let index = index as u64;
        if slot.is_none_or(|f| index < f) {
            *slot = Some(index);
        }
    }

    pub fn first(&self, check: Check) -> Option<u64> {
        self.first[check as usize]
    }

    pub fn error(&self, p: &Problem) -> Option<LossError> {
        let loss = p.loss.name;
        CHECKS.iter().find_map(|&c| {
            let index = self.first(c)?;
            Some(match c {
                Check::NanInput => LossError::NaN {
                    loss,
                    tensor: "input",
                    index,
                },
                Check::NanTarget => LossError::NaN {
                    loss,
                    tensor: "target",
                    index,
                },
                Check::NanWeight => LossError::NaN {
                    loss,
                    tensor: "weight",
                    index,
                },
                Check::NanAux => LossError::NaN {
                    loss,
                    tensor: p.aux_name(),
                    index,
                },
                Check::InputDomain => LossError::OutOfDomain {
                    loss,
                    tensor: "input",
                    index,
                    domain: p.loss.input_domain.map(|d| d.text).unwrap_or("its domain"),
                },
                Check::AuxDomain => LossError::OutOfDomain {
                    loss,
                    tensor: p.aux_name(),
                    index,
                    domain: p
                        .loss
                        .aux
                        .and_then(|a| a.domain)
                        .map(|d| d.text)
                        .unwrap_or("its domain"),
                },
            })
        })
    }
}
