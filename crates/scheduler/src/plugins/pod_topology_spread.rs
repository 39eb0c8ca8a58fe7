//! Placeholder until the plugin lands.

use crate::framework::PluginSet;
use serde_json::Value;

/// Builds the plugin.
pub fn new(_args: Option<&Value>) -> Result<PluginSet, String> {
    Err("not built yet".into())
}
