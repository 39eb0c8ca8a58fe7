//! `skiff sim` against a real `skiff server`, checked with the real kubectl: simulated nodes
//! register Ready with their labels and leases, a pod bound to one is reported running, and
//! its graceful deletion is finished. A second simulation takes the nodes over and removes
//! them on SIGTERM with `--cleanup`.

mod common;

use common::Cluster;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `skiff sim`; killed by its PID when dropped.
struct SimProcess(Child);

impl SimProcess {
    /// Starts `skiff sim` with `args` and waits until it has registered its nodes.
    fn start(c: &Cluster, args: &[&str]) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("sim")
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut registered = false;
        for line in lines.by_ref() {
            if line.unwrap().starts_with("Registered ") {
                registered = true;
                break;
            }
        }
        assert!(registered, "skiff sim exited before registering its nodes");
        std::thread::spawn(move || for _ in lines {});
        SimProcess(child)
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn terminate(mut self) {
        let pid = self.0.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                assert!(status.success(), "skiff sim exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "skiff sim did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs kubectl until `check` accepts its output (up to 60 s).
fn wait_for(c: &Cluster, args: &[&str], what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = c.run_with(common::KUBECTL, args, None);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && check(&stdout) {
            return stdout;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last output of kubectl {args:?}:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn simulated_nodes_run_and_delete_pods() {
    let c = Cluster::start();
    let sim = SimProcess::start(
        &c,
        &["--nodes", "3", "--labels", "team=sim", "--heartbeat", "2s"],
    );

    // Three Ready nodes with the kubelet's labels, topology, the marker and the extra label.
    let nodes = c.ok(&["get", "nodes", "--no-headers"]);
    let ready: Vec<&str> = nodes
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
        .collect();
    assert_eq!(ready.len(), 3, "{nodes}");
    let labels = c.ok(&[
        "get",
        "nodes",
        "-l",
        "skiff.dev/simulated=true,team=sim,kubernetes.io/os=linux,kubernetes.io/arch=amd64",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.kubernetes\\.io/hostname} \
         {.metadata.labels.topology\\.kubernetes\\.io/zone} {.status.nodeInfo.kubeletVersion}\
         {\"\\n\"}{end}",
    ]);
    assert_eq!(
        labels.lines().collect::<Vec<_>>(),
        [
            "sim-0 sim-0 zone-0 v1.33.0-skiff-sim",
            "sim-1 sim-1 zone-1 v1.33.0-skiff-sim",
            "sim-2 sim-2 zone-2 v1.33.0-skiff-sim",
        ],
        "{labels}"
    );
    let capacity = c.ok(&[
        "get",
        "node",
        "sim-1",
        "-o",
        "jsonpath={.status.allocatable.cpu} {.status.allocatable.memory} \
         {.status.allocatable.pods} {.spec.podCIDR} {.status.addresses[0].address}",
    ]);
    assert_eq!(capacity, "32 256Gi 110 10.128.1.0/24 10.64.0.2");

    // A lease per node, held by the node and renewed.
    let leases = c.ok(&[
        "get",
        "leases",
        "-n",
        "kube-node-lease",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.spec.holderIdentity} {end}",
    ]);
    assert_eq!(leases.trim(), "sim-0=sim-0 sim-1=sim-1 sim-2=sim-2");
    let renew = |c: &Cluster| {
        c.ok(&[
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            "sim-2",
            "-o",
            "jsonpath={.spec.renewTime}",
        ])
    };
    let first = renew(&c);
    wait_for(
        &c,
        &[
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            "sim-2",
            "-o",
            "jsonpath={.spec.renewTime}",
        ],
        "a lease renewal",
        |t| t != first,
    );

    // A pod bound to a simulated node runs, ready, with an address from the node's range.
    // (Its scheduler name keeps any scheduler away: the test binds it itself.)
    c.ok_in(
        &["create", "-f", "-"],
        Some(
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"schedulerName": "manual",
                         "containers": [{"name": "web", "image": "nginx"}]}}"#,
        ),
    );
    c.ok_in(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/web/binding",
            "-f",
            "-",
        ],
        Some(
            r#"{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "sim-1"}}"#,
        ),
    );
    let row = wait_for(
        &c,
        &["get", "pod", "web", "--no-headers"],
        "the pod to run",
        |out| {
            let cols: Vec<&str> = out.split_whitespace().collect();
            cols.get(1) == Some(&"1/1") && cols.get(2) == Some(&"Running")
        },
    );
    assert!(row.starts_with("web "), "{row}");
    let status = c.ok(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.status.podIP} \
         {.status.hostIP} {.status.containerStatuses[0].ready} \
         {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].image}",
    ]);
    assert_eq!(
        status,
        "True 10.128.1.2 10.64.0.2 true 0 docker.io/library/nginx:latest"
    );
    let container_id = c.ok(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.status.containerStatuses[0].containerID}",
    ]);
    assert!(container_id.starts_with("sim://"), "{container_id}");
    c.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=30s"]);

    // Graceful deletion is finished by the simulated kubelet.
    let deleted = c.ok(&["delete", "pod", "web", "--timeout=60s"]);
    assert!(deleted.contains("deleted"), "{deleted}");
    let gone = c.fails(&["get", "pod", "web"], None);
    assert!(gone.contains("NotFound"), "{gone}");

    // A second simulation takes the nodes over; with --cleanup it removes them on SIGTERM.
    drop(sim);
    let again = SimProcess::start(&c, &["--nodes", "3", "--cleanup"]);
    let nodes = c.ok(&["get", "nodes", "--no-headers"]);
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    again.terminate();
    let nodes = c.ok(&["get", "nodes", "-o", "name"]);
    assert_eq!(nodes.trim(), "", "{nodes}");
    let leases = c.ok(&["get", "leases", "-n", "kube-node-lease", "-o", "name"]);
    assert_eq!(leases.trim(), "", "{leases}");
}

/// The library form, as benchmarks use it: nodes created in-process, kept alive, removed.
#[test]
fn library_starts_and_removes_nodes() {
    let c = Cluster::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = skiff_sim::client_from_kubeconfig(&c.kubeconfig)
            .await
            .unwrap();
        let opts = skiff_sim::SimOptions {
            nodes: 50,
            name_prefix: "lib-".into(),
            heartbeat: Duration::from_millis(500),
            ..skiff_sim::SimOptions::default()
        };
        let sim = skiff_sim::Sim::start(client.clone(), opts).await.unwrap();
        assert_eq!(sim.node_names().len(), 50);
        assert_eq!(sim.node_names()[49], "lib-49");
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
        let list = nodes.list(&Default::default()).await.unwrap();
        assert_eq!(list.items.len(), 50);
        assert!(list.items.iter().all(skiff_sim::node::is_ready));
        // Every lease is renewed within a heartbeat or two.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while sim.stats().lease_renewals < 100 {
            assert!(std::time::Instant::now() < deadline, "{:?}", sim.stats());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(sim.stats().errors, 0);
        sim.stop_and_delete().await.unwrap();
        assert!(
            nodes
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    });
}
