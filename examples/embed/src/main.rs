//! Runs the embedded network on the shipped digits 0-4 (pooled to 16 features, as the
//! `jet_tagger` example trained it) and checks that inference allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/digits.csv");
    let text = std::fs::read_to_string(path)?;
    let mut samples = Vec::new();
    for (row, line) in text.lines().enumerate() {
        let v: Vec<f32> = line.split(',').map(str::parse).collect::<Result<_, _>>().map_err(|e| format!("{path}: row {}: {e}", row + 1))?;
        let label = v[64] as usize;
        if label < 5 {
            let mut f = [0.0f32; 16];
            for (k, out) in f.iter_mut().enumerate() {
                let (r, c) = (k / 4, k % 4);
                let px = |dr: usize, dc: usize| v[(2 * r + dr) * 8 + 2 * c + dc];
                *out = (px(0, 0) + px(0, 1) + px(1, 0) + px(1, 1)) / 64.0;
            }
            samples.push((f, label));
        }
    }
    let net = nn_embed::JetTagger::pretrained();
    let before = ALLOCS.load(Relaxed);
    let mut correct = 0;
    for (f, label) in &samples {
        let (class, _) = nn_embed::classify(&net, f);
        correct += (class == *label) as usize;
    }
    let allocations = ALLOCS.load(Relaxed) - before;
    println!("{} samples of digits 0-4, accuracy {:.4} (training and test rows)", samples.len(), correct as f32 / samples.len() as f32);
    println!("heap allocations during inference: {allocations}");
    if allocations != 0 {
        return Err("inference allocated".into());
    }
    println!("weights baked in: {} parameters in static arrays", nn_embed::JetTagger::PARAMS);
    Ok(())
}
