//! How many threads batched inference and training use: one by default, any number with
//! [`set_threads`] (the `std` feature; without it everything runs on the calling thread).
//!
//! What runs in parallel, each part a contiguous range of samples or rows:
//! - `forward_batch` of a generated network: its chunks of samples;
//! - the dense layer's batched products (forward of a batch, both gradients): rows;
//! - the convolutions' batched forward and backward: samples.
//!
//! Work below about half a million multiply-adds per call stays on the calling thread. One
//! parallel call runs at a time: a second thread calling meanwhile runs its call alone.
//!
//! Results are deterministic for a given thread count: every output of inference and every input
//! gradient is computed by one thread exactly as on one thread (the same bits whatever the count);
//! a convolution's weight and bias gradients are summed per part, then the parts are added in
//! order, so they can differ in the last bits between thread counts (never between runs).

use core::ops::Range;
#[cfg(feature = "std")]
use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "std")]
mod pool;

/// Threads requested by [`set_threads`] (`0` already replaced by the core count).
#[cfg(feature = "std")]
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets how many threads batched inference and training use: `1` (the default) runs everything
/// on the calling thread, `0` uses every core (`std::thread::available_parallelism`). The
/// calling thread computes one part and `n - 1` worker threads of nn's own (started on first
/// use, parked when idle) the others; workers stay awake for 2 ms after a job, so a busy core
/// follows each burst of parallel calls. Without the `std` feature this does nothing.
///
/// ```
/// # use nn_core as nn;
/// nn::set_threads(0); // every core
/// assert!(nn::threads() >= 1);
/// nn::set_threads(1);
/// assert_eq!(nn::threads(), 1);
/// ```
pub fn set_threads(n: usize) {
    // `available_parallelism` reads the cgroup limits (tens of microseconds): once, here.
    #[cfg(feature = "std")]
    THREADS.store(
        match n {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
        Ordering::Relaxed,
    );
    #[cfg(not(feature = "std"))]
    let _ = n;
}

/// The number of threads batched inference and training use (see [`set_threads`]).
pub fn threads() -> usize {
    #[cfg(feature = "std")]
    {
        THREADS.load(Ordering::Relaxed)
    }
    #[cfg(not(feature = "std"))]
    {
        1
    }
}

/// Multiply-adds below which a call stays on one thread (about 5-10 us of work; handing a part
/// to a spinning worker costs well under a microsecond, to a parked one 50-70 us under KVM).
pub(crate) const MIN_PARALLEL_WORK: usize = 1 << 19;

#[cfg(feature = "std")]
std::thread_local! {
    /// Whether this thread is running a part already (then nested calls stay on it).
    static IN_PART: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Runs `f` as a part: nested parallel calls inside it run on this thread.
#[cfg(feature = "std")]
fn as_part<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_PART.with(|c| c.replace(true));
    let r = f();
    IN_PART.with(|c| c.set(was));
    r
}

/// How many parts `items` items (split at multiples of `align`) with `work` multiply-adds in all
/// go into: 1 when parallel work does not pay.
pub(crate) fn parts_for(items: usize, align: usize, work: usize) -> usize {
    let t = threads();
    if t <= 1 || work < MIN_PARALLEL_WORK {
        return 1;
    }
    #[cfg(feature = "std")]
    if IN_PART.with(|c| c.get()) {
        return 1;
    }
    t.min(items.div_ceil(align.max(1))).max(1)
}

/// The `k`-th of `parts` contiguous ranges of `0..items`, boundaries at multiples of `align`.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) fn part(items: usize, align: usize, parts: usize, k: usize) -> Range<usize> {
    let align = align.max(1);
    let per = items.div_ceil(align).div_ceil(parts) * align;
    let lo = (k * per).min(items);
    lo..((k + 1) * per).min(items)
}

/// `f(range, &mut ys[range])` over contiguous ranges of `ys` (boundaries at multiples of
/// `align`), in parallel (see the module docs).
pub(crate) fn for_chunks_mut<Y: Send>(
    ys: &mut [Y],
    align: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [Y]) + Sync,
) {
    let n = ys.len();
    let parts = parts_for(n, align, work);
    if parts <= 1 {
        f(0..n, ys);
        return;
    }
    #[cfg(feature = "std")]
    {
        use std::sync::Mutex;
        let mut rest = ys;
        let mut outs = std::vec::Vec::with_capacity(parts);
        for k in 0..parts {
            let r = part(n, align, parts, k);
            let (head, tail) = core::mem::take(&mut rest).split_at_mut(r.len());
            outs.push(Mutex::new(Some((r, head))));
            rest = tail;
        }
        let run_part = |k: usize| {
            let taken = outs[k].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some((r, y)) = taken {
                as_part(|| f(r, y));
            }
        };
        if !pool::run(parts, &run_part) {
            // No workers to be had (another parallel call runs): every part here.
            for k in 0..parts {
                run_part(k);
            }
        }
    }
    #[cfg(not(feature = "std"))]
    f(0..n, ys);
}

/// `f(xs_part, ys_part)` over contiguous parts of the two slices (of equal length, split at
/// multiples of `align`), in parallel (see the module docs).
pub(crate) fn for_slices<X: Sync, Y: Send>(
    xs: &[X],
    ys: &mut [Y],
    align: usize,
    work: usize,
    f: impl Fn(&[X], &mut [Y]) + Sync,
) {
    let n = xs.len().min(ys.len());
    for_chunks_mut(&mut ys[..n], align, work, |r, y| f(&xs[r], y))
}

/// `forward_batch` of a generated network: `f` over parts of the samples, each a whole number of
/// chunks of `chunk` samples, in parallel (see the module docs); `macs` is one sample's multiply-adds.
#[doc(hidden)]
pub fn split_batch<X: Sync, Y: Send>(
    xs: &[X],
    ys: &mut [Y],
    chunk: usize,
    macs: usize,
    f: impl Fn(&[X], &mut [Y]) + Sync,
) {
    let work = xs.len().saturating_mul(macs);
    for_slices(xs, ys, chunk, work, f)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_items_in_order_at_aligned_boundaries() {
        for items in 0..40 {
            for align in 1..6 {
                for parts in 1..5 {
                    let mut next = 0;
                    for k in 0..parts {
                        let r = part(items, align, parts, k);
                        assert_eq!(r.start, next, "items {items} align {align} parts {parts}");
                        assert!(r.start <= r.end);
                        assert!(r.start.is_multiple_of(align) || r.start == items);
                        next = r.end;
                    }
                    assert_eq!(next, items);
                }
            }
        }
    }

    #[test]
    fn every_part_runs_once() {
        let _guard = crate::threads::tests_lock();
        set_threads(3);
        let mut items = [0usize; 100];
        let parts = std::sync::Mutex::new(std::vec::Vec::new());
        for_chunks_mut(&mut items, 4, usize::MAX, |r, part| {
            parts.lock().unwrap().push(r.clone());
            for (i, v) in r.zip(part.iter_mut()) {
                *v += i + 1;
            }
        });
        set_threads(1);
        assert!(items.iter().enumerate().all(|(i, &v)| v == i + 1));
        let mut parts = parts.into_inner().unwrap();
        parts.sort_by_key(|r| r.start);
        assert_eq!(parts, [0..36, 36..72, 72..100]);
    }

    #[test]
    fn small_work_stays_on_one_part() {
        let _guard = crate::threads::tests_lock();
        set_threads(4);
        let (small, big) = (
            parts_for(100, 1, MIN_PARALLEL_WORK - 1),
            parts_for(100, 1, MIN_PARALLEL_WORK),
        );
        set_threads(1);
        assert_eq!((small, big), (1, 4));
    }
}

/// Serializes the unit tests that change the thread count (a process-wide setting).
#[cfg(all(test, feature = "std"))]
pub(crate) fn tests_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
