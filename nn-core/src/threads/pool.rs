//! The worker threads behind [`super::set_threads`]: `threads - 1` workers beside the calling
//! thread, each with one job slot, that spin for a while after their last job before they park.
//!
//! Why not rayon: on the virtual machines this library is measured on, waking a parked thread
//! costs 50-70 us (the idle virtual CPU has to be woken by the host), and rayon's idle workers
//! park after a few microseconds. A training step calls a parallel kernel every 10-500 us, so
//! with rayon two threads were slower than one (M2 step 102 -> 115 us, `forward_batch` no faster).
//! Workers that stay awake for [`SPIN`] after a job take the next one within a microsecond; the
//! price is a core kept busy for up to [`SPIN`] after the last parallel call (as OpenMP's
//! active wait policy).
//!
//! Safety: a job borrows the caller's stack (its closure and its slices); [`run`] does not return,
//! or unwind, before every job it handed out has finished (`Wait` waits in its `Drop`).

use std::boxed::Box;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};
use std::vec::Vec;

/// How long a worker stays awake after a job.
const SPIN: Duration = Duration::from_millis(2);

/// One worker's job slot.
struct Slot {
    /// 0 when empty, else the address of the [`Job`] to run.
    job: AtomicUsize,
    /// The worker is parked (or about to): whoever fills the slot must unpark it.
    parked: AtomicBool,
    /// The worker thread.
    thread: OnceLock<Thread>,
}

/// A job handed to a worker: part `part` of the caller's `f`.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    part: usize,
    /// Set by the worker when `f` returned or panicked; the job is not touched after that.
    done: AtomicBool,
    /// The panic payload of `f`, if it panicked.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

/// The workers, grown on demand and never shut down (they park when idle).
static WORKERS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

/// One parallel call at a time: a second caller meanwhile runs on its own thread.
static BUSY: Mutex<()> = Mutex::new(());

/// The first `n` workers, spawned if needed (`None` if threads cannot be spawned).
fn workers(n: usize) -> Option<Vec<Arc<Slot>>> {
    let mut all = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    while all.len() < n {
        let slot = Arc::new(Slot {
            job: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            thread: OnceLock::new(),
        });
        let s = slot.clone();
        let handle = thread::Builder::new()
            .name(std::format!("nn-{}", all.len() + 1))
            .spawn(move || work(&s))
            .ok()?;
        let _ = slot.thread.set(handle.thread().clone());
        all.push(slot);
    }
    Some(all[..n].to_vec())
}

/// A worker's loop: take a job, run it, spin for the next one, park when none comes.
fn work(slot: &Slot) {
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
        let p = slot.job.load(Ordering::Acquire);
        if p == 0 {
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) {
                core::hint::spin_loop();
                continue;
            }
            if idle_since.elapsed() < SPIN {
                // Let another runnable thread have the core now and then (an oversubscribed
                // machine would otherwise lose it to this loop).
                thread::yield_now();
                continue;
            }
            // Park; `run` stores the job, then reads `parked`; this stores `parked`, then reads
            // the job (both sequentially consistent), so one of them sees the other.
            slot.parked.store(true, Ordering::SeqCst);
            if slot.job.load(Ordering::SeqCst) == 0 {
                thread::park();
            }
            slot.parked.store(false, Ordering::SeqCst);
            idle_since = Instant::now();
            continue;
        }
        // SAFETY: `run` keeps the job alive until `done` is set, and sets no other job in
        // this slot before then.
        let job = unsafe { &*(p as *const Job<'_>) };
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| (job.f)(job.part))) {
            *job.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        }
        slot.job.store(0, Ordering::Relaxed);
        // Last touch of the job: after this the caller may free it.
        job.done.store(true, Ordering::Release);
        idle_since = Instant::now();
        spins = 0;
    }
}

/// Waits, also while unwinding, until every job handed out is done.
struct Wait<'j, 'a> {
    jobs: &'j [Job<'a>],
    handed: usize,
}

impl Drop for Wait<'_, '_> {
    fn drop(&mut self) {
        for job in &self.jobs[..self.handed] {
            let mut spins = 0u32;
            while !job.done.load(Ordering::Acquire) {
                spins = spins.saturating_add(1);
                if spins < 1 << 12 {
                    core::hint::spin_loop();
                } else {
                    // The worker is not running (parked, or its core taken): give way.
                    thread::yield_now();
                }
            }
        }
    }
}

/// Runs `f(0)`, ..., `f(parts - 1)`: part 0 on this thread, the others on workers. Returns
/// `false` (having run nothing) when no workers can be had: another parallel call is running,
/// or threads cannot be spawned. A panic in any part is resumed here after every part finished.
pub(super) fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
    let _busy = match BUSY.try_lock() {
        Ok(g) => g,
        // A part panicked in an earlier call: the lock guards nothing but exclusivity.
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return false,
    };
    let Some(slots) = workers(parts - 1) else {
        return false;
    };
    let jobs: Vec<Job<'_>> = (1..parts)
        .map(|part| Job {
            f,
            part,
            done: AtomicBool::new(false),
            panic: Mutex::new(None),
        })
        .collect();
    let mut wait = Wait {
        jobs: &jobs,
        handed: 0,
    };
    for (slot, job) in slots.iter().zip(&jobs) {
        slot.job
            .store(job as *const Job<'_> as usize, Ordering::SeqCst);
        wait.handed += 1;
        if slot.parked.load(Ordering::SeqCst) {
            if let Some(t) = slot.thread.get() {
                t.unpark();
            }
        }
    }
    f(0);
    drop(wait);
    for job in &jobs {
        if let Some(e) = job.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            resume_unwind(e);
        }
    }
    true
}
