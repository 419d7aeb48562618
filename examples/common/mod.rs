//! Plotting helpers shared by the examples (plotters with a bundled font, so no system font
//! library is needed).
#![allow(dead_code)]

use plotters::prelude::*;

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font as `sans-serif`; call once before drawing text.
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            eprintln!("warning: the bundled font could not be loaded; plots will have no text");
        }
    });
}

/// Boxes a plotting error as a string error.
pub fn plot_err<E: std::fmt::Display>(e: E) -> Box<dyn std::error::Error> {
    format!("plotting failed: {e}").into()
}

/// Eight clearly distinct colours for classes.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws curves (one per named series, x = epoch 1..) into a PNG.
pub fn plot_curves(
    path: &str,
    title: &str,
    y_label: &str,
    series: &[(&str, &[f32])],
) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(plot_err)?;
    draw_panel(&root, y_label, series)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Two panels side by side: losses (left) and accuracies (right) per epoch.
pub fn plot_curves2(
    path: &str,
    title: &str,
    losses: &[(&str, &[f32])],
    accuracies: &[(&str, &[f32])],
) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(plot_err)?;
    let (left, right) = root.split_horizontally(600);
    draw_panel(&left, "loss", losses)?;
    draw_panel(&right, "accuracy", accuracies)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// [`plot_curves2`] of a training history: training and validation loss (left) and accuracy
/// (right) per epoch.
pub fn plot_history(
    path: &str,
    title: &str,
    history: &nn::History,
) -> Result<(), Box<dyn std::error::Error>> {
    let epochs = &history.epochs;
    let loss: Vec<f32> = epochs.iter().map(|e| e.train_loss).collect();
    let val_loss: Vec<f32> = epochs
        .iter()
        .filter_map(|e| e.validation.map(|v| v.loss))
        .collect();
    let acc: Vec<f32> = epochs.iter().filter_map(|e| e.train_accuracy).collect();
    let val_acc: Vec<f32> = epochs
        .iter()
        .filter_map(|e| e.validation.and_then(|v| v.accuracy))
        .collect();
    plot_curves2(
        path,
        title,
        &[("train", &loss), ("validation", &val_loss)],
        &[("train", &acc), ("validation", &val_acc)],
    )
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    y_label: &str,
    series: &[(&str, &[f32])],
) -> Result<(), Box<dyn std::error::Error>> {
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for (_, ys) in series {
        for &y in ys.iter().filter(|y| y.is_finite()) {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1f32..n as f32, (lo - pad)..(hi + pad))
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .draw()
        .map_err(plot_err)?;
    for (i, (name, ys)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                ys.iter().enumerate().map(|(e, &y)| (e as f32 + 1.0, y)),
                color.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the `vanishing` and `double_descent` examples (begin).
// ---------------------------------------------------------------------------------------------

/// How an [`XySeries`] is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum XyStyle {
    /// A thick line with filled markers.
    Solid,
    /// A dashed line with hollow markers.
    Dashed,
    /// Small markers only, no line.
    Points,
}

/// A named series of (x, y) points, for [`plot_xy_log_y`] and [`plot_log_x_panels`].
pub struct XySeries<'a> {
    /// Legend label.
    pub name: &'a str,
    /// The points, in drawing order.
    pub points: &'a [(f32, f32)],
    /// Index into [`PALETTE`].
    pub color: usize,
    /// Line style.
    pub style: XyStyle,
}

/// Smallest and largest finite (with `positive`, also > 0) value picked from the points.
fn xy_range(series: &[XySeries], pick: impl Fn(&(f32, f32)) -> f32, positive: bool) -> (f32, f32) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for s in series {
        for v in s.points.iter().map(&pick) {
            if v.is_finite() && (!positive || v > 0.0) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if !lo.is_finite() {
        (lo, hi) = if positive { (1e-3, 1.0) } else { (0.0, 1.0) };
    }
    (lo, hi)
}

fn draw_xy_series<DB: DrawingBackend, CT: plotters::coord::CoordTranslate<From = (f32, f32)>>(
    chart: &mut ChartContext<DB, CT>,
    series: &[XySeries],
    keep: impl Fn(&(f32, f32)) -> bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    for s in series {
        let color = PALETTE[s.color % PALETTE.len()];
        let pts: Vec<(f32, f32)> = s.points.iter().copied().filter(|p| keep(p)).collect();
        let style = s.style;
        match style {
            XyStyle::Solid => {
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
                    .map_err(plot_err)?;
            }
            XyStyle::Dashed => {
                chart
                    .draw_series(DashedLineSeries::new(
                        pts.clone(),
                        8,
                        6,
                        color.stroke_width(2),
                    ))
                    .map_err(plot_err)?;
            }
            XyStyle::Points => {}
        }
        chart
            .draw_series(pts.iter().map(move |&p| match style {
                XyStyle::Solid => Circle::new(p, 4, color.filled()),
                XyStyle::Dashed => Circle::new(p, 4, color.stroke_width(2)),
                XyStyle::Points => Circle::new(p, 2, color.mix(0.7).filled()),
            }))
            .map_err(plot_err)?
            .label(s.name)
            .legend(move |(x, y)| {
                let (x0, x1, line) = match style {
                    XyStyle::Solid => (x, x + 24, color.stroke_width(3)),
                    XyStyle::Dashed => (x, x + 24, color.stroke_width(1)),
                    XyStyle::Points => (x + 9, x + 14, color.stroke_width(5)),
                };
                PathElement::new(vec![(x0, y), (x1, y)], line)
            });
    }
    Ok(())
}

/// Lines with markers, linear x and logarithmic y (non-positive y values are left out).
pub fn plot_xy_log_y(
    path: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[XySeries],
) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (x_lo, x_hi) = xy_range(series, |p| p.0, false);
    let (y_lo, y_hi) = xy_range(series, |p| p.1, true);
    let x_pad = ((x_hi - x_lo) * 0.03).max(0.5);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x_lo - x_pad)..(x_hi + x_pad),
            (y_lo / 2.0..y_hi * 2.0).log_scale(),
        )
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(plot_err)?;
    draw_xy_series(&mut chart, series, |p| p.1 > 0.0 && p.1.is_finite())?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// One panel of [`plot_log_x_panels`].
pub struct LogXPanel<'a> {
    /// Caption above the panel.
    pub caption: &'a str,
    /// Y axis description.
    pub y_label: &'a str,
    /// The curves.
    pub series: &'a [XySeries<'a>],
    /// Fixed y range; `None` fits the data (with a margin).
    pub y_range: Option<(f32, f32)>,
    /// Where the legend goes.
    pub legend: SeriesLabelPosition,
}

/// Panels side by side sharing a logarithmic x axis (linear y); each of `markers` (x, legend
/// label) is drawn in every panel as a vertical grey dashed line (e.g. a threshold).
pub fn plot_log_x_panels(
    path: &str,
    title: &str,
    x_label: &str,
    panels: &[LogXPanel],
    markers: &[(f32, &str)],
) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let width = 620 * panels.len().max(1) as u32;
    let root = BitMapBackend::new(path, (width, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(plot_err)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(&areas) {
        let (x_lo, x_hi) = xy_range(panel.series, |p| p.0, true);
        let (y0, y1) = panel.y_range.unwrap_or_else(|| {
            let (lo, hi) = xy_range(panel.series, |p| p.1, false);
            let pad = ((hi - lo) * 0.08).max(1e-3);
            (lo - pad, hi + pad)
        });
        let mut chart = ChartBuilder::on(area)
            .caption(panel.caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((x_lo / 1.3..x_hi * 1.3).log_scale(), y0..y1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(panel.y_label)
            .x_labels(12)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()
            .map_err(plot_err)?;
        for (k, &(x, label)) in markers.iter().enumerate() {
            let grey = if k % 2 == 0 {
                RGBColor(90, 90, 90)
            } else {
                RGBColor(160, 160, 160)
            };
            let (dash, gap) = if k % 2 == 0 { (6, 4) } else { (2, 4) };
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x, y0), (x, y1)],
                    dash,
                    gap,
                    grey.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], grey.stroke_width(2))
                });
        }
        draw_xy_series(&mut chart, panel.series, |p| p.0 > 0.0 && p.1.is_finite())?;
        chart
            .configure_series_labels()
            .position(panel.legend.clone())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Grouped vertical bars of fractions in [0, 1], shown as percentages: one group per category,
/// one bar per series in each group, the value printed above each bar (NaN: "n/a", no bar).
pub fn plot_grouped_bars(
    path: &str,
    title: &str,
    y_label: &str,
    categories: &[&str],
    series: &[(&str, &[f32])],
) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let root = BitMapBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let groups = categories.len().max(1);
    let y_hi = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max)
        .max(0.05)
        * 1.6;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(0f32..groups as f32, 0f32..y_hi.min(1.6))
        .map_err(plot_err)?;
    let cats: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&|v| {
            let i = v.floor() as usize;
            if (v - v.floor() - 0.5).abs() < 1e-3 && i < cats.len() {
                cats[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .y_label_formatter(&|v| format!("{:.0}%", 100.0 * v))
        .draw()
        .map_err(plot_err)?;
    let k = series.len().max(1) as f32;
    let bar_w = 0.84 / k;
    for (si, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let x0 = move |g: usize| g as f32 + 0.08 + si as f32 * bar_w;
        chart
            .draw_series(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(g, &v)| {
                        Rectangle::new([(x0(g), 0.0), (x0(g) + bar_w * 0.9, v)], color.filled())
                    }),
            )
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.filled()));
        chart
            .draw_series(values.iter().enumerate().map(|(g, &v)| {
                let text = if v.is_finite() {
                    format!("{:.0}%", 100.0 * v)
                } else {
                    "n/a".to_string()
                };
                let y = if v.is_finite() { v } else { 0.0 };
                Text::new(
                    text,
                    (x0(g) + bar_w * 0.1, y + y_hi * 0.035),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )
            }))
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the `vanishing` and `double_descent` examples (end).
// ---------------------------------------------------------------------------------------------

/// Bilinear resize of an 8x8 digit (values 0..16) to 28x28 (values 0..1).
pub fn resize_digit(src: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; 28 * 28];
    let scale = 8.0 / 28.0;
    for y in 0..28 {
        for x in 0..28 {
            let sy = ((y as f32 + 0.5) * scale - 0.5).clamp(0.0, 7.0);
            let sx = ((x as f32 + 0.5) * scale - 0.5).clamp(0.0, 7.0);
            let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
            let (y1, x1) = ((y0 + 1).min(7), (x0 + 1).min(7));
            let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
            let v = src[y0 * 8 + x0] * (1.0 - fy) * (1.0 - fx)
                + src[y0 * 8 + x1] * (1.0 - fy) * fx
                + src[y1 * 8 + x0] * fy * (1.0 - fx)
                + src[y1 * 8 + x1] * fy * fx;
            out[y * 28 + x] = v / 16.0;
        }
    }
    out
}
