//! The fixed-point twin `network!` generates (`#[fixed(...)]`, `Name::to_fixed()`) against
//! hls4ml 1.3's C simulation, bit for bit: the same Keras float32 weights go through
//! `to_fixed()` (printed as hls4ml prints them, read back, converted), the same 64 inputs
//! through `forward_raw`, and every raw output must equal the C simulation's
//! (`tests/fixtures/hls4ml/*.json`, written by `scripts/hls4ml/make_fixtures.py`, never by nn);
//! so must the copies of the steps compiled for each instruction set this CPU has.

mod common;

use common::hls4ml::{expected, fixture, inputs, load};

nn::network! {
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct JetFixed16 {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
    }
}

nn::network! {
    #[fixed(
        default = "ap_fixed<16,6>",
        input = "ap_fixed<16,6,AP_RND,AP_SAT>",
        fc1(result = "ap_fixed<16,6,AP_RND,AP_SAT>", weight = "ap_fixed<12,3,AP_RND>", accum = "ap_fixed<24,10>"),
        fc1_relu(result = "ap_fixed<16,6,AP_RND,AP_SAT>"),
        fc2(result = "ap_fixed<16,6,AP_RND,AP_WRAP>", bias = "ap_fixed<10,2,AP_RND>", accum = "ap_fixed<24,10,AP_TRN,AP_SAT>"),
        fc2_relu(result = "ap_ufixed<12,4,AP_RND,AP_SAT>"),
        fc3(result = "ap_fixed<14,5,AP_RND_ZERO,AP_SAT_SYM>", weight = "ap_fixed<10,2,AP_RND_CONV>", accum = "ap_fixed<20,8>"),
        fc3_relu(result = "ap_fixed<14,5>"),
        out(result = "ap_fixed<16,6,AP_RND,AP_SAT>", weight = "ap_fixed<16,6,AP_RND>", bias = "ap_fixed<16,6,AP_RND>", accum = "ap_fixed<24,10>"),
    )]
    pub struct JetRoundSat {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>", softmax(table_size = 1024))]
    pub struct JetSoftmax {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
        softmax: Softmax,
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>", softmax(implementation = latency))]
    pub struct JetSoftmaxLatency {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
        softmax: Softmax,
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>", sigmoid(table = "ap_fixed<18,8>", table_size = 1024))]
    pub struct JetSigmoid {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
        sigmoid: Sigmoid,
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct SmallCnn {
        input: [1, 8, 8],
        conv: Conv2d(4, kernel = 3), conv_relu: ReLU,
        pool: MaxPool2d(2),
        flatten: Flatten,
        fc: Dense(10),
    }
}

macro_rules! parity {
    ($net:ident, $case:literal, $flatten:expr) => {{
        let f = fixture($case);
        let twin = load::<$net>(&f, $flatten).to_fixed();
        let (xs, ys) = (inputs(&f), expected(&f));
        let mut values = 0;
        let mut mismatches = Vec::new();
        for (s, (x, want)) in xs.iter().zip(&ys).enumerate() {
            let raw = x
                .iter()
                .map(|&v| paste_input::<$net>(v))
                .collect::<Vec<_>>();
            let raw = raw.try_into().unwrap();
            let got = twin.forward_raw(&raw);
            values += got.len();
            if got.as_slice() != want.as_slice() {
                mismatches.push((s, got.to_vec(), want.clone()));
            }
            // Every copy of the steps the CPU can run gives the same bits (`forward_raw` runs
            // the widest).
            let mut copies = vec![twin.__forward_raw_base(&raw)];
            #[cfg(target_arch = "x86_64")]
            {
                use nn::fixed_point::fast::Isa;
                if Isa::Avx2.available() {
                    // SAFETY: the CPU has AVX2 (checked).
                    copies.push(unsafe { twin.__forward_raw_avx2(&raw) });
                }
                if Isa::Avx512.available() {
                    // SAFETY: the CPU has AVX-512 F, BW and VL, POPCNT and BMI1 (checked).
                    copies.push(unsafe { twin.__forward_raw_avx512(&raw) });
                }
            }
            for copy in copies {
                assert_eq!(
                    copy, got,
                    "{}: sample {s}, the copies of the steps differ",
                    $case
                );
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} of {} samples differ from hls4ml's C simulation; first: {:?}",
            $case,
            mismatches.len(),
            xs.len(),
            mismatches.first()
        );
        println!(
            "{}: {} samples, {values} raw outputs identical to hls4ml 1.3's C simulation",
            $case,
            xs.len()
        );
    }};
}

/// The raw input as hls4ml's `input_t(double)`.
fn paste_input<N>(v: f64) -> i64
where
    N: HasFixed,
{
    N::INPUT.from_f64(v).raw
}

trait HasFixed {
    const INPUT: nn::fixed_point::Spec;
}
macro_rules! has_fixed {
    ($($net:ident => $twin:ident),*) => {$(
        impl HasFixed for $net {
            const INPUT: nn::fixed_point::Spec = $twin::INPUT;
        }
    )*};
}
has_fixed!(JetFixed16 => JetFixed16Fixed, JetRoundSat => JetRoundSatFixed, JetSoftmax => JetSoftmaxFixed,
    JetSoftmaxLatency => JetSoftmaxLatencyFixed, JetSigmoid => JetSigmoidFixed, SmallCnn => SmallCnnFixed);

#[test]
fn m1_at_ap_fixed_16_6() {
    parity!(JetFixed16, "m1_fixed16_6", None);
}

#[test]
fn m1_with_rounding_saturation_and_wide_accumulators() {
    parity!(JetRoundSat, "m1_rnd_sat", None);
}

#[test]
fn m1_with_the_stable_softmax_tables() {
    parity!(JetSoftmax, "m1_softmax", None);
}

#[test]
fn m1_with_the_latency_softmax_tables() {
    parity!(JetSoftmaxLatency, "m1_softmax_latency", None);
}

#[test]
fn m1_with_the_sigmoid_table() {
    parity!(JetSigmoid, "m1_sigmoid", None);
}

#[test]
fn small_cnn() {
    parity!(SmallCnn, "cnn_fixed16_6", Some((4, 3, 3)));
}

nn::network! {
    /// A batch norm after a Dense layer: the twin is that of the folded network.
    #[fixed(default = "ap_fixed<16,6>", fc1(accum = "ap_fixed<24,10>"))]
    pub struct WithBatchNorm {
        input: [16],
        fc1: Dense(32), bn1: BatchNorm1d, ReLU,
        fc2: Dense(5),
    }
}

#[test]
fn batch_norm_is_folded_before_quantizing() {
    use nn::prelude::*;
    // Non-trivial running statistics, then the twin of the folded network.
    let mut t = WithBatchNorm::new(3).state_dict(Layout::PyTorch);
    for x in t.iter_mut() {
        if x.name == "bn1.running_mean" {
            x.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.05 * (i % 7) as f32 - 0.1);
        }
        if x.name == "bn1.running_var" {
            x.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.5 + 0.1 * (i % 5) as f32);
        }
    }
    let net = WithBatchNorm::from_safetensors_bytes(
        &nn::safetensors_bytes(&t).unwrap(),
        "bn",
        Layout::PyTorch,
    )
    .unwrap();
    let twin = net.to_fixed();
    assert_eq!(
        twin.forward_raw(&[0; 16]),
        net.fold().to_fixed().forward_raw(&[0; 16])
    );
    let mut worst = 0f32;
    for s in 0..50u32 {
        let x: Vec<f32> = (0..16)
            .map(|i| (((s * 7 + i * 13) % 23) as f32 / 11.0) - 1.0)
            .collect();
        let x = nn::Input::<WithBatchNorm>::try_from(&x[..]).unwrap();
        let (a, b) = (net.forward(&x), twin.forward(&x));
        for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
            worst = worst.max((p - q).abs());
        }
    }
    println!("batch norm folded: max |f32 - ap_fixed<16,6>| = {worst}");
    assert!(
        worst < 0.05,
        "fixed twin of the folded network differs from f32 by {worst}"
    );
    assert!(WithBatchNormFixed::SUMMARY
        .contains("fc1: weight ap_fixed<16,6>, bias ap_fixed<16,6>, accum ap_fixed<24,10>"));
}

macro_rules! mlp {
    ($name:ident, $fixed:tt, $act:ident $(($($arg:tt)*))?) => {
        nn::network! {
            #[fixed $fixed]
            pub struct $name {
                input: [16],
                fc1: Dense(32), act1: $act $(($($arg)*))?,
                fc2: Dense(16), act2: $act $(($($arg)*))?,
                out: Dense(5),
            }
        }
    };
}

mlp!(MlpTanh, (default = "ap_fixed<16,6>"), Tanh);
// The narrow fixtures asked hls4ml for narrower tables, which hls4ml 1.3 does not apply to
// these activations: its generated `table_t` is `ap_fixed<18,8>` (the fixtures' `types`), which
// is what the twins here declare.
mlp!(
    MlpTanhNarrow,
    (
        default = "ap_fixed<10,4>",
        act1(table_size = 512),
        act2(table_size = 512)
    ),
    Tanh
);
mlp!(MlpSoftplus, (default = "ap_fixed<16,6>"), Softplus);
mlp!(
    MlpSoftplusNarrow,
    (
        default = "ap_fixed<10,4>",
        act1(table_size = 2048),
        act2(table_size = 2048)
    ),
    Softplus
);
mlp!(MlpElu, (default = "ap_fixed<16,6>"), ELU(1.0));
mlp!(
    MlpEluNarrow,
    (
        default = "ap_fixed<10,4>",
        act1(table_size = 256),
        act2(table_size = 256)
    ),
    ELU(0.7)
);
mlp!(MlpSelu, (default = "ap_fixed<16,6>"), SELU);
mlp!(MlpSeluNarrow, (default = "ap_fixed<10,4>"), SELU);
mlp!(MlpLeaky, (default = "ap_fixed<16,6>"), LeakyReLU(0.1));
mlp!(
    MlpLeakyDefault,
    (
        default = "ap_fixed<16,6>",
        act1(
            result = "ap_fixed<16,6,AP_RND,AP_SAT>",
            param = "ap_fixed<8,1,AP_RND>"
        ),
        act2(
            result = "ap_fixed<16,6,AP_RND,AP_SAT>",
            param = "ap_fixed<8,1,AP_RND>"
        )
    ),
    LeakyReLU(0.3)
);
mlp!(
    MlpPrelu,
    (
        default = "ap_fixed<16,6>",
        act1(param = "ap_fixed<12,2,AP_RND>"),
        act2(param = "ap_fixed<12,2,AP_RND>")
    ),
    PReLU(per_channel = true)
);

nn::network! {
    /// A batch norm whose types are set stays a layer, as in hls4ml.
    #[fixed(default = "ap_fixed<16,6>", bn1(result = "ap_fixed<16,6,AP_RND,AP_SAT>", scale = "ap_fixed<16,6>", bias = "ap_fixed<12,4,AP_RND>"))]
    pub struct MlpBatchNorm {
        input: [16],
        fc1: Dense(32), bn1: BatchNorm1d, act1: ReLU,
        fc2: Dense(16), act2: ReLU,
        out: Dense(5),
    }
}

has_fixed!(MlpTanh => MlpTanhFixed, MlpTanhNarrow => MlpTanhNarrowFixed, MlpSoftplus => MlpSoftplusFixed,
    MlpSoftplusNarrow => MlpSoftplusNarrowFixed, MlpElu => MlpEluFixed, MlpEluNarrow => MlpEluNarrowFixed,
    MlpSelu => MlpSeluFixed, MlpSeluNarrow => MlpSeluNarrowFixed, MlpLeaky => MlpLeakyFixed,
    MlpLeakyDefault => MlpLeakyDefaultFixed, MlpPrelu => MlpPreluFixed, MlpBatchNorm => MlpBatchNormFixed);

#[test]
fn tanh_tables() {
    parity!(MlpTanh, "mlp_tanh", None);
    parity!(MlpTanhNarrow, "mlp_tanh_narrow", None);
}

#[test]
fn softplus_tables() {
    parity!(MlpSoftplus, "mlp_softplus", None);
    parity!(MlpSoftplusNarrow, "mlp_softplus_narrow", None);
}

#[test]
fn elu_tables_and_alpha() {
    parity!(MlpElu, "mlp_elu", None);
    parity!(MlpEluNarrow, "mlp_elu_narrow", None);
}

#[test]
fn selu_tables() {
    parity!(MlpSelu, "mlp_selu", None);
    parity!(MlpSeluNarrow, "mlp_selu_narrow", None);
}

#[test]
fn leaky_relu_slopes() {
    parity!(MlpLeaky, "mlp_leaky_relu", None);
    parity!(MlpLeakyDefault, "mlp_leaky_relu_default", None);
}

#[test]
fn prelu_slopes() {
    parity!(MlpPrelu, "mlp_prelu", None);
}

#[test]
fn batch_norm_kept_as_a_layer() {
    parity!(MlpBatchNorm, "mlp_batchnorm", None);
}
