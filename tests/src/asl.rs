//! A Step Functions interpreter for the subset of ASL the rollout state machine uses, so the
//! tests and the demo run `statemachine/rollout.asl.json` itself against the real shift-traffic
//! binary, one state at a time. (No Step Functions emulator runs Lambda tasks on this bench.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{InvokeOutcome, LambdaFn, workspace_root};

/// The function ARNs the definition names, as SAM substitutes them here.
pub const SHIFT_TRAFFIC_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shift-traffic";
pub const VALIDATE_TRAFFIC_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:validate-traffic";

/// The rollout state machine's definition, with the function ARNs substituted as SAM does.
pub fn state_machine() -> Value {
    let path = workspace_root().join("statemachine/rollout.asl.json");
    let text = std::fs::read_to_string(&path).expect("read the state machine");
    let text = text
        .replace("${ShiftTrafficFunctionArn}", SHIFT_TRAFFIC_ARN)
        .replace("${ValidateTrafficFunctionArn}", VALIDATE_TRAFFIC_ARN);
    serde_json::from_str(&text).expect("parse the state machine")
}

/// The functions a `lambda:invoke` task may name. One [`LambdaFn`] answers for every ARN (the
/// rollout machine's tests that run shift-traffic alone); [`Lambdas`] maps each ARN to its own.
pub trait Functions {
    fn function(&self, arn: &str) -> &LambdaFn;
}

impl Functions for LambdaFn {
    fn function(&self, _: &str) -> &LambdaFn {
        self
    }
}

/// Function ARN → the process that runs it.
pub struct Lambdas<'a>(pub Vec<(&'a str, &'a LambdaFn)>);

impl Functions for Lambdas<'_> {
    fn function(&self, arn: &str) -> &LambdaFn {
        self.0
            .iter()
            .find(|(a, _)| *a == arn)
            .map(|(_, f)| *f)
            .unwrap_or_else(|| panic!("no function {arn} on the bench"))
    }
}

/// How a person (or a test) answered a task token.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenAnswer {
    /// `send-task-success --task-output`.
    Success(Value),
    /// `send-task-failure --error --cause`.
    Failure { error: String, cause: String },
}

/// The task tokens an execution waits on (`.waitForTaskToken`), answered as `SendTaskSuccess`
/// and `SendTaskFailure` would. Clone it before running the execution to answer from elsewhere.
#[derive(Clone, Default)]
pub struct TaskTokens(Arc<Mutex<HashMap<String, Option<TokenAnswer>>>>);

impl TaskTokens {
    /// Tokens issued and not answered yet.
    pub fn pending(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, a)| a.is_none())
            .map(|(t, _)| t.clone())
            .collect()
    }

    pub fn succeed(&self, token: &str, output: Value) {
        self.answer(token, TokenAnswer::Success(output));
    }

    pub fn fail(&self, token: &str, error: &str, cause: &str) {
        self.answer(
            token,
            TokenAnswer::Failure {
                error: error.into(),
                cause: cause.into(),
            },
        );
    }

    fn answer(&self, token: &str, answer: TokenAnswer) {
        let mut tokens = self.lock();
        let slot = tokens
            .get_mut(token)
            .unwrap_or_else(|| panic!("no task token {token}"));
        assert!(slot.is_none(), "task token {token} answered twice");
        *slot = Some(answer);
    }

    fn issue(&self, execution: &str, n: usize) -> String {
        // Real tokens are opaque base64 of several hundred characters.
        let token = format!("AQB8AAAAKgAAAAMAAAAA{execution}/{n}").replace([':', '/'], "+");
        self.lock().insert(token.clone(), None);
        token
    }

    fn take(&self, token: &str) -> Option<TokenAnswer> {
        self.lock().get(token).cloned().flatten()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<TokenAnswer>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
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

/// A Step Functions execution of the subset of ASL the rollout machine uses (Pass with `Result`,
/// `InputPath` or `Parameters` (input and `$$.Execution.Id` / `.Name` / `$$.Task.Token` paths, nested templates), Task
/// with `lambda:invoke` (by `FunctionName`, `ResultPath`, `OutputPath`) and
/// `lambda:invoke.waitForTaskToken` (answered through [`TaskTokens`], `TimeoutSecondsPath`,
/// `States.Timeout`), Retry, Catch, Choice with `And`/`IsPresent`/`StringEquals`/`BooleanEquals`,
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
    tokens: TaskTokens,
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
            tokens: TaskTokens::default(),
        }
    }

    /// The task tokens this execution issues, to answer them while it waits.
    pub fn tokens(&self) -> TaskTokens {
        self.tokens.clone()
    }

    /// Runs to the end.
    pub async fn run(mut self, function: &impl Functions, max_states: usize) -> Execution {
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
    /// object (`$$.Execution.Id`, `$$.Execution.Name`, `$$.Task.Token`), nested objects are filled in turn, every
    /// other key keeps its value as written.
    fn fill(&self, template: &Value) -> Value {
        self.fill_with(template, None)
    }

    fn fill_with(&self, template: &Value, token: Option<&str>) -> Value {
        let Some(fields) = template.as_object() else {
            return template.clone();
        };
        let name = self.id.rsplit(':').next().unwrap_or(&self.id);
        let context = json!({"Execution": {"Id": self.id, "Name": name}, "Task": {"Token": token}});
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
                None if value.is_object() => {
                    out.insert(key.clone(), self.fill_with(value, token));
                }
                None => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(out)
    }

    /// A `.waitForTaskToken` task: the function is invoked with the token in its payload, then
    /// the execution waits for the token's answer, at most `TimeoutSeconds(Path)`. `Ok` is the
    /// answer's output, `Err` the error name and cause (`States.Timeout` when nobody answered).
    async fn wait_for_token(
        &mut self,
        state: &Value,
        functions: &impl Functions,
    ) -> Result<Value, (String, String)> {
        let function =
            functions.function(state["Parameters"]["FunctionName"].as_str().unwrap_or(""));
        let token = self.tokens.issue(&self.id, self.visits.len());
        let payload = self.fill_with(&state["Parameters"], Some(&token))["Payload"].clone();
        let outcome = function
            .invoke_with_timeout(payload, Duration::from_secs(60))
            .await
            .outcome;
        match outcome {
            InvokeOutcome::Response(_) => {}
            InvokeOutcome::Error {
                error_type,
                error_message,
            } => {
                let cause = json!({"errorType": error_type, "errorMessage": error_message});
                return Err((error_type, cause.to_string()));
            }
            other => panic!("task with a token: {other:?}"),
        }
        let timeout = match state.get("TimeoutSecondsPath").and_then(Value::as_str) {
            Some(path) => get(&self.data, path)
                .as_u64()
                .expect("TimeoutSecondsPath integer"),
            None => state["TimeoutSeconds"].as_u64().unwrap_or(99_999_999),
        };
        assert!(timeout <= 60, "a scaled task timeout of {timeout} s");
        let until = std::time::Instant::now() + Duration::from_secs(timeout);
        loop {
            match self.tokens.take(&token) {
                Some(TokenAnswer::Success(output)) => return Ok(output),
                Some(TokenAnswer::Failure { error, cause }) => return Err((error, cause)),
                None if std::time::Instant::now() >= until => {
                    return Err((
                        "States.Timeout".into(),
                        format!("The task did not answer within {timeout} s"),
                    ));
                }
                None => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }

    /// Whether a task's error is retried (one visit per attempt, as Step Functions counts them;
    /// the interval is skipped). Resets the count once the retries are spent.
    fn retries(&mut self, state: &Value, name: &str, error_type: &str) -> bool {
        if let Some(retry) = matching(&state["Retry"], error_type) {
            let max = retry["MaxAttempts"].as_u64().unwrap_or(3) as u32;
            if self.attempts < max {
                self.attempts += 1;
                self.visits.push(Visit {
                    state: format!("{name} (retry)"),
                    output: json!({"Error": error_type}),
                    at: std::time::Instant::now(),
                });
                return true;
            }
        }
        self.attempts = 0;
        false
    }

    /// A task's error: the first matching catcher's state, or the end of the execution.
    fn catch(&mut self, state: &Value, error_type: String, cause: String) {
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

    pub fn names(&self) -> Vec<&str> {
        self.visits.iter().map(|v| v.state.as_str()).collect()
    }

    /// State transitions so far (what Step Functions bills): one per visit, retries included.
    pub fn transitions(&self) -> usize {
        self.visits.len()
    }

    /// Runs one state; `None` once the execution has ended.
    pub async fn advance(&mut self, functions: &impl Functions) -> Option<&Visit> {
        let name = self.current.clone()?;
        let state = self.definition["States"][&name].clone();
        assert!(state.is_object(), "no state {name}");
        let next = state["Next"].as_str().map(str::to_string);
        match state["Type"].as_str().expect("Type") {
            "Pass" => {
                let result = match (state.get("Result"), state.get("Parameters")) {
                    (Some(result), _) => result.clone(),
                    (None, Some(template)) => self.fill(template),
                    // `InputPath` picks the part of the input that passes through.
                    (None, None) => get(&self.data, state["InputPath"].as_str().unwrap_or("$")),
                };
                self.data = put(
                    &self.data,
                    state["ResultPath"].as_str().unwrap_or("$"),
                    result,
                );
                self.current = next;
            }
            "Task"
                if state["Resource"]
                    .as_str()
                    .is_some_and(|r| r.ends_with(".waitForTaskToken")) =>
            {
                match self.wait_for_token(&state, functions).await {
                    Ok(output) => {
                        self.data = put(
                            &self.data,
                            state["ResultPath"].as_str().unwrap_or("$"),
                            output,
                        );
                        self.current = next;
                    }
                    Err((error_type, cause)) => {
                        if self.retries(&state, &name, &error_type) {
                            return self.visits.last();
                        }
                        self.catch(&state, error_type, cause);
                    }
                }
            }
            "Task" => {
                let payload = match state["Parameters"].get("Payload") {
                    // A payload template: `"key.$"` paths and the context object.
                    Some(_) => self.fill(&state["Parameters"])["Payload"].clone(),
                    None => parameters(&state["Parameters"], &self.data),
                };
                let function =
                    functions.function(state["Parameters"]["FunctionName"].as_str().unwrap_or(""));
                let outcome = function
                    .invoke_with_timeout(payload, Duration::from_secs(60))
                    .await
                    .outcome;
                match outcome {
                    InvokeOutcome::Response(value) => {
                        let result = json!({"StatusCode": 200, "Payload": value});
                        // ResultPath places the task's result in the input, OutputPath picks
                        // what goes on: each defaults to `$`.
                        let placed = put(
                            &self.data,
                            state["ResultPath"].as_str().unwrap_or("$"),
                            result,
                        );
                        self.data = get(&placed, state["OutputPath"].as_str().unwrap_or("$"));
                        self.current = next;
                        self.attempts = 0;
                    }
                    InvokeOutcome::Error {
                        error_type,
                        error_message,
                    } => {
                        let cause = json!({"errorType": error_type, "errorMessage": error_message})
                            .to_string();
                        if self.retries(&state, &name, &error_type) {
                            return self.visits.last();
                        }
                        self.catch(&state, error_type, cause);
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
