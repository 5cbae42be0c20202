// Throwaway: the ceiling of a trivial kernel on this adapter.
use wgpu::util::DeviceExt;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let variant = args.get(1).cloned().unwrap_or("gridvec4".into());
    let wgs: u32 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(64);
    let wg: u32 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(256);
    let n: usize = 1 << 22;
    let inst = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let ad = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::from_env().unwrap_or(wgpu::Backends::VULKAN))).remove(0);
    let (dev, q) = pollster::block_on(ad.request_device(&wgpu::DeviceDescriptor { required_limits: ad.limits(), required_features: ad.features() & wgpu::Features::SUBGROUP, ..Default::default() })).unwrap();
    let src = match variant.as_str() {
        "gridvec4" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        @compute @workgroup_size({wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{
          let n = arrayLength(&x); let stride = nw.x * {wg}u;
          for (var i = gid.x; i < n; i += stride) {{ g[i] = x[i] - y[i]; }} }}"),
        "flatvec4" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        @compute @workgroup_size({wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {{
          let i = gid.x; if i < arrayLength(&x) {{ g[i] = x[i] - y[i]; }} }}"),
        "chunkvec4" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        @compute @workgroup_size({wg}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{
          let n = arrayLength(&x); let per = (n + nw.x - 1u) / nw.x; let start = wid.x * per; let end = min(start + per, n);
          for (var i = start + lid; i < end; i += {wg}u) {{ g[i] = x[i] - y[i]; }} }}"),
        "flatred" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        var<workgroup> tree: array<f32, {wg}>;
        @compute @workgroup_size({wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {{
          let i = gid.x; var acc = 0.0; if i < arrayLength(&x) {{ let d = x[i] - y[i]; g[i] = d; acc = dot(d, d); }}
          tree[lid] = acc;
          for (var s = {wg}u / 2u; s > 0u; s /= 2u) {{ workgroupBarrier(); if lid < s {{ tree[lid] += tree[lid + s]; }} }}
          if lid == 0u {{ g[wid.x] = vec4(tree[0]); }} }}"),
        "flatsg" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        var<workgroup> tree: array<f32, {wg}>;
        @compute @workgroup_size({wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_id) sid: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(num_subgroups) nsg: u32) {{
          let i = gid.x; var acc = 0.0; if i < arrayLength(&x) {{ let d = x[i] - y[i]; g[i] = d; acc = dot(d, d); }}
          let s = subgroupAdd(acc);
          if lane == 0u {{ tree[sid] = s; }}
          workgroupBarrier();
          if lid == 0u {{ var t = 0.0; for (var k = 0u; k < nsg; k++) {{ t += tree[k]; }} g[wid.x] = vec4(t); }} }}"),
        "flatnored" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        @compute @workgroup_size({wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {{
          let i = gid.x; var acc = 0.0; if i < arrayLength(&x) {{ let d = x[i] - y[i]; g[i] = d; acc = dot(d, d); }}
          workgroupBarrier();
          if lid == 0u {{ g[wid.x] = vec4(acc); }} }}"),
        "blocked" | "blockedsg" => format!("@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; @group(0) @binding(1) var<storage, read> y: array<vec4<f32>>; @group(0) @binding(2) var<storage, read_write> g: array<vec4<f32>>;
        var<workgroup> tree: array<f32, {wg}>;
        @compute @workgroup_size({wg}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(subgroup_id) sid: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(num_subgroups) nsg: u32) {{
          let n = arrayLength(&x); let groups = {wg}u / 8u; let total_groups = nw.x * groups; let gidx = wid.x * groups + lid / 8u;
          let span = (n / 8u + total_groups - 1u) / total_groups * 8u; let start = gidx * span; let end = min(start + span, n);
          var acc = 0.0;
          for (var i = start + lid % 8u; i < end; i += 8u) {{ let d = x[i] - y[i]; g[i] = d; acc += dot(d, d); }}
          let s = subgroupAdd(acc);
          if lane == 0u {{ tree[sid] = s; }}
          workgroupBarrier();
          if lid == 0u {{ var t = 0.0; for (var k = 0u; k < nsg; k++) {{ t += tree[k]; }} g[wid.x] = vec4(t); }} }}"),
        "flatscalar" => format!("@group(0) @binding(0) var<storage, read> x: array<f32>; @group(0) @binding(1) var<storage, read> y: array<f32>; @group(0) @binding(2) var<storage, read_write> g: array<f32>;
        @compute @workgroup_size({wg}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {{
          let i = gid.x; if i < arrayLength(&x) {{ g[i] = x[i] - y[i]; }} }}"),
        "blockedscalar" => format!("@group(0) @binding(0) var<storage, read> x: array<f32>; @group(0) @binding(1) var<storage, read> y: array<f32>; @group(0) @binding(2) var<storage, read_write> g: array<f32>;
        var<workgroup> tree: array<f32, {wg}>;
        @compute @workgroup_size({wg}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(subgroup_id) sid: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(num_subgroups) nsg: u32) {{
          let n = arrayLength(&x); let groups = {wg}u / 8u; let total_groups = nw.x * groups; let gidx = wid.x * groups + lid / 8u;
          let span = (n / 8u + total_groups - 1u) / total_groups * 8u; let start = gidx * span; let end = min(start + span, n);
          var acc = 0.0;
          for (var i = start + lid % 8u; i < end; i += 8u) {{ let d = x[i] - y[i]; g[i] = d; acc += d * d; }}
          let s = subgroupAdd(acc);
          if lane == 0u {{ tree[sid] = s; }}
          workgroupBarrier();
          if lid == 0u {{ var t = 0.0; for (var k = 0u; k < nsg; k++) {{ t += tree[k]; }} g[wid.x] = t; }} }}"),
        _ => panic!(),
    };
    let m = dev.create_shader_module(wgpu::ShaderModuleDescriptor { label: None, source: wgpu::ShaderSource::Wgsl(src.into()) });
    let p = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor { label: None, layout: None, module: &m, entry_point: Some("main"), compilation_options: Default::default(), cache: None });
    let data = vec![1f32; n];
    let mk = |u| dev.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&data), usage: u });
    let (x, y, g) = (mk(wgpu::BufferUsages::STORAGE), mk(wgpu::BufferUsages::STORAGE), mk(wgpu::BufferUsages::STORAGE));
    let bg = dev.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &p.get_bind_group_layout(0), entries: &[
        wgpu::BindGroupEntry { binding: 0, resource: x.as_entire_binding() }, wgpu::BindGroupEntry { binding: 1, resource: y.as_entire_binding() }, wgpu::BindGroupEntry { binding: 2, resource: g.as_entire_binding() }] });
    let groups = if variant == "flatscalar" { (n as u32).div_ceil(wg) } else if variant.starts_with("flat") { (n as u32 / 4).div_ceil(wg) } else { wgs };
    let mut best = f64::MAX;
    for _ in 0..6 {
        let mut e = dev.create_command_encoder(&Default::default());
        { let mut c = e.begin_compute_pass(&Default::default()); c.set_pipeline(&p); c.set_bind_group(0, &bg, &[]); c.dispatch_workgroups(groups, 1, 1); }
        let t = std::time::Instant::now();
        q.submit([e.finish()]);
        dev.poll(wgpu::PollType::wait_indefinitely()).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{variant} wgs={groups} wg={wg}: {:.2} ms, {:.2} GB/s", best * 1e3, 12.0 * n as f64 / best / 1e9);
}
