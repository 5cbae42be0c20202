//! The process's lock around GL work. wgpu's GL backend gives up (panics) when its adapter
//! context stays locked for 6 s, and on llvmpipe one blocking call can hold it that long, so
//! every GL call, and every buffer's destruction, waits on this lock instead, which waits as
//! long as it takes. Reentrant: a call may drop tensors while it holds it.

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};

static GL_SERIAL: ReentrantMutex<()> = ReentrantMutex::new(());

pub(crate) fn gl_serial() -> ReentrantMutexGuard<'static, ()> {
    GL_SERIAL.lock()
}

/// The lock if no other thread holds it (this one may: it is reentrant).
pub(crate) fn try_gl_serial() -> Option<ReentrantMutexGuard<'static, ()>> {
    GL_SERIAL.try_lock()
}
