//! A `#![no_std]` crate without `alloc` that declares networks with `nn::network!` and runs
//! inference. If anything in nn's inference path or in the generated code needed `std` or an
//! allocator, this crate would not build.
#![no_std]

nn_models::m1! {
    /// M1, the jet tagger, with its int8 twin's tensors baked in (`JetTaggerInt8::pretrained`).
    #[weights_int8 = "../fixtures/int8_models/m1.safetensors"]
    pub struct JetTagger
}

nn::network! {
    /// A small CNN with batch norm, a residual block and dropout (identity at inference).
    pub struct SmallCnn {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), bn1: BatchNorm2d, ReLU,
        block: Residual { conv2: Conv2d(8, kernel = 3, padding = 1), ReLU }, MaxPool2d(2),
        Flatten, Dropout(0.2), fc: Dense(10), Softmax,
    }
}

/// Class probabilities of one jet; no heap, no std.
pub fn classify(features: &[f32; 16], net: &JetTagger) -> usize {
    net.forward(features).argmax()
}

/// Class of one 8x8 image.
pub fn classify_image(pixels: &[f32; 64], net: &SmallCnn) -> usize {
    net.forward(pixels).argmax()
}

/// Class of one jet by M1's int8 twin (quantized on a host with `quantize_int8`, or loaded
/// there from its safetensors file): int8 layers, no heap, no std.
pub fn classify_int8(features: &nn::Input<JetTagger>, net: &JetTaggerInt8) -> usize {
    net.forward(features).argmax()
}

/// Class of one jet by M1's int8 twin baked in at compile time (`static` int8 weights, int32
/// biases, f32 scales): built without an allocator or a file system.
pub fn classify_baked_int8(features: &nn::Input<JetTagger>) -> usize {
    JetTaggerInt8::pretrained().forward(features).argmax()
}

/// The int8 logits of one jet: int8 in, int8 out.
pub fn logits_int8(features: &nn::Input<JetTagger>, net: &JetTaggerInt8) -> [i8; 5] {
    let logits = net.forward_int8(&net.quantize_input(features));
    let mut out = [0; 5];
    out.copy_from_slice(logits.as_slice());
    out
}

/// Class probabilities of a batch of jets by the int8 twin (no allocation on one thread).
pub fn classify_batch_int8(
    features: &[nn::Input<JetTagger>],
    probabilities: &mut [nn::Output<JetTagger>],
    net: &JetTaggerInt8,
) -> Result<(), nn::BatchLenError> {
    net.forward_batch(features, probabilities)
}

/// The int8 twin's layer table, as a `&'static str`.
pub const JET_TAGGER_INT8_SUMMARY: &str = JetTaggerInt8::SUMMARY;

/// Builds the networks (weights inline: no allocator here).
pub fn networks(seed: u64) -> (JetTagger, SmallCnn) {
    (JetTagger::new(seed), SmallCnn::new(seed))
}

nn::network! {
    /// Over the stack budget (324 KiB of activations): without an allocator, inference takes a
    /// workspace from the caller.
    pub struct Wide {
        input: [1, 96, 96],
        conv: Conv2d(8, kernel = 3, padding = 1), ReLU,
        MaxPool2d(4), Flatten,
        fc: Dense(4),
    }
}

/// The workspace in a `static`: `WideWorkspace::new` is `const`. A single-threaded firmware owns
/// it through `&mut` (here an `unsafe` access the caller vouches for; a `Mutex` or a singleton
/// macro works too).
static mut WIDE_WS: WideWorkspace = WideWorkspace::new();

/// Class of one 96x96 image with the activations in the static workspace.
///
/// # Safety
/// No other call may use the workspace at the same time (one thread, not re-entered).
pub unsafe fn classify_wide(pixels: &nn::Input<Wide>, net: &Wide) -> usize {
    // SAFETY: the caller guarantees exclusive use of the workspace.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WIDE_WS) };
    net.forward_with(ws, pixels).argmax()
}

nn_models::m1! {
    /// M1 with its trained weights baked in and an `ap_fixed<16,6>` twin (hls4ml's arithmetic).
    #[weights = "../../examples/embed/m1.safetensors"]
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct JetFixed
}

/// Class of one jet by M1's fixed-point twin built from the baked weights: integer layers and
/// hls4ml's softmax tables, no heap, no std.
pub fn classify_fixed(features: &nn::Input<JetFixed>) -> usize {
    JetFixedFixed::pretrained().forward(features).argmax()
}
