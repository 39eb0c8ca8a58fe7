//! The Skiff API server: the Kubernetes REST API over the revisioned store.
//!
//! It is the only component that touches `skiff-store`; everything else is its client.
//!
//! A request goes: TLS ([`server`]) → authentication ([`authn`]) → authorization ([`api`]) →
//! [`request_info`] → discovery ([`discovery`]) or the generic REST handlers ([`rest`],
//! [`watch`], [`scale`]) over [`storage`], with Tables from [`table`].

pub mod api;
pub mod apply;
pub mod authn;
pub mod cache;
pub mod convert;
pub mod defaults;
pub mod discovery;
pub mod http;
pub mod metrics;
pub mod object;
pub mod openapi;
pub mod pki;
pub mod protobuf;
pub mod request_info;
pub mod rest;
pub mod reviews;
pub mod satoken;
pub mod scale;
pub mod server;
pub mod storage;
pub mod strategy;
pub mod subresources;
pub mod table;
pub mod typed;
pub mod validate;
pub mod watch;
