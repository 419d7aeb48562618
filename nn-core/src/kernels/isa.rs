//! Vector instruction sets for the kernels, chosen per call.
//!
//! A kernel is written once, generic over [`Isa`] (a zero-sized token whose methods are vector
//! operations), and [`dispatch`] runs it with the widest instruction set the CPU has:
//!
//! - [`Avx512`] (16 lanes, 32 registers) and [`Avx2`] (8 lanes with FMA) on x86-64: used directly
//!   when the crate is compiled for them (`-C target-cpu=native`), otherwise through a
//!   `#[target_feature]` wrapper after run-time detection (with the `std` feature), so the default
//!   build is fast too;
//! - on AVX-512 cores that lower their clock while 512-bit multiply-adds run (Intel's Skylake-SP
//!   to Ice Lake: AVX-512 without AVX512-FP16; with `std`, detected at run time, also in a
//!   build for the CPU), kernels marked [`Kernel::NARROW`] (the one-sample dense layer whose
//!   weights fit in L1, latency-bound) run with [`Avx2`] operations and 32 registers instead:
//!   measured on an Ice Lake Xeon, M1's batch-1 forward took 233 ns with 512-bit vectors and
//!   170 ns with these;
//!   convolutions and batches stayed faster with 512 bits, so they keep them;
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
    /// [`Isa::store_n`] for values read right after by narrower loads (a layer's outputs, which
    /// the next layer broadcasts one at a time): where `n < LANES`, plain stores of 8, 4, 2 and
    /// 1 lanes, which those loads can be served from, rather than one masked store, which they
    /// wait on until it reaches the cache. The same values; the default is [`Isa::store_n`].
    ///
    /// # Safety
    /// `p..p + min(n, LANES)` must be writable.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    unsafe fn store_out(self, p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.store_n(p, v, n) }
    }
}

/// A computation to run with the best instruction set: [`dispatch`] calls `run` with a token.
pub(crate) trait Kernel {
    /// What the computation returns.
    type Out;
    /// Latency-bound (one sample, every weight used once): run with 256-bit vectors on an
    /// AVX-512 core that slows down for 512-bit multiply-adds (see [`dispatch`]).
    #[allow(dead_code)] // read only where the core is asked at run time (`std`)
    const NARROW: bool = false;
    /// Runs the computation with the operations of `s`.
    fn run<S: Isa>(self, s: S) -> Self::Out;
}

/// Runs `k` with the widest instruction set this CPU supports (see the module docs).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn dispatch<K: Kernel>(k: K) -> K::Out {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        // The core's vendor and model are not compile-time facts: asked once at run time.
        #[cfg(feature = "std")]
        if K::NARROW && matches!(x86::level(), x86::Level::Avx512Ymm) {
            // SAFETY: `level` detected AVX-512F and VL.
            return unsafe { x86::run_avx512_ymm(k) };
        }
        // SAFETY: the crate is compiled for AVX-512F, so every CPU running it has it.
        unsafe { x86::run_avx512(k) }
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx512f")))]
    {
        match x86::level() {
            // SAFETY: `level` detected AVX-512F and VL.
            x86::Level::Avx512Ymm if K::NARROW => unsafe { x86::run_avx512_ymm(k) },
            // SAFETY: `level` detected AVX-512F.
            x86::Level::Avx512 | x86::Level::Avx512Ymm => unsafe { x86::run_avx512(k) },
            // SAFETY: `level` detected AVX2 and FMA (or the crate is compiled for them).
            x86::Level::Avx2 => unsafe { x86::run_avx2(k) },
            // Inlined: out of line (`run_portable`), the code around the calls got slower on
            // AVX-512 machines that never take this arm (M2 batch-1 latency +10%).
            x86::Level::Baseline => k.run(Portable),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        run_portable(k)
    }
}

/// Runs `k` with the [`Portable`] operations, compiled once per kernel instantiation (out of
/// line, as the AVX2 and AVX-512 arms, where it is the only arm: other architectures).
#[cfg_attr(not(debug_assertions), inline(never))]
#[allow(dead_code)] // unused where the crate is compiled for AVX-512 (outside tests)
fn run_portable<K: Kernel>(k: K) -> K::Out {
    k.run(Portable)
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
pub(crate) use x86::{run_avx2, run_avx512, run_avx512_ymm};

#[cfg(target_arch = "x86_64")]
mod x86;
