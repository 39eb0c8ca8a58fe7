//! Test helpers: printing at a fixed time and comparing whole rows.

use super::{Ctx, IncludeObject, column_definitions, rows_table};
use serde_json::Value;
use skiff_core::registry::ResourceInfo;

/// The time the tests print at.
pub(super) const NOW: &str = "2025-06-01T12:00:00Z";

/// Printing at [`NOW`].
pub(super) fn ctx() -> Ctx {
    Ctx {
        now: NOW.parse().expect("valid time"),
    }
}

/// The timestamp `secs` seconds before [`NOW`].
pub(super) fn ago(secs: i64) -> String {
    let t = ctx().now - jiff::SignedDuration::from_secs(secs);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Checks the column names of a resource (`+Name` for a wide column) and, for each object,
/// its row's cells.
pub(super) fn check(info: &ResourceInfo, columns: &[&str], cases: &[(Value, Value)]) {
    let defs = column_definitions(info);
    let got: Vec<String> = defs
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("name");
            if c["priority"] == 1 {
                format!("+{name}")
            } else {
                name.to_owned()
            }
        })
        .collect();
    assert_eq!(got, columns, "columns of {}", info.gvk.kind);
    let objects: Vec<Value> = cases.iter().map(|(o, _)| o.clone()).collect();
    let t = rows_table(info, &objects, IncludeObject::None, &ctx());
    for (row, (obj, want)) in t["rows"].as_array().expect("rows").iter().zip(cases) {
        assert_eq!(&row["cells"], want, "{} {obj}", info.gvk.kind);
        assert_eq!(
            row["cells"].as_array().map(Vec::len),
            Some(columns.len()),
            "one cell per column: {obj}"
        );
    }
}
