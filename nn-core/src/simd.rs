//! Vector instruction sets for the kernels, chosen per call.
//!
//! A kernel is written once, generic over [`Isa`] (a zero-sized token whose methods are vector
//! operations), and [`dispatch`] runs it with the widest instruction set the CPU has:
//!
//! - [`Avx512`] (16 lanes, 32 registers) and [`Avx2`] (8 lanes with FMA) on x86-64: used directly
//!   when the crate is compiled for them (`-C target-cpu=native`), otherwise through a
//!   `#[target_feature]` wrapper after run-time detection (with the `std` feature), so the default
//!   build is fast too;
//! - [`Portable`]: 8 lanes of `wide::f32x8`, whatever the compile-time target provides (also the
//!   `no_std` fallback on x86-64 without compile-time AVX and every other architecture).
//!
//! The tokens can only be made by [`dispatch`] after the CPU was checked, which is what makes
//! their safe methods sound.
//!
//! Kernel functions are `#[inline(always)]` only when debug assertions are off: in an
//! unoptimized build, forced inlining of every instantiation piles all their locals into one
//! stack frame (enough to overflow a test thread's stack).

/// A vector instruction set: a token whose methods are the vector operations the kernels use.
///
/// Every method is `#[inline(always)]`; a kernel generic over `S: Isa` becomes straight-line
/// vector code once it is inlined into the function [`dispatch`] picked.
pub(crate) trait Isa: Copy {
    /// Lanes of `f32` per vector.
    const LANES: usize;
    /// Vector registers available (sizes register blocks so accumulators do not spill).
    const REGS: usize;
    /// One vector.
    type V: Copy;

    /// All lanes zero.
    fn zero(self) -> Self::V;
    /// All lanes `x`.
    fn splat(self, x: f32) -> Self::V;
    /// `LANES` values from `p`.
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// `n < LANES` values from `p`, zeros in the other lanes.
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    unsafe fn load_part(self, p: *const f32, n: usize) -> Self::V;
    /// Stores `LANES` values at `p`.
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Stores the first `n < LANES` lanes at `p`.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    unsafe fn store_part(self, p: *mut f32, v: Self::V, n: usize);
    /// `a * b + c` (one rounding where the hardware fuses it).
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise maximum.
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    /// Sum of the lanes.
    #[allow(dead_code)] // used by the training kernels, which need `alloc`
    fn sum(self, v: Self::V) -> f32;
    /// Lane indices for [`Isa::permute2`].
    type Idx: Copy;
    /// Relative cost of one [`Isa::permute2`] with its two loads, in multiply-adds (for the
    /// kernels' cost models).
    const PERMUTE_COST: usize;
    /// Index vector from the first `LANES` entries of `i` (each `< 2 * LANES`).
    fn indices(self, i: &[u32; 16]) -> Self::Idx;
    /// Lane `j` is lane `idx[j]` of the `2 * LANES` lanes of `a` then `b`.
    fn permute2(self, a: Self::V, b: Self::V, idx: Self::Idx) -> Self::V;
    /// Lane-wise `if b > a || b is NaN { b } else { a }`: the maximum where NaN wins and, of
    /// equal values, the first one is kept (as the scalar `max_nan` of the pooling layers).
    fn max_nan(self, a: Self::V, b: Self::V) -> Self::V;
    /// Hints that the cache line holding `p` will be read soon (no effect where unsupported;
    /// never faults, so `p` may point anywhere).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn prefetch(self, p: *const f32) {
        let _ = p;
    }

    /// `n` values from `p` (a whole vector when `n >= LANES`).
    ///
    /// # Safety
    /// `p..p + min(n, LANES)` must be readable.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load_n(self, p: *const f32, n: usize) -> Self::V {
        // SAFETY: forwarded from the caller.
        unsafe {
            if n >= Self::LANES {
                self.load(p)
            } else {
                self.load_part(p, n)
            }
        }
    }
    /// Stores `min(n, LANES)` lanes at `p`.
    ///
    /// # Safety
    /// `p..p + min(n, LANES)` must be writable.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_n(self, p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: forwarded from the caller.
        unsafe {
            if n >= Self::LANES {
                self.store(p, v)
            } else {
                self.store_part(p, v, n)
            }
        }
    }
}

/// A computation to run with the best instruction set: [`dispatch`] calls `run` with a token.
pub(crate) trait Kernel {
    /// What the computation returns.
    type Out;
    /// Runs the computation with the operations of `s`.
    fn run<S: Isa>(self, s: S) -> Self::Out;
}

/// Runs `k` with the widest instruction set this CPU supports (see the module docs).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn dispatch<K: Kernel>(k: K) -> K::Out {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        // SAFETY: the crate is compiled for AVX-512F, so every CPU running it has it.
        unsafe { x86::run_avx512(k) }
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx512f")))]
    {
        match x86::level() {
            // SAFETY: `level` detected AVX-512F.
            x86::Level::Avx512 => unsafe { x86::run_avx512(k) },
            #[cfg(all(target_feature = "avx2", target_feature = "fma"))]
            // SAFETY: the crate is compiled for AVX2 and FMA.
            x86::Level::Avx2 => k.run(unsafe { x86::Avx2::new() }),
            #[cfg(not(all(target_feature = "avx2", target_feature = "fma")))]
            // SAFETY: `level` detected AVX2 and FMA.
            x86::Level::Avx2 => unsafe { x86::run_avx2(k) },
            x86::Level::Baseline => k.run(Portable),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        k.run(Portable)
    }
}

/// 8 lanes of `wide::f32x8`: whatever the compile-time target provides.
#[allow(dead_code)] // unused where the crate is compiled for AVX-512 (outside tests)
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl Isa for Portable {
    const LANES: usize = 8;
    const REGS: usize = 16;
    type V = wide::f32x8;

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn zero(self) -> Self::V {
        wide::f32x8::ZERO
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn splat(self, x: f32) -> Self::V {
        wide::f32x8::splat(x)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        // SAFETY: the caller guarantees 8 readable values; the read is unaligned.
        wide::f32x8::from(unsafe { (p as *const [f32; 8]).read_unaligned() })
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn load_part(self, p: *const f32, n: usize) -> Self::V {
        let mut a = [0.0f32; 8];
        // SAFETY: the caller guarantees `n` readable values; `n < 8` fits `a`.
        unsafe { core::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), n.min(8)) };
        wide::f32x8::from(a)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees 8 writable values; the write is unaligned.
        unsafe { (p as *mut [f32; 8]).write_unaligned(v.to_array()) }
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_part(self, p: *mut f32, v: Self::V, n: usize) {
        let a = v.to_array();
        // SAFETY: the caller guarantees `n` writable values.
        unsafe { core::ptr::copy_nonoverlapping(a.as_ptr(), p, n.min(8)) };
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        a.mul_add(b, c)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        a + b
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        a.fast_max(b)
    }
    type Idx = [u32; 8];
    const PERMUTE_COST: usize = 16;
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn indices(self, i: &[u32; 16]) -> [u32; 8] {
        core::array::from_fn(|j| i[j] & 15)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn permute2(self, a: Self::V, b: Self::V, idx: [u32; 8]) -> Self::V {
        let (a, b) = (a.to_array(), b.to_array());
        wide::f32x8::from(core::array::from_fn::<f32, 8, _>(|j| {
            let k = idx[j] as usize;
            if k < 8 {
                a[k]
            } else {
                b[k & 7]
            }
        }))
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn max_nan(self, a: Self::V, b: Self::V) -> Self::V {
        let (a, b) = (a.to_array(), b.to_array());
        wide::f32x8::from(core::array::from_fn::<f32, 8, _>(|j| {
            if b[j] > a[j] || b[j].is_nan() {
                b[j]
            } else {
                a[j]
            }
        }))
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn sum(self, v: Self::V) -> f32 {
        let a = v.to_array();
        ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
    }
}

#[cfg(all(target_arch = "x86_64", test))]
pub(crate) use x86::{run_avx2, run_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
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

    /// AVX2 with FMA: 8 lanes, 16 registers. Made only where the CPU has both.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(());

    impl Avx2 {
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

    impl Isa for Avx2 {
        const LANES: usize = 8;
        const REGS: usize = 16;
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
        Avx512,
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
            static LEVEL: AtomicU8 = AtomicU8::new(0); // 0 unknown, then 1 + Level
            let l = match LEVEL.load(Ordering::Relaxed) {
                0 => {
                    let l = if std::is_x86_feature_detected!("avx512f") {
                        3
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

    /// Runs `k` with AVX2 and FMA code generation enabled.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(dead_code)]
    pub(crate) unsafe fn run_avx2<K: Kernel>(k: K) -> K::Out {
        // SAFETY: the caller checked the CPU.
        k.run(unsafe { Avx2::new() })
    }
}
