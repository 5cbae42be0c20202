//! The tuning cache on disk: one JSON file of choices, each keyed by what identifies an
//! adapter's code generation (name, vendor, device, driver, backend) and this crate's version,
//! so that a driver or crate update tunes again. A file that cannot be read or parsed is
//! ignored with a warning, never fatal: the worst it costs is a search.

use crate::tuning::{TuneFamily, Tuning};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

const FORMAT: &str = "gpu-loss tuning cache";
const VERSION: u32 = 1;

/// What a cached choice is valid for.
///
/// ```
/// use gpu_loss::autotune::cache::Key;
/// let key = Key { adapter: "llvmpipe".into(), vendor: 0x10005, device: 0, driver: "llvmpipe".into(),
///                 driver_info: "Mesa".into(), backend: "vulkan".into(), crate_version: "0.1.0".into() };
/// let other_driver = Key { driver_info: "Mesa 2".into(), ..key.clone() };
/// assert_ne!(key, other_driver); // a new driver is tuned again
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// The adapter's name.
    pub adapter: String,
    /// Its PCI vendor id.
    pub vendor: u32,
    /// Its PCI device id.
    pub device: u32,
    /// The driver's name.
    pub driver: String,
    /// The driver's version string.
    pub driver_info: String,
    /// The backend.
    pub backend: String,
    /// This crate's version (its kernels change with it).
    pub crate_version: String,
}

impl Key {
    /// The key of this adapter.
    ///
    /// ```no_run
    /// let ctx = gpu_loss::GpuContext::new()?;
    /// let key = gpu_loss::autotune::cache::Key::of(ctx.adapter_info());
    /// assert_eq!(key.adapter, ctx.adapter_info().name);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn of(info: &wgpu::AdapterInfo) -> Key {
        Key {
            adapter: info.name.clone(),
            vendor: info.vendor,
            device: info.device,
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            backend: format!("{:?}", info.backend).to_lowercase(),
            crate_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    key: Key,
    family: TuneFamily,
    tuning: Tuning,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    entries: Vec<Entry>,
}

/// Says once per process and file why a cache file is not used.
fn warn(path: &Path, why: &str) {
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{}: {why}", path.display());
    if said.get_or_insert_with(HashSet::new).insert(key) {
        eprintln!(
            "gpu-loss: ignoring the tuning cache {}: {why}",
            path.display()
        );
    }
}

/// The file's entries; empty when it does not exist, and (with a warning) when it is not a
/// cache of this format.
fn entries(path: &Path) -> Vec<Entry> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warn(path, &e.to_string());
            return Vec::new();
        }
    };
    match serde_json::from_str::<File>(&text) {
        Ok(f) if f.format == FORMAT && f.version == VERSION => f.entries,
        Ok(f) => {
            warn(
                path,
                &format!("format {:?} version {}", f.format, f.version),
            );
            Vec::new()
        }
        Err(e) => {
            warn(path, &format!("not a tuning cache ({e})"));
            Vec::new()
        }
    }
}

/// The cached choice for `family` on the adapter `key` names.
///
/// ```
/// use gpu_loss::{autotune::cache::{load, Key}, TuneFamily};
/// # let key = Key { adapter: "a".into(), vendor: 0, device: 0, driver: String::new(), driver_info: String::new(), backend: "vulkan".into(), crate_version: "0.1.0".into() };
/// // A cache that does not exist holds nothing (and is no error).
/// assert_eq!(load(std::path::Path::new("/nonexistent/tuning.json"), &key, TuneFamily::Rows), None);
/// ```
pub fn load(path: &Path, key: &Key, family: TuneFamily) -> Option<Tuning> {
    entries(path)
        .into_iter()
        .find(|e| &e.key == key && e.family == family)
        .map(|e| e.tuning)
}

/// Saves a choice, keeping the file's other entries. Written to a temporary file and renamed
/// over the old one, so that a reader (another process) never sees half a file. A failure is
/// a warning: the choice still holds in memory.
///
/// ```
/// use gpu_loss::{autotune::cache::{load, store, Key}, tuning::Layout, TuneFamily, Tuning};
/// let key = Key { adapter: "a".into(), vendor: 0, device: 0, driver: String::new(),
///                 driver_info: String::new(), backend: "vulkan".into(), crate_version: "0.1.0".into() };
/// let t = Tuning { workgroup_size: 128, layout: Layout::GridStride, max_workgroups: 1024, vector_loads: true,
///                  subgroups: false, cache_rows: false, runtime_checks: true, native_f16: false,
///                  row_span: 8, max_binding_bytes: 1 << 27 };
/// let path = std::env::temp_dir().join(format!("gpu_loss_store_{}.json", std::process::id()));
/// store(&path, &key, TuneFamily::Rows, t);
/// assert_eq!(load(&path, &key, TuneFamily::Rows), Some(t));
/// assert_eq!(load(&path, &key, TuneFamily::Elementwise), None); // another family
/// # std::fs::remove_file(&path).ok();
/// ```
pub fn store(path: &Path, key: &Key, family: TuneFamily, tuning: Tuning) {
    let mut all = entries(path);
    all.retain(|e| !(&e.key == key && e.family == family));
    all.push(Entry {
        key: key.clone(),
        family,
        tuning,
    });
    let file = File {
        format: FORMAT.into(),
        version: VERSION,
        entries: all,
    };
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    };
    if let Err(e) = write() {
        eprintln!(
            "gpu-loss: could not save the tuning cache {}: {e}",
            path.display()
        );
    }
}
