//! The lecture's "Non-linear decision boundaries" slide: binary classification of two
//! interleaved moons with one hidden layer of 1, 2, 3, 4, 20 and 50 tanh units, L2 regularization
//! (Adam's weight decay) and binary cross-entropy on a sigmoid output; logistic regression on the
//! same data for contrast (its boundary is a straight line).
//!
//! Run: `cargo run --release --example boundaries`. Writes `boundaries.png`: the training data,
//! then one panel of decision regions and test points per model, titled with its test accuracy.

mod common;

use std::error::Error;
use std::time::Instant;

use nn::prelude::*;
use nn::typenum::{U1, U2};
use plotters::prelude::*;

/// A point of the plane.
type Point = Tensor<Shape1<U2>>;

nn::network! {
    /// Logistic regression: p(class 1 | x) = sigmoid(w . x + b).
    pub struct Logistic { input: [2], out: Dense(1), Sigmoid }
}
nn::network! {
    /// One hidden tanh unit.
    pub struct Hidden1 { input: [2], hidden: Dense(1), Tanh, out: Dense(1), Sigmoid }
}
nn::network! {
    /// Two hidden tanh units.
    pub struct Hidden2 { input: [2], hidden: Dense(2), Tanh, out: Dense(1), Sigmoid }
}
nn::network! {
    /// Three hidden tanh units.
    pub struct Hidden3 { input: [2], hidden: Dense(3), Tanh, out: Dense(1), Sigmoid }
}
nn::network! {
    /// Four hidden tanh units.
    pub struct Hidden4 { input: [2], hidden: Dense(4), Tanh, out: Dense(1), Sigmoid }
}
nn::network! {
    /// Twenty hidden tanh units.
    pub struct Hidden20 { input: [2], hidden: Dense(20), Tanh, out: Dense(1), Sigmoid }
}
nn::network! {
    /// Fifty hidden tanh units.
    pub struct Hidden50 { input: [2], hidden: Dense(50), Tanh, out: Dense(1), Sigmoid }
}

const SEED: u64 = 11;
/// Points per moon.
const PER_CLASS: usize = 300;
/// Standard deviation of the Gaussian noise added to each coordinate.
const NOISE: f32 = 0.25;
/// Fraction of the points held out for testing (stratified).
const TEST_FRACTION: f32 = 0.3;
/// L2 penalty on the weights (Adam's weight decay: the loss gets WEIGHT_DECAY / 2 * |w|^2).
const WEIGHT_DECAY: f32 = 1e-3;
const EPOCHS: usize = 1000;
/// Cells per side of the grid on which the decision regions are drawn.
const GRID: usize = 120;

/// Two interleaved half circles ("moons"): class 0 is the upper arc of the unit circle, class 1
/// the lower arc shifted by (1, 0.5); Gaussian noise of standard deviation `NOISE` on both
/// coordinates (as scikit-learn's `make_moons`).
fn moons(seed: u64) -> Dataset<Point, usize> {
    let mut rng = nn::Rng::new(seed);
    let mut data = Dataset::default();
    for class in 0..2 {
        for _ in 0..PER_CLASS {
            let t = std::f32::consts::PI * rng.uniform();
            let (x, y) = if class == 0 {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            data.x
                .push([x + NOISE * rng.normal(), y + NOISE * rng.normal()].into());
            data.y.push(class);
        }
    }
    data
}

/// The plotted window, in data coordinates.
#[derive(Clone, Copy)]
struct Window {
    x: (f32, f32),
    y: (f32, f32),
}

impl Window {
    /// Grid node (i, j), for i, j in 0..=GRID: the corners of the plotted cells.
    fn node(&self, i: usize, j: usize) -> (f32, f32) {
        (
            self.x.0 + (self.x.1 - self.x.0) * i as f32 / GRID as f32,
            self.y.0 + (self.y.1 - self.y.0) * j as f32 / GRID as f32,
        )
    }
}

/// Index of grid node (i, j) in `Trained::grid`.
fn node_index(i: usize, j: usize) -> usize {
    i * (GRID + 1) + j
}

/// One trained model: its figures and p(class 1) on the plotting grid.
struct Trained {
    title: String,
    train_accuracy: f32,
    test_accuracy: f32,
    params: usize,
    /// p(class 1) at each grid node, indexed by `node_index`.
    grid: Vec<f32>,
    seconds: f32,
}

/// Trains `N` with binary cross-entropy and Adam with L2 weight decay `wd`; `scaler` maps data
/// coordinates to the network's (standardized) inputs.
fn fit_model<N>(
    title: &str,
    wd: f32,
    data: (&Dataset<Point, usize>, &Dataset<Point, usize>),
    scaler: &Standardizer<Shape1<U2>>,
    window: Window,
) -> Result<Trained, nn::Error>
where
    N: Trainable<InputShape = Shape1<U2>, OutputShape = Shape1<U1>>,
{
    let (train, test) = data;
    let start = Instant::now();
    let mut net = N::new(SEED);
    Trainer::new(Adam::new(0.01).weight_decay(wd), BinaryCrossEntropy)
        .batch_size::<32>()
        .epochs(EPOCHS)
        .seed(SEED)
        .progress(false)
        .fit(&mut net, train, None)?;
    let mut grid = Vec::with_capacity((GRID + 1) * (GRID + 1));
    for i in 0..=GRID {
        for j in 0..=GRID {
            let (x, y) = window.node(i, j);
            let mut p: Point = [x, y].into();
            scaler.apply(&mut p);
            grid.push(net.forward(&p)[0]);
        }
    }
    Ok(Trained {
        title: title.to_string(),
        train_accuracy: accuracy(&net, train)?,
        test_accuracy: accuracy(&net, test)?,
        params: N::PARAMS,
        grid,
        seconds: start.elapsed().as_secs_f32(),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let data = moons(SEED);
    let (train_raw, test_raw) = data.stratified_split(TEST_FRACTION, SEED)?;
    // The plotting window: the data's extent plus a margin, in the original coordinates.
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for x in &data.x {
        for d in 0..2 {
            lo[d] = lo[d].min(x[d]);
            hi[d] = hi[d].max(x[d]);
        }
    }
    let window = Window {
        x: (lo[0] - 0.3, hi[0] + 0.3),
        y: (lo[1] - 0.3, hi[1] + 0.3),
    };
    // Standardization fitted on the training split only.
    let scaler = Standardizer::fit(&train_raw)?;
    let (mut train, mut test) = (train_raw.clone(), test_raw.clone());
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    println!(
        "two moons: {} points (noise sd {NOISE}, seed {SEED}), stratified split: {} train, {} test",
        data.len(),
        train.len(),
        test.len()
    );
    println!(
        "models: Dense(1) + Sigmoid (logistic regression), and input [2] -> Dense(k) -> Tanh -> \
         Dense(1) -> Sigmoid; binary cross-entropy, Adam 0.01, L2 weight decay {WEIGHT_DECAY}, \
         batch 32, {EPOCHS} epochs"
    );

    let d = (&train, &test);
    let wd = WEIGHT_DECAY;
    let models = [
        fit_model::<Logistic>("logistic regression", wd, d, &scaler, window)?,
        fit_model::<Hidden1>("1 hidden unit", wd, d, &scaler, window)?,
        fit_model::<Hidden2>("2 hidden units", wd, d, &scaler, window)?,
        fit_model::<Hidden3>("3 hidden units", wd, d, &scaler, window)?,
        fit_model::<Hidden4>("4 hidden units", wd, d, &scaler, window)?,
        fit_model::<Hidden20>("20 hidden units", wd, d, &scaler, window)?,
        fit_model::<Hidden50>("50 hidden units", wd, d, &scaler, window)?,
    ];
    println!("model                   params  train acc  test acc   time");
    for m in &models {
        println!(
            "{:<22}  {:>6}  {:>9.4}  {:>8.4}  {:>4.2} s",
            m.title, m.params, m.train_accuracy, m.test_accuracy, m.seconds
        );
    }
    // The regularization's part: the widest network again without weight decay.
    let plain = fit_model::<Hidden50>("50 hidden units, no L2", 0.0, d, &scaler, window)?;
    println!(
        "{:<22}  {:>6}  {:>9.4}  {:>8.4}  {:>4.2} s  (for comparison; not plotted)",
        plain.title, plain.params, plain.train_accuracy, plain.test_accuracy, plain.seconds
    );

    plot(&train_raw, &test_raw, &models, window, "boundaries.png")?;
    println!("wrote boundaries.png");
    println!("total time {:.1} s", start.elapsed().as_secs_f32());
    let best = models[1..]
        .iter()
        .max_by(|a, b| a.test_accuracy.total_cmp(&b.test_accuracy))
        .ok_or("no models")?;
    println!(
        "test accuracy: logistic regression {:.4}, 1 hidden unit {:.4}, best {} {:.4}",
        models[0].test_accuracy, models[1].test_accuracy, best.title, best.test_accuracy
    );
    Ok(())
}

/// Mixes two colours: `t` = 0 gives `a`, 1 gives `b`.
fn blend(a: RGBColor, b: RGBColor, t: f32) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let m = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Panel 1: the training data. Then per model: p(class 1) in bands of 0.1, the decision
/// boundary p = 0.5 as a black line, and the test points.
fn plot(
    train: &Dataset<Point, usize>,
    test: &Dataset<Point, usize>,
    models: &[Trained],
    window: Window,
    path: &str,
) -> Result<(), Box<dyn Error>> {
    common::register_font();
    let root = BitMapBackend::new(path, (1040, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(common::plot_err)?;
    let root = root
        .titled(
            "Two moons: decision regions of logistic regression and one hidden tanh layer \
             (L2-regularized), with test points",
            ("sans-serif", 17),
        )
        .map_err(common::plot_err)?;
    let panels = root.split_evenly((2, 4));
    let light = |c: RGBColor| blend(c, WHITE, 0.6);
    let (c0, c1) = (common::PALETTE[0], common::PALETTE[1]);
    let points = |chart: &mut ChartContext<_, _>, data: &Dataset<Point, usize>| {
        chart
            .draw_series(data.iter().map(|(x, &y)| {
                let c = if y == 0 { c0 } else { c1 };
                EmptyElement::at((x[0], x[1]))
                    + Circle::new((0, 0), 3, c.filled())
                    + Circle::new((0, 0), 3, BLACK.mix(0.6).stroke_width(1))
            }))
            .map(|_| ())
            .map_err(common::plot_err)
    };
    for (k, panel) in panels.iter().enumerate() {
        let model = k.checked_sub(1).and_then(|i| models.get(i));
        let title = match model {
            None if k == 0 => format!("training data ({} points)", train.len()),
            None => continue,
            Some(m) => format!("{}: test acc {:.3}", m.title, m.test_accuracy),
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(18)
            .y_label_area_size(26)
            .build_cartesian_2d(window.x.0..window.x.1, window.y.0..window.y.1)
            .map_err(common::plot_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(5)
            .y_labels(5)
            .label_style(("sans-serif", 10))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(common::plot_err)?;
        match model {
            None => points(&mut chart, train)?,
            Some(m) => {
                let mut cells = Vec::with_capacity(GRID * GRID);
                let mut boundary = Vec::new();
                for i in 0..GRID {
                    for j in 0..GRID {
                        // Corners counter-clockwise from the lower left, with p(class 1).
                        let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
                            .map(|(a, b)| (window.node(a, b), m.grid[node_index(a, b)]));
                        let mean = corners.iter().map(|c| c.1).sum::<f32>() / 4.0;
                        // Bands of 0.1 in p (filled contours), which also keeps the PNG small.
                        let mean = ((mean * 10.0).floor() + 0.5) / 10.0;
                        cells.push(Rectangle::new(
                            [corners[0].0, corners[2].0],
                            light(blend(c0, c1, mean)).filled(),
                        ));
                        // Marching squares: where p - 0.5 changes sign along an edge, the
                        // boundary crosses it (linear interpolation); join the crossings in pairs.
                        let mut cross = Vec::with_capacity(4);
                        for e in 0..4 {
                            let ((a, pa), (b, pb)) = (corners[e], corners[(e + 1) % 4]);
                            if (pa > 0.5) != (pb > 0.5) {
                                let t = (0.5 - pa) / (pb - pa);
                                cross.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                            }
                        }
                        for pair in cross.chunks_exact(2) {
                            boundary.push(PathElement::new(
                                vec![pair[0], pair[1]],
                                BLACK.stroke_width(2),
                            ));
                        }
                    }
                }
                chart.draw_series(cells).map_err(common::plot_err)?;
                chart.draw_series(boundary).map_err(common::plot_err)?;
                points(&mut chart, test)?;
            }
        }
    }
    root.present().map_err(common::plot_err)?;
    Ok(())
}
