//! AVX-512 VNNI 1-D convolutions with the output channels in the lanes (`conv1d_lanes`): the
//! input laid out once (flipped, padded, four channels to a word by byte interleaves), then
//! blocks of 8 or 4 positions x up to 64 channels, each weight vector loaded once per block and
//! each input word broadcast from memory, the requantization on whole vectors, and the bytes
//! turned from `[position][channel]` to `[channel][position]` in registers (packs and a byte
//! shuffle) and scattered as one word or double word per channel.
//!
//! `conv_pool` is the 2-D form fused with a 2 x 2 max pooling ([`Lanes::pooled`]: an input of
//! at most 128 bytes, laid out by byte permutations): each window's four positions are
//! accumulated side by side and pooled as vectors (a maximum of the channels' accumulators,
//! where positions in the lanes took permutations and a compression), then requantized once
//! per pooled position.

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use super::layout::Lanes;
use super::vnni::{bounds, mask16, mask64, requant16, rq_groups, Rq16};
use super::Requant;

/// `x` (`[c][len]`) laid out by `l` into the front of `scratch`, every byte's sign bit flipped
/// (`x + 128`, the unsigned operand of `vpdpbusd`), the padding the zero point `zp` (flipped).
///
/// # Safety
/// The CPU must have AVX-512F and BW; `x.len() == l.c * l.len`, `l.bytes() <= scratch.len()`.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn lay_out<'s>(
    l: &Lanes,
    x: &[i8],
    zp: i8,
    scratch: &'s mut [MaybeUninit<i8>],
) -> &'s [i8] {
    assert!(x.len() == l.c * l.len && l.bytes() <= scratch.len());
    let dst = scratch.as_mut_ptr() as *mut i8;
    let zv = _mm512_set1_epi8(zp);
    let flip = _mm512_set1_epi8(-128);
    // Bytes `j0..j0 + 64` of a padded row: those in `pad..pad + len` from the row of `x`.
    let valid = |j0: usize| {
        let lo = l.pad.saturating_sub(j0).min(64);
        let hi = (l.pad + l.len).saturating_sub(j0).min(64);
        mask64(hi) & !mask64(lo)
    };
    // SAFETY: loads masked to the bytes of `x`'s rows (the address may point before or past
    // them: masked-off bytes are not read); stores inside `l.bytes()` of the scratch.
    unsafe {
        if !l.by_channels {
            // A row per channel: its padded signal, then the zero point up to the row's end.
            for r in 0..l.rows {
                let row = dst.add(r * l.row_stride);
                let src = x.as_ptr().wrapping_add(r * l.len);
                let mut j0 = 0;
                while j0 < l.row_stride {
                    let v = _mm512_mask_loadu_epi8(
                        zv,
                        valid(j0),
                        src.wrapping_add(j0).wrapping_sub(l.pad),
                    );
                    let n = (l.row_stride - j0).min(64);
                    _mm512_mask_storeu_epi8(row.add(j0), mask64(n), _mm512_xor_si512(v, flip));
                    j0 += 64;
                }
            }
        } else {
            // Four channels to a word: 64 positions of four rows interleaved (bytes, then
            // pairs: 128-bit lane `i` of `q[k]` holds positions `16 i + 4 k..`), the lanes
            // put in order by a 4 x 4 transpose of 128-bit lanes.
            for r in 0..l.rows {
                let row = dst.add(r * l.row_stride);
                let mut j0 = 0;
                while j0 < l.lp {
                    let m = valid(j0);
                    let load = |ch: usize| {
                        let src = x.as_ptr().wrapping_add(ch * l.len + j0).wrapping_sub(l.pad);
                        _mm512_xor_si512(_mm512_mask_loadu_epi8(zv, m, src), flip)
                    };
                    let (a, b, c, d) = (
                        load(4 * r),
                        load(4 * r + 1),
                        load(4 * r + 2),
                        load(4 * r + 3),
                    );
                    let (ab_lo, ab_hi) = (_mm512_unpacklo_epi8(a, b), _mm512_unpackhi_epi8(a, b));
                    let (cd_lo, cd_hi) = (_mm512_unpacklo_epi8(c, d), _mm512_unpackhi_epi8(c, d));
                    let q0 = _mm512_unpacklo_epi16(ab_lo, cd_lo);
                    let q1 = _mm512_unpackhi_epi16(ab_lo, cd_lo);
                    let q2 = _mm512_unpacklo_epi16(ab_hi, cd_hi);
                    let q3 = _mm512_unpackhi_epi16(ab_hi, cd_hi);
                    let t0 = _mm512_shuffle_i32x4::<0x44>(q0, q1);
                    let t1 = _mm512_shuffle_i32x4::<0x44>(q2, q3);
                    let t2 = _mm512_shuffle_i32x4::<0xEE>(q0, q1);
                    let t3 = _mm512_shuffle_i32x4::<0xEE>(q2, q3);
                    let out = [
                        _mm512_shuffle_i32x4::<0x88>(t0, t1),
                        _mm512_shuffle_i32x4::<0xDD>(t0, t1),
                        _mm512_shuffle_i32x4::<0x88>(t2, t3),
                        _mm512_shuffle_i32x4::<0xDD>(t2, t3),
                    ];
                    for (k, v) in out.iter().enumerate() {
                        let at = 4 * (j0 + 16 * k);
                        if at < l.row_stride {
                            let n = (l.row_stride - at).min(64);
                            _mm512_mask_storeu_epi8(row.add(at), mask64(n), *v);
                        }
                    }
                    j0 += 64;
                }
            }
        }
        core::slice::from_raw_parts(dst, l.bytes())
    }
}

/// The convolution of the laid-out, flipped input `rows` into `y` (`[channel][position]`):
/// chunks of 64 channels, blocks of 8 positions where a chunk has at most 32 channels (16
/// accumulators), then 4; a last block overlapping the previous one (its positions computed
/// twice, the same bytes) where the positions are not a multiple of the block.
///
/// # Safety
/// The CPU must have AVX-512F, BW, VL and VNNI; `rows` laid out by `l`; `w` packed by
/// [`Lanes::index`] for `offset.len()` channels; `y.len() == offset.len() * l.out`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn conv(
    l: &Lanes,
    rows: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let n_out = offset.len();
    assert!(rows.len() >= l.bytes() && w.len() >= l.packed_len(n_out) && y.len() == n_out * l.out);
    let mut o0 = 0;
    while o0 < n_out {
        match (n_out - o0).div_ceil(16) {
            1 => chunk::<1>(l, rows, w, offset, rq, y, o0),
            2 => chunk::<2>(l, rows, w, offset, rq, y, o0),
            3 => chunk::<3>(l, rows, w, offset, rq, y, o0),
            _ => chunk::<4>(l, rows, w, offset, rq, y, o0),
        }
        o0 += 64;
    }
}

/// The 2-D convolution of the laid-out, flipped input `rows` ([`Lanes::pooled`]) followed by
/// its 2 x 2 max pooling into `y` (`[channel][pooled position]`, `pooled` rows and columns):
/// for blocks of pooled positions, the four positions of each window accumulated with the
/// channels in the lanes (each weight vector loaded once per block, each input word broadcast
/// from memory), their lane-wise maximum requantized once (the requantization never decreases:
/// the same bytes as pooling the requantized outputs).
///
/// # Safety
/// The CPU must have AVX-512F, BW, VL and VNNI; `rows` laid out by `l` (a [`Lanes::pooled`]
/// layout); `w` packed by [`Lanes::index`] for `offset.len()` channels; `pooled` is
/// `(oh / 2, ow / 2)`; `y.len() == offset.len() * pooled.0 * pooled.1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn conv_pool(
    l: &Lanes,
    rows: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    pooled: (usize, usize),
    y: &mut [i8],
) {
    let n_out = offset.len();
    let plane = pooled.0 * pooled.1;
    assert!(
        rows.len() >= l.bytes()
            && w.len() >= l.packed_len(n_out)
            && y.len() == n_out * plane
            && 2 * pooled.0 * l.ow <= l.out
            && 2 * pooled.1 <= l.ow
    );
    let mut o0 = 0;
    while o0 < n_out {
        // SAFETY: this function's `target_feature`s are `chunk_of`'s requirement.
        unsafe {
            match (n_out - o0).div_ceil(16) {
                1 => pool_chunk(&chunk_of::<1>(l, rows, w, offset, rq, o0), pooled, y),
                2 => pool_chunk(&chunk_of::<2>(l, rows, w, offset, rq, o0), pooled, y),
                3 => pool_chunk(&chunk_of::<3>(l, rows, w, offset, rq, o0), pooled, y),
                _ => pool_chunk(&chunk_of::<4>(l, rows, w, offset, rq, o0), pooled, y),
            }
        }
        o0 += 64;
    }
}

/// The pooled positions of a chunk's channels: for one group of 16 channels, four at a time
/// in two blocks of two (the accumulators, 4 per pooled position, leave registers for the
/// broadcast words), stored together; else one at a time.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn pool_chunk<const G: usize>(c: &Chunk<'_, G>, pooled: (usize, usize), y: &mut [i8]) {
    let plane = pooled.0 * pooled.1;
    let mut q = 0;
    if G == 1 {
        while q + 4 <= plane {
            let (a, b) = (
                pool_block::<2, G>(c, pooled, q),
                pool_block::<2, G>(c, pooled, q + 2),
            );
            let r = [a[0][0], a[0][1], b[0][0], b[0][1]];
            // SAFETY: channels `o0 + j` for lanes `j` in the mask exist, pooled positions
            // `q..q + 4` too.
            unsafe { store_columns::<4>(&r, y, (c.o0, c.masks[0]), (q, plane)) };
            q += 4;
        }
    }
    while q < plane {
        let r = pool_block::<1, G>(c, pooled, q);
        for (g, (r, &mask)) in r.iter().zip(&c.masks).enumerate() {
            // SAFETY: channels `o0 + 16 g + j` for lanes `j` in the mask exist, pooled
            // position `q` too.
            unsafe { store_columns::<1>(r, y, (c.o0 + 16 * g, mask), (q, plane)) };
        }
        q += 1;
    }
}

/// Pooled positions `q..q + N` of a chunk's channels: the four positions of each window
/// accumulated, their maximum requantized (per group, a vector per pooled position).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
// Constant indices over positions and groups keep the accumulators in registers.
#[allow(clippy::needless_range_loop)]
fn pool_block<const N: usize, const G: usize>(
    c: &Chunk<'_, G>,
    pooled: (usize, usize),
    q: usize,
) -> [[__m512i; N]; G] {
    let l = c.l;
    // Each window's four positions: their first words' offsets in a row of the layout.
    let mut first = [[0usize; 4]; N];
    for (n, f) in first.iter_mut().enumerate() {
        let (qy, qx) = ((q + n) / pooled.1, (q + n) % pooled.1);
        for (e, f) in f.iter_mut().enumerate() {
            *f = (2 * qy + e / 2) * l.row_step + (2 * qx + e % 2) * l.step;
        }
    }
    let mut a = [[c.offsets; 4]; N];
    // SAFETY: word `(qd n_out + o0 + 16 g + j)` for lanes `j` in the chunk's masks is inside
    // the packed weights (`w.len() >= quads * 4 * n_out`, checked by `conv_pool`); every input
    // word read is `r row_stride + first + tap(t)` of an output position inside the output
    // (`2 pooled <= (oh, ow)`, checked), inside the laid-out rows (`Lanes::pooled`).
    unsafe {
        for r in 0..l.rows {
            let rp = c.rows.as_ptr().add(r * l.row_stride);
            // Tap `t`'s offset `4 ((t / kw) wp + t % kw)`, advanced without a division.
            let (mut tap, mut kx) = (0, 0);
            for t in 0..l.taps {
                let wv = c.weights(r * l.taps + t);
                for n in 0..N {
                    for e in 0..4 {
                        let word = (rp.add(first[n][e] + tap) as *const i32).read_unaligned();
                        let xv = _mm512_set1_epi32(word);
                        for g in 0..G {
                            a[n][e][g] = _mm512_dpbusd_epi32(a[n][e][g], xv, wv[g]);
                        }
                    }
                }
                kx += 1;
                tap += 4;
                if kx == l.kw {
                    kx = 0;
                    tap += 4 * (l.wp - l.kw);
                }
            }
        }
    }
    let (zp, lo, hi) = c.bounds;
    let mut r = [[_mm512_setzero_si512(); N]; G];
    for g in 0..G {
        for n in 0..N {
            let m = _mm512_max_epi32(
                _mm512_max_epi32(a[n][0][g], a[n][1][g]),
                _mm512_max_epi32(a[n][2][g], a[n][3][g]),
            );
            r[g][n] = requant16(m, &c.params[g], zp, lo, hi);
        }
    }
    r
}

/// What the blocks of channels `o0..o0 + 16 G` share. Always inlined (a `target_feature`
/// function cannot be): built in its caller's frame, not returned through a copy.
///
/// # Safety
/// The CPU must have AVX-512F, BW, VL and VNNI (the callers' features).
#[inline(always)]
unsafe fn chunk_of<'a, const G: usize>(
    l: &'a Lanes,
    rows: &'a [i8],
    w: &'a [i8],
    offset: &[i32],
    rq: &Requant<'_>,
    o0: usize,
) -> Chunk<'a, G> {
    let n_out = offset.len();
    let masks: [__mmask16; G] = core::array::from_fn(|g| mask16(n_out - o0 - 16 * g));
    // SAFETY: masked to the channels that exist.
    let params = unsafe { rq_groups(rq, o0, &masks) };
    Chunk {
        l,
        rows,
        w,
        o0,
        masks,
        params,
        // SAFETY: masked as above.
        offsets: core::array::from_fn(|g| unsafe {
            _mm512_maskz_loadu_epi32(masks[g], offset.as_ptr().add(o0 + 16 * g))
        }),
        n_out,
        bounds: bounds(rq),
    }
}

/// Channels `o0..o0 + 16 G` (those that exist) at every position.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn chunk<const G: usize>(
    l: &Lanes,
    rows: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
    o0: usize,
) {
    // SAFETY: this function's `target_feature`s are `chunk_of`'s requirement.
    let at = unsafe { chunk_of::<G>(l, rows, w, offset, rq, o0) };
    let out = l.out;
    let mut p = 0;
    if G <= 2 {
        while p + 8 <= out {
            block::<8, G>(&at, y, p);
            p += 8;
        }
    }
    while p + 4 <= out {
        block::<4, G>(&at, y, p);
        p += 4;
    }
    if p < out {
        if out >= 4 {
            block::<4, G>(&at, y, out - 4);
        } else {
            while p < out {
                block::<1, G>(&at, y, p);
                p += 1;
            }
        }
    }
}

/// What every block of a chunk shares.
struct Chunk<'a, const G: usize> {
    l: &'a Lanes,
    rows: &'a [i8],
    w: &'a [i8],
    o0: usize,
    n_out: usize,
    masks: [__mmask16; G],
    params: [Rq16; G],
    offsets: [__m512i; G],
    /// The output's zero point and clamp ([`bounds`]).
    bounds: (__m512i, __m512i, __m512i),
}

impl<const G: usize> Chunk<'_, G> {
    /// The chunk's `G` vectors of quad `q`'s weights (lanes past the channels 0).
    ///
    /// # Safety
    /// The CPU must have AVX-512F; quad `q` is one of the packed weights' (`conv` and
    /// `conv_pool` checked that they hold every quad of `n_out` channels).
    #[inline(always)]
    // Constant indices, as the kernels' loops over the groups.
    #[allow(clippy::needless_range_loop)]
    unsafe fn weights(&self, q: usize) -> [__m512i; G] {
        let wp = self.w.as_ptr() as *const i32;
        let mut wv = [_mm512_setzero_si512(); G];
        for g in 0..G {
            let at = q * self.n_out + self.o0 + 16 * g;
            // SAFETY: words `at + j` for lanes `j` in the mask are inside the packed weights
            // (this function's contract).
            wv[g] = unsafe { _mm512_maskz_loadu_epi32(self.masks[g], wp.add(at)) };
        }
        wv
    }
}

/// Positions `p..p + N` (`p + N <= out`) of a chunk's channels: accumulators, requantization,
/// stores.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
// Constant indices over the groups keep the accumulators in registers.
#[allow(clippy::needless_range_loop)]
fn block<const N: usize, const G: usize>(c: &Chunk<'_, G>, y: &mut [i8], p: usize) {
    let l = c.l;
    let mut a = [c.offsets; N];
    // SAFETY: word `(q n_out + o0 + 16 g + j)` for lanes `j` in the chunk's masks is inside
    // the packed weights (`w.len() >= quads * 4 * n_out`, checked by `conv`); every input word
    // read is `r row_stride + (p + n) step + 4 t` with `p + n < out`, inside the laid-out rows
    // (`Lanes::of`).
    unsafe {
        for r in 0..l.rows {
            let rp = c.rows.as_ptr().add(r * l.row_stride + p * l.step);
            for t in 0..l.taps {
                let wv = c.weights(r * l.taps + t);
                for (n, acc) in a.iter_mut().enumerate() {
                    let word = (rp.add(n * l.step + 4 * t) as *const i32).read_unaligned();
                    let xv = _mm512_set1_epi32(word);
                    for g in 0..G {
                        acc[g] = _mm512_dpbusd_epi32(acc[g], xv, wv[g]);
                    }
                }
            }
        }
    }
    let (zp, lo, hi) = c.bounds;
    for g in 0..G {
        let mut r = [_mm512_setzero_si512(); N];
        for n in 0..N {
            r[n] = requant16(a[n][g], &c.params[g], zp, lo, hi);
        }
        let o = c.o0 + 16 * g;
        // SAFETY: channels `o + j` for lanes `j` in the mask exist, positions `p..p + N` too.
        unsafe { store_columns::<N>(&r, y, (o, c.masks[g]), (p, l.out)) };
    }
}

/// Positions `p..p + N` of channels `o..o + 16` (lanes `mask`), one vector per position with
/// channel `o + j` in lane `j` (values in `[-128, 127]`), to `y[(o + j) out + p + n]`.
///
/// # Safety
/// The CPU must have AVX-512F and BW; those bytes of `y` exist.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn store_columns<const N: usize>(
    r: &[__m512i; N],
    y: &mut [i8],
    (o, mask): (usize, __mmask16),
    (p, out): (usize, usize),
) {
    let base = y.as_mut_ptr().wrapping_add(o * out + p);
    // Byte `4 n + m` of 128-bit lane `l` is position `n`, channel `4 l + m`, after two packs
    // (values already in range: exact); the shuffle makes it `4 m + n`: a word per channel.
    let transpose = _mm512_set_epi8(
        15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0, 15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5,
        1, 12, 8, 4, 0, 15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0, 15, 11, 7, 3, 14, 10,
        6, 2, 13, 9, 5, 1, 12, 8, 4, 0,
    );
    let words = |r0, r1, r2, r3| {
        let q = _mm512_packs_epi16(_mm512_packs_epi32(r0, r1), _mm512_packs_epi32(r2, r3));
        _mm512_shuffle_epi8(q, transpose)
    };
    // SAFETY: as this function's (every index below is a channel of the mask times `out`).
    unsafe {
        match N {
            8 => {
                let (lo, hi) = (words(r[0], r[1], r[2], r[3]), words(r[4], r[5], r[6], r[7]));
                // Word `m` of lane `l` (channel 4 l + m): positions 0..4 from `lo`, 4..8 from
                // `hi`; interleaved, double word `2 l + h` is channel `4 l + h` (`e`) or
                // `4 l + 2 + h` (`f`).
                let e = _mm512_unpacklo_epi32(lo, hi);
                let f = _mm512_unpackhi_epi32(lo, hi);
                let s = out as i64;
                let ie = _mm512_setr_epi64(0, s, 4 * s, 5 * s, 8 * s, 9 * s, 12 * s, 13 * s);
                let i_f = _mm512_add_epi64(ie, _mm512_set1_epi64(2 * s));
                // Double word `i` holds channel `4 (i / 2) + i % 2` (+ 2 for `f`): the mask's
                // bits 0, 1, 4, 5, 8, 9, 12, 13 (of the mask shifted by 2 for `f`) side by side.
                let pick = |first: u32| {
                    let m = (mask as u32 >> first) & 0x3333;
                    (m & 0x3 | (m >> 2) & 0xC | (m >> 4) & 0x30 | (m >> 6) & 0xC0) as u8
                };
                _mm512_mask_i64scatter_epi64::<1>(base as *mut i64, pick(0), ie, e);
                _mm512_mask_i64scatter_epi64::<1>(base as *mut i64, pick(2), i_f, f);
            }
            4 if out == 4 => {
                // Channel `j`'s four bytes are double word `j`: the channels' outputs side by
                // side (one whole store where all 16 exist, which the next layer's loads can
                // be served from).
                let v = words(r[0], r[1], r[2], r[3]);
                if mask == 0xFFFF {
                    _mm512_storeu_si512(base as *mut __m512i, v);
                } else {
                    _mm512_mask_storeu_epi32(base as *mut i32, mask, v);
                }
            }
            4 => {
                let v = words(r[0], r[1], r[2], r[3]);
                let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                let idx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(out as i32));
                _mm512_mask_i32scatter_epi32::<1>(base as *mut i32, mask, idx, v);
            }
            _ => {
                for (n, v) in r.iter().enumerate() {
                    let mut b = [0i8; 16];
                    _mm_storeu_si128(b.as_mut_ptr() as *mut __m128i, _mm512_cvtepi32_epi8(*v));
                    for (j, &v) in b.iter().enumerate() {
                        if mask >> j & 1 == 1 {
                            *base.add(j * out + n) = v;
                        }
                    }
                }
            }
        }
    }
}
