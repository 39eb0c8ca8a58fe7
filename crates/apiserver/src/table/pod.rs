//! Pods (core/v1): readiness, the aggregate status (init containers, waiting and terminated
//! reasons, deletion), restarts with the time of the last one, and the wide columns.

use super::format::{deleting, flag, int, list, opt_text, or_none, text};
use super::{Column, Ctx, Printer, age_column, name_column, parse_time};
use crate::object;
use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
use serde_json::{Value, json};

/// The Pod printer.
pub(super) const PRINTER: Printer = Printer::new(columns, cells).with_conditions(conditions);

fn columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Ready").text("The aggregate readiness state of this pod for accepting traffic."),
        Column::string("Status").text("The aggregate status of the containers in this pod."),
        Column::string("Restarts").text(
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        age_column(),
        Column::string("IP").wide().doc::<PodStatus>("podIP"),
        Column::string("Node").wide().doc::<PodSpec>("nodeName"),
        Column::string("Nominated Node")
            .wide()
            .doc::<PodStatus>("nominatedNodeName"),
        Column::string("Readiness Gates")
            .wide()
            .doc::<PodSpec>("readinessGates"),
    ]
}

/// The status of the first condition of type `ty` (`True`, `False`, `Unknown`).
fn condition<'a>(pod: &'a Value, ty: &str) -> Option<&'a str> {
    list(pod, "status.conditions")
        .iter()
        .find(|c| text(c, "type") == ty)
        .map(|c| text(c, "status"))
}

/// Keeps the later of `latest` and the `lastState.terminated.finishedAt` of a container.
fn note_restart(latest: &mut Option<jiff::Timestamp>, container: &Value) {
    if let Some(t) = parse_time(object::path(container, "lastState.terminated.finishedAt"))
        && latest.is_none_or(|l| l < t)
    {
        *latest = Some(t);
    }
}

/// `Signal:N` or `ExitCode:N` for a container terminated without a reason.
fn exit_text(terminated: &Value) -> String {
    match int(terminated, "signal") {
        0 => format!("ExitCode:{}", int(terminated, "exitCode")),
        signal => format!("Signal:{signal}"),
    }
}

/// What the Ready, Status and Restarts cells are made of.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<jiff::Timestamp>,
}

fn summarize(pod: &Value) -> Summary {
    let init_specs = list(pod, "spec.initContainers");
    // Sidecars: init containers that keep running (`restartPolicy: Always`).
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .rev()
            .find(|c| text(c, "name") == name)
            .is_some_and(|c| text(c, "restartPolicy") == "Always")
    };
    let mut s = Summary {
        ready: 0,
        total: list(pod, "spec.containers").len()
            + init_specs
                .iter()
                .filter(|c| text(c, "restartPolicy") == "Always")
                .count(),
        reason: String::new(),
        restarts: 0,
        last_restart: None,
    };
    // The create strategy starts every pod as Pending.
    let phase = opt_text(pod, "status.phase").unwrap_or("Pending");
    s.reason = opt_text(pod, "status.reason").unwrap_or(phase).to_owned();
    let gated = list(pod, "status.conditions")
        .iter()
        .any(|c| text(c, "type") == "PodScheduled" && text(c, "reason") == "SchedulingGated");
    if gated {
        s.reason = "SchedulingGated".into();
    }

    let mut sidecar_restarts = 0;
    let mut sidecar_last_restart = None;
    let mut initializing = false;
    for (i, c) in list(pod, "status.initContainerStatuses").iter().enumerate() {
        s.restarts += int(c, "restartCount");
        note_restart(&mut s.last_restart, c);
        let sidecar = is_sidecar(text(c, "name"));
        if sidecar {
            sidecar_restarts += int(c, "restartCount");
            note_restart(&mut sidecar_last_restart, c);
        }
        let terminated = object::path(c, "state.terminated").filter(|t| t.is_object());
        let waiting = text(c, "state.waiting.reason");
        if terminated.is_some_and(|t| int(t, "exitCode") == 0) {
            continue;
        }
        if sidecar && flag(c, "started") == Some(true) {
            if flag(c, "ready") == Some(true) {
                s.ready += 1;
            }
            continue;
        }
        s.reason = if let Some(t) = terminated {
            match text(t, "reason") {
                "" => format!("Init:{}", exit_text(t)),
                r => format!("Init:{r}"),
            }
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition(pod, "Initialized") == Some("True") {
        s.restarts = sidecar_restarts;
        s.last_restart = sidecar_last_restart;
        let mut has_running = false;
        for c in list(pod, "status.containerStatuses").iter().rev() {
            s.restarts += int(c, "restartCount");
            note_restart(&mut s.last_restart, c);
            let terminated = object::path(c, "state.terminated").filter(|t| t.is_object());
            if let Some(w) = opt_text(c, "state.waiting.reason") {
                s.reason = w.to_owned();
            } else if let Some(t) = terminated {
                s.reason = match text(t, "reason") {
                    "" => exit_text(t),
                    r => r.to_owned(),
                };
            } else if flag(c, "ready") == Some(true)
                && object::path(c, "state.running").is_some_and(Value::is_object)
            {
                has_running = true;
                s.ready += 1;
            }
        }
        // Completed containers next to running ones: the pod still runs.
        if s.reason == "Completed" && has_running {
            let ready = list(pod, "status.conditions")
                .iter()
                .any(|c| text(c, "type") == "Ready" && text(c, "status") == "True");
            s.reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }

    if deleting(pod) && text(pod, "status.reason") == "NodeLost" {
        s.reason = "Unknown".into();
    } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        s.reason = "Terminating".into();
    }
    s
}

fn cells(pod: &Value, ctx: &Ctx) -> Vec<Value> {
    let s = summarize(pod);
    let restarts = match s.last_restart {
        Some(t) if s.restarts != 0 => {
            format!("{} ({} ago)", s.restarts, ctx.since_time(t))
        }
        _ => s.restarts.to_string(),
    };
    let ip = list(pod, "status.podIPs")
        .first()
        .map(|p| text(p, "ip"))
        .or_else(|| opt_text(pod, "status.podIP"))
        .unwrap_or("");
    let gates = list(pod, "spec.readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let passing = gates
            .iter()
            .filter(|g| condition(pod, text(g, "conditionType")) == Some("True"))
            .count();
        format!("{passing}/{}", gates.len())
    };
    vec![
        json!(object::name(pod).unwrap_or_default()),
        json!(format!("{}/{}", s.ready, s.total)),
        json!(s.reason),
        json!(restarts),
        json!(ctx.age(pod)),
        json!(or_none(ip)),
        json!(or_none(text(pod, "spec.nodeName"))),
        json!(or_none(text(pod, "status.nominatedNodeName"))),
        json!(readiness_gates),
    ]
}

/// Finished pods carry a `Completed` row condition.
fn conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, "status.phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    const COLUMNS: &[&str] = &[
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "+IP",
        "+Node",
        "+Nominated Node",
        "+Readiness Gates",
    ];

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": ago(3600)}, "spec": spec, "status": status})
    }

    fn one() -> Value {
        json!({"containers": [{"name": "c", "image": "nginx"}]})
    }

    fn row(ready: &str, status: &str, restarts: &str) -> Value {
        json!([
            "p", ready, status, restarts, "60m", "<none>", "<none>", "<none>", "<none>"
        ])
    }

    #[test]
    fn pod_status_ready_and_restarts() {
        let running = json!({"running": {"startedAt": ago(600)}});
        let cases = vec![
            // A new pod.
            (
                pod(one(), json!({"phase": "Pending"})),
                row("0/1", "Pending", "0"),
            ),
            // Running and ready, restarted twice, the last time five minutes ago.
            (
                pod(
                    one(),
                    json!({"phase": "Running", "containerStatuses": [{"name": "c", "ready": true,
                    "restartCount": 2, "state": running,
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}}]}),
                ),
                row("1/1", "Running", "2 (5m ago)"),
            ),
            // Waiting reasons win.
            (
                pod(
                    one(),
                    json!({"phase": "Running", "containerStatuses": [{"name": "c", "ready": false,
                    "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
                ),
                row("0/1", "CrashLoopBackOff", "4"),
            ),
            (
                pod(
                    one(),
                    json!({"phase": "Pending", "containerStatuses": [{"name": "c",
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ),
                row("0/1", "ContainerCreating", "0"),
            ),
            // Terminated: the reason, else the signal or exit code.
            (
                pod(
                    one(),
                    json!({"phase": "Succeeded", "containerStatuses": [{"name": "c",
                    "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
                ),
                row("0/1", "Completed", "0"),
            ),
            (
                pod(
                    one(),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "c",
                    "state": {"terminated": {"exitCode": 2}}}]}),
                ),
                row("0/1", "ExitCode:2", "0"),
            ),
            (
                pod(
                    one(),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "c",
                    "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                row("0/1", "Signal:9", "0"),
            ),
            // The pod's own reason (evicted) when its containers say nothing.
            (
                pod(one(), json!({"phase": "Failed", "reason": "Evicted"})),
                row("0/1", "Evicted", "0"),
            ),
            // Gated from scheduling.
            (
                pod(
                    one(),
                    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                    "status": "False", "reason": "SchedulingGated"}]}),
                ),
                row("0/1", "SchedulingGated", "0"),
            ),
        ];
        check(lookup("", "v1", "pods").unwrap(), COLUMNS, &cases);
    }

    #[test]
    fn pod_init_containers_and_sidecars() {
        let spec = json!({"initContainers": [{"name": "i1"}, {"name": "i2"}],
                          "containers": [{"name": "c"}]});
        let cases = vec![
            // The second of two init containers runs.
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "i2", "state": {"running": {}}}]}),
                ),
                row("0/1", "Init:1/2", "0"),
            ),
            // An init container crash-looping, restarted 3 times.
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "i1", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(90)}}}]}),
                ),
                row("0/1", "Init:CrashLoopBackOff", "3 (90s ago)"),
            ),
            // Failed init containers.
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                ),
                row("0/1", "Init:Error", "0"),
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "i1", "state": {"terminated": {"exitCode": 3}}}]}),
                ),
                row("0/1", "Init:ExitCode:3", "0"),
            ),
            (
                pod(
                    spec,
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                row("0/1", "Init:0/2", "0"),
            ),
            // A started sidecar counts towards readiness and restarts.
            (
                pod(
                    json!({"initContainers": [{"name": "s", "restartPolicy": "Always"}],
                           "containers": [{"name": "c"}]}),
                    json!({"phase": "Running",
                           "conditions": [{"type": "Initialized", "status": "True"}],
                           "initContainerStatuses": [{"name": "s", "started": true, "ready": true,
                               "restartCount": 1, "state": {"running": {}},
                               "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(7200)}}}],
                           "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}}}]}),
                ),
                row("2/2", "Running", "1 (120m ago)"),
            ),
        ];
        check(lookup("", "v1", "pods").unwrap(), COLUMNS, &cases);
    }

    #[test]
    fn pod_deletion_completion_and_wide_columns() {
        let deleted = |mut p: Value, reason: Option<&str>| {
            p["metadata"]["deletionTimestamp"] = json!(ago(1));
            if let Some(r) = reason {
                p["status"]["reason"] = json!(r);
            }
            p
        };
        let two = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let cases = vec![
            (
                deleted(pod(one(), json!({"phase": "Running"})), None),
                row("0/1", "Terminating", "0"),
            ),
            (
                deleted(pod(one(), json!({"phase": "Running"})), Some("NodeLost")),
                row("0/1", "Unknown", "0"),
            ),
            // Finished pods are not terminating.
            (
                deleted(pod(one(), json!({"phase": "Succeeded"})), None),
                row("0/1", "Succeeded", "0"),
            ),
            // One container completed, the other still running: Running when the pod is
            // ready, NotReady when not.
            (
                pod(
                    two.clone(),
                    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": true, "state": {"running": {}}}]}),
                ),
                row("1/2", "Running", "0"),
            ),
            (
                pod(
                    two,
                    json!({"phase": "Running", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": true, "state": {"running": {}}}]}),
                ),
                row("1/2", "NotReady", "0"),
            ),
            (
                pod(
                    json!({"containers": [{"name": "c"}], "nodeName": "n1",
                           "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/x"}]}),
                    json!({"phase": "Pending", "podIP": "10.0.0.9",
                           "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}], "nominatedNodeName": "n2",
                           "conditions": [{"type": "example.com/lb", "status": "True"}]}),
                ),
                json!([
                    "p", "0/1", "Pending", "0", "60m", "10.0.0.5", "n1", "n2", "1/2"
                ]),
            ),
        ];
        check(lookup("", "v1", "pods").unwrap(), COLUMNS, &cases);
    }

    #[test]
    fn finished_pods_carry_a_completed_condition() {
        assert_eq!(
            conditions(&json!({"status": {"phase": "Succeeded"}})).unwrap()[0]["reason"],
            "Succeeded"
        );
        assert_eq!(
            conditions(&json!({"status": {"phase": "Failed"}})).unwrap()[0]["message"],
            "The pod failed."
        );
        assert!(conditions(&json!({"status": {"phase": "Running"}})).is_none());
    }
}
