//! Service account tokens: the `serviceaccounts/token` subresource (TokenRequest) issues
//! bound JWTs signed with the cluster's service account key (ES256), and the authenticator
//! accepts them back, as upstream's token issuer and service account authenticator do.
//!
//! A token names its service account by namespace, name and UID, optionally the object it is
//! bound to (a Pod, Secret or Node, by name and UID) and, for pods, their node. Verifying a
//! token checks the signature, issuer, audience and validity window, then that the service
//! account and the bound object still exist with the same UIDs: deleting either revokes the
//! token. The public key is published at `/openid/v1/jwks` with an OpenID discovery document
//! at `/.well-known/openid-configuration`.

use crate::authn::{AUTHENTICATED_GROUP, User};
use crate::object;
use crate::storage::Storage;
use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rcgen::{KeyPair, PublicKeyData};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use skiff_core::registry::{self, ResourceInfo};
use skiff_core::status::{ApiError, FieldError, GroupKind, GroupResource};
use std::collections::BTreeMap;
use std::path::Path;

/// The default issuer (`--service-account-issuer`), also the default API audience.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// Key file inside the PKI directory.
pub const KEY_FILE: &str = "service-account.key";
/// Default token lifetime of a TokenRequest.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime a TokenRequest may ask for.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Leeway for clock skew when checking `nbf` and `exp`.
const LEEWAY_SECONDS: i64 = 60;

/// The signing key and the issuer's identity.
pub struct Issuer {
    key: EcdsaKeyPair,
    kid: String,
    issuer: String,
    audiences: Vec<String>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Why a bearer token that looked like ours was refused (the request gets 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Issuer {
    /// Loads the signing key from `dir` (the PKI directory), creating it on first start.
    pub fn load_or_create(dir: &Path, issuer: &str) -> Result<Issuer> {
        let path = dir.join(KEY_FILE);
        let pem = match std::fs::read_to_string(&path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate().context("generating the service account key")?;
                let pem = key.serialize_pem();
                crate::pki::write_secret(&path, pem.as_bytes())?;
                pem
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Issuer::from_pem(&pem, issuer).with_context(|| format!("loading {}", path.display()))
    }

    /// An issuer from a PKCS#8 PEM P-256 key.
    pub fn from_pem(pem: &str, issuer: &str) -> Result<Issuer> {
        let parsed = KeyPair::from_pem(pem).context("parsing the key")?;
        let der = parsed.serialize_der();
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &der,
            &SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("the service account key must be an ECDSA P-256 key: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &parsed.subject_public_key_info());
        Ok(Issuer {
            key,
            kid: B64.encode(digest.as_ref()),
            issuer: issuer.to_owned(),
            audiences: vec![issuer.to_owned()],
        })
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences the API server accepts by default.
    pub fn api_audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Signs `claims` as a compact JWS (ES256).
    pub fn sign(&self, claims: &Value) -> Result<String, ApiError> {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let mut text = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), text.as_bytes())
            .map_err(|e| ApiError::internal(format!("signing a token: {e}")))?;
        text.push('.');
        text.push_str(&B64.encode(sig.as_ref()));
        Ok(text)
    }

    /// The claims of a token this issuer signed, if the signature, issuer, audiences and
    /// validity window check out and one of its audiences is in `audiences`. `Ok(None)` when the token is not a JWT of this issuer (other
    /// authenticators may know it).
    pub fn verify(
        &self,
        token: &str,
        now: i64,
        audiences: &[String],
    ) -> Result<Option<Value>, Rejected> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, sig] = parts.as_slice() else {
            return Ok(None);
        };
        let Some(claims) = B64
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return Ok(None);
        };
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Ok(None);
        }
        let header: Value = B64
            .decode(header)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Rejected("malformed token header".into()))?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(Rejected("unsupported token signing algorithm".into()));
        }
        let sig = B64
            .decode(sig)
            .map_err(|_| Rejected("malformed token signature".into()))?;
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        );
        let signed = &token[..header_len(token)];
        public
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| Rejected("invalid token signature".into()))?;
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if now > exp + LEEWAY_SECONDS {
            return Err(Rejected("service account token has expired".into()));
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
            && now + LEEWAY_SECONDS < nbf
        {
            return Err(Rejected("service account token is not valid yet".into()));
        }
        let auds = audiences_of(&claims);
        if !auds.iter().any(|a| audiences.contains(a)) {
            return Err(Rejected("token audiences are invalid".into()));
        }
        Ok(Some(claims))
    }

    /// The public key as a JSON Web Key Set (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        let point = self.key.public_key().as_ref();
        // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
        let (x, y) = point[1..].split_at(32);
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "alg": "ES256",
            "x": B64.encode(x),
            "y": B64.encode(y),
        }]})
    }

    /// The OpenID provider configuration (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/openid/v1/jwks", self.issuer.trim_end_matches('/')),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }
}

/// The length of `header.payload`, the signed part of a compact JWS.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn audiences_of(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn info(group: &str, resource: &str) -> &'static ResourceInfo {
    registry::lookup(group, "v1", resource).expect("a built-in resource")
}

/// Upstream's TokenRequest validation (`ValidateTokenRequest`).
pub fn validate(req: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(exp) = object::path(req, "spec.expirationSeconds").and_then(Value::as_i64) {
        if exp < MIN_EXPIRATION_SECONDS {
            errs.push(FieldError::invalid(
                "spec.expirationSeconds",
                exp,
                "may not specify a duration less than 10 minutes",
            ));
        } else if exp > 1 << 32 {
            errs.push(FieldError::invalid(
                "spec.expirationSeconds",
                exp,
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
    }
    errs
}

/// `POST .../serviceaccounts/{name}/token`: issues a token for the service account, bound
/// to `spec.boundObjectRef` when given. Returns the TokenRequest with its `status`.
pub async fn token_request(
    storage: &Storage,
    issuer: &Issuer,
    namespace: &str,
    name: &str,
    mut req: Value,
) -> Result<Value, ApiError> {
    let gk = GroupKind::new("authentication.k8s.io", "TokenRequest");
    if let Some(body_name) = object::name(&req)
        && !body_name.is_empty()
        && body_name != name
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let errs = validate(&req);
    if !errs.is_empty() {
        return Err(ApiError::invalid(&gk, name, &errs));
    }
    let sa = storage
        .get(info("", "serviceaccounts"), Some(namespace), name)
        .await?;
    let sa_uid = object::meta_str(&sa, "uid").unwrap_or_default().to_owned();
    let now = unix_now();
    let expiration = object::path(&req, "spec.expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    let mut audiences: Vec<String> = object::path(&req, "spec.audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = issuer.api_audiences().to_vec();
    }
    let mut k8s = json!({
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": sa_uid},
    });
    if let Some(r) = object::path(&req, "spec.boundObjectRef").filter(|r| r.is_object()) {
        bind_claims(storage, namespace, name, r, &mut k8s).await?;
    }
    let jti = uuid::Uuid::new_v4().to_string();
    let exp = now + expiration;
    let claims = json!({
        "aud": audiences,
        "exp": exp,
        "iat": now,
        "iss": issuer.issuer(),
        "jti": jti,
        "kubernetes.io": k8s,
        "nbf": now,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    });
    let token = issuer.sign(&claims)?;
    let when = jiff::Timestamp::from_second(exp)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    if !req.get("metadata").is_some_and(Value::is_object) {
        req["metadata"] = json!({});
    }
    object::set_meta(&mut req, "name", name);
    object::set_meta(&mut req, "namespace", namespace);
    object::set_meta(&mut req, "creationTimestamp", Value::Null);
    if !req.get("spec").is_some_and(Value::is_object) {
        req["spec"] = json!({});
    }
    req["spec"]["audiences"] = json!(audiences);
    req["spec"]["expirationSeconds"] = json!(expiration);
    req["status"] = json!({"token": token, "expirationTimestamp": when});
    Ok(req)
}

/// Adds the bound object (and, for a pod, its node) to the `kubernetes.io` claims.
async fn bind_claims(
    storage: &Storage,
    namespace: &str,
    sa_name: &str,
    r: &Value,
    k8s: &mut Value,
) -> Result<(), ApiError> {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (kind, api_version, name, want_uid) = (s("kind"), s("apiVersion"), s("name"), s("uid"));
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let (obj, claim) = match (group, kind.as_str()) {
        ("", "Pod") => {
            let pod = storage
                .get(info("", "pods"), Some(namespace), &name)
                .await?;
            let runs_as = object::path(&pod, "spec.serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if runs_as != sa_name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
                )));
            }
            if let Some(node) = object::path(&pod, "spec.nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                && let Ok(n) = storage.get(info("", "nodes"), None, node).await
            {
                k8s["node"] = json!({
                    "name": node,
                    "uid": object::meta_str(&n, "uid").unwrap_or_default(),
                });
            }
            (pod, "pod")
        }
        ("", "Secret") => {
            let secret = storage
                .get(info("", "secrets"), Some(namespace), &name)
                .await?;
            (secret, "secret")
        }
        ("", "Node") => {
            let node = storage.get(info("", "nodes"), None, &name).await?;
            (node, "node")
        }
        _ => {
            let gvk = if group.is_empty() {
                format!("/{}, Kind={kind}", api_version)
            } else {
                format!("{api_version}, Kind={kind}")
            };
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {gvk}"
            )));
        }
    };
    let uid = object::meta_str(&obj, "uid").unwrap_or_default().to_owned();
    if !want_uid.is_empty() && want_uid != uid {
        return Err(ApiError::conflict(
            &GroupResource::new(group, kind.as_str()),
            &name,
            &format!(
                "the UID in the bound object reference ({want_uid}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        ));
    }
    k8s[claim] = json!({"name": name, "uid": uid});
    Ok(())
}

/// The user of a verified token's claims, once the service account and the bound objects are
/// found with the UIDs the token names.
pub async fn user_of(storage: &Storage, claims: &Value) -> Result<User, Rejected> {
    let k8s = claims.get("kubernetes.io").cloned().unwrap_or(Value::Null);
    let ns = k8s
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = object::path(&k8s, "serviceaccount.name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let uid = object::path(&k8s, "serviceaccount.uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if ns.is_empty() || name.is_empty() {
        return Err(Rejected("token names no service account".into()));
    }
    let sa = storage
        .get(info("", "serviceaccounts"), Some(ns), name)
        .await
        .map_err(|_| Rejected(format!("serviceaccounts {name:?} not found")))?;
    let have = object::meta_str(&sa, "uid").unwrap_or_default();
    if have != uid {
        return Err(Rejected(format!(
            "service account UID ({have}) does not match claim ({uid})"
        )));
    }
    if object::meta(&sa).contains_key("deletionTimestamp") {
        return Err(Rejected(format!(
            "service account {ns}/{name} has been deleted"
        )));
    }
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={jti}")],
        );
    }
    for (claim, resource, namespaced) in [
        ("pod", "pods", true),
        ("secret", "secrets", true),
        ("node", "nodes", false),
    ] {
        let Some(bound) = k8s.get(claim).filter(|b| b.is_object()) else {
            continue;
        };
        let bname = bound.get("name").and_then(Value::as_str).unwrap_or("");
        let buid = bound.get("uid").and_then(Value::as_str).unwrap_or("");
        let found = storage
            .get(info("", resource), namespaced.then_some(ns), bname)
            .await
            .ok();
        // A pod's node is informational: the token stays valid when the node goes.
        let must_exist = claim != "node" || k8s.get("pod").is_none();
        match found {
            // A terminating pod keeps its access through its grace period (and a leeway).
            Some(obj)
                if claim == "pod"
                    && object::meta_str(&obj, "uid") == Some(buid)
                    && object::meta_str(&obj, "deletionTimestamp")
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_some_and(|t| t.as_second() + LEEWAY_SECONDS < unix_now()) =>
            {
                return Err(Rejected(format!("pod {ns}/{bname} has been deleted")));
            }
            Some(obj) if object::meta_str(&obj, "uid") == Some(buid) => {}
            _ if must_exist => {
                return Err(Rejected(format!(
                    "{resource} {bname:?} bound to the token is gone or was replaced"
                )));
            }
            _ => {}
        }
        if claim != "secret" {
            extra.insert(
                format!("authentication.kubernetes.io/{claim}-name"),
                vec![bname.to_owned()],
            );
            extra.insert(
                format!("authentication.kubernetes.io/{claim}-uid"),
                vec![buid.to_owned()],
            );
        }
    }
    Ok(User {
        name: format!("system:serviceaccount:{ns}:{name}"),
        uid: have.to_owned(),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            AUTHENTICATED_GROUP.into(),
        ],
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        let key = KeyPair::generate().unwrap();
        Issuer::from_pem(&key.serialize_pem(), DEFAULT_ISSUER).unwrap()
    }

    fn api() -> Vec<String> {
        vec![DEFAULT_ISSUER.to_owned()]
    }

    fn claims(now: i64) -> Value {
        json!({"iss": DEFAULT_ISSUER, "aud": [DEFAULT_ISSUER], "exp": now + 600, "nbf": now,
               "iat": now, "sub": "system:serviceaccount:d:s",
               "kubernetes.io": {"namespace": "d", "serviceaccount": {"name": "s", "uid": "u"}}})
    }

    #[test]
    fn signed_tokens_verify_and_tampering_fails() {
        let i = issuer();
        let now = 1_800_000_000;
        let token = i.sign(&claims(now)).unwrap();
        assert_eq!(i.verify(&token, now, &api()).unwrap(), Some(claims(now)));

        // Another key's token with our issuer is refused, not ignored.
        let other = issuer().sign(&claims(now)).unwrap();
        assert!(i.verify(&other, now, &api()).is_err());
        // A changed payload breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut c = claims(now);
        c["sub"] = json!("system:serviceaccount:d:admin");
        let forged = format!("{}.{}.{}", parts[0], B64.encode(c.to_string()), parts[2]);
        assert!(i.verify(&forged, now, &api()).is_err());
        // Expired, not yet valid, wrong audience.
        assert!(
            i.verify(&token, now + 600 + LEEWAY_SECONDS + 1, &api())
                .is_err()
        );
        assert!(i.verify(&token, now - LEEWAY_SECONDS - 1, &api()).is_err());
        let mut aud = claims(now);
        aud["aud"] = json!(["vault"]);
        assert!(i.verify(&i.sign(&aud).unwrap(), now, &api()).is_err());
        // Not a JWT of ours: left to other authenticators.
        assert_eq!(i.verify("static-token", now, &api()), Ok(None));
        let mut foreign = claims(now);
        foreign["iss"] = json!("https://elsewhere");
        assert_eq!(i.verify(&i.sign(&foreign).unwrap(), now, &api()), Ok(None));
    }

    #[test]
    fn jwks_and_discovery() {
        let i = issuer();
        let jwks = i.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(B64.decode(key["x"].as_str().unwrap()).unwrap().len(), 32);
        assert_eq!(
            i.discovery()["jwks_uri"],
            format!("{DEFAULT_ISSUER}/openid/v1/jwks")
        );
    }

    #[test]
    fn expiration_limits() {
        assert!(validate(&json!({"spec": {"expirationSeconds": 600}})).is_empty());
        assert_eq!(
            validate(&json!({"spec": {"expirationSeconds": 60}}))[0].to_string(),
            "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
        );
    }
}
