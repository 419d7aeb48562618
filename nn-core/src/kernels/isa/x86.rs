//! The x86-64 instruction sets: AVX-512F and AVX2 with FMA, their tokens, run-time detection
//! and the `#[target_feature]` entry points.

use core::arch::x86_64::*;

use super::{Isa, Kernel};

/// AVX-512F: 16 lanes, 32 registers. Made only where the CPU has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) unsafe fn new() -> Self {
        Avx512(())
    }
}

/// AVX2 with FMA: 8 lanes, `R` registers (16; 32 where AVX-512VL code generation is enabled,
/// [`run_avx512_ymm`]). Made only where the CPU has both.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2<const R: usize = 16>(());

impl<const R: usize> Avx2<R> {
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    #[allow(dead_code)]
    pub(crate) unsafe fn new() -> Self {
        Avx2(())
    }
}

// SAFETY (for every intrinsic call in the two impls below): an `Avx512` / `Avx2` token
// exists only after the CPU was found to support the instruction set (see `new`), and the
// pointer arguments are valid for the lanes accessed by the callers' contracts.
impl Isa for Avx512 {
    const LANES: usize = 16;
    const REGS: usize = 32;
    type V = __m512;

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn prefetch(self, p: *const f32) {
        // SAFETY: a prefetch is a hint; it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn zero(self) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_setzero_ps() }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn splat(self, x: f32) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_set1_ps(x) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load(self, p: *const f32) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load_part(self, p: *const f32, n: usize) -> __m512 {
        // SAFETY: see above the impl; masked-off lanes are not read (no fault).
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store(self, p: *mut f32, v: __m512) {
        // SAFETY: see above the impl.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_part(self, p: *mut f32, v: __m512, n: usize) {
        // SAFETY: see above the impl; masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_out(self, p: *mut f32, v: __m512, n: usize) {
        // SAFETY: see above the impl; each store writes lanes below `n` (8, 4, 2 and 1 of
        // them by the bits of `n < 16`, each from where the previous ended).
        unsafe {
            if n >= 16 {
                return _mm512_storeu_ps(p, v);
            }
            let (mut p, mut y) = (p, _mm512_castps512_ps256(v));
            if n & 8 != 0 {
                _mm256_storeu_ps(p, y);
                y = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                p = p.add(8);
            }
            store_out8(p, y, n & 7);
        }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn max(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_max_ps(a, b) }
    }
    type Idx = __m512i;
    const PERMUTE_COST: usize = 1;
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn indices(self, i: &[u32; 16]) -> __m512i {
        // SAFETY: see above the impl; `i` holds the 16 values read.
        unsafe { _mm512_loadu_si512(i.as_ptr() as *const _) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn permute2(self, a: __m512, b: __m512, idx: __m512i) -> __m512 {
        // SAFETY: see above the impl.
        unsafe { _mm512_permutex2var_ps(a, idx, b) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn max_nan(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: see above the impl. `max_ps(b, a)` is `b > a ? b : a` (so `a` when either
        // is NaN); lanes where `b` is NaN take `b`.
        unsafe {
            let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(b, b);
            _mm512_mask_blend_ps(nan, _mm512_max_ps(b, a), b)
        }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn sum(self, v: __m512) -> f32 {
        // SAFETY: see above the impl.
        unsafe { _mm512_reduce_add_ps(v) }
    }
}

/// The first `n < 8` lanes of `y` at `p` as plain stores of 4, 2 and 1 lanes (by the bits of
/// `n`), which narrower loads of them right after can be served from.
///
/// # Safety
/// The CPU must have AVX; `p..p + n` writable.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn store_out8(p: *mut f32, y: __m256, n: usize) {
    // SAFETY: each store writes lanes below `n`, each from where the previous ended.
    unsafe {
        let (mut p, mut x) = (p, _mm256_castps256_ps128(y));
        if n & 4 != 0 {
            _mm_storeu_ps(p, x);
            x = _mm256_extractf128_ps::<1>(y);
            p = p.add(4);
        }
        if n & 2 != 0 {
            _mm_store_sd(p as *mut f64, _mm_castps_pd(x));
            x = _mm_movehl_ps(x, x);
            p = p.add(2);
        }
        if n & 1 != 0 {
            _mm_store_ss(p, x);
        }
    }
}

/// Lane mask of the first `n` of 8 lanes.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn mask8(n: usize) -> __m256i {
    // SAFETY: see above the impl of `Isa for Avx512` (AVX2 checked by the token's owner).
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

impl<const R: usize> Isa for Avx2<R> {
    const LANES: usize = 8;
    const REGS: usize = R;
    type V = __m256;

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn prefetch(self, p: *const f32) {
        // SAFETY: a prefetch is a hint; it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn zero(self) -> __m256 {
        // SAFETY: see above the impls.
        unsafe { _mm256_setzero_ps() }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn splat(self, x: f32) -> __m256 {
        // SAFETY: see above the impls.
        unsafe { _mm256_set1_ps(x) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: see above the impls.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load_part(self, p: *const f32, n: usize) -> __m256 {
        // SAFETY: see above the impls; masked-off lanes are not read (no fault).
        unsafe { _mm256_maskload_ps(p, mask8(n)) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: see above the impls.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_part(self, p: *mut f32, v: __m256, n: usize) {
        // SAFETY: see above the impls; masked-off lanes are not written.
        unsafe { _mm256_maskstore_ps(p, mask8(n), v) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_out(self, p: *mut f32, v: __m256, n: usize) {
        // SAFETY: see above the impls; `store_out8` writes the first `n < 8` lanes.
        unsafe {
            if n >= 8 {
                _mm256_storeu_ps(p, v)
            } else {
                store_out8(p, v, n)
            }
        }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: see above the impls.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: see above the impls.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn max(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: see above the impls.
        unsafe { _mm256_max_ps(a, b) }
    }
    type Idx = (__m256i, __m256);
    const PERMUTE_COST: usize = 2;
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn indices(self, i: &[u32; 16]) -> (__m256i, __m256) {
        // SAFETY: see above the impls; `i` holds the 8 values read. The second vector has
        // the sign bit set in lanes that take `b` (index bit 3).
        unsafe {
            let idx = _mm256_loadu_si256(i.as_ptr() as *const __m256i);
            (idx, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)))
        }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn permute2(self, a: __m256, b: __m256, idx: (__m256i, __m256)) -> __m256 {
        // SAFETY: see above the impls.
        unsafe {
            _mm256_blendv_ps(
                _mm256_permutevar8x32_ps(a, idx.0),
                _mm256_permutevar8x32_ps(b, idx.0),
                idx.1,
            )
        }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn max_nan(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: see above the impls. `max_ps(b, a)` is `b > a ? b : a`; lanes where `b` is
        // NaN take `b`.
        unsafe {
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(b, b);
            _mm256_blendv_ps(_mm256_max_ps(b, a), b, nan)
        }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn sum(self, v: __m256) -> f32 {
        // SAFETY: see above the impls.
        unsafe {
            let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let d = _mm_add_ps(q, _mm_movehl_ps(q, q));
            _mm_cvtss_f32(_mm_add_ss(d, _mm_movehdup_ps(d)))
        }
    }
}

/// The instruction sets [`super::dispatch`] chooses between.
#[allow(dead_code)]
pub(crate) enum Level {
    Baseline,
    Avx2,
    /// AVX-512 on a core that runs 512-bit code at full speed (Intel with AVX512-FP16:
    /// Sapphire Rapids and later; AMD).
    Avx512,
    /// AVX-512 with VL on an earlier Intel core (Skylake-SP to Ice Lake), which lowers its
    /// clock while 512-bit multiply-adds run ([`slows_for_512`]):
    /// [`Kernel::NARROW`](super::Kernel::NARROW) kernels take 256-bit vectors with 32
    /// registers ([`run_avx512_ymm`]).
    Avx512Ymm,
}

/// The widest instruction set of this CPU: from the compile-time target, and with `std`
/// detected once at run time.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(dead_code)]
pub(crate) fn level() -> Level {
    #[cfg(feature = "std")]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        static LEVEL: AtomicU8 = AtomicU8::new(0); // 0 unknown, then 1 + Level (in order)
        let l = match LEVEL.load(Ordering::Relaxed) {
            0 => {
                let l = if std::is_x86_feature_detected!("avx512f") {
                    if slows_for_512() {
                        4
                    } else {
                        3
                    }
                } else if std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                {
                    2
                } else {
                    1
                };
                LEVEL.store(l, Ordering::Relaxed);
                l
            }
            l => l,
        };
        match l {
            4 => Level::Avx512Ymm,
            3 => Level::Avx512,
            2 => Level::Avx2,
            _ => Level::Baseline,
        }
    }
    #[cfg(not(feature = "std"))]
    {
        if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
            Level::Avx2
        } else {
            Level::Baseline
        }
    }
}

/// Whether this AVX-512 core lowers its clock while 512-bit multiply-adds run, and has VL (for
/// [`run_avx512_ymm`]): an Intel core without AVX512-FP16, Skylake-SP to Ice Lake (Sapphire
/// Rapids, the first with FP16, barely slows down). AMD's Zen 4 and Zen 5 keep their clock (on
/// the Zen 5 machine of this project's first sessions, 512-bit multiply-adds ran at twice the
/// 256-bit rate).
#[cfg(feature = "std")]
fn slows_for_512() -> bool {
    let id = __cpuid(0);
    let intel = (id.ebx, id.edx, id.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e); // GenuineIntel
    intel
        && std::is_x86_feature_detected!("avx512vl")
        && !std::is_x86_feature_detected!("avx512fp16")
}

/// Runs `k` with AVX-512 code generation enabled.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline(never)]
#[allow(dead_code)]
pub(crate) unsafe fn run_avx512<K: Kernel>(k: K) -> K::Out {
    // SAFETY: the caller checked the CPU.
    k.run(unsafe { Avx512::new() })
}

/// Runs `k` with 256-bit vectors and AVX-512VL code generation enabled (32 registers).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512VL.
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[inline(never)]
#[allow(dead_code)]
pub(crate) unsafe fn run_avx512_ymm<K: Kernel>(k: K) -> K::Out {
    // SAFETY: the caller checked the CPU.
    k.run(unsafe { Avx2::<32>::new() })
}

/// Runs `k` with AVX2 and FMA code generation enabled.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
#[allow(dead_code)]
pub(crate) unsafe fn run_avx2<K: Kernel>(k: K) -> K::Out {
    // SAFETY: the caller checked the CPU.
    k.run(unsafe { Avx2::<16>::new() })
}
