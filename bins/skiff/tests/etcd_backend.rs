//! `skiff server --etcd-servers`: the API server on a real etcd instead of the embedded store,
//! driven by the real kubectl, surviving a restart of the API server.

use skiff_store::etcd::local::LocalEtcd;

mod common;
use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_runs_on_etcd() {
    let etcd = LocalEtcd::start()
        .await
        .unwrap_or_else(|e| panic!("this test needs a real etcd: {e}"));
    let endpoint = etcd.endpoint();
    let on_etcd = |cmd: &mut std::process::Command, _: &std::path::Path| {
        cmd.arg("--etcd-servers").arg(&endpoint);
    };
    let c = Cluster::start_with(on_etcd);
    let ns = c.ok(&["get", "ns", "-o", "name"]);
    assert!(ns.contains("namespace/kube-system"), "{ns}");
    c.ok_in(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: on-etcd}\ndata: {k: v}\n"),
    );
    let before = c.ok(&[
        "get",
        "cm",
        "on-etcd",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    let data = c.stop();

    // A new API server process on the same etcd sees the same objects and revisions.
    let c = Cluster::start_in(data, on_etcd);
    let after = c.ok(&[
        "get",
        "cm",
        "on-etcd",
        "-o",
        "jsonpath={.metadata.resourceVersion} {.data.k}",
    ]);
    assert_eq!(after, format!("{before} v"));
}
