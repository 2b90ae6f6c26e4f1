//! The report directory: `index.html` with the final table and SVG charts drawn by
//! `plotters` (SVG backend: text is written as `<text>` elements, so no system font
//! is needed), plus `results.json`. Reads a finished [`ScenarioReport`]; measures
//! nothing.

use super::report::{Sample, ScenarioReport};
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::path::Path;

const W: u32 = 900;
const H: u32 = 320;

/// One line of a chart: its name, colour and value per sample.
struct Line<'a> {
    name: &'a str,
    color: RGBColor,
    value: fn(&Sample) -> Option<f64>,
}

/// Draws `lines` over the series as an SVG document.
fn chart(title: &str, y_label: &str, series: &[Sample], lines: &[Line<'_>]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = series.last().map_or(1.0, |s| s.t_s).max(1.0);
        let y_max = series
            .iter()
            .flat_map(|s| lines.iter().filter_map(move |l| (l.value)(s)))
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.1;
        let mut ch = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        ch.configure_mesh()
            .x_desc("seconds since the load started")
            .y_desc(y_label)
            .draw()?;
        for l in lines {
            let pts: Vec<(f64, f64)> = series
                .iter()
                .filter_map(|s| (l.value)(s).map(|v| (s.t_s, v)))
                .collect();
            let color = l.color;
            ch.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(l.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        ch.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// Every chart of the report, as `(title, svg)`.
pub fn charts(r: &ScenarioReport) -> Result<Vec<(String, String)>> {
    let s = &r.series;
    let mut out = vec![
        (
            "Message latency".to_owned(),
            chart(
                "Message latency per second",
                "ms",
                s,
                &[
                    Line {
                        name: "customer->agent p50",
                        color: BLUE,
                        value: |s| s.c2a_p50_ms,
                    },
                    Line {
                        name: "customer->agent p99",
                        color: RED,
                        value: |s| s.c2a_p99_ms,
                    },
                    Line {
                        name: "agent->customer p99",
                        color: MAGENTA,
                        value: |s| s.a2c_p99_ms,
                    },
                ],
            )?,
        ),
        (
            "Throughput".to_owned(),
            chart(
                "Throughput",
                "per second",
                s,
                &[
                    Line {
                        name: "messages/s",
                        color: BLUE,
                        value: |s| Some(s.msgs_per_s),
                    },
                    Line {
                        name: "conversations/s",
                        color: GREEN,
                        value: |s| Some(s.conversations_per_s),
                    },
                ],
            )?,
        ),
        (
            "Conversations".to_owned(),
            chart(
                "Waiting now; answered and abandoned so far",
                "conversations",
                s,
                &[
                    Line {
                        name: "waiting",
                        color: RED,
                        value: |s| Some(s.waiting as f64),
                    },
                    Line {
                        name: "answered",
                        color: GREEN,
                        value: |s| Some(s.answered as f64),
                    },
                    Line {
                        name: "abandoned",
                        color: BLACK,
                        value: |s| Some(s.abandoned as f64),
                    },
                ],
            )?,
        ),
    ];
    if s.iter().any(|x| x.engine_rss_mib.is_some()) {
        out.push((
            "Engine".to_owned(),
            chart(
                "Engine RSS and CPU",
                "MiB / %",
                s,
                &[
                    Line {
                        name: "RSS MiB",
                        color: BLUE,
                        value: |s| s.engine_rss_mib,
                    },
                    Line {
                        name: "CPU %",
                        color: RED,
                        value: |s| s.engine_cpu_pct,
                    },
                ],
            )?,
        ));
    }
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `index.html` and `results.json` into `dir` (created if needed).
pub fn write_report(dir: &Path, r: &ScenarioReport) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>loadtest {name}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em}}</style>\
         </head><body>\n<h1>Scenario {name} — {verdict}</h1>\n<pre>{table}</pre>\n",
        name = escape(&r.scenario.name),
        verdict = if r.ok { "PASS" } else { "FAIL" },
        table = escape(&r.table()),
    );
    for (title, svg) in charts(r)? {
        html.push_str(&format!("<h2>{}</h2>\n{svg}\n", escape(&title)));
    }
    html.push_str(
        "<p>Figures as JSON: <a href=\"results.json\">results.json</a></p>\n</body></html>\n",
    );
    std::fs::write(dir.join("index.html"), html)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(r)? + "\n",
    )?;
    Ok(())
}
