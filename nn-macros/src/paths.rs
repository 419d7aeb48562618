//! Every runtime item the generated code names, in one place.
//!
//! Generated code reaches the runtime crate (`nn-core`) through the facade crate `nn`, always by
//! an absolute path (`::nn::Dense`), so it works whatever the user imported. Each item has one
//! function here and no other file spells an `::nn::` path: renaming or moving an item in the
//! runtime is one edit in this file. Items that only generated code uses live in the runtime's
//! doc-hidden `private` module.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::shape::Shape;

/// One function per runtime item: `name => (path)` defines `pub fn name() -> TokenStream`.
macro_rules! paths {
    ($($(#[$doc:meta])* $name:ident => ($($path:tt)+))+) => {
        $(
            $(#[$doc])*
            pub fn $name() -> TokenStream {
                quote!($($path)+)
            }
        )+
    };
}

paths! {
    // Layer types.
    /// `nn::Dense<I, O>`.
    dense => (::nn::Dense)
    /// `nn::Conv1d<CI, CO, K, S, PL, PR, BIAS>`.
    conv1d => (::nn::Conv1d)
    /// `nn::Conv2d<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, BIAS>`.
    conv2d => (::nn::Conv2d)
    /// `nn::MaxPool1d<K, S, PL, PR>`.
    max_pool1d => (::nn::MaxPool1d)
    /// `nn::MaxPool2d<KH, KW, SH, SW, PT, PB, PL, PR>`.
    max_pool2d => (::nn::MaxPool2d)
    /// `nn::AvgPool1d<K, S, PL, PR, COUNT_PAD>`.
    avg_pool1d => (::nn::AvgPool1d)
    /// `nn::AvgPool2d<KH, KW, SH, SW, PT, PB, PL, PR, COUNT_PAD>`.
    avg_pool2d => (::nn::AvgPool2d)
    /// `nn::BatchNorm<C>`.
    batch_norm => (::nn::BatchNorm)
    /// `nn::Dropout { p }`.
    dropout => (::nn::Dropout)
    /// `nn::Flatten`.
    flatten => (::nn::Flatten)
    /// `nn::Softmax`.
    softmax => (::nn::Softmax)
    /// `nn::PReLU` (one slope).
    prelu => (::nn::PReLU)
    /// `nn::PReLUChannels<C>` (a slope per channel).
    prelu_channels => (::nn::PReLUChannels)
    /// `nn::Identity`.
    identity => (::nn::Identity)
    /// `nn::Step`.
    step => (::nn::Step)
    /// `nn::Sigmoid`.
    sigmoid => (::nn::Sigmoid)
    /// `nn::Tanh`.
    tanh => (::nn::Tanh)
    /// `nn::ReLU`.
    relu => (::nn::ReLU)
    /// `nn::GELU { tanh_approximation }`.
    gelu => (::nn::GELU)
    /// `nn::Softplus`.
    softplus => (::nn::Softplus)
    /// `nn::ELU { alpha }`.
    elu => (::nn::ELU)
    /// `nn::SELU`.
    selu => (::nn::SELU)
    /// `nn::LeakyReLU { slope }`.
    leaky_relu => (::nn::LeakyReLU)
    /// `nn::SiLU`.
    silu => (::nn::SiLU)
    /// `nn::Gaussian`.
    gaussian => (::nn::Gaussian)

    // Traits the generated code implements or calls.
    /// `nn::Layer<In, Out>`: forward and backward of one layer.
    layer => (::nn::Layer)
    /// `nn::Network`.
    network => (::nn::Network)
    /// `nn::Trainable`.
    trainable => (::nn::Trainable)
    /// `nn::private::BackwardBuffers<In, B>`: backward's gradient batches.
    backward_buffers => (::nn::private::BackwardBuffers)
    /// `nn::Parameters`.
    parameters => (::nn::Parameters)
    /// `nn::fixed_point`: the fixed-point scalar, layer operations and tables.
    fixed_point => (::nn::fixed_point)
    /// `nn::SafeTensors`.
    safe_tensors => (::nn::SafeTensors)
    /// `nn::Onnx` (ONNX export; `std` only).
    onnx => (::nn::Onnx)
    /// `nn::private::onnx`: the graph description types of the ONNX export.
    onnx_desc => (::nn::private::onnx)
    /// `nn::StateDict` (weight files; `std` only).
    state_dict => (::nn::StateDict)
    /// `nn::Shapes` (the input and output shape types).
    shapes => (::nn::Shapes)
    /// `nn::InputOf<Net, LEN>`: what `forward` accepts.
    input_of => (::nn::InputOf)
    /// `nn::LayerTensors`: a layer's tensors in weight-file layouts, and their conversion.
    layer_tensors => (::nn::LayerTensors)

    // Types.
    /// `nn::Tensor<S>`.
    tensor => (::nn::Tensor)
    /// `nn::Batch<S, B>`: a heap batch of tensors.
    batch => (::nn::Batch)
    /// `nn::Shape1<N>`.
    shape1 => (::nn::Shape1)
    /// `nn::Shape2<C, L>`.
    shape2 => (::nn::Shape2)
    /// `nn::Shape3<C, H, W>`.
    shape3 => (::nn::Shape3)
    /// `nn::ParamId`.
    param_id => (::nn::ParamId)
    /// `nn::Head` (`None`, `Softmax`, `Sigmoid`).
    head => (::nn::Head)
    /// `nn::Init` (`He`, `Xavier`, `LeCun`, `Zeros`).
    init => (::nn::Init)
    /// `nn::Rng`.
    rng => (::nn::Rng)
    /// `nn::Error`.
    error => (::nn::Error)
    /// `nn::quant::DenseI8<I, O>`, the int8 twin of a dense layer.
    dense_i8 => (::nn::quant::DenseI8)
    /// `nn::quant::ConvI8<W, C>`, the int8 twin of a convolution.
    conv_i8 => (::nn::quant::ConvI8)
    /// `nn::quant::LutI8`, an int8 activation as a lookup table.
    lut_i8 => (::nn::quant::LutI8)
    /// `nn::quant::ops`, the int8 kernels.
    quant_ops => (::nn::quant::ops)
    /// `nn::quant::simd`, the int8 kernels' vector versions.
    quant_simd => (::nn::quant::simd)
    /// `nn::quant::onnx`, the int8 twin's QDQ export.
    quant_onnx => (::nn::quant::onnx)
    /// `nn::quant::ops::Window2`.
    window2 => (::nn::quant::ops::Window2)
    /// `nn::quant::ops::AddParams`.
    add_params => (::nn::quant::ops::AddParams)
    /// `nn::quant::ops::Output`.
    quant_output => (::nn::quant::ops::Output)
    /// `nn::quant::TensorI8<S>`.
    tensor_i8 => (::nn::quant::TensorI8)
    /// `nn::quant::simd::Isa8`: the int8 kernels' instruction set.
    isa8 => (::nn::quant::simd::Isa8)
    /// `nn::quant::QuantParams`.
    quant_params => (::nn::quant::QuantParams)
    /// `nn::quant::FusedActivation`.
    fused_activation => (::nn::quant::FusedActivation)
    /// `nn::quant::Rounding`.
    rounding => (::nn::quant::Rounding)
    /// `nn::quant::calibrate::Observer`.
    observer => (::nn::quant::calibrate::Observer)
    /// `nn::quant::calibrate::Calibration`.
    calibration => (::nn::quant::calibrate::Calibration)
    /// `nn::quant::Unsupported`.
    unsupported => (::nn::quant::Unsupported)
    /// `nn::private::Int8Source`: an int8 twin's weight file, its tensors checked.
    int8_source => (::nn::private::Int8Source)
    /// `nn::private::Int8Writer`: an int8 twin's tensors, serialized.
    int8_writer => (::nn::private::Int8Writer)
    /// `nn::private::to_array(&values)`: a slice as a `GenericArray`.
    to_array => (::nn::private::to_array)
    /// `nn::private::to_rows(&values)`: a row-major slice as rows of a `GenericArray`.
    to_rows => (::nn::private::to_rows)
    /// `nn::Layout` (PyTorch or Keras tensor layouts).
    layout => (::nn::Layout)
    /// `nn::FieldInfo`.
    field_info => (::nn::FieldInfo)
    /// `nn::NamedTensor`.
    named_tensor => (::nn::NamedTensor)
    /// `nn::private::Source`: a weight file's tensors, handed out by name.
    source => (::nn::private::Source)
    /// `nn::BatchLenError`.
    batch_len_error => (::nn::BatchLenError)
    /// `nn::BnSaved<C>`: what batch norm's training pass keeps for backward.
    bn_saved => (::nn::private::BnSaved)

    // Functions.
    /// `nn::add_into(&mut a, &b)`.
    add_into => (::nn::private::add_into)
    /// `sum_into(&mut out, &a, &b)`: `out = a + b`.
    sum_into => (::nn::private::sum_into)
    /// `Zeroable`: valid when all bytes are zero (built in place on the heap).
    zeroable => (::nn::private::Zeroable)
    /// `ObtainWorkspace<X, BYTES>`: how `forward` gets a workspace (with `alloc`).
    obtain_workspace => (::nn::private::ObtainWorkspace)
    /// `nn::add_batch_into(&mut a[..], &b[..])`.
    add_batch_into => (::nn::private::add_batch_into)
    /// `nn::zeroed_batch()`.
    zeroed_batch => (::nn::zeroed_batch)

    // Items only generated code uses.
    /// The `typenum` crate, re-exported.
    typenum => (::nn::private::typenum)
    /// `if_std! { .. }`: its input only with the `std` feature.
    if_std => (::nn::private::if_std)
    /// `if_alloc! { .. }`: its input only with the `alloc` feature.
    if_alloc => (::nn::private::if_alloc)
    /// `new_inline(init)`: a layer built on the stack.
    new_inline => (::nn::private::new_inline)
    /// `new_large(init)`: a large layer built in place (boxed with `alloc`).
    new_large => (::nn::private::new_large)
    /// `clone_large(&layer)`: a copy of a large layer built in place.
    clone_large => (::nn::private::clone_large)
    /// `Large<T>`: the field type of a large layer.
    large => (::nn::private::Large)
    /// `use_avx2()`: whether the CPU runs the AVX2 copy of `forward`.
    use_avx2 => (::nn::private::use_avx2)
    /// `split_batch(xs, ys, chunk, macs, f)`: `forward_batch`'s chunks over threads.
    split_batch => (::nn::private::split_batch)
    /// `alloc::vec::Vec`.
    vec => (::nn::private::Vec)
}

/// A path with every token at `span` (for code emitted with `quote_spanned!`).
pub fn at(span: Span, path: TokenStream) -> TokenStream {
    path.into_iter()
        .map(|mut t: TokenTree| {
            t.set_span(span);
            t
        })
        .collect()
}

/// A typenum type for `n`: `U<n>` up to 1024 (typenum names those), else the binary `UInt` form.
pub fn typenum_of(n: u64) -> TokenStream {
    let typenum = typenum();
    if n <= 1024 {
        let id = format_ident!("U{}", n);
        return quote!(#typenum::consts::#id);
    }
    let bit = if n % 2 == 1 {
        quote!(#typenum::B1)
    } else {
        quote!(#typenum::B0)
    };
    let rest = if n / 2 == 0 {
        quote!(#typenum::UTerm)
    } else {
        typenum_of(n / 2)
    };
    quote!(#typenum::UInt<#rest, #bit>)
}

/// The runtime shape type: `Shape1<N>`, `Shape2<C, L>` or `Shape3<C, H, W>`.
pub fn shape_of(s: Shape) -> TokenStream {
    match s {
        Shape::D1(n) => {
            let (shape, n) = (shape1(), typenum_of(n));
            quote!(#shape<#n>)
        }
        Shape::D2(c, l) => {
            let (shape, c, l) = (shape2(), typenum_of(c), typenum_of(l));
            quote!(#shape<#c, #l>)
        }
        Shape::D3(c, h, w) => {
            let (shape, c, h, w) = (shape3(), typenum_of(c), typenum_of(h), typenum_of(w));
            quote!(#shape<#c, #h, #w>)
        }
    }
}
