//! Weight initialization of `Dense` and the convolutions: the `init` argument and its default.

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::{self, Param};
use crate::ast::Value;
use crate::ctxt::Ctxt;
use crate::paths;

/// How a layer's weights are drawn (PyTorch's `kaiming_normal_`, `xavier_normal_`, ...).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InitKind {
    He,
    Xavier,
    LeCun,
    Zeros,
}

/// The `init` argument.
pub const PARAM: Param = Param {
    name: "init",
    positional: false,
    expects: "`he`, `xavier`, `lecun` or `zeros`",
};

/// Reads `init = he | xavier | glorot | lecun | zeros`; without it, the default for the next
/// layer. `None` after recording an error.
pub fn resolve(
    cx: &mut Ctxt,
    who: &str,
    v: Option<&Value>,
    next: Option<&str>,
) -> Option<InitKind> {
    let Some(v) = v else {
        return Some(default_before(next));
    };
    let choices = ["he", "xavier", "glorot", "lecun", "zeros"];
    Some(match args::choice(cx, who, "init", v, &choices)?.as_str() {
        "he" => InitKind::He,
        "lecun" => InitKind::LeCun,
        "zeros" => InitKind::Zeros,
        _ => InitKind::Xavier,
    })
}

/// He before ReLU-like activations, LeCun before SELU, Xavier otherwise: the initialization
/// that keeps the variance of the activations steady through the next layer.
pub fn default_before(next: Option<&str>) -> InitKind {
    match next {
        Some("ReLU" | "LeakyReLU" | "PReLU" | "ELU" | "GELU" | "SiLU") => InitKind::He,
        Some("SELU") => InitKind::LeCun,
        _ => InitKind::Xavier,
    }
}

/// The initialization closure of a layer with an `init(Init, &mut Rng)` method: its own random
/// stream of the network's seed.
pub fn closure(ty: &TokenStream, init: InitKind, stream: u64) -> TokenStream {
    let variant = match init {
        InitKind::He => quote!(He),
        InitKind::Xavier => quote!(Xavier),
        InitKind::LeCun => quote!(LeCun),
        InitKind::Zeros => quote!(Zeros),
    };
    let (init, rng) = (paths::init(), paths::rng());
    quote!(|l: &mut #ty| l.init(#init::#variant, &mut #rng::with_stream(seed, #stream)))
}
