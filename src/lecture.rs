//!
//! The lecture on convolutional networks works four examples by hand. Each section below
//! rebuilds a slide's input, runs it through this crate's layers with [`Layer::forward`],
//! and asserts that the output equals the value JAX computes independently. Each section
//! also says whether the slide's own numbers are what the mathematics gives.
//!
//! Where the numbers come from: `scripts/lecture_numbers.py` rebuilds the inputs from the
//! slides, computes the outputs with `jax.lax.conv_general_dilated` and
//! `jax.lax.reduce_window` (float64), and writes both to `tests/fixtures/lecture.json`.
//! Every array literal below carries a comment such as `// lecture.json: conv2d.y`. The
//! integration test `tests/lecture.rs` reads those literals from this file and checks that
//! they equal the fixture. It also runs the same layers on the fixture's inputs. If a number
//! changes in one place only, a test fails.
//!
//! | example | slide | mathematics (JAX) | slide right? |
//! |---|---|---|---|
//! | 3x3 convolution of a 5x5 image | `12 12 17 / 10 17 19 / 9 6 14` | the same | yes, exactly (cross-correlation) |
//! | 3x3 max pooling, stride 1, of a 7x7 image | 5x5, `7` at row 2, column 2 | `9` there | **no**: one cell of 25 is wrong |
//! | 3x3 average pooling, same image | `4.2`, `5.0` | 38/9 = 4.222..., 45/9 = 5 | 4.2 is rounded; 5.0 is exact |
//! | shared weights, 256x256x3 image | 27 weights vs O(10^10) | 27 vs 38,654,705,664 | yes |
//!
//! Rows and columns are counted from 0. The pooling sections read the 7x7 image top to bottom.
//!
//! # 1. Convolution: a 5x5 image and a 3x3 kernel
//!
//! The slide prints the kernel over the image's top-left 3x3 patch, with each weight as a
//! subscript: `3₀ 3₁ 2₂` in the first row means pixels 3, 3, 2 under weights 0, 1, 2. Read
//! back, the slide gives this image and kernel:
//!
//! ```text
//! image            kernel      result (slide and JAX)
//! 3 3 2 1 0        0 1 2       12 12 17
//! 0 0 1 3 1        2 2 0       10 17 19
//! 3 1 2 2 3        0 1 2        9  6 14
//! 2 0 0 2 2
//! 2 0 0 0 1
//! ```
//!
//! The slide's result is what the mathematics gives. The operation is the lecture's formula
//! `y[i][j] = sum over n, m of x[i + n][j + m] * u[n][m]`. That is a cross-correlation: the
//! kernel is not flipped, as in PyTorch and in [`Conv2d`]. The top-left output is
//! `3·0 + 3·1 + 2·2 + 0·2 + 0·2 + 1·0 + 3·0 + 1·1 + 2·2 = 12`. A convolution in the strict
//! mathematical sense flips the kernel first and gives `18 20 19 / 10 9 17 / 11 8 14`
//! instead, which is not what the slide shows.
//!
//! [`Conv2d::weights_mut`] stores the kernel as `[ky][kx][in][out]`. With one input and one
//! output channel, that is the 3x3 kernel in row-major order.
//!
//! ```
//! use nn::typenum::consts::{U1, U3, U5};
//! use nn::{Conv2d, Layer, Shape3, Tensor};
//!
//! // lecture.json: conv2d.x
//! let image = Tensor::<Shape3<U1, U5, U5>>::try_from(&[
//!     3.0, 3.0, 2.0, 1.0, 0.0,
//!     0.0, 0.0, 1.0, 3.0, 1.0,
//!     3.0, 1.0, 2.0, 2.0, 3.0,
//!     2.0, 0.0, 0.0, 2.0, 2.0,
//!     2.0, 0.0, 0.0, 0.0, 1.0f32,
//! ][..])
//! .unwrap();
//! // lecture.json: conv2d.w
//! let kernel = [
//!     0.0, 1.0, 2.0,
//!     2.0, 2.0, 0.0,
//!     0.0, 1.0, 2.0f32,
//! ];
//!
//! // One filter of 3x3 cells over one channel, stride 1, no padding, with a bias of 0.
//! let mut conv = Conv2d::<U1, U1, U3, U3>::default();
//! conv.weights_mut().copy_from_slice(&kernel);
//! conv.b[0] = 0.0;
//! let mut y = Tensor::<Shape3<U1, U3, U3>>::zeros();
//! conv.forward(&image, &mut y);
//!
//! // Computed by JAX (jax.lax.conv_general_dilated) in scripts/lecture_numbers.py, stored in
//! // tests/fixtures/lecture.json; the slide shows the same numbers.
//! // lecture.json: conv2d.y
//! let jax = [
//!     12.0, 12.0, 17.0,
//!     10.0, 17.0, 19.0,
//!     9.0, 6.0, 14.0f32,
//! ];
//! assert_eq!(y.as_slice(), &jax[..]); // small integers: exact in f32
//!
//! // A true convolution flips the kernel (a 180-degree turn: row-major order reversed).
//! // It gives other numbers, so the slide, like `Conv2d`, computes a cross-correlation.
//! let flipped: Vec<f32> = kernel.iter().rev().copied().collect();
//! conv.weights_mut().copy_from_slice(&flipped);
//! conv.forward(&image, &mut y);
//! // lecture.json: conv2d.y_flipped_kernel
//! let jax_flipped = [
//!     18.0, 20.0, 19.0,
//!     10.0, 9.0, 17.0,
//!     11.0, 8.0, 14.0f32,
//! ];
//! assert_eq!(y.as_slice(), &jax_flipped[..]);
//! ```
//!
//! # 2. Max pooling: a 7x7 image to 5x5
//!
//! The slide does not give the window or the stride. Without padding, an output size is
//! `floor((7 - k) / s) + 1`. That is 5 only for a 3x3 window with stride 1 (in the DSL:
//! `MaxPool2d(3, stride = 1)`; as a type: `MaxPool2d<U3, U3, U1, U1>`).
//!
//! **The slide has one wrong number.** Its output at row 2, column 2 is 7. That window
//! covers rows 2-4 and columns 2-4:
//!
//! ```text
//! 2 1 9
//! 1 1 7
//! 4 7 6
//! ```
//!
//! Its maximum is 9 (the 9 at row 2, column 4 of the image). The other 24 outputs on the
//! slide are right.
//!
//! ```
//! use nn::typenum::consts::{U1, U3, U5, U7};
//! use nn::{Layer, MaxPool2d, Shape3, Tensor};
//!
//! // lecture.json: maxpool2d.x
//! let image = Tensor::<Shape3<U1, U7, U7>>::try_from(&[
//!     0.0, 3.0, 5.0, 6.0, 2.0, 4.0, 5.0,
//!     7.0, 4.0, 7.0, 3.0, 6.0, 3.0, 4.0,
//!     9.0, 1.0, 2.0, 1.0, 9.0, 6.0, 0.0,
//!     9.0, 2.0, 1.0, 1.0, 7.0, 3.0, 5.0,
//!     8.0, 0.0, 4.0, 7.0, 6.0, 8.0, 0.0,
//!     8.0, 3.0, 4.0, 5.0, 5.0, 3.0, 4.0,
//!     7.0, 9.0, 4.0, 6.0, 5.0, 2.0, 6.0f32,
//! ][..])
//! .unwrap();
//!
//! // 3x3 window, stride 1 (the stride defaults to the window; set it to 1).
//! let pool = MaxPool2d::<U3, U3, U1, U1>::default();
//! let mut y = Tensor::<Shape3<U1, U5, U5>>::zeros();
//! pool.forward(&image, &mut y);
//!
//! // Computed by JAX (jax.lax.reduce_window with lax.max) in scripts/lecture_numbers.py,
//! // stored in tests/fixtures/lecture.json.
//! // lecture.json: maxpool2d.y
//! let jax = [
//!     9.0, 7.0, 9.0, 9.0, 9.0,
//!     9.0, 7.0, 9.0, 9.0, 9.0,
//!     9.0, 7.0, 9.0, 9.0, 9.0,
//!     9.0, 7.0, 7.0, 8.0, 8.0,
//!     9.0, 9.0, 7.0, 8.0, 8.0f32,
//! ];
//! assert_eq!(y.as_slice(), &jax[..]);
//!
//! // The slide prints 7 at row 2, column 2; the mathematics says 9.
//! assert_eq!(y.as_slice()[2 * 5 + 2], 9.0);
//! ```
//!
//! # 3. Average pooling on the same image: "4.2" and "5.0"
//!
//! The slide shows two numbers, 4.2 and 5.0. It gives no window, stride or position. The
//! script tries every square window and stride, without padding, and rounds each exact mean
//! to one decimal. Only a 3x3 window gives both numbers. It works with stride 1, as in the
//! max-pooling example, and with stride 3, where the windows do not overlap (the default
//! stride of PyTorch and of [`AvgPool2d`]).
//!
//! * **4.2 is rounded.** The top-left window (rows 0-2, columns 0-2) sums to 38, and
//!   38/9 = 4.222... One other stride-1 window has the same mean: the one at output row 2,
//!   column 2.
//! * **5.0 is exact.** The window at rows 3-5, columns 3-5 sums to 45, and 45/9 = 5. No other
//!   3x3 window has mean 5.
//! * With stride 3, the output is 2x2: `[[38/9, 40/9], [39/9, 45/9]]` =
//!   `[[4.222, 4.444], [4.333, 5.0]]`. Row 6 and column 6 of the image are in no window. The
//!   slide's two numbers are the diagonal of this output. The lecture's text shows no values
//!   for the other two cells.
//! * With stride 1, the two numbers are outputs `[0, 0]` and `[3, 3]` of the 5x5 result. They
//!   are not neighbours. The neighbours of `[0, 0]` are 32/9 = 3.556 (right) and
//!   42/9 = 4.667 (below).
//!
//! So both of the slide's numbers are correct for 3x3 windows. One is rounded to one decimal.
//! The averages are k/9, which f32 cannot hold exactly, so the checks use a tolerance.
//!
//! ```
//! use nn::typenum::consts::{U1, U2, U3, U5, U7};
//! use nn::{AvgPool2d, Layer, Shape3, Tensor};
//!
//! // lecture.json: avgpool2d.x
//! let image = Tensor::<Shape3<U1, U7, U7>>::try_from(&[
//!     0.0, 3.0, 5.0, 6.0, 2.0, 4.0, 5.0,
//!     7.0, 4.0, 7.0, 3.0, 6.0, 3.0, 4.0,
//!     9.0, 1.0, 2.0, 1.0, 9.0, 6.0, 0.0,
//!     9.0, 2.0, 1.0, 1.0, 7.0, 3.0, 5.0,
//!     8.0, 0.0, 4.0, 7.0, 6.0, 8.0, 0.0,
//!     8.0, 3.0, 4.0, 5.0, 5.0, 3.0, 4.0,
//!     7.0, 9.0, 4.0, 6.0, 5.0, 2.0, 6.0f32,
//! ][..])
//! .unwrap();
//! let close = |got: f32, want: f64| (f64::from(got) - want).abs() <= 1e-6 * want.abs();
//!
//! // 3x3 windows, stride 3 (the default: the stride equals the window): a 2x2 output.
//! let pool = AvgPool2d::<U3, U3>::default();
//! let mut y = Tensor::<Shape3<U1, U2, U2>>::zeros();
//! pool.forward(&image, &mut y);
//! // Computed by JAX (jax.lax.reduce_window with lax.add, divided by 9) in
//! // scripts/lecture_numbers.py, stored in tests/fixtures/lecture.json.
//! // lecture.json: avgpool2d.cases.k3_s3.y
//! let jax = [4.222222222222222, 4.444444444444445, 4.333333333333333, 5.0];
//! for (&got, &want) in y.as_slice().iter().zip(&jax) {
//!     assert!(close(got, want), "{got} != {want}");
//! }
//! // The slide's numbers are the diagonal: 4.2 is 38/9 rounded, 5.0 is exact.
//! assert_eq!(format!("{:.1}", y.as_slice()[0]), "4.2");
//! assert_eq!(y.as_slice()[3], 5.0);
//!
//! // 3x3 windows, stride 1, as in the max-pooling example: a 5x5 output.
//! let pool = AvgPool2d::<U3, U3, U1, U1>::default();
//! let mut y = Tensor::<Shape3<U1, U5, U5>>::zeros();
//! pool.forward(&image, &mut y);
//! // lecture.json: avgpool2d.cases.k3_s1.y
//! let jax = [
//!     4.222222222222222, 3.5555555555555554, 4.555555555555555, 4.444444444444445, 4.333333333333333,
//!     4.666666666666666, 2.444444444444444, 4.111111111111111, 4.333333333333333, 4.777777777777778,
//!     4.0, 2.111111111111111, 4.222222222222222, 5.333333333333333, 4.888888888888888,
//!     4.333333333333333, 3.0, 4.444444444444445, 5.0, 4.555555555555555,
//!     5.222222222222222, 4.666666666666666, 5.111111111111111, 5.222222222222222, 4.333333333333333,
//! ];
//! for (&got, &want) in y.as_slice().iter().zip(&jax) {
//!     assert!(close(got, want), "{got} != {want}");
//! }
//! // 4.2 at [0, 0] (and [2, 2]); 5.0 at [3, 3] only; the neighbours of [0, 0] are not 5.0.
//! assert_eq!(format!("{:.1}", y.as_slice()[0]), "4.2");
//! assert_eq!(y.as_slice()[3 * 5 + 3], 5.0);
//! assert_eq!(format!("{:.3} {:.3}", y.as_slice()[1], y.as_slice()[5]), "3.556 4.667");
//! ```
//!
//! # 4. Shared weights: 27 weights against O(10^10)
//!
//! The slide takes a 256x256x3 RGB image. A 3x3x3 kernel has 3·3·3 = **27** weights, and
//! the slide's number is exact. In this crate, a 3x3 convolution with one filter on a
//! `[3, 256, 256]` input has 27 weights plus one bias, so 28 parameters, or 27 with
//! `bias = false`. The filter's 27 weights are reused at each of the 254·254 output
//! positions. That is weight sharing, and it shows in the multiply-accumulate count.
//!
//! A fully connected layer from the 256·256·3 = 196,608 inputs to 196,608 neurons has
//! 196,608² = **38,654,705,664** weights. With the 196,608 biases, that is 38,654,902,272
//! parameters. This is 3.9·10¹⁰, so the slide's "O(10^10)" is right. It is about 1.4·10⁹ times
//! the kernel's 27 weights.
//!
//! That layer is not declared here. [`network!`](crate::network!) rejects any layer whose
//! output or parameter set has more than 2^26 = 67,108,864 values (256 MiB of `f32`). A
//! fixed-size network could not hold 38.7 billion weights anyway: as `f32` they take 155 GB.
//! The count is checked as arithmetic instead. Alongside it, a smaller network checks the
//! same formula, (inputs)² + inputs for a `Dense` layer as wide as its input, on a 16x16
//! RGB image.
//!
//! ```
//! nn::network! {
//!     /// One 3x3 filter over a 256x256 RGB image (channels first), with a bias.
//!     struct SharedKernel {
//!         input: [3, 256, 256],
//!         conv: Conv2d(1, kernel = 3),
//!     }
//! }
//! nn::network! {
//!     /// The same filter without a bias: the slide's 27 weights.
//!     struct SharedKernelNoBias {
//!         input: [3, 256, 256],
//!         conv: Conv2d(1, kernel = 3, bias = false),
//!     }
//! }
//! assert_eq!(SharedKernel::PARAMS, 28);
//! assert_eq!(SharedKernelNoBias::PARAMS, 27); // the slide: "3 x 3 x 3 -> 27 weights"
//! // Weight sharing: the 27 weights serve every one of the 254 x 254 output positions.
//! assert_eq!(SharedKernelNoBias::MACS, 27 * 254 * 254);
//!
//! // A Dense layer as wide as its input has n^2 weights and n biases. Here n = 3 * 16 * 16.
//! nn::network! {
//!     /// A 16x16 RGB image flattened into a Dense layer of the same width.
//!     struct DenseSmall {
//!         input: [3, 16, 16],
//!         Flatten,
//!         fc: Dense(768),
//!     }
//! }
//! assert_eq!(DenseSmall::PARAMS, 768 * 768 + 768);
//!
//! // The same formula at the slide's size, 256 x 256 x 3 inputs and neurons (computed by
//! // scripts/lecture_numbers.py, stored in tests/fixtures/lecture.json). It is not declared
//! // as a network: `network!` rejects layers with more than 2^26 values.
//! let n: u64 = 256 * 256 * 3;
//! assert_eq!(n, 196_608);
//! assert_eq!(196_608u64 * 196_608, 38_654_705_664); // weights
//! assert_eq!(n * n + n, 38_654_902_272); // weights and biases
//! assert!(n * n > 1u64 << 26); // beyond what `network!` accepts
//! assert_eq!((n * n).ilog10(), 10); // the slide's O(10^10)
//! ```

//!
//! [`Layer::forward`]: crate::Layer::forward
//! [`Conv2d`]: crate::Conv2d
//! [`Conv2d::weights_mut`]: crate::Conv2d::weights_mut
//! [`AvgPool2d`]: crate::AvgPool2d
