//! The int8 twin's weight files (with `std`): `to_safetensors_bytes`/`save_safetensors` and
//! `from_safetensors_bytes`/`load_safetensors`, its int8 tensors named after the `f32` network's
//! (the layout is documented in nn-core's `train::int8_io`).

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::quant_plan::{weighted, Step, Weighted};
use crate::model::Network;
use crate::paths;

/// Statements of `to_safetensors_bytes` writing one weighted layer's tensors to `w`.
fn write_layer(l: &Weighted) -> TokenStream {
    let field = &l.field;
    let (wname, bname, sname) = (
        format!("{field}.weight"),
        format!("{field}.bias"),
        format!("{field}.weight_scale"),
    );
    let (shape, c) = (&l.shape, l.channels);
    let values = if l.dense {
        let (no, ni) = (shape[0], shape[1]);
        quote!((0..#no).flat_map(|o| (0..#ni).map(move |i| self.#field.weight(o, i))))
    } else {
        let n: usize = shape.iter().product();
        quote!((0..#n).map(|k| self.#field.weight(k)))
    };
    quote! {
        w.i8s(#wname, &[#(#shape),*], #values);
        w.i32s(#bname, &[#c], self.#field.bias.iter().copied());
        w.f32s(#sname, &[#c], self.#field.weight_scale.iter().copied());
    }
}

/// The statement of `to_safetensors_bytes` writing an activation's table: `<layer>.table`, I8
/// `[256]` (`quant_bake::load` reads it).
fn table(net: &Network, layer: usize) -> TokenStream {
    let field = &net.layers[layer].name;
    let name = format!("{field}.table");
    quote!(w.i8s(#name, &[256], self.#field.table.iter().copied());)
}

/// The twin's weight-file methods, with `std`.
pub fn items(net: &Network, steps: &[Step], twin: &Ident) -> TokenStream {
    let (if_std, error, vec, qp) = (
        paths::if_std(),
        paths::error(),
        paths::vec(),
        paths::quant_params(),
    );
    let (source, writer) = (paths::int8_source(), paths::int8_writer());
    let n_tensors = net.tensors.len();
    let layers: Vec<Weighted> = steps.iter().filter_map(|s| weighted(net, s)).collect();
    let mut writes: Vec<TokenStream> = layers.iter().map(write_layer).collect();
    for step in steps {
        if let Step::Lut { layer, .. } = *step {
            writes.push(table(net, layer));
        }
    }
    // Read in step order, then built by the constructor a baked `pretrained()` uses too.
    let (reads, build) = super::quant_bake::load(net, steps);
    let from_parts = super::quant_bake::from_parts_fn(net, steps, twin);
    let twin_name = twin.to_string();
    let doc_bytes = format!(
        "The twin's tensors as safetensors bytes: each weighted layer's `<layer>.weight` (I8, \
         PyTorch's layout), `<layer>.bias` (I32) and `<layer>.weight_scale` (F32 per output \
         channel), each activation's lookup table `<layer>.table` (I8 `[256]`, the output for \
         input -128 first), and for each of the {n_tensors} entries of `tensors` \
         `tensors.<t>.scale` (F32) and `tensors.<t>.zero_point` (I32), both of shape `[]`; \
         metadata `format` (`nn-int8/1`), `rounding` and `network`. A batch norm folded into \
         the layer before it has no tensors: that layer's are the folded weights and biases. \
         Requantization multipliers, fused activations and the rescaling of residual sums are \
         not stored: loading derives them."
    );
    quote! {
        #from_parts
        #if_std! {
            #[automatically_derived]
            impl #twin {
                #[doc = #doc_bytes]
                pub fn to_safetensors_bytes(&self) -> ::core::result::Result<#vec<u8>, #error> {
                    let mut w = #writer::new(#twin_name);
                    for (t, q) in self.tensors.iter().enumerate() {
                        w.quant(t, *q);
                    }
                    #(#writes)*
                    w.finish(self.rounding)
                }

                /// Writes the twin's tensors to a safetensors file (see
                /// [`Self::to_safetensors_bytes`] for the names and dtypes).
                pub fn save_safetensors(
                    &self,
                    path: impl ::core::convert::AsRef<::std::path::Path>,
                ) -> ::core::result::Result<(), #error> {
                    let path = path.as_ref();
                    let bytes = self.to_safetensors_bytes()?;
                    ::std::fs::write(path, bytes).map_err(|source| #error::Io {
                        path: ::std::string::ToString::to_string(&path.display()),
                        source,
                    })
                }

                /// Reads a twin from a file written by [`Self::save_safetensors`].
                pub fn load_safetensors(
                    path: impl ::core::convert::AsRef<::std::path::Path>,
                ) -> ::core::result::Result<Self, #error> {
                    let path = path.as_ref();
                    let name = ::std::string::ToString::to_string(&path.display());
                    match ::std::fs::read(path) {
                        ::core::result::Result::Ok(bytes) => Self::from_safetensors_bytes(&bytes, &name),
                        ::core::result::Result::Err(source) => {
                            ::core::result::Result::Err(#error::Io { path: name, source })
                        }
                    }
                }

                /// Reads a twin from safetensors bytes; `name` names the source in errors. Every
                /// tensor must be present with its dtype and shape (int8 weights in
                /// `[-127, 127]`, scales positive and finite, zero points in the int8 range),
                /// the `format` and `rounding` metadata must be there, and no other tensor may
                /// be: anything else is an `Err` naming the file and the tensor.
                pub fn from_safetensors_bytes(bytes: &[u8], name: &str) -> ::core::result::Result<Self, #error> {
                    let mut src = #source::new(name, bytes)?;
                    let rounding = src.rounding()?;
                    let mut tensors = [#qp { scale: 1.0, zero_point: 0 }; #n_tensors];
                    for (t, q) in tensors.iter_mut().enumerate() {
                        *q = src.quant(t)?;
                    }
                    #(#reads)*
                    src.finish()?;
                    ::core::result::Result::Ok(#build)
                }
            }
        }
    }
}
