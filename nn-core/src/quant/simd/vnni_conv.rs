//! AVX-512 VNNI int8 convolutions: patches of 16 output positions (built from unfolded rows,
//! read in place from the padded input, or gathered by `vpermi2b`), `vpdpbusd` per weight quad,
//! the fixed-point requantization per channel, and the convolution fused with its max pooling.

use core::arch::x86_64::*;

use super::vnni::{bounds, mask16, mask64, requant16, rq_channel, rq_slots};
use super::{ConvBlock, Requant};

/// 16 positions x 4 weights from four rows: lane `l` holds `base[at[t] + l]` for `t = 0..4`
/// in its four bytes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn patch(base: *const i8, at: [usize; 4]) -> __m512i {
    // SAFETY: the caller guarantees 16 readable bytes at each `base + at[t]`.
    unsafe {
        let a = _mm_loadu_si128(base.add(at[0]) as *const __m128i);
        let b = _mm_loadu_si128(base.add(at[1]) as *const __m128i);
        let c = _mm_loadu_si128(base.add(at[2]) as *const __m128i);
        let d = _mm_loadu_si128(base.add(at[3]) as *const __m128i);
        let ab_lo = _mm_unpacklo_epi8(a, b);
        let ab_hi = _mm_unpackhi_epi8(a, b);
        let cd_lo = _mm_unpacklo_epi8(c, d);
        let cd_hi = _mm_unpackhi_epi8(c, d);
        let q0 = _mm_unpacklo_epi16(ab_lo, cd_lo);
        let q1 = _mm_unpackhi_epi16(ab_lo, cd_lo);
        let q2 = _mm_unpacklo_epi16(ab_hi, cd_hi);
        let q3 = _mm_unpackhi_epi16(ab_hi, cd_hi);
        let v = _mm512_castsi128_si512(q0);
        let v = _mm512_inserti32x4::<1>(v, q1);
        let v = _mm512_inserti32x4::<2>(v, q2);
        _mm512_inserti32x4::<3>(v, q3)
    }
}

/// The convolution of one chunk of positions: for each 16 positions, their patches (four
/// weights' inputs per lane) built once, then up to 8 output channels at a time.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn conv_block(
    b: &ConvBlock<'_>,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let channels = offset.len();
    let quads = b.quads();
    let rows = b.rows.as_ptr();
    let mut buf = [const { core::mem::MaybeUninit::<__m512i>::uninit() }; super::MAX_QUADS];
    let mut segs = [(0isize, 0u32); 24];
    let mut p = 0;
    while p < b.positions {
        // Where the lanes are stored (a block pooled inside stores its pooled outputs instead).
        let n_segs = if b.pool.is_none() {
            b.segments(p, 16, &mut segs)
        } else {
            0
        };
        if let Some(perm) = &b.perm {
            // SAFETY: `perm` is only set where the CPU has VBMI (`conv_perm`).
            unsafe { permuted_patches(b.rows, perm, p, b.positions, &mut buf[..quads]) };
        } else {
            for (q, slot) in buf.iter_mut().enumerate().take(quads) {
                let r = [0, 1, 2, 3].map(|t| b.row_start(4 * q + t) + p);
                // SAFETY: every row has at least 16 readable bytes from `p` (`stride` is the
                // positions rounded up to 16, plus 16; the grid's plane has 32 bytes of slack).
                slot.write(unsafe { patch(rows, r) });
            }
        }
        // SAFETY: the first `quads` entries were written just above (`quads <= MAX_QUADS`).
        let patches: &[__m512i] =
            unsafe { core::slice::from_raw_parts(buf.as_ptr() as *const __m512i, quads) };
        let at = Block {
            patches,
            segs: &segs[..n_segs],
            pool: b.pool.map(|pool| PoolLanes::new(pool, p, b.positions)),
        };
        let mut c0 = 0;
        while c0 < channels {
            match channels - c0 {
                1 => conv_g::<1>(b, &at, w, offset, rq, y, c0),
                2 => conv_g::<2>(b, &at, w, offset, rq, y, c0),
                3 => conv_g::<3>(b, &at, w, offset, rq, y, c0),
                4 => conv_g::<4>(b, &at, w, offset, rq, y, c0),
                5 => conv_g::<5>(b, &at, w, offset, rq, y, c0),
                6 => conv_g::<6>(b, &at, w, offset, rq, y, c0),
                7 => conv_g::<7>(b, &at, w, offset, rq, y, c0),
                _ => conv_g::<8>(b, &at, w, offset, rq, y, c0),
            }
            c0 += 8;
        }
        p += 16;
    }
}

/// The patches of positions `p..p + 16` (those from `positions` on repeat the last one):
/// lane `l`, byte `t` of quad `q` is `rows[start[q] + word[q][t] + offset(p + l)]`, gathered
/// by one `vpermi2b` from the 128 bytes at `start[q] + offset(p)`.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VBMI; the block's reads fit 128 bytes (`conv_perm`).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn permuted_patches(
    rows: &[i8],
    perm: &super::Perm<'_>,
    p: usize,
    positions: usize,
    out: &mut [core::mem::MaybeUninit<__m512i>],
) {
    let steps = (perm.stride.0 * perm.wp, perm.stride.1);
    let (base, off) = lane_offsets(p, positions, perm.ow, steps);
    // SAFETY: as this function's.
    unsafe { gather_patches(rows, (perm.start, perm.word), perm.wide, (base, off), out) };
}

/// The offsets of positions `p..p + 16` of a grid `width` wide (those from `positions` on
/// repeat the last one), position `(y, x)` at `y steps.0 + x steps.1`: the first one's, and
/// each lane's from it in all four bytes of the lane (below 128, which the callers' plans
/// check). The row is found by a float division, exact: `(pos + 1/2) / width` is at least
/// `1/(2 width)` from an integer, far above the rounding error for positions below 2^22.
#[target_feature(enable = "avx512f")]
#[inline]
fn lane_offsets(
    p: usize,
    positions: usize,
    width: usize,
    steps: (usize, usize),
) -> (usize, __m512i) {
    let base = p / width * steps.0 + p % width * steps.1;
    let iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    let pos = _mm512_min_epi32(
        _mm512_add_epi32(_mm512_set1_epi32(p as i32), iota),
        _mm512_set1_epi32(positions as i32 - 1),
    );
    let y = _mm512_cvttps_epi32(_mm512_mul_ps(
        _mm512_add_ps(_mm512_cvtepi32_ps(pos), _mm512_set1_ps(0.5)),
        _mm512_set1_ps(1.0 / width as f32),
    ));
    let x = _mm512_sub_epi32(pos, _mm512_mullo_epi32(y, _mm512_set1_epi32(width as i32)));
    let d = _mm512_sub_epi32(
        _mm512_add_epi32(
            _mm512_mullo_epi32(y, _mm512_set1_epi32(steps.0 as i32)),
            _mm512_mullo_epi32(x, _mm512_set1_epi32(steps.1 as i32)),
        ),
        _mm512_set1_epi32(base as i32),
    );
    (base, _mm512_mullo_epi32(d, _mm512_set1_epi32(0x0101_0101)))
}

/// Quad `q`'s patch for lanes at `base + off`: one `vpermi2b` of the 128 bytes at
/// `start[q] + base`, indexed by `word[q]`'s byte plus the lane's offset; `wide`, two of the
/// 256 bytes there, blended by the index's top bit.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
unsafe fn gather_patches(
    rows: &[i8],
    (start, word): (&[u32], &[u32]),
    wide: bool,
    (base, off): (usize, __m512i),
    out: &mut [core::mem::MaybeUninit<__m512i>],
) {
    let reach = if wide { 256 } else { 128 };
    for (q, slot) in out.iter_mut().enumerate() {
        let from = start[q] as usize + base;
        assert!(from + reach <= rows.len());
        let at = |k: usize| {
            // SAFETY: `reach` bytes from `from` are inside `rows` (checked).
            unsafe { _mm512_loadu_si512(rows.as_ptr().add(from + 64 * k) as *const __m512i) }
        };
        let idx = _mm512_add_epi8(_mm512_set1_epi32(word[q] as i32), off);
        let low = _mm512_permutex2var_epi8(at(0), idx, at(1));
        slot.write(if wide {
            let high = _mm512_permutex2var_epi8(at(2), idx, at(3));
            _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high)
        } else {
            low
        });
    }
}

/// A convolution followed by a non-overlapping max pooling, pooled before the requantization
/// (which is non-decreasing, so the maximum of the requantized outputs is the requantized
/// maximum, exactly): for 16 pooled outputs at a time, the accumulators of each window element
/// from its patches, their lane-wise maximum, one requantization. `y` is the pooled output.
///
/// # Safety
/// The CPU must have AVX-512F, BW, VL, VNNI and VBMI; `b` from a fitting
/// [`super::PoolPlan`] (every block's reads in 128 bytes, `quads * window elements <=
/// POOL_PATCHES`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")]
pub(super) unsafe fn conv_pool(
    b: &super::PooledBlock<'_>,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let channels = offset.len();
    let quads = b.start.len();
    let (ph, pw) = b.window;
    let elems = ph * pw;
    let mut buf = [const { core::mem::MaybeUninit::<__m512i>::uninit() }; super::POOL_PATCHES];
    let positions = b.pooled.0 * b.pooled.1;
    let steps = (ph * b.stride.0 * b.wp, pw * b.stride.1);
    let mut p = 0;
    while p < positions {
        let (base, off) = lane_offsets(p, positions, b.pooled.1, steps);
        for e in 0..elems {
            let at = base + (e / pw) * b.stride.0 * b.wp + (e % pw) * b.stride.1;
            let slots = &mut buf[e * quads..(e + 1) * quads];
            // SAFETY: the plan keeps every read in `rows`.
            unsafe { gather_patches(b.rows, (b.start, b.word), b.wide, (at, off), slots) };
        }
        // SAFETY: the first `elems * quads` entries were written just above.
        let patches: &[__m512i] =
            unsafe { core::slice::from_raw_parts(buf.as_ptr() as *const __m512i, elems * quads) };
        let lanes = (positions - p).min(16);
        let mut c0 = 0;
        while c0 < channels {
            match channels - c0 {
                1 => pool_g::<1>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                2 => pool_g::<2>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                3 => pool_g::<3>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                4 => pool_g::<4>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                5 => pool_g::<5>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                6 => pool_g::<6>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                7 => pool_g::<7>(b, patches, (w, offset, rq), (p, lanes), y, c0),
                _ => pool_g::<8>(b, patches, (w, offset, rq), (p, lanes), y, c0),
            }
            c0 += 8;
        }
        p += 16;
    }
}

/// Channels `c0..c0 + G` of one block of 16 pooled outputs (`lanes` of them real).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn pool_g<const G: usize>(
    b: &super::PooledBlock<'_>,
    patches: &[__m512i],
    (w, offset, rq): (&[i8], &[i32], &Requant<'_>),
    (p, lanes): (usize, usize),
    y: &mut [i8],
    c0: usize,
) {
    let quads = b.start.len();
    let (zp, lo, hi) = bounds(rq);
    let wp = w.as_ptr() as *const i32;
    let base: [usize; G] = core::array::from_fn(|j| (c0 + j) * b.w_stride / 4);
    let mut m = [_mm512_set1_epi32(i32::MIN); G];
    for e in patches.chunks_exact(quads) {
        let mut a: [__m512i; G] = core::array::from_fn(|j| _mm512_set1_epi32(offset[c0 + j]));
        for (q, &v) in e.iter().enumerate() {
            for j in 0..G {
                // SAFETY: word `base[j] + q` is inside filter `c0 + j` (filters padded to whole
                // words, checked by `conv2d_pooled`).
                let word = unsafe { wp.add(base[j] + q).read_unaligned() };
                a[j] = _mm512_dpbusd_epi32(a[j], v, _mm512_set1_epi32(word));
            }
        }
        for j in 0..G {
            m[j] = _mm512_max_epi32(m[j], a[j]);
        }
    }
    let mask = mask16(lanes);
    for (j, m) in m.iter().enumerate() {
        let c = c0 + j;
        // SAFETY: this function's `target_feature` includes AVX-512F.
        let params = unsafe { rq_channel(rq, c) };
        let r = _mm512_cvtepi32_epi8(requant16(*m, &params, zp, lo, hi));
        let dst = y.as_mut_ptr().wrapping_add(c * b.pooled.0 * b.pooled.1 + p);
        // SAFETY: masked to the `lanes` pooled outputs from `p` of channel `c`.
        unsafe { _mm_mask_storeu_epi8(dst, mask, r) };
    }
}

/// One block of 16 positions: its patches and where its lanes are stored.
struct Block<'a> {
    patches: &'a [__m512i],
    segs: &'a [(isize, u32)],
    /// Pooled within the block instead of stored lane for lane.
    pool: Option<PoolLanes>,
}

/// The 2 x 2 max pooling of one block's 16 positions (whole pairs of rows `ow` wide): each
/// lane's right and lower neighbours, the lanes of the windows' top-left corners, and where
/// their pooled outputs go.
#[derive(Clone, Copy)]
struct PoolLanes {
    right: __m512i,
    down: __m512i,
    /// Top-left corners among the block's real positions.
    keep: __mmask16,
    /// How many (the pooled outputs of the block).
    count: usize,
    /// The first one's index in a channel's pooled outputs, and that plane's length.
    at: usize,
    plane: usize,
}

impl PoolLanes {
    /// For the block of positions `p..p + 16` (`p` a multiple of 16) of `positions`.
    #[target_feature(enable = "avx512f")]
    fn new(pool: super::InBlockPool, p: usize, positions: usize) -> PoolLanes {
        let ow = pool.ow;
        let mut keep = 0u16;
        for l in 0..16.min(positions - p) {
            if l.is_multiple_of(2) && (l / ow).is_multiple_of(2) {
                keep |= 1 << l;
            }
        }
        let iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        let last = _mm512_set1_epi32(15);
        PoolLanes {
            right: _mm512_min_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(1)), last),
            down: _mm512_min_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(ow as i32)), last),
            keep,
            count: keep.count_ones() as usize,
            at: p / 4,
            plane: pool.plane,
        }
    }

    /// The pooled accumulators of the block's windows, in the first `count` lanes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn pool(&self, a: __m512i) -> __m512i {
        let m = _mm512_max_epi32(a, _mm512_permutexvar_epi32(self.right, a));
        let m = _mm512_max_epi32(m, _mm512_permutexvar_epi32(self.down, m));
        _mm512_maskz_compress_epi32(self.keep, m)
    }
}

/// Channels `c0..c0 + G` of one block of positions.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn conv_g<const G: usize>(
    b: &ConvBlock<'_>,
    at: &Block<'_>,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
    c0: usize,
) {
    let (zp, lo, hi) = bounds(rq);
    let mut a: [__m512i; G] = core::array::from_fn(|j| _mm512_set1_epi32(offset[c0 + j]));
    if b.w_stride.is_multiple_of(4) && (c0 + G) * b.w_stride <= w.len() {
        // Filters padded to whole words: each weight quad is broadcast straight from memory.
        let wp = w.as_ptr() as *const i32;
        // One pointer per filter, advanced a word per quad (M2's int8 forward 675 -> 657 ns
        // against indexing every filter's words by `base + q`).
        let mut ptr: [*const i32; G] =
            core::array::from_fn(|j| wp.wrapping_add((c0 + j) * b.w_stride / 4));
        for &v in at.patches {
            for j in 0..G {
                // SAFETY: word `q` of filter `c0 + j` (`q < w_stride / 4`), inside `w`
                // (checked above).
                let word = unsafe { ptr[j].read_unaligned() };
                a[j] = _mm512_dpbusd_epi32(a[j], v, _mm512_set1_epi32(word));
                ptr[j] = ptr[j].wrapping_add(1);
            }
        }
    } else {
        for (q, &v) in at.patches.iter().enumerate() {
            for (j, a) in a.iter_mut().enumerate() {
                *a = _mm512_dpbusd_epi32(*a, v, _mm512_set1_epi32(b.weight_quad(w, c0 + j, q)));
            }
        }
    }
    if let Some(pool) = at.pool {
        // Pooled before the requantization (which never decreases: the same bytes).
        pooled_slots(pool, &a, rq, y, c0);
        return;
    }
    for (j, a) in a.iter().enumerate() {
        // SAFETY: this function's `target_feature` includes AVX-512F.
        let params = unsafe { rq_channel(rq, c0 + j) };
        let r = _mm512_cvtepi32_epi8(requant16(*a, &params, zp, lo, hi));
        for &(to, mask) in at.segs {
            let dst = y
                .as_mut_ptr()
                .wrapping_offset(((c0 + j) * b.plane_len) as isize + to);
            // SAFETY: masked to the lanes that are outputs of this segment's row, each
            // written at its own place in channel `c0 + j`'s outputs (all 16 for a full one).
            unsafe {
                if mask == 0xffff {
                    _mm_storeu_si128(dst as *mut __m128i, r);
                } else {
                    _mm_mask_storeu_epi8(dst, mask as __mmask16, r);
                }
            }
        }
    }
}

/// The pooled outputs of channels `c0..` (accumulators `a`; a block of whole pairs of rows of
/// 2, 4 or 8 positions has at most four per channel): four channels to a vector, channel
/// `c0 + 4 s + i` in lanes `4 i..`, requantized once per four channels (a requantization per
/// channel left 12 of its 16 lanes unused), each channel's bytes stored at its own place (one
/// store for four channels whose pooled planes are the block's and adjacent).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[inline]
fn pooled_slots<const G: usize>(
    pool: PoolLanes,
    a: &[__m512i; G],
    rq: &Requant<'_>,
    y: &mut [i8],
    c0: usize,
) {
    assert!(pool.count <= 4, "at most four pooled outputs per block");
    let (zp, lo, hi) = bounds(rq);
    let iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    let bytes = (1u16 << pool.count) - 1;
    for (s, group) in a.chunks(4).enumerate() {
        let c = c0 + 4 * s;
        let mut v = _mm512_setzero_si512();
        for (i, &acc) in group.iter().enumerate() {
            let from = _mm512_sub_epi32(iota, _mm512_set1_epi32(4 * i as i32));
            v = _mm512_mask_permutexvar_epi32(v, 0xF << (4 * i), from, pool.pool(acc));
        }
        let params = rq_slots(rq, c, group.len());
        let r = _mm512_cvtepi32_epi8(requant16(v, &params, zp, lo, hi));
        let dst = y.as_mut_ptr().wrapping_add(c * pool.plane + pool.at);
        if pool.plane == 4 && pool.count == 4 {
            let mask = (1u32 << (4 * group.len())) as u16;
            // SAFETY: masked to the pooled outputs of channels `c..c + group.len()`, adjacent
            // 4-byte planes.
            unsafe { _mm_mask_storeu_epi8(dst, mask.wrapping_sub(1), r) };
            continue;
        }
        for i in 0..group.len() {
            // Lane `4 i` is channel `c + i`'s first byte: the store starts `4 i` bytes before
            // its place, the mask keeps its `count` bytes.
            let to = dst.wrapping_add(i * pool.plane).wrapping_sub(4 * i);
            // SAFETY: masked to the `count` pooled outputs of channel `c + i` (bytes before
            // them are masked off, never touched).
            unsafe { _mm_mask_storeu_epi8(to, bytes << (4 * i), r) };
        }
    }
}

/// `n <= 32` bytes from every second byte of `src` to `dst` (a stride-2 row of an unfolded
/// input).
///
/// # Safety
/// The CPU must have AVX-512F and BW; `src` must have `2 n - 1` readable bytes and `dst`
/// `n` writable ones.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn gather_even(src: *const i8, dst: *mut i8, n: usize) {
    let bytes = (2 * n).saturating_sub(1);
    let load = mask64(bytes);
    let store: __mmask32 = if n >= 32 { !0 } else { (1u32 << n) - 1 };
    // SAFETY: masked to the `2 n - 1` readable and `n` writable bytes.
    unsafe {
        let v = _mm512_maskz_loadu_epi8(load, src);
        _mm256_mask_storeu_epi8(dst, store, _mm512_cvtepi16_epi8(v));
    }
}

/// [`pad_plane`] by byte permutations for an input `x` of at most 128 bytes: its bytes
/// flipped in two registers, each 64 bytes of the plane one `vpermi2b` by `t.index`, the zero
/// point `z` (flipped) where `t.zero` says, zeros past the plane, then zero vectors up to `len`
/// rounded up to 64. No narrow stores (a small plane's rows took one masked load and store
/// each).
///
/// # Safety
/// The CPU must have AVX-512F, BW and VBMI; `dst` has `len` rounded up to 64 writable bytes,
/// `len >= 64 t.chunks`, and `x` is the input `t` was built for (at most 128 bytes).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(super) unsafe fn pad_permuted(dst: *mut i8, len: usize, t: &super::PadTable, z: i8, x: &[i8]) {
    let n = x.len().min(128);
    let flip = _mm512_set1_epi8(-128);
    let zv = _mm512_set1_epi8(z);
    // SAFETY: loads masked to `x`'s bytes; stores inside the `len` rounded up bytes of `dst`
    // (`64 t.chunks <= len`), table reads inside its arrays (`chunks <= PAD_TABLE / 64`).
    unsafe {
        let lo = _mm512_maskz_loadu_epi8(mask64(n), x.as_ptr());
        let hi = _mm512_maskz_loadu_epi8(mask64(n.saturating_sub(64)), x.as_ptr().wrapping_add(64));
        let (lo, hi) = (_mm512_xor_si512(lo, flip), _mm512_xor_si512(hi, flip));
        for k in 0..t.chunks {
            let idx = _mm512_loadu_si512(t.index.as_ptr().add(64 * k) as *const __m512i);
            let v = _mm512_permutex2var_epi8(lo, idx, hi);
            let fill = _mm512_maskz_mov_epi8(t.zero[k], zv);
            let v = _mm512_mask_blend_epi8(t.from[k], fill, v);
            _mm512_storeu_si512(dst.add(64 * k) as *mut __m512i, v);
        }
        let mut i = 64 * t.chunks;
        while i < len {
            _mm512_storeu_si512(dst.add(i) as *mut __m512i, _mm512_setzero_si512());
            i += 64;
        }
    }
}

/// The padded, flipped input of a convolution written into `dst` (uninitialized memory):
/// `c` planes of `hp x wp` bytes, the zero point `z` (flipped) around each `h x w` channel of
/// `x` placed at `(pt, pl)` with every byte's sign bit flipped, then `tail` zero bytes. One
/// vector store per 64 bytes of fill, one masked load and store per 64 bytes of a row.
///
/// # Safety
/// The CPU must have AVX-512F and BW; `dst` has `c hp wp + tail` writable bytes; `x` has
/// `c h w` bytes; `pt + h <= hp`, `pl + w <= wp`.
#[target_feature(enable = "avx512f,avx512bw")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pad_plane(
    dst: *mut i8,
    (c, h, w): (usize, usize, usize),
    (hp, wp): (usize, usize),
    (pt, pl): (usize, usize),
    z: i8,
    x: &[i8],
    tail: usize,
) {
    let len = c * hp * wp;
    let zv = _mm512_set1_epi8(z);
    let flip = _mm512_set1_epi8(-128);
    // SAFETY: every store is inside the `len + tail` bytes of `dst`, every load inside `x`.
    unsafe {
        let mut i = 0;
        while i + 64 <= len {
            _mm512_storeu_si512(dst.add(i) as *mut __m512i, zv);
            i += 64;
        }
        _mm512_mask_storeu_epi8(dst.add(i), mask64(len - i), zv);
        for ci in 0..c {
            for r in 0..h {
                let (from, to) = ((ci * h + r) * w, (ci * hp + r + pt) * wp + pl);
                let mut j = 0;
                while j < w {
                    let m = mask64(w - j);
                    let v = _mm512_maskz_loadu_epi8(m, x.as_ptr().add(from + j));
                    _mm512_mask_storeu_epi8(dst.add(to + j), m, _mm512_xor_si512(v, flip));
                    j += 64;
                }
            }
        }
        let mut t = 0;
        while t < tail {
            let n = (tail - t).min(64);
            _mm512_mask_storeu_epi8(dst.add(len + t), mask64(n), _mm512_setzero_si512());
            t += n;
        }
    }
}
