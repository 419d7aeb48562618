//! The reference models of `shared/MODELS.md`, as `nn-models` declares them: the sizes its
//! documentation states (MACs and parameters) and the layer names that weight files use.

use nn::Parameters;

nn_models::m1! { struct M1 }
nn_models::m2! { struct M2 }
nn_models::m3! { struct M3 }
nn_models::m4! { struct M4 }

/// `layer.tensor` names in visit order.
fn names<P: Parameters>(p: &P) -> Vec<String> {
    let mut out = Vec::new();
    p.visit("", &mut |id, _| {
        out.push(format!("{}.{}", id.layer, id.name))
    });
    out
}

#[test]
fn sizes_are_those_of_models_md() {
    assert_eq!((M1::MACS, M1::PARAMS), (4_256, 4_389));
    assert_eq!((M2::MACS, M2::PARAMS), (23_680, 1_898));
    assert_eq!((M3::MACS, M3::PARAMS), (281_640, 44_426));
    assert_eq!((M4::MACS, M4::PARAMS), (101_760, 9_610));
    assert_eq!(
        (M1::INPUT_LEN, M2::INPUT_LEN, M3::INPUT_LEN, M4::INPUT_LEN),
        (16, 64, 784, 40)
    );
    assert_eq!(
        (
            M1::OUTPUT_LEN,
            M2::OUTPUT_LEN,
            M3::OUTPUT_LEN,
            M4::OUTPUT_LEN
        ),
        (5, 10, 10, 10)
    );
}

#[test]
fn layer_names_are_those_of_the_weight_files() {
    // examples/embed/m1.safetensors (written by the jet_tagger example) and the PyTorch
    // state_dicts of scripts/make_weights.py use these names.
    let w_b = |layers: &[&str]| -> Vec<String> {
        layers
            .iter()
            .flat_map(|l| [format!("{l}.weight"), format!("{l}.bias")])
            .collect()
    };
    assert_eq!(names(&M1::new(0)), w_b(&["fc1", "fc2", "fc3", "output"]));
    assert_eq!(names(&M2::new(0)), w_b(&["conv1", "conv2", "fc"]));
    assert_eq!(
        names(&M3::new(0)),
        w_b(&["conv1", "conv2", "fc1", "fc2", "fc3"])
    );
    assert_eq!(names(&M4::new(0)), w_b(&["conv1", "conv2", "conv3", "fc"]));
}

#[test]
fn bench_inputs_are_deterministic_and_in_range() {
    let a: Vec<f32> = nn_models::bench::Inputs::new(42).take(1000).collect();
    let b: Vec<f32> = nn_models::bench::Inputs::new(42).take(1000).collect();
    assert_eq!(a, b);
    assert!(a.iter().all(|v| (-2.0..2.0).contains(v)));
    assert_ne!(
        a,
        nn_models::bench::Inputs::new(43)
            .take(1000)
            .collect::<Vec<_>>()
    );
}
