//! Attributes on a declaration: `#[cfg(..)]` covers every generated item, and the derives that
//! can work do.

// Disabled: if the `cfg` covered only the struct, the generated impls (and the gradients,
// cache and folded twin) would not compile ("cannot find type `Disabled`").
nn::network! {
    /// Never compiled.
    #[cfg(any())]
    pub struct Disabled {
        input: [1, 8, 8],
        conv: Conv2d(4, kernel = 3, bias = false), bn: BatchNorm2d, ReLU,
        r: Residual(projection) { Conv2d(8, kernel = 3, padding = 1) },
        Flatten, Dropout(0.5), out: Dense(2), Softmax,
    }
}

nn::network! {
    /// Enabled, with every generated item.
    #[cfg(all())]
    pub struct Enabled {
        input: [1, 8, 8],
        conv: Conv2d(4, kernel = 3, bias = false), bn: BatchNorm2d, ReLU,
        Flatten, out: Dense(2), Softmax,
    }
}

nn::network! {
    /// Compared parameter by parameter.
    #[derive(PartialEq)]
    pub struct Compared {
        input: [4],
        fc: Dense(3), PReLU(per_channel = true),
        bn: BatchNorm1d, Dropout(0.5),
        conv_free: Dense(2),
    }
}

#[test]
fn cfg_covers_every_generated_item() {
    let net = Enabled::new(1);
    let folded: EnabledFolded = net.fold();
    let x = [0.25f32; 64];
    let (a, b) = (net.forward(&x), folded.forward(&x));
    for (a, b) in a.as_slice().iter().zip(b.as_slice()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn derived_partial_eq_compares_every_parameter() {
    let a = Compared::new(1);
    assert!(a == a.clone());
    assert!(a != Compared::new(2));
    let mut b = a.clone();
    b.conv_free.b[1] += 1.0;
    assert!(a != b, "a changed bias");
    let mut c = a.clone();
    c.bn.running_var[0] = 2.0;
    assert!(a != c, "a changed running statistic");
    let mut d = a.clone();
    d.prelu_2.alpha[0] = 0.5;
    assert!(a != d, "a changed slope");
}
