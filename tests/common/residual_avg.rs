//! The residual-and-average-pooling network the int8 suites share (`int8_models_litert`: its
//! LiteRT parity; `int8_bake`: its twin baked in; `onnx_int8`: its QDQ export), declared by
//! `residual_avg!` with the caller's attributes.

/// `residual_avg! { #[attributes] struct Name }`: a residual block and average pooling
/// (without padding: TFLite's AVERAGE_POOL_2D has no `count_include_pad`, see
/// scripts/litert_int8/README.md).
macro_rules! residual_avg {
    ($(#[$($attr:tt)*])* $vis:vis struct $name:ident) => {
        nn::network! {
            $(#[$($attr)*])*
            $vis struct $name {
                input: [2, 8, 8],
                conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
                block: Residual {
                    conv2: Conv2d(8, kernel = 3, padding = 1), ReLU,
                    conv3: Conv2d(8, kernel = 3, padding = 1),
                },
                AvgPool2d(2) -> [8, 4, 4],
                conv4: Conv2d(12, kernel = 3, stride = 2, padding = 1), ReLU,
                AvgPool2d(2) -> [12, 1, 1],
                Flatten,
                fc1: Dense(16), ReLU,
                fc2: Dense(6),
                Softmax,
            }
        }
    };
}
pub(crate) use residual_avg;
