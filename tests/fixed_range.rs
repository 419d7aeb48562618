//! `input_range` with weights known at compile time: every fixed-point value bounded by the
//! macro, `"auto"` types chosen from the bounds (the compile errors are in tests/ui/fixed/).

/// M1's logits (without the softmax head, whose table resolution follows its input type) with
/// its trained weights, every accumulator and result of type `$t`; `$extra`: more settings.
macro_rules! jet {
    ($(#[$doc:meta])* $name:ident, $t:literal $(, $($extra:tt)*)?) => {
        nn::network! {
            $(#[$doc])*
            #[weights = "examples/embed/m1.safetensors"]
            #[fixed(
                default = "ap_fixed<16,6>",
                $($($extra)*)?
                fc1(accum = $t, result = $t),
                relu_2(result = $t),
                fc2(accum = $t, result = $t),
                relu_4(result = $t),
                fc3(accum = $t, result = $t),
                relu_6(result = $t),
                output(accum = $t, result = $t),
            )]
            pub struct $name {
                input: [16],
                fc1: Dense(64), ReLU,
                fc2: Dense(32), ReLU,
                fc3: Dense(32), ReLU,
                output: Dense(5) -> [5],
            }
        }
    };
}

jet!(
    /// The narrowest safe accumulators and results for inputs in [-4, 4].
    JetAuto, "auto", input_range = (-4.0, 4.0),
);
jet!(
    /// Accumulators and results far wider than needed, with the same fractional bits: what
    /// the auto types must reproduce exactly if nothing wraps around.
    JetWide, "ap_fixed<40,30>"
);

#[test]
fn auto_types_hold_every_value_for_inputs_in_range() {
    let summary = JetAutoFixed::SUMMARY;
    println!("{summary}");
    assert!(
        summary.contains("bounds for inputs in [-4, 4]"),
        "{summary}"
    );
    assert!(
        summary.contains("fc3: weight ap_fixed<16,6>, bias ap_fixed<16,6>, accum ap_fixed<22,12>"),
        "{summary}"
    );
    let auto = JetAuto::pretrained().to_fixed();
    let wide = JetWide::pretrained().to_fixed();
    // Corners of the input box and points inside it: the narrowest safe types give exactly
    // the values of types that cannot overflow.
    for s in 0..300u64 {
        let x: Vec<f64> = (0..16u64)
            .map(|i| {
                if s < 64 {
                    if (s >> (i % 6)) & 1 == 1 {
                        4.0
                    } else {
                        -4.0
                    }
                } else {
                    ((s * 31 + i * 17) % 97) as f64 / 96.0 * 8.0 - 4.0
                }
            })
            .collect();
        let x: [f64; 16] = x.try_into().unwrap();
        assert_eq!(auto.forward_f64(&x), wide.forward_f64(&x), "input {x:?}");
    }
}

#[test]
fn baked_twin_equals_the_converted_one() {
    // `JetAutoFixed::pretrained()` builds the twin from the baked statics (no std needed).
    let (baked, converted) = (JetAutoFixed::pretrained(), JetAuto::pretrained().to_fixed());
    for s in 0..50u64 {
        let x: [f64; 16] =
            core::array::from_fn(|i| ((s * 13 + i as u64 * 7) % 41) as f64 / 5.0 - 4.0);
        assert_eq!(
            baked.forward_raw(&x.map(|v| JetAutoFixed::INPUT.from_f64(v).raw)),
            converted.forward_raw(&x.map(|v| JetAutoFixed::INPUT.from_f64(v).raw))
        );
    }
}

/// M2's convolutions and pooling with its trained weights, every accumulator and result of
/// type `$t`; `$extra`: more settings.
macro_rules! digits {
    ($(#[$doc:meta])* $name:ident, $t:literal $(, $($extra:tt)*)?) => {
        nn::network! {
            $(#[$doc])*
            #[weights = "tests/fixtures/m2_torch.safetensors"]
            #[fixed(
                default = "ap_fixed<16,6>",
                $($($extra)*)?
                conv1(accum = $t, result = $t),
                relu_2(result = $t),
                maxpool2d_3(accum = $t, result = $t),
                conv2(accum = $t, result = $t),
                relu_5(result = $t),
                maxpool2d_6(accum = $t, result = $t),
                fc(accum = $t, result = $t),
            )]
            pub struct $name {
                input: [1, 8, 8],
                conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
                MaxPool2d(2),
                conv2: Conv2d(16, kernel = 3, padding = 1), ReLU,
                MaxPool2d(2),
                Flatten,
                fc: Dense(10) -> [10],
            }
        }
    };
}

digits!(
    /// The narrowest safe types for 8 x 8 images in [0, 16] (the bounds through convolution and
    /// pooling windows, padding included).
    DigitsAuto, "auto", input_range = (0.0, 16.0),
);
digits!(
    /// Wide accumulators and results with the same fractional bits.
    DigitsWide, "ap_fixed<40,30>"
);

#[test]
fn auto_types_hold_every_value_through_convolutions_and_pooling() {
    let summary = DigitsAutoFixed::SUMMARY;
    println!("{summary}");
    assert!(
        summary.contains("bounds for inputs in [0, 16]"),
        "{summary}"
    );
    // The windows' bounds: the convolutions' sums stay below 32 (16,6 suffices), the dense
    // layer's reach 69 (two more integer bits).
    assert!(
        summary.contains("conv2: sums in [-29.551, 30.657]"),
        "{summary}"
    );
    assert!(
        summary.contains("maxpool2d_6: results in [-0.002, 30.661]"),
        "{summary}"
    );
    assert!(
        summary.contains("fc: weight ap_fixed<16,6>, bias ap_fixed<16,6>, accum ap_fixed<18,8>"),
        "{summary}"
    );
    let auto = DigitsAuto::pretrained().to_fixed();
    let wide = DigitsWide::pretrained().to_fixed();
    // Corners of the box (every pixel 0 or 16, in patterns) and points inside it.
    let mut compared = 0;
    for s in 0..300u64 {
        let x: Vec<f64> = (0..64u64)
            .map(|i| {
                if s < 64 {
                    if (s >> (i % 6)) & 1 == 1 {
                        16.0
                    } else {
                        0.0
                    }
                } else {
                    ((s * 29 + i * 13) % 97) as f64 / 96.0 * 16.0
                }
            })
            .collect();
        let x: [f64; 64] = x.try_into().unwrap();
        let (a, w) = (auto.forward_f64(&x), wide.forward_f64(&x));
        assert_eq!(a, w, "input {s}");
        compared += a.len();
    }
    assert_eq!(compared, 3000);
}
