//! Placeholder until the plugin lands.

use crate::framework::PluginSet;
use serde_json::Value;

/// Builds NodeResourcesFit.
pub fn new_fit(_args: Option<&Value>) -> Result<PluginSet, String> {
    Err("not built yet".into())
}

/// Builds NodeResourcesBalancedAllocation.
pub fn new_balanced(_args: Option<&Value>) -> Result<PluginSet, String> {
    Err("not built yet".into())
}
