//! Layer kinds. Each kind is described once, in its own module: its DSL name(s), its arguments
//! (the parameter list and how they are read), its shape rule, its parameter and MAC counts,
//! its Rust type and value, its initialization, and its tensors in a PyTorch `state_dict`.
//!
//! A layer goes through two stages: its arguments are read into a [`Spec`] (argument
//! resolution, before the input shape is known), then the spec's shape rule, given the input,
//! yields the [`LayerKind`] and the output shape. What the kind knows from then on is the
//! [`Kind`] trait.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use crate::args::{self, Matched, Param};
use crate::ast::Entry;
use crate::ctxt::Ctxt;
use crate::paths;
use crate::shape::Shape;

pub mod activation;
pub mod batch_norm;
pub mod conv;
pub mod dense;
pub mod dropout;
pub mod flatten;
pub mod init;
pub mod pool;
pub mod prelu;
pub mod residual;
pub mod softmax;
pub mod window;

// The registry.
//
// Adding a layer kind touches, on the macro side: a new module here (a struct implementing
// `Spec` and `Kind`, and a `resolve` function reading its arguments), one line in `kinds!`, one
// row per DSL name in `REGISTRY`, and the path of its runtime type in `paths.rs`. Checking, code
// generation, weight files, the summary and "did you mean" all go through these; how the kind
// relates to others (fusing an activation, absorbing a batch norm, keeping value positions,
// training steps of its own) is answered by its `Kind` methods. Document it in the DSL reference
// (the rustdoc of `network` in `lib.rs`).

/// Every DSL layer name with the function reading its arguments, in the order the "unknown
/// layer" message lists them (`Residual`, a block rather than a layer, comes last).
pub const REGISTRY: &[(&str, Resolve)] = &[
    ("Dense", dense::resolve),
    ("Flatten", flatten::resolve),
    ("Identity", activation::resolve),
    ("Step", activation::resolve),
    ("Sigmoid", activation::resolve),
    ("Tanh", activation::resolve),
    ("ReLU", activation::resolve),
    ("GELU", activation::resolve),
    ("Softplus", activation::resolve),
    ("ELU", activation::resolve),
    ("SELU", activation::resolve),
    ("LeakyReLU", activation::resolve),
    ("PReLU", prelu::resolve),
    ("SiLU", activation::resolve),
    ("Gaussian", activation::resolve),
    ("Softmax", softmax::resolve),
    ("Conv1d", conv::resolve),
    ("Conv2d", conv::resolve),
    ("MaxPool1d", pool::resolve),
    ("MaxPool2d", pool::resolve),
    ("AvgPool1d", pool::resolve),
    ("AvgPool2d", pool::resolve),
    ("BatchNorm1d", batch_norm::resolve),
    ("BatchNorm2d", batch_norm::resolve),
    ("Dropout", dropout::resolve),
];

/// Declares [`LayerKind`], one variant per kind module, and its dispatch to [`Kind`].
macro_rules! kinds {
    ($($variant:ident($ty:ty),)+) => {
        /// What a layer is, with its resolved arguments: one variant per layer kind.
        #[derive(Clone, Copy, PartialEq, Debug)]
        pub enum LayerKind {
            $($variant($ty),)+
        }

        impl LayerKind {
            /// What the kind knows about itself.
            pub fn get(&self) -> &dyn Kind {
                match self {
                    $(LayerKind::$variant(k) => k,)+
                }
            }
        }
    };
}

kinds! {
    Dense(dense::Dense),
    Conv(conv::Conv),
    Pool(pool::Pool),
    Activation(activation::Activation),
    PReLU(prelu::PReLU),
    Softmax(softmax::Softmax),
    Flatten(flatten::Flatten),
    BatchNorm(batch_norm::BatchNorm),
    Dropout(dropout::Dropout),
}

/// The function reading a layer's arguments, if `name` is a layer.
pub fn resolver(name: &str) -> Option<Resolve> {
    REGISTRY.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Every name the DSL knows, for messages and "did you mean".
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    REGISTRY.iter().map(|(n, _)| *n).chain([residual::NAME])
}

/// Reads a layer's arguments: its [`Spec`], or `None` after recording an error.
pub type Resolve = fn(&mut Ctxt, &Site) -> Option<Box<dyn Spec>>;

/// Where a layer is declared.
pub struct Site<'a> {
    /// How messages name the layer: "layer `fc1`" or "layer 3 (`Dense`)".
    pub who: &'a str,
    pub entry: &'a Entry,
    /// The DSL name of the next entry of the same block (`Dense` and convolutions choose their
    /// default initialization from it).
    pub next: Option<&'a str>,
}

impl Site<'_> {
    /// The DSL name as written.
    pub fn kind(&self) -> String {
        self.entry.kind.to_string()
    }

    /// The entry's arguments matched to `params` (unknown, duplicate and surplus ones recorded).
    pub fn args(&self, cx: &mut Ctxt, params: &[Param]) -> Matched {
        args::match_args(cx, self.who, &self.kind(), &self.entry.args, params)
    }
}

/// A layer whose arguments are read, waiting for its input shape.
pub trait Spec {
    /// The shape rule: the layer on `input` and its output shape, or `None` after recording why
    /// the layer does not fit its input.
    fn infer(&self, cx: &mut Ctxt, site: &Site, input: Shape) -> Option<(LayerKind, Shape)>;
}

/// What a layer kind knows once its shapes are known: counts, generated code, tensors.
pub trait Kind {
    /// Learnable parameters from `input` to `output` (saturating: absurd sizes are reported by
    /// the size rule, never a panic).
    fn params(&self, _input: Shape, _output: Shape) -> u64 {
        0
    }
    /// Multiply-accumulates of one forward pass.
    fn macs(&self, _input: Shape, _output: Shape) -> u64 {
        0
    }
    /// Whether the layer has learnable parameters, and so a struct field, a gradient and
    /// tensors in weight files.
    fn has_params(&self) -> bool {
        false
    }
    /// Values the layer keeps besides its parameters (batch norm's running statistics).
    fn buffers(&self, _input: Shape) -> u64 {
        0
    }
    /// The layer's Rust type.
    fn ty(&self, input: Shape, output: Shape) -> TokenStream;
    /// A value of a layer without parameters (those are read from their field): by default the
    /// type itself, a unit struct.
    fn value(&self, ty: TokenStream) -> TokenStream {
        ty
    }
    /// A parameterized layer's initialization: a closure over a fresh layer `l`, in a scope
    /// with the network's `seed`; `stream` is the layer's own random stream.
    fn init(&self, ty: &TokenStream, _stream: u64) -> TokenStream {
        quote!(|_: &mut #ty| {})
    }
    /// The layer's nodes in an ONNX export, from value `x` to value `y`; `l.name` names the
    /// nodes, and the weights as in the `state_dict` (`fc1.weight`).
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> crate::onnx_node::Part;
    /// The layer's tensors in a PyTorch `state_dict`, in the order of the file's convention.
    fn tensors(&self, _input: Shape, _output: Shape) -> Vec<TensorSpec> {
        Vec::new()
    }
    /// Whether the runtime layer fuses a following elementwise activation (`forward_act`).
    fn fuses_activation(&self) -> bool {
        false
    }
    /// The layer with a following batch norm folded into it, if the runtime can fold one
    /// (`fold_batchnorm`).
    fn absorb_batch_norm(&self) -> Option<LayerKind> {
        None
    }
    /// Whether every value keeps its position (elementwise layers), so a `Dense` after
    /// `Flatten` and this layer still reads the flattened `[c, h, w]` order.
    fn keeps_positions(&self) -> bool {
        false
    }
    /// Whether the layer draws random numbers in training (the network then has an `Rng`).
    fn uses_rng(&self) -> bool {
        false
    }
    /// Training that differs from inference (batch statistics, dropping): the cache field kept
    /// for backward, its type and doc. `None`: training calls the layer's batched forward and
    /// backward.
    fn saved(&self, _l: &Layer) -> Option<(TokenStream, String)> {
        None
    }
    /// The training forward step, for a layer with [`Kind::saved`].
    fn forward_train(&self, _l: &Layer, _io: &TrainIo) -> TokenStream {
        TokenStream::new()
    }
    /// The backward step, for a layer with [`Kind::saved`].
    fn backward_train(&self, _l: &Layer, _io: &TrainIo) -> TokenStream {
        TokenStream::new()
    }
}

/// The names a training step uses: cache fields, gradient expressions, the network's `Rng`.
pub struct TrainIo<'a> {
    /// The cache field the layer's [`Kind::saved`] state goes to.
    pub saved: &'a Ident,
    /// Cache fields of the layer's input and output batches.
    pub input: &'a Ident,
    pub output: &'a Ident,
    /// Backward: the gradient of the output, where the input's gradient goes, the parameter
    /// gradients.
    pub d_out: &'a TokenStream,
    pub target: &'a TokenStream,
    pub grad: &'a TokenStream,
    /// The network's random number generator.
    pub rng: &'a TokenStream,
}

/// One tensor of a parameterized layer as a PyTorch `state_dict` holds it (the runtime's
/// `LayerTensors` converts it to the layer's memory layout).
pub struct TensorSpec {
    /// The name after the layer's: `weight` for `fc1.weight`.
    pub suffix: &'static str,
    /// PyTorch's shape (`[out, in]` for a Dense weight).
    pub shape: Vec<usize>,
}

impl TensorSpec {
    pub fn new(suffix: &'static str, shape: Vec<usize>) -> Self {
        TensorSpec { suffix, shape }
    }
}

/// A layer with its shapes and costs.
pub struct Layer {
    /// The field name (given or automatic).
    pub name: Ident,
    /// The DSL name of the kind (`Dense`, `ReLU`, ...), for the summary.
    pub kind_name: String,
    pub kind: LayerKind,
    pub input: Shape,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    /// Span of the entry's kind, for generated-code errors.
    pub span: Span,
}

/// Parameter tensors above this many bytes live on the heap (with `alloc`), built in place.
const LARGE_BYTES: u64 = 16 * 1024;

impl Layer {
    /// The layer `kind` from `input` to `output`, its counts computed.
    pub fn new(
        name: Ident,
        kind_name: String,
        kind: LayerKind,
        (input, output): (Shape, Shape),
        span: Span,
    ) -> Layer {
        Layer {
            name,
            kind_name,
            kind,
            input,
            output,
            params: kind.get().params(input, output),
            macs: kind.get().macs(input, output),
            span,
        }
    }

    pub fn has_params(&self) -> bool {
        self.kind.get().has_params()
    }

    /// The layer's Rust type.
    pub fn ty(&self) -> TokenStream {
        self.kind.get().ty(self.input, self.output)
    }

    /// An expression for the layer's value in a method of the network: the field for
    /// parameterized layers, a constant otherwise.
    pub fn value(&self) -> TokenStream {
        let ty = self.ty();
        if self.has_params() {
            let name = &self.name;
            quote!(*::core::borrow::Borrow::<#ty>::borrow(&self.#name))
        } else {
            self.kind.get().value(ty)
        }
    }

    /// Whether the parameters are large enough to live on the heap.
    pub fn is_large(&self) -> bool {
        self.params * 4 > LARGE_BYTES
    }

    /// The runtime function building the field: inline, or in place on the heap when large.
    pub fn storage(&self) -> TokenStream {
        if self.is_large() {
            paths::new_large()
        } else {
            paths::new_inline()
        }
    }

    /// The struct field type of a parameterized layer: inline, or `Large<T>` (boxed) when big.
    pub fn field_ty(&self) -> TokenStream {
        let ty = self.ty();
        if self.is_large() {
            let large = paths::large();
            quote!(#large<#ty>)
        } else {
            ty
        }
    }

    /// The field's value in `new(seed)`: built in place, then initialized from stream `stream`.
    pub fn init(&self, stream: u64) -> TokenStream {
        let f = self.kind.get().init(&self.ty(), stream);
        let make = self.storage();
        quote!(#make(#f))
    }

    /// The layer's tensors in a PyTorch `state_dict`.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        self.kind.get().tensors(self.input, self.output)
    }
}

/// Product that saturates instead of overflowing (absurd sizes are reported by the size rule,
/// never a panic).
pub fn prod(values: &[u64]) -> u64 {
    values.iter().fold(1u64, |a, &v| a.saturating_mul(v))
}

/// A number as an `f32` literal.
pub fn f32_lit(v: f64) -> proc_macro2::Literal {
    proc_macro2::Literal::f32_suffixed(v as f32)
}

/// Rule: Dense and Softmax work on vectors; a `[c, l]` or `[c, h, w]` tensor must be flattened
/// first (the flatten order, C then H then W, is then explicit).
pub fn check_vector_input(cx: &mut Ctxt, site: &Site, kind: &str, input: Shape) -> Option<()> {
    if let Shape::D1(_) = input {
        return Some(());
    }
    cx.error(
        site.entry.kind.span(),
        format!("{}: `{kind}` needs a vector, but its input has shape {input}; add `Flatten,` before it (giving [{}])", site.who, input.len()),
    );
    None
}
