//! `input_range` with weights known at compile time: every fixed-point value bounded by the
//! macro, `"auto"` types chosen from the bounds (the compile errors are in tests/ui/fixed/).

nn::network! {
    /// M1's logits with its trained weights and the narrowest safe accumulators and results
    /// (without the softmax head, whose table resolution follows its input type).
    #[weights = "examples/embed/m1.safetensors"]
    #[fixed(
        default = "ap_fixed<16,6>",
        input_range = (-4.0, 4.0),
        fc1(accum = "auto", result = "auto"),
        relu_2(result = "auto"),
        fc2(accum = "auto", result = "auto"),
        relu_4(result = "auto"),
        fc3(accum = "auto", result = "auto"),
        relu_6(result = "auto"),
        output(accum = "auto", result = "auto"),
    )]
    pub struct JetAuto {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        output: Dense(5) -> [5],
    }
}

nn::network! {
    /// The same with accumulators and results far wider than needed, and the same fractional
    /// bits: what the auto types must reproduce exactly if nothing wraps around.
    #[weights = "examples/embed/m1.safetensors"]
    #[fixed(
        default = "ap_fixed<16,6>",
        fc1(accum = "ap_fixed<40,30>", result = "ap_fixed<40,30>"),
        relu_2(result = "ap_fixed<40,30>"),
        fc2(accum = "ap_fixed<40,30>", result = "ap_fixed<40,30>"),
        relu_4(result = "ap_fixed<40,30>"),
        fc3(accum = "ap_fixed<40,30>", result = "ap_fixed<40,30>"),
        relu_6(result = "ap_fixed<40,30>"),
        output(accum = "ap_fixed<40,30>", result = "ap_fixed<40,30>"),
    )]
    pub struct JetWide {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        output: Dense(5) -> [5],
    }
}

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
