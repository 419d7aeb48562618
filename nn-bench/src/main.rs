//! `nn-bench`: the reference models of `shared/MODELS.md` (M1-M4) run by `nn` and by the Rust
//! peers (dfdx 0.13, candle 0.11, tract 0.23) in one process and one run, with a measured compute
//! floor, written as JSON.
//!
//! ```text
//! cargo run --release -p nn-bench -- --out results.json [--quick]
//! ```
//!
//! Measures (as in `benches/models.rs`):
//! - (a) batch-1 forward latency, ns per sample: the input is built from a slice in every call and
//!   the softmax is included (`nn`: `Input::try_from`, `forward`; candle: `Tensor::from_slice`,
//!   forward, `softmax_last_dim`; tract: `Tensor::from_shape`, `SimpleState::run`; dfdx:
//!   `tensor_from_vec`, forward, `softmax`).
//! - (b) batch-256 forward throughput, samples per second: `nn` runs `forward_batch` on 256
//!   prepared inputs (chunks of samples through each layer); the peers run one forward pass on a
//!   prepared `[256, ...]` tensor (their batched path).
//! - (c) one training step at batch 32, us per step: forward, softmax cross-entropy on the logits,
//!   backward and a plain SGD update (lr 0.01). The labels rotate every step (as in
//!   `benches/models.rs`) so the run stays stationary. tract is inference-only.
//!
//! Every figure is the median over timed repetitions (each repetition long enough, >= 20 us, that
//! the clock's overhead does not count) after a warm-up. The compute floor comes from a peak-FMA
//! micro-benchmark (16 independent accumulators of vector FMAs, AVX-512 or AVX2+FMA chosen at run
//! time, best of several runs): floor = MACs / peak.
//!
//! Threads: `main` sets `RAYON_NUM_THREADS=1` before anything starts rayon. candle reads it for
//! its gemm (`candle_core::utils::get_num_threads`) and dfdx's gemm uses rayon's global pool, so
//! every implementation runs on one thread, like `nn` (candle with two threads is 10-30x slower
//! at these sizes, MODELS.md). tract is single-threaded by default.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use nn::prelude::*;
use nn_models::bench::{
    self, LR, SEED, THROUGHPUT_BATCH, THROUGHPUT_SEED, TRAIN_BATCH, TRAIN_SEED,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

// ------------------------------------------------------------------------------------------------
// The models, declared once in `nn-models` (as in benches/models.rs).

nn_models::m1! { pub struct M1 }
nn_models::m1! {
    /// M1 with its fixed-point twin at hls4ml's default, `ap_fixed<16,6>` everywhere (each
    /// product floored into a 16-bit wrap-around accumulator).
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct M1Fixed16
}
nn_models::m1! {
    /// M1's fixed-point twin with `ap_fixed<16,6>` data, weights, biases and results but
    /// `ap_fixed<32,12>` accumulators, in which every product is exact.
    #[fixed(
        default = "ap_fixed<16,6>",
        fc1(accum = "ap_fixed<32,12>"),
        fc2(accum = "ap_fixed<32,12>"),
        fc3(accum = "ap_fixed<32,12>"),
        output(accum = "ap_fixed<32,12>"),
    )]
    pub struct M1Fixed16Acc32
}
nn_models::m2! { pub struct M2 }
nn_models::m3! { pub struct M3 }
nn_models::m4! { pub struct M4 }

/// The same architectures for the peers: one sequential layer list per model.
#[derive(Clone, Copy)]
enum Spec {
    Dense(usize, usize),
    /// in, out, kernel, stride, padding
    Conv1d(usize, usize, usize, usize, usize),
    /// in, out, kernel, padding (stride 1)
    Conv2d(usize, usize, usize, usize),
    MaxPool2d(usize),
    Relu,
    Flatten,
}

struct Model {
    name: &'static str,
    /// Input shape without the batch dimension.
    input: &'static [usize],
    classes: usize,
    macs: usize,
    layers: &'static [Spec],
    onnx: &'static [u8],
}

use Spec::*;

fn models() -> [Model; 4] {
    [
        Model {
            name: "M1",
            input: &[16],
            classes: 5,
            macs: M1::MACS,
            layers: &[
                Dense(16, 64),
                Relu,
                Dense(64, 32),
                Relu,
                Dense(32, 32),
                Relu,
                Dense(32, 5),
            ],
            onnx: include_bytes!("../onnx/m1.onnx"),
        },
        Model {
            name: "M2",
            input: &[1, 8, 8],
            classes: 10,
            macs: M2::MACS,
            layers: &[
                Conv2d(1, 8, 3, 1),
                Relu,
                MaxPool2d(2),
                Conv2d(8, 16, 3, 1),
                Relu,
                MaxPool2d(2),
                Flatten,
                Dense(64, 10),
            ],
            onnx: include_bytes!("../onnx/m2.onnx"),
        },
        Model {
            name: "M3",
            input: &[1, 28, 28],
            classes: 10,
            macs: M3::MACS,
            layers: &[
                Conv2d(1, 6, 5, 0),
                Relu,
                MaxPool2d(2),
                Conv2d(6, 16, 5, 0),
                Relu,
                MaxPool2d(2),
                Flatten,
                Dense(256, 120),
                Relu,
                Dense(120, 84),
                Relu,
                Dense(84, 10),
            ],
            onnx: include_bytes!("../onnx/m3.onnx"),
        },
        Model {
            name: "M4",
            input: &[1, 40],
            classes: 10,
            macs: M4::MACS,
            layers: &[
                Conv1d(1, 32, 5, 1, 2),
                Relu,
                Conv1d(32, 32, 3, 2, 1),
                Relu,
                Conv1d(32, 32, 3, 2, 1),
                Relu,
                Flatten,
                Dense(320, 10),
            ],
            onnx: include_bytes!("../onnx/m4.onnx"),
        },
    ]
}

/// `n` deterministic inputs of `len` values in [-2, 2): consecutive runs of
/// `nn_models::bench::Inputs`, as benches/models.rs cuts them.
fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut values = bench::Inputs::new(seed);
    (0..n)
        .map(|_| values.by_ref().take(len).collect())
        .collect()
}

/// The rotating labels of the training batch at step `step` (`nn_models::bench::label`).
fn labels(step: usize, classes: usize) -> impl Iterator<Item = usize> {
    (0..TRAIN_BATCH).map(move |i| bench::label(i, step, classes))
}

// ------------------------------------------------------------------------------------------------
// Timing harness.

struct Harness {
    warmup: Duration,
    measure: Duration,
    min_reps: usize,
    max_reps: usize,
}

impl Harness {
    /// Median seconds per call of `f`: warm up, choose how many calls make one repetition (at
    /// least 20 us), then time repetitions until the measuring time is spent (at least
    /// `min_reps` of them).
    fn seconds_per_call(&self, mut f: impl FnMut()) -> f64 {
        let start = Instant::now();
        let mut calls = 0u64;
        while calls < 2 || start.elapsed() < self.warmup {
            f();
            calls += 1;
        }
        let per_call = start.elapsed().as_secs_f64() / calls as f64;
        let inner = ((20e-6 / per_call).ceil() as u64).max(1);
        let mut reps = Vec::new();
        let t0 = Instant::now();
        while reps.len() < self.min_reps
            || (t0.elapsed() < self.measure && reps.len() < self.max_reps)
        {
            let s = Instant::now();
            for _ in 0..inner {
                f();
            }
            reps.push(s.elapsed().as_secs_f64() / inner as f64);
        }
        reps.sort_by(f64::total_cmp);
        let n = reps.len();
        if n % 2 == 1 {
            reps[n / 2]
        } else {
            0.5 * (reps[n / 2 - 1] + reps[n / 2])
        }
    }

    /// (a) in ns per sample.
    fn latency(&self, f: impl FnMut()) -> f64 {
        self.seconds_per_call(f) * 1e9
    }

    /// (b) in samples per second, `f` processing `THROUGHPUT_BATCH` samples.
    fn throughput(&self, f: impl FnMut()) -> f64 {
        THROUGHPUT_BATCH as f64 / self.seconds_per_call(f)
    }

    /// (c) in us per step.
    fn step(&self, f: impl FnMut()) -> f64 {
        self.seconds_per_call(f) * 1e6
    }
}

// ------------------------------------------------------------------------------------------------
// Results.

struct Entry {
    imp: &'static str,
    model: &'static str,
    measure: char,
    value: f64,
}

fn unit(measure: char) -> &'static str {
    match measure {
        'a' => "ns/sample",
        'b' => "samples/s",
        _ => "us/step",
    }
}

struct Results {
    entries: Vec<Entry>,
}

impl Results {
    fn push(&mut self, imp: &'static str, model: &'static str, measure: char, value: f64) {
        eprintln!(
            "  {imp:<6} {model} ({measure}) {} {}",
            fmt_value(measure, value),
            unit(measure)
        );
        self.entries.push(Entry {
            imp,
            model,
            measure,
            value,
        });
    }

    fn get(&self, imp: &str, model: &str, measure: char) -> Option<f64> {
        self.entries
            .iter()
            .find(|e| e.imp == imp && e.model == model && e.measure == measure)
            .map(|e| e.value)
    }
}

fn fmt_value(measure: char, v: f64) -> String {
    let s = match measure {
        'b' if v >= 1e6 => return format!("{:.2} M", v / 1e6),
        'b' if v >= 1e3 => return format!("{:.1} k", v / 1e3),
        _ if v >= 100.0 => format!("{v:.0}"),
        _ if v >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    };
    // Thousands separators for the integer part.
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

// ------------------------------------------------------------------------------------------------
// nn.

fn bench_nn<N>(h: &Harness, r: &mut Results, name: &'static str)
where
    N: Trainable + Clone + Sync,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    nn::set_threads(1);
    bench_nn_threads::<N>(h, r, name, "nn", true);
    // (b) and (c) again on every core (`nn::set_threads(0)`).
    nn::set_threads(0);
    if nn::threads() > 1 {
        bench_nn_threads::<N>(h, r, name, "nn-all-cores", false);
    }
    nn::set_threads(1);
}

/// (a) (when `latency`), (b) and (c) of `nn` with the threads `nn::set_threads` set, recorded
/// as `imp`.
fn bench_nn_threads<N>(
    h: &Harness,
    r: &mut Results,
    name: &'static str,
    imp: &'static str,
    latency: bool,
) where
    N: Trainable + Clone + Sync,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let net = N::new(SEED);

    if latency {
        let slice: Vec<f32> = inputs(1, N::INPUT_LEN, SEED).remove(0);
        let a = h.latency(|| {
            let x = nn::Input::<N>::try_from(black_box(&slice[..])).unwrap();
            black_box(net.forward(&x));
        });
        r.push(imp, name, 'a', a);
    }

    let xs: Vec<nn::Input<N>> = inputs(THROUGHPUT_BATCH, N::INPUT_LEN, THROUGHPUT_SEED)
        .iter()
        .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap())
        .collect();
    let mut ys = vec![nn::Output::<N>::zeros(); THROUGHPUT_BATCH];
    let b = h.throughput(|| {
        net.forward_batch(black_box(&xs), &mut ys)
            .expect("as many outputs as inputs");
        black_box(&ys);
    });
    r.push(imp, name, 'b', b);

    let mut net = net.clone();
    let x: nn::Batch<N::InputShape, TRAIN_BATCH> = nn::batch_from(
        inputs(TRAIN_BATCH, N::INPUT_LEN, TRAIN_SEED)
            .iter()
            .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap()),
    );
    let mut targets = vec![0usize; TRAIN_BATCH];
    let mut step = 0usize;
    let mut grad = nn::zeroed_batch::<N::OutputShape, TRAIN_BATCH>();
    let mut sgd = Sgd::new(LR as f32);
    let loss_fn = CrossEntropy;
    // A training loop keeps its buffers (as `Trainer` does): the cache, which also holds
    // backward's gradient batches, and the parameter gradients.
    let mut cache = N::new_cache::<TRAIN_BATCH>();
    let mut grads: Box<N::Gradients> = Default::default();
    let c = h.step(|| {
        step += 1;
        for (t, l) in targets.iter_mut().zip(labels(step, N::OUTPUT_LEN)) {
            *t = l;
        }
        net.forward_train_into(black_box(&x), &mut cache);
        let logits = N::cache_logits(&cache);
        let loss = loss_fn.loss_grad(&logits[..], &targets, &mut grad[..]);
        black_box(net.backward_logits_into(&mut cache, &grad, &mut grads));
        sgd.step(&mut net, &grads);
        black_box(loss);
    });
    r.push(imp, name, 'c', c);
}

// ------------------------------------------------------------------------------------------------
// nn's int8 twins.

/// Parameter bytes of a model in `f32` and of its int8 twin (int8 weights, int32 biases).
struct Int8Bytes {
    model: &'static str,
    f32_bytes: usize,
    int8_bytes: usize,
}

/// (a) and (b) of model `$n`'s int8 twin (`quantize_int8` of the same seeded network,
/// calibrated on 64 inputs of the throughput set), on one thread, recorded as `nn-int8`: the
/// same input handling as `nn` (built from a slice, quantized, dequantized logits and the
/// softmax in `f32` included).
macro_rules! bench_int8 {
    ($h:expr, $r:expr, $bytes:expr, $n:ident, $twin:ident, $name:expr) => {{
        nn::set_threads(1);
        let net = $n::new(SEED);
        let len = $n::INPUT_LEN;
        let calib: Vec<nn::Input<$n>> = inputs(64, len, THROUGHPUT_SEED)
            .iter()
            .map(|v| nn::Input::<$n>::try_from(&v[..]).unwrap())
            .collect();
        let q = net
            .quantize_int8(&calib)
            .expect("the reference models quantize to int8");
        let slice: Vec<f32> = inputs(1, len, SEED).remove(0);
        let a = $h.latency(|| {
            let x = nn::Input::<$n>::try_from(black_box(&slice[..])).unwrap();
            black_box(q.forward(&x));
        });
        $r.push("nn-int8", $name, 'a', a);
        let xs: Vec<nn::Input<$n>> = inputs(THROUGHPUT_BATCH, len, THROUGHPUT_SEED)
            .iter()
            .map(|v| nn::Input::<$n>::try_from(&v[..]).unwrap())
            .collect();
        let mut ys = vec![nn::Output::<$n>::zeros(); THROUGHPUT_BATCH];
        let b = $h.throughput(|| {
            q.forward_batch(black_box(&xs), &mut ys)
                .expect("as many outputs as inputs");
            black_box(&ys);
        });
        $r.push("nn-int8", $name, 'b', b);
        $bytes.push(Int8Bytes {
            model: $name,
            f32_bytes: $n::PARAM_BYTES,
            int8_bytes: $twin::WEIGHT_BYTES,
        });
    }};
}

/// The int8 twins against nn's `f32` networks measured in the same run.
fn int8_table(r: &Results, bytes: &[Int8Bytes]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| model | (a) ns, f32 | (a) ns, int8 | int8 / f32 | (b) samples/s, f32 | (b) int8 | int8 / f32 | bytes f32 | bytes int8 | ratio |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for b in bytes {
        let get = |imp: &str, m: char| r.get(imp, b.model, m).unwrap_or(f64::NAN);
        let (fa, ia, fb, ib) = (
            get("nn", 'a'),
            get("nn-int8", 'a'),
            get("nn", 'b'),
            get("nn-int8", 'b'),
        );
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {} | {} | {:.3} |",
            b.model,
            fmt_value('a', fa),
            fmt_value('a', ia),
            ia / fa,
            fmt_value('b', fb),
            fmt_value('b', ib),
            ib / fb,
            b.f32_bytes,
            b.int8_bytes,
            b.int8_bytes as f64 / b.f32_bytes as f64
        );
    }
    s
}

// ------------------------------------------------------------------------------------------------
// nn's fixed-point twins (hls4ml's ap_fixed arithmetic, `#[fixed]`).

/// The fixed-point configurations measured, as (impl, what it is).
const FIXED_IMPLS: [(&str, &str); 2] = [
    (
        "nn-fixed16",
        "ap_fixed<16,6> everywhere (hls4ml's default; products floored into 16-bit wrap-around accumulators)",
    ),
    (
        "nn-fixed16-acc32",
        "ap_fixed<16,6> data, weights, biases and results, ap_fixed<32,12> accumulators (exact products)",
    ),
];

/// (a) and (b) of M1's fixed-point twin `$n` (`to_fixed()` of the same seeded network as nn's
/// f32 M1), on one thread, recorded as `$imp`: the same input handling as `nn` (an `Input`
/// built from the slice, converted to the input type, the softmax of the twin (hls4ml's tables)
/// included, outputs converted to `f32`); (b) runs the 256 prepared inputs one after another.
macro_rules! bench_fixed {
    ($h:expr, $r:expr, $n:ident, $imp:expr) => {{
        nn::set_threads(1);
        let twin = $n::new(SEED).to_fixed();
        let len = $n::INPUT_LEN;
        let slice: Vec<f32> = inputs(1, len, SEED).remove(0);
        let a = $h.latency(|| {
            let x = nn::Input::<$n>::try_from(black_box(&slice[..])).unwrap();
            black_box(twin.forward(&x));
        });
        $r.push($imp, "M1", 'a', a);
        let xs: Vec<nn::Input<$n>> = inputs(THROUGHPUT_BATCH, len, THROUGHPUT_SEED)
            .iter()
            .map(|v| nn::Input::<$n>::try_from(&v[..]).unwrap())
            .collect();
        let mut ys = vec![nn::Output::<$n>::zeros(); THROUGHPUT_BATCH];
        let b = $h.throughput(|| {
            for (x, y) in black_box(&xs).iter().zip(ys.iter_mut()) {
                *y = twin.forward(x);
            }
            black_box(&ys);
        });
        $r.push($imp, "M1", 'b', b);
    }};
}

/// The fixed-point twins of M1 against nn's `f32` M1 measured in the same run.
fn fixed_table(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| impl | types | (a) ns, f32 | (a) ns, fixed | fixed / f32 | (b) samples/s, f32 | (b) fixed | fixed / f32 |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|");
    for (imp, what) in FIXED_IMPLS {
        let get = |imp: &str, m: char| r.get(imp, "M1", m).unwrap_or(f64::NAN);
        let (fa, xa, fb, xb) = (get("nn", 'a'), get(imp, 'a'), get("nn", 'b'), get(imp, 'b'));
        let _ = writeln!(
            s,
            "| {imp} | {what} | {} | {} | {:.2} | {} | {} | {:.2} |",
            fmt_value('a', fa),
            fmt_value('a', xa),
            xa / fa,
            fmt_value('b', fb),
            fmt_value('b', xb),
            xb / fb,
        );
    }
    s
}

// ------------------------------------------------------------------------------------------------
// dfdx 0.13 (M1 only: its Conv2D and pooling need the `nightly` feature, and it has no Conv1d).

fn bench_dfdx_m1(h: &Harness, r: &mut Results) {
    use dfdx::optim::{Optimizer, Sgd as DfdxSgd, SgdConfig};
    use dfdx::prelude::*;

    type Mlp = (
        (Linear<16, 64>, ReLU),
        (Linear<64, 32>, ReLU),
        (Linear<32, 32>, ReLU),
        Linear<32, 5>,
    );
    let dev = Cpu::seed_from_u64(SEED);
    let mut model = dev.build_module::<Mlp, f32>();

    let slice: Vec<f32> = inputs(1, 16, SEED).remove(0);
    let a = h.latency(|| {
        let x = dev.tensor_from_vec(black_box(&slice[..]).to_vec(), (Const::<16>,));
        black_box(model.forward(x).softmax::<Axis<0>>());
    });
    r.push("dfdx", "M1", 'a', a);

    let xb: Vec<f32> = inputs(THROUGHPUT_BATCH, 16, THROUGHPUT_SEED).concat();
    let xb = dev.tensor_from_vec(xb, (Const::<THROUGHPUT_BATCH>, Const::<16>));
    let b = h.throughput(|| {
        black_box(model.forward(black_box(&xb).clone()).softmax::<Axis<1>>());
    });
    r.push("dfdx", "M1", 'b', b);

    let x = dev.tensor_from_vec(
        inputs(TRAIN_BATCH, 16, TRAIN_SEED).concat(),
        (Const::<TRAIN_BATCH>, Const::<16>),
    );
    let mut opt = DfdxSgd::new(
        &model,
        SgdConfig {
            lr: LR,
            momentum: None,
            weight_decay: None,
        },
    );
    let mut grads = Some(model.alloc_grads());
    let mut step = 0usize;
    let mut onehot = vec![0.0f32; TRAIN_BATCH * 5];
    let c = h.step(|| {
        step += 1;
        onehot.iter_mut().for_each(|v| *v = 0.0);
        for (i, l) in labels(step, 5).enumerate() {
            onehot[i * 5 + l] = 1.0;
        }
        let y = dev.tensor_from_vec(onehot.clone(), (Const::<TRAIN_BATCH>, Const::<5>));
        let logits = model.forward_mut(black_box(&x).trace(grads.take().unwrap()));
        let loss = cross_entropy_with_logits_loss(logits, y);
        black_box(loss.array());
        let mut g = loss.backward();
        opt.update(&mut model, &g).unwrap();
        model.zero_grads(&mut g);
        grads = Some(g);
    });
    r.push("dfdx", "M1", 'c', c);
}

// ------------------------------------------------------------------------------------------------
// candle 0.11.

mod peer_candle {
    use super::*;
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{Module, Optimizer, VarBuilder, VarMap};

    enum Layer {
        Linear(candle_nn::Linear),
        Conv1d(candle_nn::Conv1d),
        Conv2d(candle_nn::Conv2d),
        MaxPool2d(usize),
        Relu,
        Flatten,
    }

    struct Net {
        layers: Vec<Layer>,
        varmap: VarMap,
    }

    impl Net {
        fn new(m: &Model) -> candle_core::Result<Net> {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
            let mut layers = Vec::new();
            for (i, s) in m.layers.iter().enumerate() {
                let vb = vb.pp(format!("l{i}"));
                layers.push(match *s {
                    Spec::Dense(i, o) => Layer::Linear(candle_nn::linear(i, o, vb)?),
                    Spec::Conv1d(i, o, k, stride, padding) => {
                        let cfg = candle_nn::Conv1dConfig {
                            padding,
                            stride,
                            ..Default::default()
                        };
                        Layer::Conv1d(candle_nn::conv1d(i, o, k, cfg, vb)?)
                    }
                    Spec::Conv2d(i, o, k, padding) => {
                        let cfg = candle_nn::Conv2dConfig {
                            padding,
                            ..Default::default()
                        };
                        Layer::Conv2d(candle_nn::conv2d(i, o, k, cfg, vb)?)
                    }
                    Spec::MaxPool2d(k) => Layer::MaxPool2d(k),
                    Spec::Relu => Layer::Relu,
                    Spec::Flatten => Layer::Flatten,
                });
            }
            Ok(Net { layers, varmap })
        }

        fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
            let mut x = x.clone();
            for l in &self.layers {
                x = match l {
                    Layer::Linear(m) => m.forward(&x)?,
                    Layer::Conv1d(m) => m.forward(&x)?,
                    Layer::Conv2d(m) => m.forward(&x)?,
                    Layer::MaxPool2d(k) => x.max_pool2d(*k)?,
                    Layer::Relu => x.relu()?,
                    Layer::Flatten => x.flatten_from(1)?,
                };
            }
            Ok(x)
        }

        fn probabilities(&self, x: &Tensor) -> candle_core::Result<Tensor> {
            candle_nn::ops::softmax_last_dim(&self.logits(x)?)
        }
    }

    fn shape(batch: usize, m: &Model) -> Vec<usize> {
        let mut s = vec![batch];
        s.extend_from_slice(m.input);
        s
    }

    pub fn bench(h: &Harness, r: &mut Results, m: &Model) -> Res<()> {
        let dev = Device::Cpu;
        let net = Net::new(m)?;
        let len: usize = m.input.iter().product();

        let slice: Vec<f32> = inputs(1, len, SEED).remove(0);
        let s1 = shape(1, m);
        let y = net.probabilities(&Tensor::from_slice(&slice, s1.as_slice(), &dev)?)?;
        assert_eq!(y.dims(), &[1, m.classes]);
        let a = h.latency(|| {
            let x = Tensor::from_slice(black_box(&slice[..]), s1.as_slice(), &dev).unwrap();
            black_box(net.probabilities(&x).unwrap());
        });
        r.push("candle", m.name, 'a', a);

        let xb = inputs(THROUGHPUT_BATCH, len, THROUGHPUT_SEED).concat();
        let xb = Tensor::from_vec(xb, shape(THROUGHPUT_BATCH, m), &dev)?;
        let b = h.throughput(|| {
            black_box(net.probabilities(black_box(&xb)).unwrap());
        });
        r.push("candle", m.name, 'b', b);

        let x = inputs(TRAIN_BATCH, len, TRAIN_SEED).concat();
        let x = Tensor::from_vec(x, shape(TRAIN_BATCH, m), &dev)?;
        let mut opt = candle_nn::SGD::new(net.varmap.all_vars(), LR)?;
        let mut step = 0usize;
        let c = h.step(|| {
            step += 1;
            let t: Vec<u32> = labels(step, m.classes).map(|l| l as u32).collect();
            let t = Tensor::from_vec(t, TRAIN_BATCH, &dev).unwrap();
            let logits = net.logits(black_box(&x)).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &t).unwrap();
            opt.backward_step(&loss).unwrap();
            black_box(loss);
        });
        r.push("candle", m.name, 'c', c);
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// tract 0.23 (inference only), the ONNX files of nn-bench/scripts/make_onnx.py, one optimized
// plan per batch size and a reused `SimpleState`.

mod peer_tract {
    use super::{
        black_box, inputs, Harness, Model, Res, Results, SEED, THROUGHPUT_BATCH, THROUGHPUT_SEED,
    };
    use tract_onnx::prelude::*;
    use tract_onnx::tract_core::plan::SimpleState;

    fn plan(m: &Model, batch: usize) -> TractResult<Arc<TypedRunnableModel>> {
        let mut shape = vec![batch];
        shape.extend_from_slice(m.input);
        tract_onnx::onnx()
            .model_for_read(&mut &m.onnx[..])?
            .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape))?
            .into_optimized()?
            .into_runnable()
    }

    pub fn bench(h: &Harness, r: &mut Results, m: &Model) -> Res<()> {
        let len: usize = m.input.iter().product();

        let mut s1 = vec![1];
        s1.extend_from_slice(m.input);
        let p1 = plan(m, 1)?;
        let mut state = SimpleState::new(&p1)?;
        let slice: Vec<f32> = inputs(1, len, SEED).remove(0);
        let y = state.run(tvec![Tensor::from_shape(&s1, &slice)?.into()])?;
        assert_eq!(y[0].shape(), &[1, m.classes]);
        let a = h.latency(|| {
            let x = Tensor::from_shape(&s1, black_box(&slice[..])).unwrap();
            black_box(state.run(tvec![x.into()]).unwrap());
        });
        r.push("tract", m.name, 'a', a);

        let mut sb = vec![THROUGHPUT_BATCH];
        sb.extend_from_slice(m.input);
        let pb = plan(m, THROUGHPUT_BATCH)?;
        let mut state = SimpleState::new(&pb)?;
        let xb: TValue = Tensor::from_shape(
            &sb,
            &inputs(THROUGHPUT_BATCH, len, THROUGHPUT_SEED).concat(),
        )?
        .into();
        let b = h.throughput(|| {
            black_box(state.run(tvec![black_box(&xb).clone()]).unwrap());
        });
        r.push("tract", m.name, 'b', b);
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// Peak FMA throughput of one core.

macro_rules! fma_kernel {
    (
        $name:ident, $feat:literal, $vec:ty, $lanes:expr,
        $set1:ident, $fmadd:ident, $add:ident, $store:ident, [$($c:ident),+]
    ) => {
        /// `iters` rounds of independent vector FMAs (one per accumulator); returns the MACs done
        /// and a sum that keeps the work alive.
        #[target_feature(enable = $feat)]
        unsafe fn $name(iters: u64) -> (u64, f32) {
            use std::arch::x86_64::*;
            let a: $vec = $set1(black_box(0.999_999));
            let b: $vec = $set1(black_box(1e-7));
            let mut k = 0.0f32;
            $(
                k += 0.01;
                let mut $c: $vec = $set1(k);
            )+
            for _ in 0..iters {
                $( $c = $fmadd($c, a, b); )+
            }
            let mut s: $vec = $set1(0.0);
            $( s = $add(s, $c); )+
            let mut out = [0.0f32; $lanes];
            $store(out.as_mut_ptr(), s);
            let accumulators = [$(stringify!($c)),+].len() as u64;
            (iters * accumulators * $lanes, out.iter().sum())
        }
    };
}

// AVX-512 has 32 vector registers: 16 accumulators. AVX2 has 16: 12 accumulators leave room for
// the two operands (16 would spill; 8 in flight already cover 2 pipes x 4 cycles of latency).
#[cfg(target_arch = "x86_64")]
fma_kernel!(
    fma_avx512,
    "avx512f",
    std::arch::x86_64::__m512,
    16,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps,
    [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15]
);
#[cfg(target_arch = "x86_64")]
fma_kernel!(
    fma_avx2,
    "avx2,fma",
    std::arch::x86_64::__m256,
    8,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps,
    [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11]
);

/// Fallback: 16 independent scalar multiply-adds (what the compiler makes of them).
fn fma_scalar(iters: u64) -> (u64, f32) {
    let mut c = [0.0f32; 16];
    for (i, v) in c.iter_mut().enumerate() {
        *v = i as f32 * 0.01;
    }
    let (a, b) = (black_box(0.999_999f32), black_box(1e-7f32));
    for _ in 0..iters {
        for v in c.iter_mut() {
            *v = *v * a + b;
        }
    }
    (iters * 16, c.iter().sum())
}

/// GMAC/s of `kernel`, best of `runs` runs of about 50 ms each.
fn peak_of(kernel: impl Fn(u64) -> (u64, f32), runs: usize) -> f64 {
    black_box(kernel(100_000));
    let t = Instant::now();
    black_box(kernel(1_000_000));
    let iters = (1_000_000.0 * 0.05 / t.elapsed().as_secs_f64().max(1e-6)) as u64;
    let mut best = 0.0f64;
    for _ in 0..runs {
        let t = Instant::now();
        let (macs, s) = kernel(black_box(iters.max(1)));
        let dt = t.elapsed().as_secs_f64();
        black_box(s);
        best = best.max(macs as f64 / dt / 1e9);
    }
    best
}

/// `"; 512-bit / twice 256-bit: R"` where both peaks were measured: 1 where 512-bit
/// multiply-adds double the rate, below where the core lowers its clock for them (Intel before
/// Sapphire Rapids: the one-sample dense kernel then runs 256-bit, `ARCHITECTURE.md`).
fn wide_ratio(peaks: &[(&'static str, f64)]) -> String {
    let get = |n: &str| peaks.iter().find(|p| p.0 == n).map(|p| p.1);
    match (get("avx512f"), get("avx2+fma")) {
        (Some(w), Some(n)) if n > 0.0 => format!("; 512-bit / twice 256-bit: {:.2}", w / (2.0 * n)),
        _ => String::new(),
    }
}

/// The peak of every kernel this CPU runs: (name, GMAC/s), best first.
fn peaks() -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            out.push(("avx512f", peak_of(|n| unsafe { fma_avx512(n) }, 10)));
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            out.push(("avx2+fma", peak_of(|n| unsafe { fma_avx2(n) }, 10)));
        }
    }
    out.push(("scalar", peak_of(fma_scalar, 5)));
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

// ------------------------------------------------------------------------------------------------
// Report.

const IMPLS: [&str; 4] = ["nn", "dfdx", "candle", "tract"];

fn why_missing(imp: &str, model: &str, measure: char) -> &'static str {
    match imp {
        "dfdx" if model != "M1" => "n/b",
        "tract" if measure == 'c' => "n/a",
        _ => "err",
    }
}

fn table(r: &Results, ms: &[Model]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| model | measure | nn | dfdx | candle | tract | floor | best peer / nn | nn / floor |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|--:|");
    for m in ms {
        for measure in ['a', 'b', 'c'] {
            let label = match measure {
                'a' => "(a) ns/sample",
                'b' => "(b) samples/s",
                _ => "(c) us/step",
            };
            let _ = write!(s, "| {} | {label} |", m.name);
            for imp in IMPLS {
                match r.get(imp, m.name, measure) {
                    Some(v) => {
                        let _ = write!(s, " {} |", fmt_value(measure, v));
                    }
                    None => {
                        let _ = write!(s, " {} |", why_missing(imp, m.name, measure));
                    }
                }
            }
            let floor = r.get("floor", m.name, measure);
            let _ = write!(
                s,
                " {} |",
                floor.map_or("-".into(), |v| fmt_value(measure, v))
            );
            let nn = r.get("nn", m.name, measure);
            let peers: Vec<f64> = IMPLS[1..]
                .iter()
                .filter_map(|imp| r.get(imp, m.name, measure))
                .collect();
            // best peer / nn: how many times faster nn is than the fastest peer (> 1: nn faster).
            // nn / floor: how many times the compute floor nn takes (>= 1).
            let (ratio, of_floor) = match (nn, measure) {
                (Some(nn), 'b') => (
                    peers.iter().cloned().reduce(f64::max).map(|p| nn / p),
                    floor.map(|f| f / nn),
                ),
                (Some(nn), _) => (
                    peers.iter().cloned().reduce(f64::min).map(|p| p / nn),
                    floor.map(|f| nn / f),
                ),
                _ => (None, None),
            };
            let _ = writeln!(
                s,
                " {} | {} |",
                ratio.map_or("-".into(), |x| format!("{x:.1}x")),
                of_floor.map_or("-".into(), |x| format!("{x:.1}x")),
            );
        }
    }
    s
}

fn json(r: &Results, peak: f64, isa: &str) -> String {
    let mut s = String::from("[\n");
    for e in &r.entries {
        let threads = match e.imp {
            "nn-all-cores" => format!(", \"threads\": {}", all_cores()),
            "nn" | "nn-int8" | "nn-fixed16" | "nn-fixed16-acc32" => ", \"threads\": 1".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  {{\"impl\": \"{}\", \"model\": \"{}\", \"measure\": \"{}\", \"value\": {}, \"unit\": \"{}\"{threads}}},",
            e.imp,
            e.model,
            e.measure,
            json_number(e.value),
            unit(e.measure)
        );
    }
    let _ = writeln!(
        s,
        "  {{\"impl\": \"peak\", \"value\": {}, \"unit\": \"GMAC/s\", \"isa\": \"{isa}\"}}\n]",
        json_number(peak)
    );
    s
}

/// The thread count of `nn::set_threads(0)`.
fn all_cores() -> usize {
    nn::set_threads(0);
    let n = nn::threads();
    nn::set_threads(1);
    n
}

/// nn's (b) and (c) on one thread and on every core.
fn threads_table(r: &Results, ms: &[Model]) -> String {
    let mut s = String::new();
    let n = all_cores();
    let _ = writeln!(
        s,
        "| model | (b) samples/s, 1 thread | (b) {n} threads | speed-up | (c) us/step, 1 thread | (c) {n} threads | speed-up |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|");
    for m in ms {
        let get = |imp, measure| r.get(imp, m.name, measure);
        let cell = |measure, v: Option<f64>| v.map_or("-".into(), |v| fmt_value(measure, v));
        let (b1, bn) = (get("nn", 'b'), get("nn-all-cores", 'b'));
        let (c1, cn) = (get("nn", 'c'), get("nn-all-cores", 'c'));
        let up = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.2}x"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.name,
            cell('b', b1),
            cell('b', bn),
            up(b1.zip(bn).map(|(a, b)| b / a)),
            cell('c', c1),
            cell('c', cn),
            up(c1.zip(cn).map(|(a, b)| a / b)),
        );
    }
    s
}

fn json_number(v: f64) -> String {
    assert!(v.is_finite(), "non-finite measurement {v}");
    // Four significant digits are more than the run-to-run noise.
    let digits = (4 - 1 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

fn compiled_for() -> &'static str {
    if cfg!(target_feature = "avx512f") {
        "AVX-512 (target-cpu=native or similar)"
    } else if cfg!(target_feature = "avx2") {
        "AVX2"
    } else {
        "x86-64 baseline (SSE2)"
    }
}

// ------------------------------------------------------------------------------------------------

struct Args {
    out: Option<String>,
    quick: bool,
    /// Only these models (`--models M1,M3`); all when empty.
    models: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        out: None,
        quick: false,
        models: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => args.out = it.next(),
            "--quick" => args.quick = true,
            "--models" => {
                args.models = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty())
                    .collect()
            }
            "-h" | "--help" => {
                println!(
                    "usage: nn-bench [--out FILE] [--quick] [--models M1,M2,...]\n\n\
                     Runs M1-M4 with nn, dfdx (M1), candle and tract and prints a table;\n\
                     --out FILE writes the figures as JSON; --quick shortens every measurement\n\
                     (a smoke test, not for the record); --models runs only the models named."
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("nn-bench: unknown argument `{other}` (try --help)");
                std::process::exit(2);
            }
        }
    }
    args
}

fn run(args: Args) -> Res<()> {
    let h = if args.quick {
        Harness {
            warmup: Duration::from_millis(20),
            measure: Duration::from_millis(60),
            min_reps: 3,
            max_reps: 100_000,
        }
    } else {
        Harness {
            warmup: Duration::from_millis(400),
            measure: Duration::from_millis(1500),
            min_reps: 11,
            max_reps: 200_000,
        }
    };
    let t_start = Instant::now();
    let ms: Vec<Model> = models()
        .into_iter()
        .filter(|m| args.models.is_empty() || args.models.iter().any(|n| n == m.name))
        .collect();
    let mut r = Results {
        entries: Vec::new(),
    };
    let mut int8_bytes: Vec<Int8Bytes> = Vec::new();

    eprintln!("peak FMA ...");
    let peaks = peaks();
    let (isa, peak) = peaks[0];
    for (name, gmacs) in &peaks {
        eprintln!("  {name:<9} {gmacs:.1} GMAC/s");
    }

    for m in &ms {
        eprintln!("{} ({} MACs) ...", m.name, m.macs);
        match m.name {
            "M1" => bench_nn::<M1>(&h, &mut r, m.name),
            "M2" => bench_nn::<M2>(&h, &mut r, m.name),
            "M3" => bench_nn::<M3>(&h, &mut r, m.name),
            _ => bench_nn::<M4>(&h, &mut r, m.name),
        }
        match m.name {
            "M1" => bench_int8!(h, r, int8_bytes, M1, M1Int8, m.name),
            "M2" => bench_int8!(h, r, int8_bytes, M2, M2Int8, m.name),
            "M3" => bench_int8!(h, r, int8_bytes, M3, M3Int8, m.name),
            _ => bench_int8!(h, r, int8_bytes, M4, M4Int8, m.name),
        }
        if m.name == "M1" {
            bench_fixed!(h, r, M1Fixed16, "nn-fixed16");
            bench_fixed!(h, r, M1Fixed16Acc32, "nn-fixed16-acc32");
            bench_dfdx_m1(&h, &mut r);
        }
        if let Err(e) = peer_candle::bench(&h, &mut r, m) {
            eprintln!("  candle {}: error: {e}", m.name);
        }
        if let Err(e) = peer_tract::bench(&h, &mut r, m) {
            eprintln!("  tract {}: error: {e}", m.name);
        }
        // Floors: (a) MACs / peak; (b) peak / MACs; (c) about 3x the forward work (forward,
        // input gradient, weight gradient) times the batch.
        let ns = m.macs as f64 / peak;
        r.entries.push(Entry {
            imp: "floor",
            model: m.name,
            measure: 'a',
            value: ns,
        });
        r.entries.push(Entry {
            imp: "floor",
            model: m.name,
            measure: 'b',
            value: 1e9 / ns,
        });
        r.entries.push(Entry {
            imp: "floor",
            model: m.name,
            measure: 'c',
            value: 3.0 * TRAIN_BATCH as f64 * ns / 1e3,
        });
    }

    let peak_line = peaks
        .iter()
        .map(|(n, g)| format!("{n} {g:.1}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "nn-bench: one thread (RAYON_NUM_THREADS=1), nn compiled for {}; peak FMA (GMAC/s): {peak_line}{}\n",
        compiled_for(),
        wide_ratio(&peaks)
    );
    print!("{}", table(&r, &ms));
    if all_cores() > 1 {
        println!("\nnn on every core (`nn::set_threads(0)`; the peers stay on one thread):\n");
        print!("{}", threads_table(&r, &ms));
    }
    println!("\nnn's int8 twins (`quantize_int8`, impl `nn-int8`) against nn's f32, same run, one thread:\n");
    print!("{}", int8_table(&r, &int8_bytes));
    if r.get("nn-fixed16", "M1", 'a').is_some() {
        println!("\nnn's fixed-point twins of M1 (`#[fixed]`, hls4ml's ap_fixed arithmetic bit for bit, integer SIMD) against nn's f32, same run, one thread:\n");
        print!("{}", fixed_table(&r));
    }
    println!(
        "\nn/b: not built (dfdx 0.13's Conv2D and pooling need its `nightly` feature, and it has no Conv1d); \
         n/a: tract is inference-only.\n\
         best peer / nn: the fastest peer's time over nn's ((b): nn's rate over the fastest \
         peer's), > 1 when nn is faster; nn / floor: nn's time over the floor ((b): the floor's \
         rate over nn's).\n\
         floor: (a) MACs / peak, (b) peak / MACs, (c) 3 x MACs x 32 / peak. Whole run {:.0} s.",
        t_start.elapsed().as_secs_f64()
    );
    if let Some(out) = args.out {
        std::fs::write(&out, json(&r, peak, isa))?;
        println!("wrote {out}");
    }
    Ok(())
}

fn main() {
    // Before anything starts rayon's global pool or asks candle for its thread count.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let args = parse_args();
    // forward_train::<32> of M3 keeps its batch cache on the stack: give it room.
    let worker = std::thread::Builder::new()
        .name("nn-bench".into())
        .stack_size(256 << 20)
        .spawn(move || run(args).map_err(|e| e.to_string()))
        .expect("spawn the benchmark thread");
    match worker.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("nn-bench: {e}");
            std::process::exit(1);
        }
        Err(_) => std::process::exit(1),
    }
}
