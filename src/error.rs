//! Every way a call can fail, as one typed error. Nothing in the library panics on bad input.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum LossError {
    #[error(
        "no GPU adapter found{0}. On Linux without a GPU, install Mesa's software drivers \
         (`apt-get install mesa-vulkan-drivers` for lavapipe, Vulkan) or make EGL's llvmpipe \
         available (GL), then check with `gpu-loss adapters`"
    )]
    NoAdapter(String),

    #[error("could not create a device on {adapter}: {reason}")]
    Device { adapter: String, reason: String },

    #[error("unknown loss `{0}` (see `gpu-loss list`)")]
    UnknownLoss(String),

    #[error("{loss}: missing tensor `{tensor}`")]
    MissingTensor {
        loss: &'static str,
        tensor: &'static str,
    },

    #[error("{loss}: unexpected tensor `{tensor}` (it takes {takes})")]
    UnexpectedTensor {
        loss: &'static str,
        tensor: String,
        takes: String,
    },

    #[error("{loss}: tensor `{tensor}` has shape {got:?}, expected {expected}")]
    ShapeMismatch {
        loss: &'static str,
        tensor: &'static str,
        got: Vec<usize>,
        expected: String,
    },

    #[error("{loss}: unknown parameter `{name}` (it takes {takes})")]
    UnknownParam {
        loss: &'static str,
        name: String,
        takes: String,
    },

    #[error("{loss}: parameter `{name}` = {value} is invalid: it must be {rule}")]
    InvalidParam {
        loss: &'static str,
        name: &'static str,
        value: String,
        rule: &'static str,
    },

    #[error("{loss}: reduction `{reduction}` is not available here: {why}")]
    Reduction {
        loss: &'static str,
        reduction: String,
        why: &'static str,
    },

    #[error("{loss}: {tensor}[{index}] is NaN")]
    NaN {
        loss: &'static str,
        tensor: &'static str,
        index: u64,
    },

    #[error(
        "{loss}: row {row} has label {label}, outside [0, {classes}) and not the ignored label"
    )]
    LabelOutOfRange {
        loss: &'static str,
        row: u64,
        label: i64,
        classes: usize,
    },

    #[error("{loss}: {tensor}[{index}] is outside {domain}")]
    OutOfDomain {
        loss: &'static str,
        tensor: &'static str,
        index: u64,
        domain: &'static str,
    },

    #[error("tensor `{tensor}`: {why}")]
    Buffer { tensor: String, why: String },

    #[error(
        "{loss}: tensors `{a}` and `{b}` overlap in one buffer; an output must not alias an input"
    )]
    Aliasing {
        loss: &'static str,
        a: &'static str,
        b: &'static str,
    },

    #[error("{what} needs {needed}, more than this device allows ({limit})")]
    Limit {
        what: String,
        needed: u64,
        limit: u64,
    },

    /// A wgpu validation or internal error the library's own checks did not foresee.
    #[error("GPU error: {0}")]
    Gpu(String),

    /// The device ran out of memory; the context recovers (it holds no buffer of the call).
    #[error("GPU out of memory: {0}")]
    OutOfMemory(String),

    /// The device is lost (destroyed, reset, its driver failed): this context cannot recover.
    #[error("the device of {adapter} is lost ({reason}); create a new context")]
    DeviceLost { adapter: String, reason: String },

    /// A custom loss that cannot be one: a formula's syntax, an unknown name, a wrong arity, a
    /// function without a derivative (`why` names the column), or raw WGSL that does not
    /// compile.
    #[error("custom loss `{loss}`: {why}")]
    Custom { loss: String, why: String },

    /// A command line that does not say what it means (`--tensor` without `=`, ...).
    #[error("{0}")]
    Usage(String),

    /// An error in one layer of a call over several layers (style_loss).
    #[error("layer {layer}: {source}")]
    Layer {
        layer: usize,
        source: Box<LossError>,
    },

    /// A file that cannot be read or written, or is not what it claims to be.
    #[error("{path}: {why}")]
    File { path: String, why: String },

    /// A shape whose element count does not fit in usize: no buffer could hold it.
    #[error("tensor `{tensor}`: shape {shape:?} has more elements than a usize can count")]
    ShapeOverflow { tensor: String, shape: Vec<usize> },

    /// A tensor whose buffer belongs to another device than the context's.
    #[error("tensor `{tensor}`: its buffer belongs to another device than {context}'s")]
    ForeignTensor { tensor: String, context: String },

    /// A texture that cannot be read as a loss's image, or a loss that cannot read textures.
    #[error("texture {texture}: {why}")]
    Texture { texture: String, why: String },
}

pub type Result<T, E = LossError> = std::result::Result<T, E>;
