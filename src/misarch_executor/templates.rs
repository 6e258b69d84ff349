//! The files the generator builds from. The executor's own templates can be used as they are
//! (`ERIS_MISARCH_TEMPLATES_DIR`, pointing at the executor's `src/main/resources/templates`); without them eris
//! uses its built-in ones:
//!
//! - `abortedBuyProcessScenario`: the executor's `template_abortedBuyProcessScenario.kt` (MIT), verbatim;
//! - `buyProcessScenario`: the same flow under the buy scenario's name, because the executor's buy template (which
//!   goes on to place the order) is not shipped with eris;
//! - the realistic day of `NormalLoadTest`: eris's own 12-hour profile at one value per second (a morning rise, a
//!   midday and an afternoon peak, an evening fall, with deterministic noise), peak 10, instead of the executor's
//!   recorded `template_realisticUserSteps.csv`.

use std::path::Path;

/// Where the generated experiment runs: the host names of the work files and the Chaos Toolkit experiment's
/// targets differ (the executor's `IS_KUBERNETES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Platform {
    /// MiSArch's Docker Compose deployment (`infrastructure-docker`).
    #[default]
    Docker,
    /// MiSArch's Kubernetes deployment (namespace `misarch`).
    Kubernetes,
}

/// The generator's two scenarios (each the Kotlin `val` of its work file).
pub const BUY: &str = "buyProcessScenario";
pub const ABORTED_BUY: &str = "abortedBuyProcessScenario";

const ABORTED_BUY_WORK: &str = include_str!("templates/abortedBuyProcessScenario.kt");

/// Seconds in the realistic day, and the executor's one extra value (its template's final newline reads as 0).
const DAY_SECONDS: usize = 43_200;

#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    pub buy_work: String,
    pub aborted_buy_work: String,
    /// Users arriving per second over the realistic day.
    pub realistic_user_steps: Vec<i64>,
    /// Where each came from, for the log at start-up.
    pub sources: Vec<String>,
}

/// Why a template of `ERIS_MISARCH_TEMPLATES_DIR` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}, line {line}: '{text}' is not a whole number of users")]
    NotAStep { path: String, line: usize, text: String },
}

impl Templates {
    pub fn built_in() -> Self {
        Self {
            buy_work: ABORTED_BUY_WORK.replace(ABORTED_BUY, BUY),
            aborted_buy_work: ABORTED_BUY_WORK.to_owned(),
            realistic_user_steps: built_in_day(),
            sources: vec!["built-in templates".to_owned()],
        }
    }

    /// The executor's templates from `dir`, each one that is there; the built-in ones for the others.
    pub fn from_dir(dir: &Path) -> Result<Self, TemplateError> {
        let mut templates = Self::built_in();
        templates.sources.clear();
        let read = |name: &str| -> Result<Option<(String, String)>, TemplateError> {
            let path = dir.join(name);
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some((text, shown))),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(TemplateError::Read { path: shown, source }),
            }
        };
        let mut sources = Vec::new();
        if let Some((text, path)) = read("template_buyProcessScenario.kt")? {
            templates.buy_work = text;
            sources.push(path);
        }
        if let Some((text, path)) = read("template_abortedBuyProcessScenario.kt")? {
            templates.aborted_buy_work = text;
            sources.push(path);
        }
        if let Some((text, path)) = read("template_realisticUserSteps.csv")? {
            templates.realistic_user_steps = parse_day(&text, &path)?;
            sources.push(path);
        }
        if sources.len() < 3 {
            sources.push("built-in templates for the rest".to_owned());
        }
        templates.sources = sources;
        Ok(templates)
    }

    /// The work file of a scenario, with the host names of `platform`.
    pub fn work_file(&self, scenario: &str, platform: Platform) -> String {
        let work = if scenario == ABORTED_BUY { &self.aborted_buy_work } else { &self.buy_work };
        match platform {
            Platform::Docker => work.clone(),
            Platform::Kubernetes => work
                .replace("http://gateway:8080", "http://misarch-gateway.misarch.svc.cluster.local:8080")
                .replace("http://keycloak:80", "http://keycloak.misarch.svc.cluster.local:80"),
        }
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::built_in()
    }
}

/// The executor's reading of the realistic day: the header dropped, one value per line, an empty line as 0.
fn parse_day(text: &str, path: &str) -> Result<Vec<i64>, TemplateError> {
    let mut lines = text.split('\n').enumerate().peekable();
    if lines.peek().is_some_and(|(_, first)| first.trim().parse::<i64>().is_err()) {
        lines.next();
    }
    lines
        .map(|(index, line)| match line.trim() {
            "" => Ok(0),
            value => value.parse().map_err(|_| TemplateError::NotAStep {
                path: path.to_owned(),
                line: index + 1,
                text: value.to_owned(),
            }),
        })
        .collect()
}

/// eris's realistic day: two peaks (late morning and afternoon) over a daytime rise and an evening fall, with
/// noise from a fixed linear congruential sequence, so every eris builds the same day. Peak 10.
fn built_in_day() -> Vec<i64> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut noise = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as f64 / (1u64 << 31) as f64 // 0 ≤ noise < 1
    };
    let bump = |t: f64, centre: f64, width: f64| (-((t - centre) / width).powi(2)).exp();
    let mut day: Vec<i64> = (0..DAY_SECONDS)
        .map(|second| {
            let t = second as f64 / DAY_SECONDS as f64; // 0 = 08:00, 1 = 20:00
            let shape = 0.15 + 0.55 * bump(t, 0.3, 0.12) + 0.7 * bump(t, 0.62, 0.1) + 0.25 * bump(t, 0.45, 0.3);
            let users = 10.0 * shape.min(1.0) * (0.75 + 0.5 * noise());
            users.floor().clamp(0.0, 10.0) as i64
        })
        .collect();
    day.push(0);
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_day_is_twelve_hours_with_a_peak_of_ten() {
        let day = built_in_day();
        assert_eq!(day.len(), DAY_SECONDS + 1);
        assert_eq!(day.iter().max(), Some(&10));
        assert!(
            day[..3600].iter().sum::<i64>() < day[7 * 3600..8 * 3600].iter().sum::<i64>(),
            "the afternoon is busier"
        );
        assert_eq!(day, built_in_day(), "the same day every time");
    }

    #[test]
    fn the_built_in_buy_scenario_declares_its_own_val() {
        let templates = Templates::built_in();
        assert!(templates.buy_work.contains("val buyProcessScenario = scenario(\"buyProcessScenario\")"));
        assert!(templates.aborted_buy_work.contains("val abortedBuyProcessScenario ="));
        assert!(!templates.aborted_buy_work.ends_with('\n'), "the executor's template has no final newline");
    }

    #[test]
    fn the_executors_day_is_read_as_the_executor_reads_it() {
        assert_eq!(parse_day("usersteps\n1\n2\n", "t").unwrap(), vec![1, 2, 0]);
        let error = parse_day("usersteps\n1\nmany\n", "t.csv").unwrap_err().to_string();
        assert_eq!(error, "t.csv, line 3: 'many' is not a whole number of users");
    }

    #[test]
    fn templates_come_from_the_directory_where_they_are() {
        let dir = std::env::temp_dir().join(format!("eris-templates-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("template_realisticUserSteps.csv"), "usersteps\n3\n6").unwrap();
        let templates = Templates::from_dir(&dir).unwrap();
        assert_eq!(templates.realistic_user_steps, vec![3, 6]);
        assert_eq!(templates.buy_work, Templates::built_in().buy_work);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
