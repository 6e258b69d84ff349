//! `POST /experiment/generate`: a runnable experiment for each of the executor's load types, built as the
//! executor's generator builds it: the user steps of each load type, the work files, the default Chaos Toolkit
//! experiment and failure sets (for `NormalLoadTest` and `ResilienceLoadTest`; the empty ones otherwise), and the
//! two default goals.

use base64::Engine as _;
use serde_json::{Value, json};

use super::config::{ExecutionConfig, ExecutorGoal};
use super::templates::{ABORTED_BUY, BUY, Platform, Templates};
use crate::misarch::definition::{EncodedFile, LoadType};

/// What the generator is asked for (the query of `POST /experiment/generate`, defaults applied).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub load_type: LoadType,
    pub test_name: String,
    pub maximum_arriving_users_per_second: i64,
    /// Seconds.
    pub test_duration: i64,
    pub rate: f32,
}

/// Why the generator cannot build the experiment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("testDuration must be 0 or more seconds, not {0}")]
    NegativeDuration(i64),
    #[error("testDuration of a NormalLoadTest is at most {max} s, the length of the realistic day; {given} s asked")]
    LongerThanTheDay { given: i64, max: usize },
    #[error("testDuration is at most {MAX_DURATION} s (12 hours, one user step a second); {0} s asked")]
    TooLong(i64),
}

/// The longest run the generator builds: the executor's realistic day. Longer user-steps files make request bodies
/// (the frontend saves them back) of megabytes.
pub const MAX_DURATION: i64 = 43_201;

/// The four parts of a generated version.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub execution: ExecutionConfig,
    pub gatling: Vec<EncodedFile>,
    pub chaos_toolkit: Value,
    pub misarch: Value,
}

pub fn generate(
    request: &Request,
    test_uuid: &str,
    test_version: &str,
    templates: &Templates,
    platform: Platform,
) -> Result<Generated, GenerateError> {
    let d = request.test_duration;
    if d < 0 {
        return Err(GenerateError::NegativeDuration(d));
    }
    if d > MAX_DURATION {
        return Err(GenerateError::TooLong(d));
    }
    let d = d as usize;
    let rate = request.rate;
    let scenarios: Vec<(&str, Vec<i64>)> = match request.load_type {
        LoadType::NormalLoadTest => {
            let day = &templates.realistic_user_steps;
            if d > day.len() {
                return Err(GenerateError::LongerThanTheDay { given: request.test_duration, max: day.len() });
            }
            let window =
                realistic_window(day, d, request.maximum_arriving_users_per_second, random_below(day.len() - d + 1));
            let buy = window.iter().map(|&x| if x < 2 { 0 } else { x / 2 }).collect();
            let aborted = window.iter().map(|&x| if x < 2 { x } else { x / 2 }).collect();
            vec![(BUY, buy), (ABORTED_BUY, aborted)]
        }
        LoadType::ScalabilityLoadTest => vec![(BUY, growth(d, rate))],
        LoadType::ElasticityLoadTest => {
            let sixth = d / 6;
            let steps =
                (0..3).flat_map(|_| growth(sixth, rate).into_iter().chain(std::iter::repeat_n(1, sixth))).collect();
            vec![(BUY, steps)]
        }
        LoadType::ResilienceLoadTest => {
            let steps = resilience(d, rate);
            vec![(BUY, steps.clone()), (ABORTED_BUY, steps)]
        }
    };
    let gatling = scenarios
        .into_iter()
        .map(|(name, steps)| EncodedFile {
            file_name: name.to_owned(),
            encoded_work_file_content: encode(&templates.work_file(name, platform)),
            encoded_user_steps_file_content: encode(&user_steps_csv(&steps)),
        })
        .collect();
    let title = format!("{test_uuid}:{test_version}");
    let with_failures = matches!(request.load_type, LoadType::NormalLoadTest | LoadType::ResilienceLoadTest);
    let (chaos_toolkit, misarch) = if with_failures {
        (default_chaos_toolkit(&title, d as i64, platform), default_failure_sets(d as i64))
    } else {
        (json!({"title": title, "description": title, "method": []}), json!([]))
    };
    Ok(Generated {
        execution: ExecutionConfig {
            test_uuid: test_uuid.to_owned(),
            test_version: test_version.to_owned(),
            test_name: html_escape(&request.test_name),
            load_type: request.load_type,
            goals: vec![goal("max response time", "2000", "red"), goal("mean response time", "1000", "yellow")],
            warm_up: None,
            steady_state: None,
        },
        gatling,
        chaos_toolkit,
        misarch,
    })
}

fn goal(metric: &str, threshold: &str, color: &str) -> ExecutorGoal {
    ExecutorGoal { metric: metric.to_owned(), threshold: threshold.to_owned(), color: color.to_owned() }
}

/// `d` seconds of `max(1, ⌊i × rate⌋)`, in single-precision arithmetic as the executor computes it.
fn growth(d: usize, rate: f32) -> Vec<i64> {
    (0..d).map(|i| ((i as f32 * rate) as i64).max(1)).collect()
}

/// Growth, decay, a spike up and down, a low and a high plateau, and a low end.
fn resilience(d: usize, rate: f32) -> Vec<i64> {
    let (sixth, spike) = (d / 6, d / 24);
    let mut steps = growth(sixth, rate / 2.0);
    steps.extend(std::iter::repeat_n(1, sixth));
    let up = growth(spike, rate * 25.0);
    steps.extend(up.iter().copied());
    steps.extend(up.iter().rev().copied());
    steps.extend(std::iter::repeat_n(1, sixth));
    steps.extend(std::iter::repeat_n(100, d / 3));
    steps.extend(std::iter::repeat_n(1, d / 12));
    steps
}

/// The window of `d` seconds from `start` of the realistic day, scaled so that the day's peak is `max` users.
fn realistic_window(day: &[i64], d: usize, max: i64, start: usize) -> Vec<i64> {
    let peak = day.iter().copied().max().unwrap_or(1).max(1);
    let factor = max as f32 / peak as f32;
    day[start..start + d].iter().map(|&value| (value as f32 * factor) as i64).collect()
}

/// A uniformly random number in `0..n` (`n` ≥ 1), from the operating system's generator (through UUIDv4).
fn random_below(n: usize) -> usize {
    (uuid::Uuid::new_v4().as_u128() % n as u128) as usize
}

/// `usersteps`, then one integer per line, without a final newline.
fn user_steps_csv(steps: &[i64]) -> String {
    let mut csv = String::from("usersteps");
    for step in steps {
        csv.push('\n');
        csv.push_str(&step.to_string());
    }
    csv
}

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Spring's `HtmlUtils.htmlEscape`, which the executor applies to `testName`.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Kill the gateway at `d/5`, bring it back `d/8` later, with a steady-state probe that it runs.
fn default_chaos_toolkit(title: &str, d: i64, platform: Platform) -> Value {
    let pauses = json!({"before": d / 5, "after": d / 8});
    match platform {
        Platform::Docker => {
            let names = json!({"names": [
                "infrastructure-docker-gateway-1", "infrastructure-docker-gateway-dapr-1", "infrastructure-docker-gateway-ecs-1"
            ]});
            let docker = |func: &str| json!({"type": "python", "module": "misarch_chaostoolkit.chaostoolkit_docker", "func": func, "arguments": names});
            json!({
                "title": title, "description": title,
                "steady-state-hypothesis": {"title": "Container is running", "probes": [
                    {"type": "probe", "name": "Container is running", "provider": docker("are_containers_running"), "tolerance": true}
                ]},
                "method": [
                    {"type": "action", "name": "Kill Containers", "provider": docker("kill_containers"), "pauses": pauses},
                    {"type": "action", "name": "Restart Containers", "provider": docker("start_containers")}
                ]
            })
        }
        Platform::Kubernetes => json!({
            "title": title, "description": title,
            "steady-state-hypothesis": {"title": "Pod is running", "probes": [
                {"type": "probe", "name": "Pod is running", "tolerance": true, "provider": {
                    "type": "python", "module": "chaosk8s.probes", "func": "deployment_available_and_healthy",
                    "arguments": {"name": "misarch-gateway", "ns": "misarch"}}}
            ]},
            "method": [
                {"type": "action", "name": "Kill Pods", "pauses": pauses, "provider": {
                    "type": "python", "module": "chaosk8s.pod.actions", "func": "terminate_pods",
                    "arguments": {"label_selector": "app=misarch-gateway", "ns": "misarch"}}}
            ]
        }),
    }
}

/// The catalog answers 404 after a delay of 1 s from `d/3` on, and is reset `d/6` later.
fn default_failure_sets(d: i64) -> Value {
    json!([
        {"failures": [{"name": "catalog", "pubSubDeterioration": null,
            "serviceInvocationDeterioration": [{"path": "/", "delay": 1000, "delayProbability": 1.0, "errorProbability": 1.0, "errorCode": 404}],
            "artificialMemoryUsage": null, "artificialCPUUsage": null}],
         "pauses": {"before": d / 3, "after": d / 6}},
        {"failures": [{"name": "catalog", "pubSubDeterioration": null, "serviceInvocationDeterioration": null,
            "artificialMemoryUsage": null, "artificialCPUUsage": null}],
         "pauses": {"before": 0, "after": 0}}
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(load_type: LoadType, d: i64, rate: f32) -> Request {
        Request {
            load_type,
            test_name: "My Experiment".to_owned(),
            maximum_arriving_users_per_second: 10,
            test_duration: d,
            rate,
        }
    }

    fn steps(file: &EncodedFile) -> Vec<i64> {
        file.user_steps()
    }

    fn made(load_type: LoadType, d: i64, rate: f32) -> Generated {
        generate(&request(load_type, d, rate), "u", "v1", &Templates::built_in(), Platform::Docker).unwrap()
    }

    #[test]
    fn every_load_type_has_the_executors_shape() {
        let scalability = made(LoadType::ScalabilityLoadTest, 10, 0.5);
        assert_eq!(scalability.gatling.len(), 1);
        assert_eq!(steps(&scalability.gatling[0]), vec![1, 1, 1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(scalability.chaos_toolkit, json!({"title": "u:v1", "description": "u:v1", "method": []}));
        assert_eq!(scalability.misarch, json!([]));

        let elasticity = made(LoadType::ElasticityLoadTest, 1805, 1.0);
        assert_eq!(steps(&elasticity.gatling[0]).len(), 6 * 300, "up to 5 s shorter than d");

        let resilience = made(LoadType::ResilienceLoadTest, 1800, 1.0);
        assert_eq!(resilience.gatling.len(), 2);
        let resilient = steps(&resilience.gatling[0]);
        assert_eq!(resilient.len(), 1800);
        assert_eq!(resilient, steps(&resilience.gatling[1]), "both scenarios get the same steps");
        assert!(resilient[1050..1650].iter().all(|&s| s == 100), "the high plateau after growth, decay, spike, low");
        assert!(resilient[1650..].iter().all(|&s| s == 1));
        assert_eq!(resilience.misarch[0]["pauses"], json!({"before": 600, "after": 300}));
        assert_eq!(resilience.chaos_toolkit["method"][0]["pauses"], json!({"before": 360, "after": 225}));

        let normal = made(LoadType::NormalLoadTest, 1800, 1.0);
        let (buy, aborted) = (steps(&normal.gatling[0]), steps(&normal.gatling[1]));
        assert_eq!((buy.len(), aborted.len()), (1800, 1800));
        assert!(buy.iter().chain(&aborted).all(|&s| (0..=10).contains(&s)));
        assert_eq!(normal.execution.goals.len(), 2);
        assert_eq!(normal.execution.goals[0].threshold, "2000");
    }

    #[test]
    fn the_default_failures_are_the_executors() {
        use crate::misarch::test_fixtures::{CHAOS_DOCKER_DEFAULT, CHAOS_EMPTY, MISARCH_GENERATED};
        let uuid = "3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10";
        let generated = |load_type| {
            generate(&request(load_type, 1800, 1.0), uuid, "v1", &Templates::built_in(), Platform::Docker).unwrap()
        };
        let json = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        let normal = generated(LoadType::NormalLoadTest);
        assert_eq!(normal.chaos_toolkit, json(CHAOS_DOCKER_DEFAULT));
        assert_eq!(normal.misarch, json(MISARCH_GENERATED));
        assert_eq!(generated(LoadType::ScalabilityLoadTest).chaos_toolkit, json(CHAOS_EMPTY));
    }

    #[test]
    fn the_user_steps_file_has_no_final_newline() {
        assert_eq!(user_steps_csv(&[]), "usersteps");
        assert_eq!(user_steps_csv(&[1, 2]), "usersteps\n1\n2");
    }

    #[test]
    fn realistic_steps_split_into_buy_and_aborted_as_the_executor_splits_them() {
        let window = realistic_window(&[0, 1, 2, 3, 5, 10], 6, 10, 0);
        assert_eq!(window, vec![0, 1, 2, 3, 5, 10]);
        let halved = realistic_window(&[0, 1, 2, 3, 5, 10], 3, 5, 3);
        assert_eq!(halved, vec![1, 2, 5]);
    }

    #[test]
    fn refuses_what_it_cannot_build() {
        let built_in = Templates::built_in();
        let short_day = Templates { realistic_user_steps: vec![1; 10], ..Templates::built_in() };
        let too_long = generate(&request(LoadType::NormalLoadTest, 11, 1.0), "u", "v1", &short_day, Platform::Docker);
        assert_eq!(too_long, Err(GenerateError::LongerThanTheDay { given: 11, max: 10 }));
        let negative =
            generate(&request(LoadType::ScalabilityLoadTest, -1, 1.0), "u", "v1", &built_in, Platform::Docker);
        assert_eq!(negative, Err(GenerateError::NegativeDuration(-1)));
    }

    #[test]
    fn the_name_is_escaped_as_spring_escapes_it() {
        assert_eq!(html_escape("A&B <c> \"d\" 'e'"), "A&amp;B &lt;c&gt; &quot;d&quot; &#39;e&#39;");
    }

    #[test]
    fn kubernetes_targets_the_gateway_pods() {
        let request = request(LoadType::NormalLoadTest, 600, 1.0);
        let made = generate(&request, "u", "v1", &Templates::built_in(), Platform::Kubernetes).unwrap();
        assert_eq!(made.chaos_toolkit["method"][0]["provider"]["func"], "terminate_pods");
        let work =
            base64::engine::general_purpose::STANDARD.decode(&made.gatling[0].encoded_work_file_content).unwrap();
        let work = String::from_utf8(work).unwrap();
        assert!(work.contains("misarch-gateway.misarch.svc.cluster.local:8080"));
        assert!(!work.contains("http://gateway:8080"));
    }
}
