//! What an entry says about each of its tensors: what it holds, its shape as `list` prints
//! it, and how report, bench and tests draw it.

/// What a tensor holds.
///
/// ```
/// use gpu_loss::catalogue::{find, Holds};
/// let nll = find("nll").unwrap();
/// assert_eq!(nll.tensor("target").unwrap().holds, Holds::ClassIndices);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// float32 values.
    Floats,
    /// Class indices, int32 or int64.
    ClassIndices,
    /// Class indices, or float32 probabilities of the input's shape (cross_entropy's target).
    IndicesOrProbabilities,
    /// One float32 label per row, ±1.
    Signs,
}

impl Holds {
    /// The dtypes `list` names.
    ///
    /// ```
    /// assert_eq!(gpu_loss::catalogue::Holds::ClassIndices.dtypes(), "int32 | int64");
    /// ```
    pub fn dtypes(self) -> &'static str {
        match self {
            Holds::Floats => "float32",
            Holds::ClassIndices => "int32 | int64",
            Holds::IndicesOrProbabilities => "int32 | int64 | float32",
            Holds::Signs => "float32 (±1)",
        }
    }

    /// Whether integer arrays given for this tensor stay integers (class labels).
    ///
    /// ```
    /// use gpu_loss::catalogue::Holds;
    /// assert!(Holds::IndicesOrProbabilities.takes_indices() && !Holds::Signs.takes_indices());
    /// ```
    pub fn takes_indices(self) -> bool {
        matches!(self, Holds::ClassIndices | Holds::IndicesOrProbabilities)
    }
}

/// The shape a drawn tensor takes, from the workload's size: n elements, or rows × cols (an
/// element count gives rows of 1024).
///
/// ```
/// use gpu_loss::catalogue::{find, Draw, Extent};
/// let target = find("nll").unwrap().tensor("target").unwrap();
/// assert_eq!(target.draw, Draw::Labels(Extent::PerRow)); // one label per row
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// `[rows, cols]`
    Rows,
    /// `[rows]`, one label (of `cols` classes) or one ±1 per row
    PerRow,
    /// `[1, rows, cols]`: one image plane
    Plane,
    /// `[64, n/64]` feature maps, or `[rows, cols]`
    Features,
    /// `[n]`
    Samples,
    /// `[n/2 + 1]`: a second sample set of another size
    HalfSamples,
    /// `[n/64]`: discriminator outputs
    Scores,
    /// `[256, 8]`: an auxiliary classifier's logits
    ClassScores,
    /// `[256]` labels of 8 classes
    ClassLabels,
    /// `[n]`: images, flattened
    Image,
}

/// How report, bench and tests draw a tensor's values (src/sample.rs draws them).
///
/// ```
/// use gpu_loss::catalogue::{find, Draw};
/// let class_weight = find("cross_entropy").unwrap().tensor("weight").unwrap();
/// assert_eq!(class_weight.draw, Draw::Skip); // optional, left out of the workloads
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Draw {
    /// 2·N(0, 1)
    Normal(Extent),
    /// Uniform in [lo, hi)
    Uniform(f64, f64, Extent),
    /// Class indices, uniform over the classes
    Labels(Extent),
    /// ±1 per row (every third +1)
    Signs,
    /// Non-negative histogram mass leaning to the first bins (`true`) or the last: two such
    /// rows' CDFs differ clearly until both reach 1.
    Ramp(bool),
    /// `[1, 3, s, s]` (s² ≈ n/3): a smooth picture in [0, 1], the same for every tensor, plus
    /// uniform noise of ±0.1 of the tensor's own, so two tensors are alike as a render and
    /// its reference.
    Picture,
    /// Not drawn: an optional tensor the workloads leave out.
    Skip,
}

/// One tensor of a row loss, objective or structured loss.
#[derive(Clone, Copy, Debug)]
///
/// ```
/// let ce = gpu_loss::catalogue::find("cross_entropy").unwrap();
/// let target = ce.tensor("target").unwrap();
/// assert!(target.required);
/// ```
pub struct TensorSpec {
    /// Its LOSSES.md name.
    pub name: &'static str,
    /// Whether a call must give it.
    pub required: bool,
    /// What it holds.
    pub holds: Holds,
    /// The shape, as `list` prints it.
    pub shape: &'static str,
    /// How report, bench and tests draw it.
    pub draw: Draw,
}

impl TensorSpec {
    /// A required float32 tensor.
    ///
    /// ```
    /// use gpu_loss::catalogue::{Draw, Extent, Holds, TensorSpec};
    /// let t = TensorSpec::floats("input", "[..., C]", Draw::Normal(Extent::Rows));
    /// assert_eq!((t.required, t.holds), (true, Holds::Floats));
    /// ```
    pub const fn floats(name: &'static str, shape: &'static str, draw: Draw) -> TensorSpec {
        TensorSpec {
            name,
            required: true,
            holds: Holds::Floats,
            shape,
            draw,
        }
    }

    /// The same tensor, holding `holds`.
    ///
    /// ```
    /// use gpu_loss::catalogue::{Draw, Extent, Holds, TensorSpec};
    /// let labels = TensorSpec::floats("target", "[...]", Draw::Labels(Extent::PerRow)).holding(Holds::ClassIndices);
    /// assert!(labels.holds.takes_indices());
    /// ```
    pub const fn holding(self, holds: Holds) -> TensorSpec {
        TensorSpec { holds, ..self }
    }

    /// The same tensor, optional.
    ///
    /// ```
    /// use gpu_loss::catalogue::{Draw, Extent, TensorSpec};
    /// let weight = TensorSpec::floats("weight", "[C]", Draw::Normal(Extent::Rows)).optional();
    /// assert!(!weight.required);
    /// ```
    pub const fn optional(self) -> TensorSpec {
        TensorSpec {
            required: false,
            ..self
        }
    }
}

/// The names of `tensors`, in order.
///
/// ```
/// let ce = gpu_loss::catalogue::find("cross_entropy").unwrap();
/// assert_eq!(gpu_loss::catalogue::names(&ce.tensors()), ["input", "target", "weight"]);
/// ```
pub fn names(tensors: &[TensorSpec]) -> Vec<&'static str> {
    tensors.iter().map(|t| t.name).collect()
}
