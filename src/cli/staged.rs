//! Output files written all or nothing: each to a temporary file beside its destination
//! (same folder, so the rename is atomic), renamed into place only once the whole command
//! has succeeded. A failure anywhere, a full disk included, leaves no file behind.

use gpu_loss::npy::{self, Element};
use gpu_loss::{LossError, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

struct Pending {
    dest: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

/// The outputs of one command, in the order they were named.
pub struct Staged {
    files: Vec<Pending>,
}

fn file_error(path: &Path, why: impl std::fmt::Display) -> LossError {
    LossError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

impl Staged {
    /// Checks every destination and creates its temporary file now, before any work, so an
    /// unwritable folder fails the command at once.
    pub fn open(dests: &[&Path]) -> Result<Staged> {
        let mut staged = Staged { files: Vec::new() };
        for (i, &dest) in dests.iter().enumerate() {
            if dests[..i].contains(&dest) {
                return Err(LossError::Usage(format!(
                    "{} is named as two outputs",
                    dest.display()
                )));
            }
            let name = dest
                .file_name()
                .filter(|_| !dest.is_dir())
                .ok_or_else(|| file_error(dest, "names a folder, not a file"))?;
            let folder = match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let mut temp = folder.join(format!(
                ".{}.{}.tmp",
                name.to_string_lossy(),
                std::process::id()
            ));
            let mut n = 0;
            let file = loop {
                match OpenOptions::new().write(true).create_new(true).open(&temp) {
                    Ok(f) => break f,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => {
                        n += 1;
                        temp.set_extension(format!("{n}.tmp"));
                    }
                    Err(e) => return Err(file_error(dest, format!("cannot be written ({e})"))),
                }
            };
            staged.files.push(Pending {
                dest: dest.to_path_buf(),
                temp,
                file: Some(file),
            });
        }
        Ok(staged)
    }

    /// Writes output `i` (in the order given to `open`) as a `.npy` file.
    pub fn write<T: Element>(&mut self, i: usize, shape: &[usize], data: &[T]) -> Result<()> {
        self.fill(i, |w| npy::encode(w, shape, data))
    }

    /// Writes output `i` as these bytes (JSON, SVG).
    pub fn write_bytes(&mut self, i: usize, bytes: &[u8]) -> Result<()> {
        self.fill(i, |w| w.write_all(bytes))
    }

    fn fill(
        &mut self,
        i: usize,
        put: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<()> {
        let p = &mut self.files[i];
        let file = p
            .file
            .take()
            .ok_or_else(|| file_error(&p.dest, "written twice"))?;
        let fail = |e: std::io::Error| file_error(&p.dest, format!("cannot be written ({e})"));
        let mut w = BufWriter::new(file);
        put(&mut w).map_err(fail)?;
        let file = w.into_inner().map_err(|e| fail(e.into_error()))?;
        // A write the disk could not hold may surface only here.
        file.sync_all().map_err(fail)
    }

    /// Moves every output into place; each must have been written.
    pub fn commit(mut self) -> Result<()> {
        if let Some(p) = self.files.iter().find(|p| p.file.is_some()) {
            return Err(file_error(&p.dest, "nothing was computed for it"));
        }
        let files = std::mem::take(&mut self.files);
        for (i, p) in files.iter().enumerate() {
            if let Err(e) = std::fs::rename(&p.temp, &p.dest) {
                files[i..]
                    .iter()
                    .for_each(|q| drop(std::fs::remove_file(&q.temp)));
                return Err(file_error(&p.dest, format!("cannot be written ({e})")));
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for p in &self.files {
            std::fs::remove_file(&p.temp).ok();
        }
    }
}
