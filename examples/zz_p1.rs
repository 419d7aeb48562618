use std::hint::black_box;
nn::network! { pub struct P1 { input: [6, 24, 24], MaxPool2d(2) } }
fn main() { let net = P1::new(1); let x = nn::Input::<P1>::from_fn(|i| (i as f32 * 0.37).sin()); let mut s = 0.0; for _ in 0..1000000 { s += black_box(&net).forward(black_box(&x))[3]; } println!("{s}"); }
