use std::hint::black_box;
nn::network! { pub struct M4 { input: [1, 40], conv1: Conv1d(32, kernel = 5, padding = 2), ReLU, conv2: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU, conv3: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU, Flatten, fc: Dense(10), Softmax } }
nn::network! { pub struct M3 { input: [1, 28, 28], conv1: Conv2d(6, kernel = 5), ReLU, MaxPool2d(2), conv2: Conv2d(16, kernel = 5), ReLU, MaxPool2d(2), Flatten, fc1: Dense(120), ReLU, fc2: Dense(84), ReLU, fc3: Dense(10), Softmax } }
nn::network! { pub struct C1 { input: [1, 40], conv1: Conv1d(32, kernel = 5, padding = 2) } }
nn::network! { pub struct C2 { input: [32, 40], conv2: Conv1d(32, kernel = 3, stride = 2, padding = 1) } }
nn::network! { pub struct C3 { input: [32, 20], conv3: Conv1d(32, kernel = 3, stride = 2, padding = 1) } }
nn::network! { pub struct L1 { input: [1, 28, 28], conv1: Conv2d(6, kernel = 5) } }
nn::network! { pub struct L2 { input: [6, 12, 12], conv2: Conv2d(16, kernel = 5) } }
nn::network! { pub struct P1 { input: [6, 24, 24], MaxPool2d(2) } }
nn::network! { pub struct D1 { input: [256], fc1: Dense(120), ReLU, fc2: Dense(84), ReLU, fc3: Dense(10), Softmax } }
macro_rules! t { ($n:ident) => {{
    let net = $n::new(1);
    let x = nn::Input::<$n>::from_fn(|i| (i as f32 * 0.37).sin());
    let mut best = f64::MAX;
    for _ in 0..50 { let t = std::time::Instant::now(); for _ in 0..200 { black_box(black_box(&net).forward(black_box(&x))); } best = best.min(t.elapsed().as_nanos() as f64 / 200.0); }
    println!("{:4}: {:8.0} ns  ({} MACs, {:.1} GMAC/s)", stringify!($n), best, $n::MACS, $n::MACS as f64 / best);
}}}
fn main() { t!(M4); t!(C1); t!(C2); t!(C3); t!(M3); t!(L1); t!(L2); t!(P1); t!(D1); }
