//! Issue 12's device errors: a call that meets a wgpu validation error, a buffer above the
//! device's limits or a lost device returns a typed error, never a panic, and the context
//! either goes on computing correct values or says it cannot (`DeviceLost`).

mod common;

use common::defaults;
use gpu_loss::{GpuContext, LossError, Tensor};

fn adapter_of(ctx: &GpuContext) -> wgpu::Adapter {
    let info = ctx.adapter_info();
    gpu_loss::adapters()
        .into_iter()
        .find(|a| {
            let i = a.get_info();
            (i.name.as_str(), i.backend) == (info.name.as_str(), info.backend)
        })
        .expect("the context's adapter")
}

fn storage_buffer(ctx: &GpuContext, size: u64) -> wgpu::Buffer {
    ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// The context still computes: mse of (0.5, 1, −1) against (0, 1, 1) is (0.25 + 0 + 4) / 3.
fn still_computes(ctx: &GpuContext, what: &str) {
    let x = ctx.upload(&[0.5, 1.0, -1.0], &[3]).expect(what);
    let y = ctx.upload(&[0.0, 1.0, 1.0], &[3]).expect(what);
    let v = ctx.loss("mse").unwrap().input(&x).target(&y).value();
    assert_eq!(v, Ok(4.25 / 3.0), "{what}: after the failed call");
    assert_eq!(ctx.download(&x).expect(what), [0.5, 1.0, -1.0], "{what}");
}

#[test]
fn buffers_above_the_device_limit_are_typed_errors() {
    for t in defaults() {
        let limit = t.ctx.limits().max_buffer_size;
        let e = t.ctx.zeros(&[(limit / 4 + 1) as usize]).unwrap_err();
        assert!(matches!(e, LossError::Limit { .. }), "{}: {e}", t.name);
        still_computes(&t.ctx, &t.name);

        // A device that allows 64 KiB buffers: gram's output [C, C] for C = 256 needs
        // 256 KiB, from an input of 1 KiB. The call is refused before anything runs.
        let mut limits = t.ctx.limits().clone();
        limits.max_buffer_size = 1 << 16;
        limits.max_storage_buffer_binding_size = 1 << 16;
        let desc = wgpu::DeviceDescriptor {
            required_limits: limits,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter_of(&t.ctx).request_device(&desc))
            .expect("a device with small buffers");
        let small = GpuContext::from_device(device, queue).unwrap();
        let f = small.upload(&vec![0.5; 256], &[256, 1]).unwrap();
        let e = small.loss("gram").unwrap().input(&f).run().unwrap_err();
        assert!(
            matches!(e, LossError::Limit { .. }),
            "{}: gram: {e}",
            t.name
        );
        let e = small.upload(&vec![0.0; 1 << 15], &[1 << 15]).unwrap_err();
        assert!(
            matches!(e, LossError::Limit { .. }),
            "{}: upload: {e}",
            t.name
        );
        still_computes(&small, &t.name);
    }
}

#[test]
fn a_validation_error_is_typed_and_the_context_goes_on() {
    for t in defaults() {
        // A buffer destroyed behind the library's back: wgpu refuses the bind group or the
        // submission; the failed call must not leave the context unable to run the next one.
        let buffer = storage_buffer(&t.ctx, 16);
        let dead = t.ctx.wrap(&buffer, 0, &[3]).unwrap();
        let x = t.ctx.upload(&[0.5, 1.0, -1.0], &[3]).unwrap();
        buffer.destroy();
        for _ in 0..2 {
            let e = t.ctx.loss("mse").unwrap().input(&dead).target(&x).value();
            assert!(matches!(e, Err(LossError::Gpu(_))), "{}: {e:?}", t.name);
            still_computes(&t.ctx, &t.name);
        }
        let e = t.ctx.download(&dead);
        assert!(matches!(e, Err(LossError::Gpu(_))), "{}: {e:?}", t.name);
        still_computes(&t.ctx, &t.name);
        let mut enc = t.ctx.device().create_command_encoder(&Default::default());
        let e = t
            .ctx
            .loss("mse")
            .unwrap()
            .input(&dead)
            .target(&x)
            .record(&mut enc);
        assert!(matches!(e, Err(LossError::Gpu(_))), "{}", t.name);
        still_computes(&t.ctx, &t.name);
    }
}

#[test]
fn a_bare_wrapped_buffer_of_another_device_is_a_typed_error() {
    for t in defaults() {
        // `Tensor::wrap` cannot know the buffer's device (wgpu does not say): wgpu's
        // validation finds it, as a typed error, in `run` and in `record` alike.
        let other = GpuContext::from_adapter(&adapter_of(&t.ctx)).unwrap();
        let buffer = storage_buffer(&other, 16);
        let bare = Tensor::wrap(&buffer, 0, &[3]).unwrap();
        let x = t.ctx.upload(&[0.5, 1.0, -1.0], &[3]).unwrap();
        let e = t.ctx.loss("mse").unwrap().input(&bare).target(&x).value();
        assert!(matches!(e, Err(LossError::Gpu(_))), "{}: {e:?}", t.name);
        still_computes(&t.ctx, &t.name);
        let mut enc = t.ctx.device().create_command_encoder(&Default::default());
        let e = t
            .ctx
            .loss("mse")
            .unwrap()
            .input(&bare)
            .target(&x)
            .record(&mut enc);
        assert!(matches!(e, Err(LossError::Gpu(_))), "{}", t.name);
        still_computes(&t.ctx, &t.name);
    }
}

#[test]
fn a_lost_device_says_the_context_cannot_go_on() {
    for t in defaults() {
        let ctx = GpuContext::from_adapter(&adapter_of(&t.ctx)).unwrap();
        let x = ctx.upload(&[0.5, 1.0, -1.0], &[3]).unwrap();
        ctx.device().destroy();
        let lost = |e: &LossError| matches!(e, LossError::DeviceLost { .. });
        let e = ctx.loss("mse").unwrap().input(&x).target(&x).value();
        assert!(e.as_ref().is_err_and(lost), "{}: {e:?}", t.name);
        // Known lost from now on: every operation says so at once.
        let e = ctx.upload(&[1.0], &[1]).unwrap_err();
        assert!(lost(&e), "{}: {e}", t.name);
        assert!(e.to_string().contains("create a new context"), "{e}");
        assert!(ctx.download(&x).is_err_and(|e| lost(&e)), "{}", t.name);
        assert!(ctx.zeros(&[2]).is_err_and(|e| lost(&e)), "{}", t.name);
        // Another context on the same adapter is unaffected.
        still_computes(&t.ctx, &t.name);
    }
}
