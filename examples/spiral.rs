//! The lecture's non-linear decision boundary: a 4-class 2-D spiral separated by a network with
//! two hidden ReLU layers and L2 regularization (weight decay).
//!
//! Run: `cargo run --release --example spiral`. Writes `spiral_boundary.png` (decision regions
//! and points) and `spiral_loss.png` (training and validation loss per epoch).

mod common;

use nn::prelude::*;
use plotters::prelude::*;

nn::network! {
    /// Two hidden ReLU layers of 64 units, four classes.
    pub struct SpiralNet {
        input: [2],
        hidden1: Dense(64), ReLU,
        hidden2: Dense(64), ReLU,
        out: Dense(4),
        Softmax,
    }
}

const CLASSES: usize = 4;
const PER_CLASS: usize = 300;
const SEED: u64 = 7;

/// Four interleaved spiral arms: class k at radius r has angle k * pi/2 + 3 pi r, plus noise.
fn spiral(seed: u64) -> Dataset<Input<SpiralNet>, usize> {
    let mut rng = nn::Rng::new(seed);
    let mut data = Dataset::default();
    for k in 0..CLASSES {
        for i in 0..PER_CLASS {
            let r = 0.08 + 0.92 * i as f32 / PER_CLASS as f32;
            let t = k as f32 * std::f32::consts::FRAC_PI_2
                + 3.0 * std::f32::consts::PI * r
                + 0.12 * rng.normal();
            data.x.push([r * t.cos(), r * t.sin()].into());
            data.y.push(k);
        }
    }
    data
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = spiral(SEED);
    let (train, test) = data.stratified_split(0.2, SEED)?;
    let (train, val) = train.stratified_split(0.15, SEED + 1)?;
    println!(
        "spiral: {} classes, {} train, {} validation, {} test points",
        CLASSES,
        train.len(),
        val.len(),
        test.len()
    );
    print!("{}", SpiralNet::SUMMARY);

    let mut net = SpiralNet::new(SEED);
    let history = Trainer::new(
        Sgd::new(0.05).momentum(0.9).weight_decay(1e-4),
        CrossEntropy,
    )
    .batch_size::<32>()
    .epochs(300)
    .patience(40)
    .seed(SEED)
    .fit(&mut net, &train, Some(&val))?;
    println!(
        "trained {} epochs, best epoch {:?}",
        history.epochs.len(),
        history.best_epoch
    );

    let train_loss: Vec<f32> = history.epochs.iter().map(|e| e.train_loss).collect();
    let val_loss: Vec<f32> = history
        .epochs
        .iter()
        .filter_map(|e| e.validation.map(|v| v.loss))
        .collect();
    common::plot_curves(
        "spiral_loss.png",
        "Spiral: loss per epoch",
        "cross-entropy",
        &[("train", &train_loss), ("validation", &val_loss)],
    )?;
    plot_boundary(&net, &test, "spiral_boundary.png")?;
    println!("wrote spiral_loss.png and spiral_boundary.png");

    let m = evaluate(&net, &CrossEntropy, &test)?;
    println!("test loss: {:.4}", m.loss);
    println!("test accuracy: {:.4}", m.accuracy.unwrap_or(0.0));
    Ok(())
}

/// Decision regions on a grid, with the test points on top.
fn plot_boundary(
    net: &SpiralNet,
    points: &Dataset<Input<SpiralNet>, usize>,
    path: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    common::register_font();
    let root = BitMapBackend::new(path, (700, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(common::plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Spiral: decision regions and test points",
            ("sans-serif", 22),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(-1.2f32..1.2, -1.2f32..1.2)
        .map_err(common::plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .draw()
        .map_err(common::plot_err)?;
    let steps = 200;
    let cell = 2.4 / steps as f32;
    let mut cells = Vec::with_capacity(steps * steps);
    for i in 0..steps {
        for j in 0..steps {
            let (x, y) = (-1.2 + i as f32 * cell, -1.2 + j as f32 * cell);
            let class = net.forward(&[x + cell / 2.0, y + cell / 2.0]).argmax();
            let c = common::PALETTE[class].mix(0.25);
            cells.push(Rectangle::new([(x, y), (x + cell, y + cell)], c.filled()));
        }
    }
    chart.draw_series(cells).map_err(common::plot_err)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|(x, &y)| Circle::new((x[0], x[1]), 3, common::PALETTE[y].filled())),
        )
        .map_err(common::plot_err)?;
    root.present().map_err(common::plot_err)?;
    Ok(())
}
