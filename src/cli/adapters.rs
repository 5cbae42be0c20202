//! `gpu-loss adapters`: what each adapter is and offers.

use gpu_loss::{GpuContext, LossError, Result};
use std::process::ExitCode;

pub fn run() -> Result<ExitCode> {
    let found = gpu_loss::adapters();
    if found.is_empty() {
        return Err(LossError::NoAdapter(String::new()));
    }
    for adapter in &found {
        let info = adapter.get_info();
        let f = adapter.features();
        let l = adapter.limits();
        println!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
        println!("  driver            {} {}", info.driver, info.driver_info);
        let yes = |x: wgpu::Features| if f.contains(x) { "yes" } else { "no" };
        println!(
            "  subgroups         {} (sizes {}..{})",
            yes(wgpu::Features::SUBGROUP),
            info.subgroup_min_size,
            info.subgroup_max_size
        );
        println!("  f16               {}", yes(wgpu::Features::SHADER_F16));
        println!(
            "  timestamp queries {}",
            yes(wgpu::Features::TIMESTAMP_QUERY)
        );
        println!(
            "  storage binding   {} MiB, buffer {} MiB, offset alignment {} B",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.min_storage_buffer_offset_alignment
        );
        println!(
            "  workgroups        {} per dimension, {} invocations, {} B shared",
            l.max_compute_workgroups_per_dimension,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size
        );
        match GpuContext::from_adapter(adapter) {
            Ok(ctx) => println!("  tuning            {:?}", ctx.tuning()),
            Err(e) => println!("  (no device: {e})"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
