//! Resource quantities: the API server uses [`skiff_core::quantity`], shared with the
//! scheduler and the kubelet.

pub use skiff_core::quantity::*;
