//! Inference: `forward` (with its baseline and AVX2 copies), `forward_logits` and
//! `forward_batch`, as straight-line calls. Within the stack budget every tensor is a local;
//! above it they are the fields of a generated workspace (`NameWorkspace`, `forward_with`).

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::{Bodies, Gen};
use crate::layers::LayerKind;
use crate::paths;

/// The most stack, in bytes, that a `forward` may use for activations before the network gets a
/// workspace: `nn::STACK_BUDGET` (a test checks that they agree).
pub const STACK_BUDGET: u64 = 256 * 1024;

/// Where one inference keeps its activations, decided once per network.
#[derive(Default)]
pub struct Budget {
    /// Bytes of the tensors one `forward` writes (the input excluded).
    pub activation_bytes: u64,
    /// Samples per chunk of `forward_batch` on the stack.
    pub chunk: usize,
    /// Bytes of stack one `forward` or `forward_batch` call needs for tensors: its activations
    /// (or a chunk's), or with a workspace only the returned output.
    pub stack_bytes: u64,
    /// Over the budget: the workspace type and the tensors it holds.
    pub workspace: Option<(Ident, Vec<usize>)>,
}

impl Budget {
    pub fn new(gen: &Gen) -> Budget {
        let net = gen.net;
        let written = steps(gen, net.ops.len(), Place::Stack).written;
        let activation_bytes: u64 = written.iter().map(|&i| net.tensors[i].len() * 4).sum();
        let chunk = chunk(gen);
        // `forward_batch` keeps a chunk of samples' activations (`chunk` is 1 when they are big).
        let on_stack = activation_bytes * chunk as u64;
        if on_stack <= STACK_BUDGET {
            Budget {
                activation_bytes,
                chunk,
                stack_bytes: on_stack,
                workspace: None,
            }
        } else {
            Budget {
                activation_bytes,
                chunk: 1,
                stack_bytes: net.output().len() * 4,
                workspace: Some((format_ident!("{}Workspace", gen.name), written)),
            }
        }
    }

    /// `WORKSPACE_BYTES`: 0 without a workspace.
    pub fn workspace_bytes(&self) -> u64 {
        if self.workspace.is_some() {
            self.activation_bytes
        } else {
            0
        }
    }
}

/// The workspace type of a network over the stack budget (nothing otherwise).
pub fn workspace_type(gen: &Gen) -> TokenStream {
    let Some((ws, written)) = &gen.budget.workspace else {
        return quote!();
    };
    let (vis, name) = (&gen.net.vis, gen.name);
    let (tensor, zeroable, large, new_large, if_alloc) = (
        paths::tensor(),
        paths::zeroable(),
        paths::large(),
        paths::new_large(),
        paths::if_alloc(),
    );
    let fields: Vec<&Ident> = written.iter().map(|&i| &gen.acts[i]).collect();
    let shapes: Vec<&TokenStream> = written.iter().map(|&i| &gen.shapes[i]).collect();
    let bytes = gen.budget.activation_bytes as usize;
    let doc = format!(
        "The activations of one [`{name}`] inference, {bytes} bytes: over the stack budget \
         (`nn::STACK_BUDGET`), so they live here instead of on the stack. Pass one to \
         [`{name}::forward_with`] to run inference without allocating; `{name}::forward` obtains \
         one itself (once per thread with `std`, per call with only `alloc`).\n\n\
         A workspace can be a `static` (its `new` is `const`), on the heap (`new_boxed`) or \
         anywhere else; its contents are overwritten by every pass."
    );
    quote! {
        #[doc = #doc]
        #vis struct #ws {
            #( #fields: #tensor<#shapes>, )*
        }

        #[automatically_derived]
        impl #ws {
            /// Its size in bytes.
            pub const BYTES: usize = #bytes;

            /// A zeroed workspace; `const`, so it can initialize a `static`.
            pub const fn new() -> Self {
                Self { #( #fields: #tensor::<#shapes>::zeros(), )* }
            }

            #if_alloc! {
                /// A zeroed workspace on the heap, built in place (no stack temporary).
                pub fn new_boxed() -> #large<Self> {
                    #new_large::<Self>(|_| {})
                }
            }
        }

        #[automatically_derived]
        impl ::core::default::Default for #ws {
            fn default() -> Self {
                Self::new()
            }
        }

        // SAFETY: every field is a tensor of `f32`, valid when all bytes are zero.
        #[automatically_derived]
        unsafe impl #zeroable for #ws {}
    }
}

/// The inference methods of the inherent impl.
pub fn methods(gen: &Gen) -> TokenStream {
    match &gen.budget.workspace {
        None => on_stack(gen),
        Some((ws, _)) => with_workspace(gen, ws),
    }
}

/// The body that calls the AVX2 copy `avx2` of the forward pass when the CPU has AVX2 (detected
/// once at run time), else the baseline copy `base`. The kernels are out-of-line calls that pick
/// their own instruction set, so the copies differ only in the code between kernels (cheap to
/// compile twice; elementwise layers and copies vectorize twice as wide with AVX2).
pub(super) fn dispatch(base: &Ident, avx2: &Ident, args: TokenStream) -> TokenStream {
    let use_avx2 = paths::use_avx2();
    quote! {
        #[cfg(target_arch = "x86_64")]
        {
            if #use_avx2() {
                // SAFETY: `use_avx2` checked that the CPU supports AVX2 and FMA.
                return unsafe { self.#avx2(#args) };
            }
        }
        self.#base(#args)
    }
}

/// The bounds of `forward`'s argument: the input tensor or a `[f32; INPUT_LEN]` array (anything
/// after errors, so that calls raise no follow-on error).
fn input_bound(gen: &Gen) -> TokenStream {
    let (input_of, input_len) = (paths::input_of(), gen.input_len);
    match gen.bodies {
        Bodies::Real => quote!(#input_of<Self, #input_len> + ?Sized),
        Bodies::Unreachable => quote!(?Sized),
    }
}

/// `forward_batch`'s first statement: `Err` if `xs` and `ys` differ in length.
fn batch_len_check() -> TokenStream {
    let batch_len_error = paths::batch_len_error();
    quote! {
        if xs.len() != ys.len() {
            return ::core::result::Result::Err(#batch_len_error { inputs: xs.len(), outputs: ys.len() });
        }
    }
}

/// Every tensor a local: the network within the stack budget.
fn on_stack(gen: &Gen) -> TokenStream {
    let (net, in_ty, out_ty, input_len) = (gen.net, &gen.in_ty, &gen.out_ty, gen.input_len);
    let (tensor, input_of, batch_len_error) =
        (paths::tensor(), paths::input_of(), paths::batch_len_error());
    let logits_steps = steps(gen, net.logits_ops, Place::Stack).steps;
    let all_steps = steps(gen, net.ops.len(), Place::Stack).steps;
    let batched = steps(gen, net.ops.len(), Place::Batched);
    let (batch_steps, batch_decls) = (batched.steps, batched.decls);
    let last = &gen.acts[net.output];
    let logits = &gen.acts[net.logits];
    let t0 = &gen.acts[0];
    let as_input = quote!(let #t0: &#tensor<#in_ty> = #input_of::<Self, #input_len>::as_input(x););
    let forward_core = gen.body(quote! { let #t0 = x; #(#all_steps)* #last });
    let (base, avx2) = (
        format_ident!("__nn_forward_base"),
        format_ident!("__nn_forward_avx2"),
    );
    let call = dispatch(&base, &avx2, quote!(x));
    let forward_body = gen.body(quote! {
        let x: &#tensor<#in_ty> = #input_of::<Self, #input_len>::as_input(x);
        #call
    });
    // A network whose head follows the input directly has the input as its logits.
    let logits_value = if net.logits == 0 {
        quote!(::core::clone::Clone::clone(#logits))
    } else {
        quote!(#logits)
    };
    let logits_body = gen.body(quote! { #as_input #(#logits_steps)* #logits_value });
    let chunk = gen.budget.chunk;
    let len_check = batch_len_check();
    let split_batch = paths::split_batch();
    let macs = net.macs() as usize;
    let batch_body = gen.body(quote! {
        #len_check
        const __NN_K: usize = #chunk;
        #split_batch(xs, ys, __NN_K, #macs, |xs, ys| {
            #(#batch_decls)*
            for (#t0, __nn_ys) in xs.chunks(__NN_K).zip(ys.chunks_mut(__NN_K)) {
                let __nn_n = #t0.len();
                #(#batch_steps)*
                __nn_ys.clone_from_slice(&#last[..__nn_n]);
            }
        });
        ::core::result::Result::Ok(())
    });
    let bound = input_bound(gen);
    quote! {
        /// Inference on one sample, given as an `nn::Input<Self>` tensor or a
        /// `[f32; INPUT_LEN]` array; allocates nothing, its activations on the stack
        /// (`Self::STACK_BYTES`).
        #[inline]
        pub fn forward(&self, x: &(impl #bound)) -> #tensor<#out_ty> {
            #forward_body
        }

        /// `forward` compiled for the baseline target.
        #[doc(hidden)]
        #[inline]
        pub fn #base(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
            #forward_core
        }

        /// `forward` compiled with AVX2 and FMA enabled (same results: no fused
        /// multiply-adds are introduced), chosen at run time by `forward`.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[doc(hidden)]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx,avx2,fma")]
        pub unsafe fn #avx2(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
            #forward_core
        }

        /// Inference stopping before the final `Softmax`/`Sigmoid` (the logits).
        #[inline]
        pub fn forward_logits(&self, x: &(impl #bound)) -> #tensor<#out_ty> {
            #logits_body
        }

        /// Inference on a batch, `ys[i] = forward(xs[i])`, a chunk of samples at a time
        /// so that dense layers load each weight once per chunk (results equal
        /// `forward`'s up to rounding). Allocates nothing on one thread; with
        /// `nn::set_threads` the chunks are split over threads (the same results for any
        /// thread count). `Err` if the slices' lengths differ.
        pub fn forward_batch(
            &self,
            xs: &[#tensor<#in_ty>],
            ys: &mut [#tensor<#out_ty>],
        ) -> ::core::result::Result<(), #batch_len_error> {
            #batch_body
        }
    }
}

/// Every tensor a field of the workspace `ws`: the network over the stack budget.
fn with_workspace(gen: &Gen, ws: &Ident) -> TokenStream {
    let (net, in_ty, out_ty, input_len) = (gen.net, &gen.in_ty, &gen.out_ty, gen.input_len);
    let (tensor, input_of, batch_len_error, obtain, if_alloc) = (
        paths::tensor(),
        paths::input_of(),
        paths::batch_len_error(),
        paths::obtain_workspace(),
        paths::if_alloc(),
    );
    let bytes = gen.budget.activation_bytes as usize;
    let all_steps = steps(gen, net.ops.len(), Place::Workspace).steps;
    let logits_steps = steps(gen, net.logits_ops, Place::Workspace).steps;
    let out_ref = |i: usize| {
        if i == 0 {
            quote!(x)
        } else {
            let a = &gen.acts[i];
            quote!(&ws.#a)
        }
    };
    let (last, logits) = (out_ref(net.output), out_ref(net.logits));
    let forward_core = gen.body(quote! { #(#all_steps)* #last });
    let (base, avx2) = (
        format_ident!("__nn_forward_with_base"),
        format_ident!("__nn_forward_with_avx2"),
    );
    let call = dispatch(&base, &avx2, quote!(ws, x));
    let as_input = quote!(let x: &#tensor<#in_ty> = #input_of::<Self, #input_len>::as_input(x););
    let forward_with_body = gen.body(quote! { #as_input #call });
    let logits_with_body = gen.body(quote! { #as_input #(#logits_steps)* #logits });
    let len_check = batch_len_check();
    let batch_with_body = gen.body(quote! {
        #len_check
        for (x, y) in xs.iter().zip(ys.iter_mut()) {
            y.clone_from(self.forward_with(ws, x));
        }
        ::core::result::Result::Ok(())
    });
    let forward_body = gen.body(quote! {
        <#ws as #obtain<__NnX, #bytes>>::with(|ws| ::core::clone::Clone::clone(self.forward_with(ws, x)))
    });
    let logits_body = gen.body(quote! {
        <#ws as #obtain<__NnX, #bytes>>::with(|ws| ::core::clone::Clone::clone(self.forward_logits_with(ws, x)))
    });
    let (split_batch, macs) = (paths::split_batch(), net.macs() as usize);
    let batch_body = gen.body(quote! {
        #len_check
        // One workspace per thread: the samples are split over the threads of
        // `nn::set_threads`, each part with the workspace its thread obtains.
        #split_batch(xs, ys, 1, #macs, |xs, ys| {
            let _ = <#ws as #obtain<(), #bytes>>::with(|ws| self.forward_batch_with(ws, xs, ys));
        });
        ::core::result::Result::Ok(())
    });
    let bound = input_bound(gen);
    let doc_obtain = format!(
        "Its activations ({bytes} bytes) are over the stack budget, so they live in a [`{ws}`]: \
         with `std` one per thread, allocated on the first call and kept; with only `alloc` a new \
         one per call; without `alloc` this does not compile (use `forward_with`)."
    );
    quote! {
        /// Inference on one sample, given as an `nn::Input<Self>` tensor or a
        /// `[f32; INPUT_LEN]` array.
        ///
        #[doc = #doc_obtain]
        #[inline]
        pub fn forward<__NnX: #bound>(&self, x: &__NnX) -> #tensor<#out_ty>
        where
            #ws: #obtain<__NnX, #bytes>,
        {
            #forward_body
        }

        /// Inference on one sample with the activations in `ws`; allocates nothing. The
        /// output is borrowed from the workspace.
        #[inline]
        pub fn forward_with<'w, __NnX: #bound>(&self, ws: &'w mut #ws, x: &__NnX) -> &'w #tensor<#out_ty> {
            #forward_with_body
        }

        /// `forward_with` compiled for the baseline target.
        #[doc(hidden)]
        #[inline]
        pub fn #base<'w>(&self, ws: &'w mut #ws, x: &#tensor<#in_ty>) -> &'w #tensor<#out_ty> {
            #forward_core
        }

        /// `forward_with` compiled with AVX2 and FMA enabled (same results: no fused
        /// multiply-adds are introduced), chosen at run time.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[doc(hidden)]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx,avx2,fma")]
        pub unsafe fn #avx2<'w>(&self, ws: &'w mut #ws, x: &#tensor<#in_ty>) -> &'w #tensor<#out_ty> {
            #forward_core
        }

        /// Inference stopping before the final `Softmax`/`Sigmoid` (the logits).
        ///
        #[doc = #doc_obtain]
        #[inline]
        pub fn forward_logits<__NnX: #bound>(&self, x: &__NnX) -> #tensor<#out_ty>
        where
            #ws: #obtain<__NnX, #bytes>,
        {
            #logits_body
        }

        /// `forward_logits` with the activations in `ws`; allocates nothing.
        pub fn forward_logits_with<'w, __NnX: #bound>(&self, ws: &'w mut #ws, x: &'w __NnX) -> &'w #tensor<#out_ty> {
            #logits_with_body
        }

        /// Inference on a batch with the activations in `ws`, `ys[i] = forward(xs[i])`, one
        /// sample at a time; allocates nothing. `Err` if the slices' lengths differ.
        pub fn forward_batch_with(
            &self,
            ws: &mut #ws,
            xs: &[#tensor<#in_ty>],
            ys: &mut [#tensor<#out_ty>],
        ) -> ::core::result::Result<(), #batch_len_error> {
            #batch_with_body
        }

        #if_alloc! {
            /// Inference on a batch, `ys[i] = forward(xs[i])` (with `alloc`; see `forward` for
            /// where the activations live, `forward_batch_with` to pass them). `Err` if the
            /// slices' lengths differ.
            pub fn forward_batch(
                &self,
                xs: &[#tensor<#in_ty>],
                ys: &mut [#tensor<#out_ty>],
            ) -> ::core::result::Result<(), #batch_len_error> {
                #batch_body
            }
        }
    }
}

/// Samples per chunk of the batched forward: a power of two (whole register blocks in the dense
/// products) such that the chunk's tensors take at most 64 KiB of stack (16 samples for small
/// networks, 1 for large ones).
fn chunk(gen: &Gen) -> usize {
    let per_sample: u64 = gen
        .net
        .tensors
        .iter()
        .skip(1)
        .map(|t| t.len())
        .sum::<u64>()
        .max(1);
    1usize << (16384 / per_sample).clamp(1, 16).ilog2()
}

/// Where the steps keep their tensors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// One local per tensor (`forward` of a network within the stack budget).
    Stack,
    /// One local array of `__NN_K` tensors per tensor, of which the first `__nn_n` are live
    /// (`forward_batch`), each layer called once per chunk.
    Batched,
    /// The fields of the workspace `ws` (networks over the stack budget); the input is `x`.
    Workspace,
}

/// The forward steps of the first `end` ops, as straight-line calls. A `Dense` or convolution
/// followed by an elementwise activation that alone consumes its output is fused (the
/// activation applied while the values are in registers).
struct Steps {
    /// The calls.
    steps: Vec<TokenStream>,
    /// `Batched`: the declarations of the chunk buffers, made once per call.
    decls: Vec<TokenStream>,
    /// The tensors the steps write, in order.
    written: Vec<usize>,
}

fn steps(gen: &Gen, end: usize, place: Place) -> Steps {
    let net = gen.net;
    let (acts, shapes) = (&gen.acts, &gen.shapes);
    let (tensor, add_into, sum_into) = (paths::tensor(), paths::add_into(), paths::sum_into());
    let mut consumers = vec![0usize; net.tensors.len()];
    for op in &net.ops {
        for &i in &op.inputs {
            consumers[i] += 1;
        }
    }
    let read = |i: usize| {
        let a = &acts[i];
        match place {
            Place::Stack => quote!(&#a),
            Place::Batched => quote!(&#a[..__nn_n]),
            Place::Workspace if i == 0 => quote!(x),
            Place::Workspace => quote!(&ws.#a),
        }
    };
    let write = |i: usize| {
        let a = &acts[i];
        match place {
            Place::Stack => quote!(&mut #a),
            Place::Batched => quote!(&mut #a[..__nn_n]),
            Place::Workspace => quote!(&mut ws.#a),
        }
    };
    let mut out = Steps {
        steps: Vec::new(),
        decls: Vec::new(),
        written: Vec::new(),
    };
    // The declaration of tensor `i`, where it is made at its step.
    let make = |out: &mut Steps, i: usize| {
        out.written.push(i);
        let (a, s) = (&acts[i], &shapes[i]);
        match place {
            Place::Stack => quote!(let mut #a = #tensor::<#s>::zeros();),
            Place::Batched => {
                out.decls.push(quote!(let mut #a: [#tensor<#s>; __NN_K] = [const { #tensor::<#s>::zeros() }; __NN_K];));
                quote!()
            }
            Place::Workspace => quote!(),
        }
    };
    let mut j = 0;
    while j < end {
        let op = &net.ops[j];
        let o = op.output;
        let Some(l) = net.layer_of(op) else {
            // A residual join.
            let (a, b) = (op.inputs[0], op.inputs[1]);
            let decl = make(&mut out, o);
            let (out_t, a_t, b_t) = (&acts[o], &acts[a], &acts[b]);
            out.steps.push(match place {
                Place::Batched => quote! {
                    #decl
                    #out_t[..__nn_n].clone_from_slice(&#a_t[..__nn_n]);
                    for (o, b) in #out_t[..__nn_n].iter_mut().zip(&#b_t[..__nn_n]) {
                        #add_into(o, b);
                    }
                },
                Place::Stack => quote! {
                    let mut #out_t = ::core::clone::Clone::clone(&#a_t);
                    #add_into(&mut #out_t, &#b_t);
                },
                Place::Workspace => {
                    let (w, ra, rb) = (write(o), read(a), read(b));
                    quote!(#sum_into(#w, #ra, #rb);)
                }
            });
            j += 1;
            continue;
        };
        let (i, s_in, s_out) = (op.inputs[0], &shapes[op.inputs[0]], &shapes[o]);
        let input = read(i);
        let value = l.value();
        let span = l.span;
        let layer = paths::at(span, paths::layer());
        let batched = place == Place::Batched;
        let fused = (j + 1 < end && consumers[o] == 1)
            .then(|| net.layer_of(&net.ops[j + 1]))
            .flatten()
            .filter(|n| {
                matches!(n.kind, LayerKind::Activation(_)) && net.ops[j + 1].inputs[0] == o
            });
        if let (true, Some(act)) = (l.kind.get().fuses_activation(), fused) {
            let o2 = net.ops[j + 1].output;
            let act_value = act.value();
            let decl = make(&mut out, o2);
            let w = write(o2);
            out.steps.push(if batched {
                quote_spanned! {span=>
                    #decl
                    #layer::<#s_in, #s_out>::forward_batch_act(&#value, #input, #w, #act_value);
                }
            } else {
                quote_spanned! {span=>
                    #decl
                    #layer::<#s_in, #s_out>::forward_act(&#value, #input, #w, #act_value);
                }
            });
            j += 2;
            continue;
        }
        let decl = make(&mut out, o);
        let w = write(o);
        out.steps.push(if batched {
            quote_spanned! {span=>
                #decl
                #layer::<#s_in, #s_out>::forward_batch(&#value, #input, #w);
            }
        } else {
            quote_spanned! {span=>
                #decl
                #layer::<#s_in, #s_out>::forward(&#value, #input, #w);
            }
        });
        j += 1;
    }
    out
}
