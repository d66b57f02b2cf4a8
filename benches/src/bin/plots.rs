//! Draws the plots of `docs/benchmarks.md` from measured data:
//!
//! - `docs/img/fanout.svg`: deliveries per second against subscribers, for
//!   `LocalBus`, the raw broadcast reference and the Redis bus across
//!   processes, from criterion's latest `fanout` and `bus_cross_process`
//!   results (run `cargo bench -p benches --bench fanout --bench bus_redis`
//!   first);
//! - `docs/img/latency.svg`: latency percentiles against offered rate, from
//!   a `chat-loadgen pairs` sweep (`scripts/pairs-sweep.sh` writes
//!   `docs/data/pairs-sweep.jsonl`).
//!
//! ```sh
//! cargo run -p benches --bin plots
//! ```

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde_json::Value;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let criterion = root.join("target/criterion");
    let images = root.join("docs/img");
    std::fs::create_dir_all(&images)?;
    if criterion.join("fanout").is_dir() {
        fanout(&criterion, &images.join("fanout.svg"))?;
    } else {
        eprintln!("no criterion results in target/criterion: fanout.svg left as it is");
    }
    latency(
        &root.join("docs/data/pairs-sweep.jsonl"),
        &images.join("latency.svg"),
    )?;
    Ok(())
}

/// Deliveries per second of criterion's latest median for `group/bench/n`.
fn deliveries_per_second(criterion: &Path, group: &str, bench: &str, n: u32) -> Option<f64> {
    let path = criterion.join(format!("{group}/{bench}/{n}/new/estimates.json"));
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let nanos = estimates["median"]["point_estimate"].as_f64()?;
    Some(f64::from(n) / (nanos / 1e9))
}

fn fanout(criterion: &Path, out: &Path) -> Result<(), Failure> {
    let series: Vec<(&str, &str, &str, RGBColor)> = vec![
        ("broadcast reference", "fanout", "broadcast", BLACK),
        ("LocalBus", "fanout", "local_bus", BLUE),
        (
            "Redis bus, across processes",
            "bus_cross_process",
            "redis",
            RED,
        ),
    ];
    let sizes = [1u32, 100, 1_000, 10_000];
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, group, bench, _)| {
            sizes
                .iter()
                .filter_map(|&n| {
                    deliveries_per_second(criterion, group, bench, n)
                        .map(|d| (f64::from(n), d / 1e6))
                })
                .collect()
        })
        .collect();
    let top = points
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(0.1)
        * 1.15;
    let area = SVGBackend::new(out, (720, 440)).into_drawing_area();
    area.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&area)
        .caption("One publish to N subscribers", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((1f64..12_000f64).log_scale(), 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("subscribers (N)")
        .y_desc("million deliveries per second")
        .draw()?;
    for ((label, _, _, color), points) in series.iter().zip(points) {
        draw_line(&mut chart, label, *color, points)?;
    }
    draw_legend(&mut chart)?;
    area.present()?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// One run of the sweep: the offered rate and latency percentiles in
/// milliseconds.
struct Row {
    offered: f64,
    p50: f64,
    p90: f64,
    p99: f64,
}

fn latency(sweep: &Path, out: &Path) -> Result<(), Failure> {
    let runs: Vec<Value> = std::fs::read_to_string(sweep)
        .map_err(|e| format!("{}: {e}", sweep.display()))?
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let mut rows: Vec<Row> = runs
        .iter()
        .filter_map(|run| {
            let latency = &run["latency_ms"];
            Some(Row {
                offered: run["offered_per_second"].as_f64()?,
                p50: latency["p50"].as_f64()?,
                p90: latency["p90"].as_f64()?,
                p99: latency["p99"].as_f64()?,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let right = rows.last().map_or(1.0, |r| r.offered) * 1.05;
    let top = rows.iter().map(|r| r.p99).fold(1.0, f64::max) * 1.5;
    let area = SVGBackend::new(out, (720, 440)).into_drawing_area();
    area.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&area)
        .caption(
            "pairs: send-to-receive latency against offered rate",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..right, (0.5f64..top).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("messages per second offered (500 pairs, 1 000 connections)")
        .y_desc("latency, ms")
        .draw()?;
    for (label, color) in [("p50", BLUE), ("p90", GREEN), ("p99", RED)] {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| {
                let value = match label {
                    "p50" => r.p50,
                    "p90" => r.p90,
                    _ => r.p99,
                };
                (r.offered, value)
            })
            .collect();
        draw_line(&mut chart, label, color, points)?;
    }
    draw_legend(&mut chart)?;
    area.present()?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// A line with a dot at each measured point, and its legend entry.
fn draw_line<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    label: &str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
) -> Result<(), Failure>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    chart.draw_series(
        points
            .into_iter()
            .map(|p| Circle::new(p, 3, color.filled())),
    )?;
    Ok(())
}

fn draw_legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> Result<(), Failure>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
