//! The frame of every report page: one HTML document with its styles inside, and the pieces pages are made of
//! (facts, tables, links). Every text that came from a user or a system under test goes through [`escape`].

use std::fmt::Write;

/// The styles of every page, inside it: nothing is fetched.
const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --line: #d9dee7; --bad: #c62828; --good: #2e7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
  margin: 0 auto; max-width: 1100px; padding: 24px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); }
a { color: #1558b0; } .muted { color: var(--muted); }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; background: #eceff4; }
.status.succeeded, .status.completed { background: #e3f3e4; color: var(--good); }
.status.failed, .status.aborted, .status.invalid { background: #fbe4e4; color: var(--bad); }
.status.stopped, .status.stop-initiated { background: #fff1d6; color: #8a5a00; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; } td.number { text-align: right; }
td.worse { color: var(--bad); font-weight: 600; }
svg.chart { width: 100%; height: auto; display: block; margin: 8px 0 16px; }
svg .title { font-size: 14px; font-weight: 600; fill: var(--ink); }
svg .tick, svg .legend, svg .row-label, svg .value { font-size: 11px; fill: var(--muted); }
svg .axis-title { font-size: 11px; fill: var(--muted); }
svg .grid { stroke: #eef1f5; } svg .axis { stroke: #9aa3b2; }
svg .series { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
svg .range { stroke-width: 2; } svg .point { stroke: #fff; stroke-width: 1; }
svg .window { fill: rgba(198, 40, 40, 0.12); stroke: rgba(198, 40, 40, 0.35); stroke-dasharray: 3 3; }
svg .key.key-window { fill: rgba(198, 40, 40, 0.25); }
svg .reference { stroke: #6b7280; stroke-dasharray: 6 4; }
svg .marker { fill: none; stroke: var(--bad); stroke-width: 2.5; }
svg .instant { stroke: #7c3aed; stroke-dasharray: 4 3; }
svg .threshold { stroke: var(--ink); stroke-width: 2.5; }
svg .bar.met { fill: #7cc47f; } svg .bar.violated { fill: #e57373; } svg .value.violated { fill: var(--bad); }
svg .span { fill: #90a4ae; } svg .span.succeeded { fill: #66bb6a; } svg .span.failed { fill: #e53935; }
svg .span.running { fill: #42a5f5; } svg .span.cancelled, svg .span.interrupted { fill: #ffa726; }
svg .span.skipped { fill: #cfd8dc; } svg .span.failure-set { fill: rgba(198, 40, 40, 0.45); }
.s0 { stroke: #1f77b4; fill: #1f77b4; } .s1 { stroke: #2ca02c; fill: #2ca02c; } .s2 { stroke: #ff7f0e; fill: #ff7f0e; }
.s3 { stroke: #d62728; fill: #d62728; } .s4 { stroke: #9467bd; fill: #9467bd; } .s5 { stroke: #8c564b; fill: #8c564b; }
svg .series.s0, svg .series.s1, svg .series.s2, svg .series.s3, svg .series.s4, svg .series.s5 { fill: none; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"#;

/// `<`, `>`, `&` and both quotes as entities: safe in text and in attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A whole page. `heading` and `body` are HTML, already escaped where needed.
pub fn document(title: &str, heading: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head>\
         <body>{heading}{body}<footer>Drawn by eris {} on the server; this page fetches nothing and runs no script, \
         so it can be saved and read offline.</footer></body></html>\n",
        escape(title),
        env!("CARGO_PKG_VERSION"),
    )
}

/// A status as a coloured badge.
pub fn status(text: &str) -> String {
    let class: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!(r#"<span class="status {class}">{}</span>"#, escape(text))
}

/// Name–value pairs; values are HTML.
pub fn facts(pairs: &[(&str, String)]) -> String {
    let mut html = String::from(r#"<dl class="facts">"#);
    for (name, value) in pairs {
        let _ = write!(html, "<dt>{}</dt><dd>{value}</dd>", escape(name));
    }
    html.push_str("</dl>");
    html
}

/// A table cell: its HTML and whether it is a number (right-aligned) or a worse one (in red).
pub enum Cell {
    Text(String),
    Html(String),
    Number(String),
    Worse(String),
}

pub fn table(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut html = String::from("<table><thead><tr>");
    for header in headers {
        let _ = write!(html, "<th>{}</th>", escape(header));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Text(text) => {
                    let _ = write!(html, "<td>{}</td>", escape(text));
                }
                Cell::Html(inner) => {
                    let _ = write!(html, "<td>{inner}</td>");
                }
                Cell::Number(text) => {
                    let _ = write!(html, r#"<td class="number">{}</td>"#, escape(text));
                }
                Cell::Worse(text) => {
                    let _ = write!(html, r#"<td class="number worse">{}</td>"#, escape(text));
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// A link to one of eris's own paths.
pub fn link(path: &str, text: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, escape(path), escape(text))
}

/// A JSON value as short text: strings without quotes.
pub fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `name=value, …` of a parameter set.
pub fn parameters_text(parameters: &serde_json::Map<String, serde_json::Value>) -> String {
    parameters.iter().map(|(name, value)| format!("{name}={}", value_text(value))).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_attributes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
