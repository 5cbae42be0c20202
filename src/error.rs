//! Every way a call can fail, as one typed error. Nothing in the library panics on bad input.

use thiserror::Error;

/// What went wrong in a call, with the names and indices the message quotes.
///
/// ```
/// use gpu_loss::LossError;
/// let e = LossError::NaN { loss: "mse", tensor: "input", index: 3 };
/// assert_eq!(e.to_string(), "mse: input[3] is NaN");
/// ```
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LossError {
    #[error(
        "no GPU adapter found{0}. On Linux without a GPU, install Mesa's software drivers \
         (`apt-get install mesa-vulkan-drivers` for lavapipe, Vulkan) or make EGL's llvmpipe \
         available (GL), then check with `gpu-loss adapters`"
    )]
    /// wgpu found no adapter (the text says what narrowed the search).
    NoAdapter(String),

    #[error("could not create a device on {adapter}: {reason}")]
    /// The adapter refused to create a device.
    Device {
        /// The adapter, as "name (Backend)".
        adapter: String,
        /// What wgpu said.
        reason: String,
    },

    #[error("unknown loss `{0}` (see `gpu-loss list`)")]
    /// No loss of the catalogue has this name or alias.
    UnknownLoss(String),

    #[error("{loss}: missing tensor `{tensor}`")]
    /// A tensor the loss requires was not given.
    MissingTensor {
        /// The loss.
        loss: &'static str,
        /// The tensor's name.
        tensor: &'static str,
    },

    #[error("{loss}: unexpected tensor `{tensor}` (it takes {takes})")]
    /// A tensor the loss does not take.
    UnexpectedTensor {
        /// The loss.
        loss: &'static str,
        /// The name given.
        tensor: String,
        /// The tensors it takes, comma-separated.
        takes: String,
    },

    #[error("{loss}: tensor `{tensor}` has shape {got:?}, expected {expected}")]
    /// A tensor's shape does not fit the loss (or the other tensors).
    ShapeMismatch {
        /// The loss.
        loss: &'static str,
        /// The tensor.
        tensor: &'static str,
        /// Its shape.
        got: Vec<usize>,
        /// What the loss takes there.
        expected: String,
    },

    #[error("{loss}: unknown parameter `{name}` (it takes {takes})")]
    /// A parameter the loss does not take.
    UnknownParam {
        /// The loss.
        loss: &'static str,
        /// The name given.
        name: String,
        /// The parameters it takes.
        takes: String,
    },

    #[error("{loss}: parameter `{name}` = {value} is invalid: it must be {rule}")]
    /// A parameter's value breaks its rule (`delta <= 0`, a word not among the choices).
    InvalidParam {
        /// The loss.
        loss: &'static str,
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        rule: &'static str,
    },

    #[error("{loss}: reduction `{reduction}` is not available here: {why}")]
    /// A reduction the loss or the call does not take.
    Reduction {
        /// The loss.
        loss: &'static str,
        /// The reduction asked for.
        reduction: String,
        /// Why not.
        why: &'static str,
    },

    #[error("{loss}: {tensor}[{index}] is NaN")]
    /// A NaN in a tensor (found on the GPU), at its first index.
    NaN {
        /// The loss.
        loss: &'static str,
        /// The tensor.
        tensor: &'static str,
        /// The first NaN's flat index.
        index: u64,
    },

    #[error(
        "{loss}: row {row} has label {label}, outside [0, {classes}) and not the ignored label"
    )]
    /// A class label outside `[0, classes)` that is not the ignored label.
    LabelOutOfRange {
        /// The loss.
        loss: &'static str,
        /// The first bad row.
        row: u64,
        /// Its label.
        label: i64,
        /// The number of classes.
        classes: usize,
    },

    #[error("{loss}: {tensor}[{index}] is outside {domain}")]
    /// A value outside the loss's domain (bce's input outside [0, 1], ...), at its first index.
    OutOfDomain {
        /// The loss.
        loss: &'static str,
        /// The tensor.
        tensor: &'static str,
        /// The first bad value's flat index.
        index: u64,
        /// The domain, as the message says it.
        domain: &'static str,
    },

    #[error("tensor `{tensor}`: {why}")]
    /// A buffer that cannot serve as this tensor (too small, lacking a usage, wrong dtype).
    Buffer {
        /// The tensor.
        tensor: String,
        /// Why.
        why: String,
    },

    #[error(
        "{loss}: tensors `{a}` and `{b}` overlap in one buffer; an output must not alias an input"
    )]
    /// An output shares bytes with an input (or another output).
    Aliasing {
        /// The loss.
        loss: &'static str,
        /// One tensor.
        a: &'static str,
        /// The other.
        b: &'static str,
    },

    #[error("{what} needs {needed}, more than this device allows ({limit})")]
    /// More than the device allows (buffer size, bindings).
    Limit {
        /// What needs it.
        what: String,
        /// How much it needs.
        needed: u64,
        /// The device's limit.
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
    DeviceLost {
        /// The adapter, as "name (Backend)".
        adapter: String,
        /// What wgpu said.
        reason: String,
    },

    /// A custom loss that cannot be one: a formula's syntax, an unknown name, a wrong arity, a
    /// function without a derivative (`why` names the column), or raw WGSL that does not
    /// compile.
    #[error("custom loss `{loss}`: {why}")]
    Custom {
        /// The custom loss's name.
        loss: String,
        /// Why.
        why: String,
    },

    /// A command line that does not say what it means (`--tensor` without `=`, ...).
    #[error("{0}")]
    Usage(String),

    /// An error in one layer of a call over several layers (style_loss).
    #[error("layer {layer}: {source}")]
    Layer {
        /// The layer's index.
        layer: usize,
        /// Its error.
        source: Box<LossError>,
    },

    /// A file that cannot be read or written, or is not what it claims to be.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },

    /// A shape whose element count does not fit in usize: no buffer could hold it.
    #[error("tensor `{tensor}`: shape {shape:?} has more elements than a usize can count")]
    ShapeOverflow {
        /// The tensor.
        tensor: String,
        /// Its shape.
        shape: Vec<usize>,
    },

    /// A tensor whose buffer belongs to another device than the context's.
    #[error("tensor `{tensor}`: its buffer belongs to another device than {context}'s")]
    ForeignTensor {
        /// The tensor.
        tensor: String,
        /// The context's adapter.
        context: String,
    },

    /// A texture that cannot be read as a loss's image, or a loss that cannot read textures.
    #[error("texture {texture}: {why}")]
    Texture {
        /// The texture.
        texture: String,
        /// Why.
        why: String,
    },
}

/// The library's result: [`LossError`] by default.
pub type Result<T, E = LossError> = std::result::Result<T, E>;
