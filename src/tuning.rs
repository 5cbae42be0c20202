//! Launch settings per adapter, chosen here and nowhere else, so that they can be tuned (or
//! autotuned) in one place. What is fast on lavapipe (a CPU running workgroups as SIMD loops)
//! is not what is fast on a discrete GPU with thousands of lanes in flight.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

/// Which elements each invocation visits (shaders/walk.wgsl).
///
/// ```
/// use gpu_loss::tuning::Layout;
/// // As the tuning cache stores it.
/// let json = serde_json::to_string(&Layout::Blocked { lanes: 8 }).unwrap();
/// assert_eq!(json, r#"{"Blocked":{"lanes":8}}"#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layout {
    /// Invocation k of the grid visits k, k + grid, ...: coalesced on GPUs.
    GridStride,
    /// Each group of `lanes` invocations walks one contiguous span: for CPU drivers that
    /// run a workgroup `lanes` invocations (one SIMD register) at a time.
    Blocked {
        /// Invocations per SIMD group.
        lanes: u32,
    },
}

/// `Tuning::row_span` unless tuned: a lane walks about 8 VTs of a shared row.
///
/// ```
/// // A cache entry written before row_span existed reads as the default.
/// let old = r#"{"workgroup_size": 256, "layout": "GridStride", "max_workgroups": 64,
///     "vector_loads": true, "subgroups": true, "cache_rows": true, "runtime_checks": true,
///     "max_binding_bytes": 134217728}"#;
/// let t: gpu_loss::Tuning = serde_json::from_str(old).unwrap();
/// assert_eq!(t.row_span, gpu_loss::tuning::DEFAULT_ROW_SPAN);
/// ```
pub const DEFAULT_ROW_SPAN: u32 = 8;

fn default_row_span() -> u32 {
    DEFAULT_ROW_SPAN
}

/// How the kernels are launched on one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
///
/// ```no_run
/// use gpu_loss::tuning::Layout;
/// let ctx = gpu_loss::GpuContext::new()?;
/// ctx.set_tuning(gpu_loss::Tuning { layout: Layout::GridStride, ..ctx.tuning() });
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct Tuning {
    /// Invocations per workgroup: a power of two, a multiple of the largest subgroup size.
    pub workgroup_size: u32,
    /// Which elements an invocation visits.
    pub layout: Layout,
    /// Bound on workgroups per dispatch; each invocation then strides over the tensor.
    pub max_workgroups: u32,
    /// vec4 loads and stores when the tensors' offsets allow them.
    pub vector_loads: bool,
    /// Subgroup operations in the workgroup reduction, where the device has them.
    pub subgroups: bool,
    /// Row kernels keep a short row's logits in each lane's registers between their loss and
    /// gradient sweeps, instead of reading them again: a gain where each storage read is costly
    /// (CPU drivers, about 10% on cross_entropy's gradient at 4096 × 1024 on lavapipe); not yet
    /// measured on GPUs, where the second read mostly hits the cache.
    pub cache_rows: bool,
    /// wgpu's runtime checks (bounds checks it injects, forced loop bounds) in the elementwise
    /// and cross_entropy kernels, whose hosts prove every index in range (cross_entropy clamps
    /// each row's label into the row). Off only on Vulkan, where the driver's robust buffer
    /// access still bounds every buffer access; a candidate the tuner times there (on
    /// lavapipe, about a quarter off a plain mse kernel, and 6–10% off cross_entropy with its
    /// gradient).
    pub runtime_checks: bool,
    /// The elementwise kernel reads f16 tensors as WGSL `f16` (the device's `SHADER_F16`)
    /// instead of unpacking u32 words; stores still round in integer arithmetic, so the bits
    /// are the same either way. Off by default (no faster on lavapipe); a candidate the tuner
    /// times on an f16 call where the device has the feature.
    #[serde(default)]
    pub native_f16: bool,
    /// Row kernels share a row among enough lanes (a power of two, up to the workgroup) that
    /// each walks about this many VTs of it. Short shares suit GPUs (many lanes in flight); a
    /// CPU driver gains from long ones with one lane a span (on lavapipe, cross_entropy at
    /// 512 × 32768 took 14 ms at 256 a lane against 21 at 8), a candidate the tuner times.
    #[serde(default = "default_row_span")]
    pub row_span: u32,
    /// Largest window of one tensor that a dispatch binds; bigger tensors take several
    /// dispatches. The device's `max_storage_buffer_binding_size` unless lowered (tests do,
    /// to cover the split on small inputs).
    pub max_binding_bytes: u64,
}

impl Tuning {
    /// The settings for a device, from what its adapter says it is.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let hand_picked = gpu_loss::Tuning::for_device(ctx.adapter_info(), ctx.features(), ctx.limits());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn for_device(
        info: &wgpu::AdapterInfo,
        features: wgpu::Features,
        limits: &wgpu::Limits,
    ) -> Tuning {
        let cpu = info.device_type == wgpu::DeviceType::Cpu;
        let (max_workgroups, layout) = match info.device_type {
            // A discrete GPU wants many workgroups in flight to hide memory latency.
            wgpu::DeviceType::DiscreteGpu => (4096, Layout::GridStride),
            wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::VirtualGpu => {
                (1024, Layout::GridStride)
            }
            // A CPU driver runs workgroups on its threads: a few per core balance the load
            // without paying per-workgroup overhead, and each SIMD group streams in order.
            wgpu::DeviceType::Cpu => (
                64,
                Layout::Blocked {
                    lanes: simd_lanes(info, features),
                },
            ),
            wgpu::DeviceType::Other => (1024, Layout::GridStride),
        };
        Tuning {
            workgroup_size: 256,
            layout,
            max_workgroups,
            vector_loads: true,
            subgroups: true,
            cache_rows: cpu,
            runtime_checks: true,
            native_f16: false,
            row_span: DEFAULT_ROW_SPAN,
            max_binding_bytes: limits.max_storage_buffer_binding_size,
        }
        .fit(info, features, limits)
    }

    /// The same settings, brought within what the device supports.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let mut t = ctx.tuning();
    /// t.workgroup_size = 100_000; // more than any device allows
    /// let t = t.fit(ctx.adapter_info(), ctx.features(), ctx.limits());
    /// assert!(t.workgroup_size <= ctx.limits().max_compute_invocations_per_workgroup);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn fit(
        mut self,
        info: &wgpu::AdapterInfo,
        features: wgpu::Features,
        limits: &wgpu::Limits,
    ) -> Tuning {
        let max_wg = limits
            .max_compute_invocations_per_workgroup
            .min(limits.max_compute_workgroup_size_x)
            .max(1);
        // Largest power of two within the device's limit.
        let cap = 1u32 << (31 - max_wg.leading_zeros());
        self.workgroup_size = self
            .workgroup_size
            .clamp(1, cap)
            .next_power_of_two()
            .min(cap);
        // The shared tree keeps two vec2<f32> per invocation in workgroup memory.
        while self.workgroup_size > 1
            && self.workgroup_size * 16 > limits.max_compute_workgroup_storage_size
        {
            self.workgroup_size /= 2;
        }
        self.max_workgroups = self
            .max_workgroups
            .clamp(1, limits.max_compute_workgroups_per_dimension.max(1));
        // Room for at least a few thousand elements past the offset alignment.
        let floor = 4096 + u64::from(limits.min_storage_buffer_offset_alignment);
        self.max_binding_bytes = self
            .max_binding_bytes
            .min(limits.max_storage_buffer_binding_size)
            .max(floor);
        if let Layout::Blocked { lanes } = &mut self.layout {
            *lanes = (*lanes).clamp(1, self.workgroup_size).next_power_of_two();
        }
        self.runtime_checks |= info.backend != wgpu::Backend::Vulkan;
        self.native_f16 &= features.contains(wgpu::Features::SHADER_F16);
        self.row_span = self.row_span.max(1);
        let sg_max = info.subgroup_max_size;
        self.subgroups = self.subgroups
            && features.contains(wgpu::Features::SUBGROUP)
            && sg_max.is_power_of_two()
            && info.subgroup_min_size >= 4
            && sg_max <= self.workgroup_size;
        self
    }
}

/// The SIMD width of a CPU driver, in f32 lanes: its subgroup size when it reports one
/// (lavapipe), else the vector width llvmpipe puts in its name ("llvmpipe (LLVM 15, 256 bits)").
fn simd_lanes(info: &wgpu::AdapterInfo, features: wgpu::Features) -> u32 {
    if features.contains(wgpu::Features::SUBGROUP)
        && info.subgroup_min_size == info.subgroup_max_size
    {
        return info.subgroup_max_size.max(1);
    }
    info.name
        .split(|c: char| !c.is_ascii_digit())
        .zip(info.name.split(|c: char| c.is_ascii_digit()).skip(1))
        .find_map(|(digits, _)| {
            digits
                .parse::<u32>()
                .ok()
                .filter(|b| [128, 256, 512].contains(b))
        })
        .map(|bits| bits / 32)
        .unwrap_or(8)
}

/// The kernel families whose settings are tuned apart: what suits a stream of elements does
/// not suit rows reduced one workgroup at a time. The other kernels take the hand-picked
/// settings.
///
/// ```
/// use gpu_loss::TuneFamily;
/// assert_eq!(TuneFamily::ALL.map(TuneFamily::name), ["elementwise", "rows"]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TuneFamily {
    /// The elementwise kernel (sections A, B, kl_div, objectives' terms).
    Elementwise,
    /// The row kernels (cross_entropy, nll, the row statistics and tuples).
    Rows,
}

impl TuneFamily {
    /// Every tuned family.
    pub const ALL: [TuneFamily; 2] = [TuneFamily::Elementwise, TuneFamily::Rows];

    /// As the command line and the cache say it.
    ///
    /// ```
    /// assert_eq!(gpu_loss::TuneFamily::Rows.name(), "rows");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            TuneFamily::Elementwise => "elementwise",
            TuneFamily::Rows => "rows",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Where a context's launch settings come from (`GPU_LOSS_TUNING`, or
/// `GpuContext::set_tuning_mode`). A `Tuning` set with `GpuContext::set_tuning` wins over all.
///
/// ```
/// use gpu_loss::TuningMode;
/// assert_eq!(TuningMode::parse(" OFF "), Some(TuningMode::Off));
/// assert_eq!(TuningMode::parse(""), Some(TuningMode::Cached)); // the default
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TuningMode {
    /// The hand-picked settings of `Tuning::for_device`, never timed.
    Off,
    /// The settings cached on disk for this adapter; a family not cached yet is tuned at its
    /// first call and the choice is saved (the default).
    Cached,
    /// Every family is tuned again at its first call, and the cache overwritten.
    Retune,
}

impl TuningMode {
    /// `GPU_LOSS_TUNING` (off, cached, retune); `Cached` when unset. An unknown value is an
    /// error naming the variable.
    ///
    /// ```
    /// // GPU_LOSS_TUNING unset: Cached.
    /// let mode = gpu_loss::TuningMode::from_env().unwrap_or(gpu_loss::TuningMode::Cached);
    /// ```
    pub fn from_env() -> std::result::Result<TuningMode, String> {
        match std::env::var("GPU_LOSS_TUNING") {
            Err(_) => Ok(TuningMode::Cached),
            Ok(v) => TuningMode::parse(&v)
                .ok_or_else(|| format!("GPU_LOSS_TUNING={v}: expected off, cached or retune")),
        }
    }

    /// The mode of this name.
    ///
    /// ```
    /// use gpu_loss::TuningMode;
    /// assert_eq!(TuningMode::parse("retune"), Some(TuningMode::Retune));
    /// assert_eq!(TuningMode::parse("fast"), None);
    /// ```
    pub fn parse(s: &str) -> Option<TuningMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Some(TuningMode::Off),
            "cached" | "" => Some(TuningMode::Cached),
            "retune" => Some(TuningMode::Retune),
            _ => None,
        }
    }
}

/// What a family runs with, as a context knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Not decided yet: its first call tunes it (or takes the defaults, under `Off`).
    Open,
    /// Being timed by a search on some thread: its calls run this candidate.
    Trying(Tuning),
    /// Decided: from the cache, a search, or the defaults.
    Chosen(Tuning),
}

/// A context's launch settings: the hand-picked base, whether the caller fixed it, and each
/// tuned family's choice.
pub(crate) struct Settings {
    pub base: RwLock<Tuning>,
    /// Set by `GpuContext::set_tuning`: the base then runs every family.
    pub explicit: RwLock<bool>,
    pub mode: RwLock<TuningMode>,
    /// The cache file; None keeps choices in memory only.
    pub cache: RwLock<Option<PathBuf>>,
    slots: RwLock<[Slot; 2]>,
    /// Held while a family is being tuned, so that concurrent first calls wait for one search.
    pub search: Mutex<()>,
}

fn read<T: Copy>(l: &RwLock<T>) -> T {
    *l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>, v: T) {
    *l.write().unwrap_or_else(|e| e.into_inner()) = v;
}

impl Settings {
    pub fn new(base: Tuning, mode: TuningMode, cache: Option<PathBuf>) -> Settings {
        Settings {
            base: RwLock::new(base),
            explicit: RwLock::new(false),
            mode: RwLock::new(mode),
            cache: RwLock::new(cache),
            slots: RwLock::new([Slot::Open; 2]),
            search: Mutex::new(()),
        }
    }

    pub fn base(&self) -> Tuning {
        read(&self.base)
    }

    pub fn mode(&self) -> TuningMode {
        read(&self.mode)
    }

    pub fn explicit(&self) -> bool {
        read(&self.explicit)
    }

    pub fn slot(&self, family: TuneFamily) -> Slot {
        self.slots.read().unwrap_or_else(|e| e.into_inner())[family.slot()]
    }

    pub fn set_slot(&self, family: TuneFamily, slot: Slot) {
        self.slots.write().unwrap_or_else(|e| e.into_inner())[family.slot()] = slot;
    }

    /// The settings a call of `family` runs with now (the base while its slot is open).
    pub fn of(&self, family: TuneFamily) -> Tuning {
        match self.slot(family) {
            Slot::Trying(t) => t,
            Slot::Chosen(t) if !self.explicit() => t,
            _ => self.base(),
        }
    }

    /// Fixes the base for every family (an explicit `Tuning` wins over tuning).
    pub fn set_explicit(&self, tuning: Tuning) {
        write(&self.base, tuning);
        write(&self.explicit, true);
    }

    /// Forgets the families' choices, so that their next calls decide again under `mode`.
    pub fn set_mode(&self, mode: TuningMode) {
        write(&self.mode, mode);
        *self.slots.write().unwrap_or_else(|e| e.into_inner()) = [Slot::Open; 2];
    }

    pub fn set_cache(&self, cache: Option<PathBuf>) {
        write(&self.cache, cache);
    }

    pub fn cache(&self) -> Option<PathBuf> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `GPU_LOSS_CACHE_DIR`, else the platform cache directory (`$XDG_CACHE_HOME`, ~/.cache,
/// ~/Library/Caches, %LOCALAPPDATA%), + `gpu-loss/tuning.json`; None where there is neither.
///
/// ```
/// if let Some(file) = gpu_loss::tuning::default_cache() {
///     assert!(file.ends_with("tuning.json"));
/// }
/// ```
pub fn default_cache() -> Option<PathBuf> {
    let dir = match std::env::var_os("GPU_LOSS_CACHE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => dirs::cache_dir()?.join("gpu-loss"),
    };
    Some(dir.join("tuning.json"))
}

impl std::fmt::Display for Tuning {
    /// Short, for tables: "wg 256 · blocked×8 · 64 groups · vec4 · subgroups · rows cached".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layout = match self.layout {
            Layout::GridStride => "grid-stride".to_string(),
            Layout::Blocked { lanes } => format!("blocked×{lanes}"),
        };
        write!(
            f,
            "wg {} · {layout} · {} groups · {} · {}{}{}{}{}",
            self.workgroup_size,
            self.max_workgroups,
            if self.vector_loads { "vec4" } else { "scalar" },
            if self.subgroups {
                "subgroups"
            } else {
                "shared tree"
            },
            if self.cache_rows {
                " · rows cached"
            } else {
                ""
            },
            if self.runtime_checks {
                ""
            } else {
                " · unchecked"
            },
            if self.native_f16 {
                " · native f16"
            } else {
                ""
            },
            if self.row_span == DEFAULT_ROW_SPAN {
                String::new()
            } else {
                format!(" · {} VTs a row lane", self.row_span)
            }
        )
    }
}
