//! The rbac.authorization.k8s.io group: RoleBindings and ClusterRoleBindings (Roles and
//! ClusterRoles have no printer upstream: `Name`, `Created At`).

use super::format::{list, text};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use serde_json::{Value, json};

/// The printer of an rbac.authorization.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "RoleBinding" => Printer::new(role_binding_columns, cells),
        "ClusterRoleBinding" => Printer::new(cluster_role_binding_columns, cells),
        _ => return None,
    })
}

fn role_binding_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Role").doc::<RoleBinding>("roleRef"),
        age_column(),
        Column::string("Users")
            .wide()
            .text("Users in the roleBinding"),
        Column::string("Groups")
            .wide()
            .text("Groups in the roleBinding"),
        Column::string("ServiceAccounts")
            .wide()
            .text("ServiceAccounts in the roleBinding"),
    ]
}

fn cluster_role_binding_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Role").doc::<ClusterRoleBinding>("roleRef"),
        age_column(),
        Column::string("Users")
            .wide()
            .text("Users in the clusterRoleBinding"),
        Column::string("Groups")
            .wide()
            .text("Groups in the clusterRoleBinding"),
        Column::string("ServiceAccounts")
            .wide()
            .text("ServiceAccounts in the clusterRoleBinding"),
    ]
}

fn cells(binding: &Value, ctx: &Ctx) -> Vec<Value> {
    let (mut users, mut groups, mut service_accounts) = (Vec::new(), Vec::new(), Vec::new());
    for s in list(binding, "subjects") {
        match text(s, "kind") {
            "User" => users.push(text(s, "name").to_owned()),
            "Group" => groups.push(text(s, "name").to_owned()),
            "ServiceAccount" => {
                service_accounts.push(format!("{}/{}", text(s, "namespace"), text(s, "name")));
            }
            _ => {}
        }
    }
    vec![
        json!(object::name(binding).unwrap_or_default()),
        json!(format!(
            "{}/{}",
            text(binding, "roleRef.kind"),
            text(binding, "roleRef.name")
        )),
        json!(ctx.age(binding)),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(service_accounts.join(", ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn role_bindings_and_cluster_role_bindings() {
        let binding = json!({"metadata": {"name": "b", "creationTimestamp": ago(3)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                         {"kind": "Group", "name": "devs"},
                         {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"}]});
        let want = json!([
            "b",
            "ClusterRole/view",
            "3s",
            "alice, bob",
            "devs",
            "ci/runner"
        ]);
        let cols = [
            "Name",
            "Role",
            "Age",
            "+Users",
            "+Groups",
            "+ServiceAccounts",
        ];
        check(
            lookup("rbac.authorization.k8s.io", "v1", "rolebindings").unwrap(),
            &cols,
            &[
                (binding.clone(), want.clone()),
                (
                    json!({"metadata": {"name": "e", "creationTimestamp": ago(3)}, "roleRef": {"kind": "Role", "name": "r"}}),
                    json!(["e", "Role/r", "3s", "", "", ""]),
                ),
            ],
        );
        check(
            lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings").unwrap(),
            &cols,
            &[(binding, want)],
        );
    }
}
