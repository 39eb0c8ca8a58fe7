"""Drives a running skiff server with the official Kubernetes Python client.

Usage: client_check.py KUBECONFIG. Exits non-zero with a message on the first mismatch.
"""
import sys

from kubernetes import client, config, watch


def main(kubeconfig: str) -> None:
    config.load_kube_config(kubeconfig)
    v1 = client.CoreV1Api()
    apps = client.AppsV1Api()

    names = [n.metadata.name for n in v1.list_namespace().items]
    assert "default" in names and "kube-system" in names, names

    cm = v1.create_namespaced_config_map(
        "default",
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py1", labels={"from": "python"}), data={"a": "b"}),
    )
    rv = cm.metadata.resource_version
    assert cm.metadata.uid, "no uid"

    listed = v1.list_namespaced_config_map("default", label_selector="from=python")
    assert [c.metadata.name for c in listed.items] == ["py1"], listed.items

    v1.patch_namespaced_config_map("py1", "default", {"data": {"a": "c"}})
    v1.delete_namespaced_config_map("py1", "default")

    # Resume a watch from the creation's resourceVersion: exactly the later changes, in order.
    w = watch.Watch()
    events = []
    for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10):
        events.append((ev["type"], ev["object"].metadata.name, (ev["object"].data or {}).get("a")))
        if len(events) == 2:
            w.stop()
    assert events == [("MODIFIED", "py1", "c"), ("DELETED", "py1", "c")], events

    dep = apps.create_namespaced_deployment(
        "default",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "pyweb"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "pyweb"}},
                "template": {
                    "metadata": {"labels": {"app": "pyweb"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    assert dep.spec.replicas == 2
    try:
        v1.read_namespaced_config_map("nope", "default")
        raise AssertionError("expected a 404")
    except client.exceptions.ApiException as e:
        assert e.status == 404, e.status
    print("python client ok")


if __name__ == "__main__":
    main(sys.argv[1])
