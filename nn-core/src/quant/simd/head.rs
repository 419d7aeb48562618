//! The head of a classifier twin in one kernel: its last dense layer (at most 16 outputs), the
//! requantization, the dequantization and the `f32` softmax, for one sample
//! ([`dense_softmax_sized`]) or a batch's samples in the vector lanes
//! ([`dense_softmax_many_sized`]); the kernels are in `vnni_head`.

#[cfg(target_arch = "x86_64")]
use super::{vnni_dense, vnni_dense_one, vnni_head};
use super::{Isa8, Requant, Typed};
use generic_array::typenum::Unsigned;

/// `softmax(dequantize(dense_sized::<I, O>(..)))` in one kernel where it has one (AVX-512
/// VNNI, the fixed-point requantization, at most 16 outputs): the probabilities to `y` and
/// `true`, the same bits as the three steps (`scale` is the logits' scale, their zero point
/// `rq`'s output zero point); else `false` and `y` untouched. Panics unless `x` has `I` values
/// and `y` `O`.
#[inline]
pub fn dense_softmax_sized<I: Unsigned, O: Unsigned>(
    isa: Isa8,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    scale: f32,
    y: &mut [f32],
) -> bool {
    assert!(
        x.len() == I::USIZE && y.len() == O::USIZE,
        "dense_softmax_sized: shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if vnni_dense_one(isa, Typed::<I, O>::NEW, rq) && O::USIZE <= 16 {
        // SAFETY: `Isa8::Vnni` is only chosen where the CPU has it; the shapes are checked.
        unsafe { vnni_head::dense_softmax(Typed::<I, O>::NEW, x, w, offset, rq, scale, y) };
        return true;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (isa, w, offset, rq, scale);
    false
}

/// [`dense_softmax_sized`] on `n` samples at once (`x` holds `n` inputs of `I` values, `y`
/// their `n` outputs of `O` probabilities): blocks of at most 16 samples with the samples in
/// the vector lanes (`vnni_head::dense_softmax_lanes`), where the CPU has AVX-512 VNNI, the
/// requantization is the fixed-point one, `I` is a multiple of 4 and the samples (16 where
/// there are more) outnumber the outputs (else the one-sample kernels' lanes, outputs, are the
/// better used):
/// `true`, the same bits as `dense_softmax_sized` on each sample; else `false` and `y`
/// untouched. Panics unless `x` and `y` hold the same number of samples.
#[inline]
pub fn dense_softmax_many_sized<I: Unsigned, O: Unsigned>(
    isa: Isa8,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    scale: f32,
    y: &mut [f32],
) -> bool {
    let n = x.len() / I::USIZE;
    assert!(
        x.len() == n * I::USIZE && y.len() == n * O::USIZE,
        "dense_softmax_many_sized: shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if vnni_dense(isa, Typed::<I, O>::NEW, rq) && O::USIZE <= 16 && O::USIZE < n.min(16) {
        for (xs, ys) in x.chunks(16 * I::USIZE).zip(y.chunks_mut(16 * O::USIZE)) {
            // SAFETY: `Isa8::Vnni` is only chosen where the CPU has it; at most 16 samples a
            // block, the shapes checked above.
            unsafe { vnni_head::dense_softmax_lanes::<I, O>(xs, w, offset, rq, scale, ys) };
        }
        return true;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (isa, w, offset, rq, scale, n);
    false
}
