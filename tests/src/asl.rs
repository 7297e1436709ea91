//! A Step Functions interpreter for the subset of ASL the rollout state machine uses, so the
//! tests and the demo run `statemachine/rollout.asl.json` itself against the real shift-traffic
//! binary, one state at a time. (No Step Functions emulator runs Lambda tasks on this bench.)

use std::time::Duration;

use serde_json::{Value, json};

use crate::{InvokeOutcome, LambdaFn, workspace_root};

/// The rollout state machine's definition, with the function ARN substituted as SAM does.
pub fn state_machine() -> Value {
    let path = workspace_root().join("statemachine/rollout.asl.json");
    let text = std::fs::read_to_string(&path).expect("read the state machine");
    let text = text.replace(
        "${ShiftTrafficFunctionArn}",
        "arn:aws:lambda:us-east-1:123456789012:function:shift-traffic",
    );
    serde_json::from_str(&text).expect("parse the state machine")
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

/// One state an execution went through. Each visit is one state transition, as Step Functions
/// bills them (a retry is one too).
#[derive(Debug, Clone)]
pub struct Visit {
    pub state: String,
    /// The state's output (the error object for a caught task).
    pub output: Value,
    /// When the state finished: the time between two visits is the later state's own.
    pub at: std::time::Instant,
}

/// A Step Functions execution of the subset of ASL the rollout machine uses (Pass with `Result`
/// or `Parameters` (input and `$$.Execution.Id` paths), Task with
/// `lambda:invoke`, Retry, Catch, Choice with `And`/`IsPresent`/`StringEquals`/`BooleanEquals`,
/// Wait with `Seconds` or `SecondsPath`, Succeed, Fail; JSONPath `$` and `$.a.b`; a state's
/// `Comment` is ignored), run one state at a time so a test can look at the listener between
/// states. Waits are real (the spec's `time_scale` shortens them, the watch loop's too);
/// retry intervals are skipped.
pub struct Execution {
    /// `$$.Execution.Id`.
    pub id: String,
    definition: Value,
    current: Option<String>,
    data: Value,
    pub visits: Vec<Visit>,
    pub ending: Option<Ending>,
    attempts: u32,
}

impl Execution {
    pub fn new(definition: Value, input: Value) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let start = definition["StartAt"].as_str().expect("StartAt").to_string();
        Execution {
            id: format!(
                "arn:aws:states:us-east-1:123456789012:execution:rollout:run-{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            definition,
            current: Some(start),
            data: input,
            visits: Vec::new(),
            ending: None,
            attempts: 0,
        }
    }

    /// Runs to the end.
    pub async fn run(mut self, function: &LambdaFn, max_states: usize) -> Execution {
        for _ in 0..max_states {
            if self.advance(function).await.is_none() {
                return self;
            }
        }
        panic!(
            "execution did not end within {max_states} states: {:?}",
            self.names()
        );
    }

    /// A `Parameters` template: `"key.$"` takes a path of the input (`$…`) or of the context
    /// object (`$$.Execution.Id`), every other key its value as written.
    fn fill(&self, template: &Value) -> Value {
        let Some(fields) = template.as_object() else {
            return template.clone();
        };
        let context = json!({"Execution": {"Id": self.id}});
        let mut out = serde_json::Map::new();
        for (key, value) in fields {
            match key.strip_suffix(".$") {
                Some(name) => {
                    let path = value.as_str().expect("a path");
                    let resolved = match path.strip_prefix("$$") {
                        Some(rest) => get(&context, rest),
                        None => get(&self.data, path),
                    };
                    out.insert(name.to_string(), resolved);
                }
                None => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(out)
    }

    pub fn names(&self) -> Vec<&str> {
        self.visits.iter().map(|v| v.state.as_str()).collect()
    }

    /// State transitions so far (what Step Functions bills): one per visit, retries included.
    pub fn transitions(&self) -> usize {
        self.visits.len()
    }

    /// Runs one state; `None` once the execution has ended.
    pub async fn advance(&mut self, function: &LambdaFn) -> Option<&Visit> {
        let name = self.current.clone()?;
        let state = self.definition["States"][&name].clone();
        assert!(state.is_object(), "no state {name}");
        let next = state["Next"].as_str().map(str::to_string);
        match state["Type"].as_str().expect("Type") {
            "Pass" => {
                let result = match (state.get("Result"), state.get("Parameters")) {
                    (Some(result), _) => result.clone(),
                    (None, Some(template)) => self.fill(template),
                    (None, None) => self.data.clone(),
                };
                self.data = put(
                    &self.data,
                    state["ResultPath"].as_str().unwrap_or("$"),
                    result,
                );
                self.current = next;
            }
            "Task" => {
                let payload = parameters(&state["Parameters"], &self.data);
                let outcome = function
                    .invoke_with_timeout(payload, Duration::from_secs(60))
                    .await
                    .outcome;
                match outcome {
                    InvokeOutcome::Response(value) => {
                        let result = json!({"StatusCode": 200, "Payload": value});
                        self.data = get(&result, state["OutputPath"].as_str().unwrap_or("$"));
                        self.current = next;
                        self.attempts = 0;
                    }
                    InvokeOutcome::Error {
                        error_type,
                        error_message,
                    } => {
                        let cause = json!({"errorType": error_type, "errorMessage": error_message})
                            .to_string();
                        if let Some(retry) = matching(&state["Retry"], &error_type) {
                            let max = retry["MaxAttempts"].as_u64().unwrap_or(3) as u32;
                            if self.attempts < max {
                                self.attempts += 1;
                                self.visits.push(Visit {
                                    state: format!("{name} (retry)"),
                                    output: json!({"Error": error_type}),
                                    at: std::time::Instant::now(),
                                });
                                return self.visits.last();
                            }
                        }
                        self.attempts = 0;
                        let error = json!({"Error": error_type, "Cause": cause});
                        match matching(&state["Catch"], &error_type) {
                            Some(catcher) => {
                                self.data = put(
                                    &self.data,
                                    catcher["ResultPath"].as_str().unwrap_or("$"),
                                    error,
                                );
                                self.current = catcher["Next"].as_str().map(str::to_string);
                            }
                            None => {
                                self.ending = Some(Ending::Failed {
                                    error: error_type,
                                    cause,
                                });
                                self.current = None;
                            }
                        }
                    }
                    other => panic!("task {name}: {other:?}"),
                }
            }
            "Choice" => {
                let chosen = state["Choices"]
                    .as_array()
                    .expect("Choices")
                    .iter()
                    .find(|rule| choice_matches(rule, &self.data))
                    .and_then(|rule| rule["Next"].as_str())
                    .or_else(|| state["Default"].as_str())
                    .expect("a choice or a default")
                    .to_string();
                self.current = Some(chosen);
            }
            "Wait" => {
                let seconds = match state.get("SecondsPath").and_then(Value::as_str) {
                    Some(path) => get(&self.data, path).as_u64().expect("SecondsPath integer"),
                    None => state["Seconds"].as_u64().expect("Seconds"),
                };
                assert!(seconds <= 30, "a scaled wait of {seconds} s");
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                self.current = next;
            }
            "Succeed" => {
                self.ending = Some(Ending::Succeeded(self.data.clone()));
                self.current = None;
            }
            "Fail" => {
                let cause = match state.get("CausePath").and_then(Value::as_str) {
                    Some(path) => get(&self.data, path)
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    None => state["Cause"].as_str().unwrap_or_default().to_string(),
                };
                self.ending = Some(Ending::Failed {
                    error: state["Error"].as_str().unwrap_or_default().to_string(),
                    cause,
                });
                self.current = None;
            }
            other => panic!("state type {other} is not in the subset"),
        }
        self.visits.push(Visit {
            state: name,
            output: self.data.clone(),
            at: std::time::Instant::now(),
        });
        self.visits.last()
    }
}

fn matching<'a>(rules: &'a Value, error: &str) -> Option<&'a Value> {
    rules.as_array()?.iter().find(|rule| {
        rule["ErrorEquals"]
            .as_array()
            .is_some_and(|names| names.iter().any(|n| n == error || n == "States.ALL"))
    })
}

fn choice_matches(rule: &Value, data: &Value) -> bool {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        return all.iter().all(|r| choice_matches(r, data));
    }
    let value = get(data, rule["Variable"].as_str().expect("Variable"));
    if let Some(expected) = rule.get("IsPresent") {
        return Some(!value.is_null()) == expected.as_bool();
    }
    if let Some(expected) = rule.get("StringEquals") {
        return &value == expected;
    }
    if let Some(expected) = rule.get("BooleanEquals") {
        return &value == expected;
    }
    panic!("choice rule not in the subset: {rule}");
}

fn parameters(template: &Value, data: &Value) -> Value {
    // Only the payload reaches the function; `lambda:invoke` sends `Payload`.
    let payload = template
        .get("Payload.$")
        .and_then(Value::as_str)
        .map(|path| get(data, path));
    payload.unwrap_or_else(|| data.clone())
}

fn get(data: &Value, path: &str) -> Value {
    let mut value = data;
    for key in path
        .trim_start_matches('$')
        .split('.')
        .filter(|k| !k.is_empty())
    {
        value = &value[key];
    }
    value.clone()
}

fn put(data: &Value, path: &str, result: Value) -> Value {
    let keys: Vec<&str> = path
        .trim_start_matches('$')
        .split('.')
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return result;
    }
    let mut out = data.clone();
    let mut slot = &mut out;
    for key in &keys[..keys.len() - 1] {
        slot = &mut slot[*key];
    }
    slot[keys[keys.len() - 1]] = result;
    out
}
