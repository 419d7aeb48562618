//! The elementwise activations: `Identity`, `Step`, `Sigmoid`, `Tanh`, `ReLU`, `GELU`,
//! `Softplus`, `ELU`, `SELU`, `LeakyReLU`, `SiLU`, `Gaussian`. Any shape, unchanged. PyTorch
//! `nn.ReLU` etc., Keras `activation="relu"` etc.

use proc_macro2::TokenStream;
use quote::quote;

use super::Layer;
use super::{f32_lit, Kind, LayerKind, Site, Spec};
use crate::args::{self, Param};
use crate::ctxt::Ctxt;
use crate::onnx_node::{scalar, Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// An elementwise activation with its constant arguments.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Activation {
    Identity,
    Step,
    Sigmoid,
    Tanh,
    ReLU,
    GELU { tanh: bool },
    Softplus,
    ELU { alpha: f64 },
    SELU,
    LeakyReLU { slope: f64 },
    SiLU,
    Gaussian,
}

/// Reads an activation: `ELU(alpha)`, `LeakyReLU(slope)`, `GELU(approximate = ..)`; the others
/// take no arguments.
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    let who = site.who;
    let act = match site.kind().as_str() {
        "ELU" => {
            let got = site.args(
                cx,
                &[Param {
                    name: "alpha",
                    positional: true,
                    expects: "a number, default 1.0",
                }],
            );
            let alpha = match got.get(0) {
                Some(v) => args::float(cx, who, "alpha", v)?,
                None => 1.0,
            };
            Activation::ELU { alpha }
        }
        "LeakyReLU" => {
            let got = site.args(
                cx,
                &[Param {
                    name: "slope",
                    positional: true,
                    expects: "a number, default 0.01",
                }],
            );
            let slope = match got.get(0) {
                Some(v) => args::float(cx, who, "slope", v)?,
                None => 0.01,
            };
            Activation::LeakyReLU { slope }
        }
        "GELU" => {
            let got = site.args(
                cx,
                &[Param {
                    name: "approximate",
                    positional: false,
                    expects: "`none` (default) or `tanh`",
                }],
            );
            let tanh = match got.get(0) {
                Some(v) => args::choice(cx, who, "approximate", v, &["none", "tanh"])? == "tanh",
                None => false,
            };
            Activation::GELU { tanh }
        }
        name => {
            site.args(cx, &[]);
            match name {
                "Identity" => Activation::Identity,
                "Step" => Activation::Step,
                "Sigmoid" => Activation::Sigmoid,
                "Tanh" => Activation::Tanh,
                "ReLU" => Activation::ReLU,
                "Softplus" => Activation::Softplus,
                "SELU" => Activation::SELU,
                "SiLU" => Activation::SiLU,
                _ => Activation::Gaussian,
            }
        }
    };
    Some(Box::new(act))
}

impl Spec for Activation {
    /// Any shape, unchanged.
    fn infer(&self, _cx: &mut Ctxt, _site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        Some((LayerKind::Activation(*self), input))
    }
}

impl Kind for Activation {
    /// The ONNX operator of the same name; SiLU as `x * Sigmoid(x)`, the erf GELU as PyTorch
    /// exports it (`Div`, `Erf`, `Add`, `Mul`, `Mul`), the tanh GELU as `Gelu` (opset 20),
    /// `Step` as `Cast(GreaterOrEqual(x, 0))`, `Gaussian` as `Exp(Neg(x * x))`.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        let n = l.name.to_string();
        let one = |op: &'static str| Part::node(Node::new(op, &n, &[x], y));
        let mid = |s: &str| format!("{n}/{s}");
        match self {
            Activation::Identity => one("Identity"),
            Activation::Sigmoid => one("Sigmoid"),
            Activation::Tanh => one("Tanh"),
            Activation::ReLU => one("Relu"),
            Activation::Softplus => one("Softplus"),
            Activation::SELU => one("Selu"),
            Activation::ELU { alpha } => {
                Part::node(Node::new("Elu", &n, &[x], y).with("alpha", Attr::Float(*alpha as f32)))
            }
            Activation::LeakyReLU { slope } => Part::node(
                Node::new("LeakyRelu", &n, &[x], y).with("alpha", Attr::Float(*slope as f32)),
            ),
            Activation::SiLU => Part::nodes(vec![
                Node::new("Sigmoid", mid("sigmoid"), &[x], &mid("sigmoid")),
                Node::new("Mul", &n, &[x, &mid("sigmoid")], y),
            ]),
            Activation::GELU { tanh: true } => {
                let mut part = Part::node(
                    Node::new("Gelu", &n, &[x], y).with("approximate", Attr::Str("tanh")),
                );
                part.opset = 20;
                part
            }
            Activation::GELU { tanh: false } => {
                let (sqrt2, c1, half) =
                    (scalar(&n, "sqrt2"), scalar(&n, "one"), scalar(&n, "half"));
                Part::nodes(vec![
                    Node::new("Div", mid("div"), &[x, &sqrt2], &mid("div")),
                    Node::new("Erf", mid("erf"), &[&mid("div")], &mid("erf")),
                    Node::new("Add", mid("add"), &[&mid("erf"), &c1], &mid("add")),
                    Node::new("Mul", mid("mul"), &[x, &mid("add")], &mid("mul")),
                    Node::new("Mul", &n, &[&mid("mul"), &half], y),
                ])
                .with_const(sqrt2, vec![], vec![core::f32::consts::SQRT_2])
                .with_const(c1, vec![], vec![1.0])
                .with_const(half, vec![], vec![0.5])
            }
            Activation::Step => {
                let zero = scalar(&n, "zero");
                Part::nodes(vec![
                    Node::new("GreaterOrEqual", mid("ge"), &[x, &zero], &mid("ge")),
                    Node::new("Cast", &n, &[&mid("ge")], y).with("to", Attr::Int(1)),
                ])
                .with_const(zero, vec![], vec![0.0])
            }
            Activation::Gaussian => Part::nodes(vec![
                Node::new("Mul", mid("square"), &[x, x], &mid("square")),
                Node::new("Neg", mid("neg"), &[&mid("square")], &mid("neg")),
                Node::new("Exp", &n, &[&mid("neg")], y),
            ]),
        }
    }
    fn ty(&self, _input: Shape, _output: Shape) -> TokenStream {
        match self {
            Activation::Identity => paths::identity(),
            Activation::Step => paths::step(),
            Activation::Sigmoid => paths::sigmoid(),
            Activation::Tanh => paths::tanh(),
            Activation::ReLU => paths::relu(),
            Activation::GELU { .. } => paths::gelu(),
            Activation::Softplus => paths::softplus(),
            Activation::ELU { .. } => paths::elu(),
            Activation::SELU => paths::selu(),
            Activation::LeakyReLU { .. } => paths::leaky_relu(),
            Activation::SiLU => paths::silu(),
            Activation::Gaussian => paths::gaussian(),
        }
    }
    /// The arguments as struct fields: `GELU { tanh_approximation }`, `ELU { alpha }`,
    /// `LeakyReLU { slope }`.
    fn value(&self, ty: TokenStream) -> TokenStream {
        match *self {
            Activation::GELU { tanh } => quote!(#ty { tanh_approximation: #tanh }),
            Activation::ELU { alpha } => {
                let a = f32_lit(alpha);
                quote!(#ty { alpha: #a })
            }
            Activation::LeakyReLU { slope } => {
                let s = f32_lit(slope);
                quote!(#ty { slope: #s })
            }
            _ => ty,
        }
    }
    fn keeps_positions(&self) -> bool {
        true
    }
}
