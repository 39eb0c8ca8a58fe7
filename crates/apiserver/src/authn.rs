//! Authentication: who is calling.
//!
//! As upstream's authenticator chain does, a verified client certificate wins; otherwise an
//! `Authorization: Bearer <token>` header is checked against the static token file
//! (`--token-auth-file`); otherwise the request is anonymous. A bearer token that nobody
//! recognises is an error, answered with 401, rather than a silent downgrade to anonymous.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

/// User name of unauthenticated requests.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// Group of every unauthenticated request.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// Group added to every authenticated user.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// An authenticated (or anonymous) caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name (`admin`, `system:node:foo`, `system:anonymous`, ...).
    pub name: String,
    /// A unique identifier for the user, empty when the authenticator does not provide one.
    pub uid: String,
    /// The user's groups, including `system:authenticated` or `system:unauthenticated`.
    pub groups: Vec<String>,
    /// Extra attributes (for service account tokens: the credential ID and bound objects).
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
}

impl User {
    /// The anonymous user: `system:anonymous` in `system:unauthenticated`.
    pub fn anonymous() -> User {
        User {
            name: ANONYMOUS_USER.to_string(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED_GROUP.to_string()],
            extra: Default::default(),
        }
    }

    /// Whether this is the anonymous user.
    pub fn is_anonymous(&self) -> bool {
        self.name == ANONYMOUS_USER
    }

    /// An authenticated user; `system:authenticated` is appended to `groups` the way upstream's
    /// group adder does (unless already present).
    fn authenticated(name: String, uid: String, mut groups: Vec<String>) -> User {
        if !groups
            .iter()
            .any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP)
        {
            groups.push(AUTHENTICATED_GROUP.to_string());
        }
        User {
            name,
            uid,
            groups,
            extra: Default::default(),
        }
    }
}

/// The user named by a client certificate (DER): the subject's common name is the user name and
/// every organization is a group. `None` when the certificate cannot be parsed or has no common
/// name. The certificate is assumed to have been verified already (by the TLS layer).
pub fn user_from_client_cert(der: &[u8]) -> Option<User> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?;
    if name.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|attr| attr.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(User::authenticated(name.to_string(), String::new(), groups))
}

/// Why a request could not be authenticated. The server answers 401 Unauthorized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthnError {
    /// A bearer token was presented that no authenticator recognises.
    #[error("invalid bearer token")]
    InvalidToken,
}

/// Static bearer tokens, as upstream's `--token-auth-file`.
///
/// The file is CSV: `token,user,uid[,"group1,group2,..."]`, at least three columns; fields may be
/// double-quoted (to hold commas; `""` is a literal quote), leading spaces of a field are ignored,
/// blank lines are skipped. A record with an empty token is skipped with a warning; a duplicate
/// token replaces the earlier one, also with a warning.
#[derive(Clone)]
pub struct TokenFile {
    entries: Vec<(String, User)>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile")
            .field(
                "users",
                &self
                    .entries
                    .iter()
                    .map(|(_, u)| &u.name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TokenFile {
    /// Reads and parses a token file. Errors name the file and, for syntax errors, the line.
    pub fn load(path: &Path) -> Result<TokenFile> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("reading token file {}", path.display()))?;
        TokenFile::parse(&text, &path.display().to_string())
    }

    /// Parses token file content; `origin` names the source in error messages.
    fn parse(text: &str, origin: &str) -> Result<TokenFile> {
        let records = parse_csv(text).map_err(|(line, msg)| anyhow!("{origin}:{line}: {msg}"))?;
        let mut entries: Vec<(String, User)> = Vec::new();
        for (line, fields) in records {
            if fields.len() < 3 {
                return Err(anyhow!(
                    "{origin}:{line}: a token needs at least 3 columns (token, user name, user uid), found {}",
                    fields.len()
                ));
            }
            let token = &fields[0];
            if token.is_empty() {
                tracing::warn!(file = origin, line, "empty token in token file; skipped");
                continue;
            }
            if fields[1].is_empty() {
                return Err(anyhow!("{origin}:{line}: empty user name"));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let user = User::authenticated(fields[1].clone(), fields[2].clone(), groups);
            if let Some(pos) = entries.iter().position(|(t, _)| t == token) {
                tracing::warn!(
                    file = origin,
                    line,
                    "duplicate token in token file; the later one wins"
                );
                entries.remove(pos);
            }
            entries.push((token.clone(), user));
        }
        Ok(TokenFile { entries })
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no token.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The user owning `bearer`, if any. Every token is compared in constant time (per length).
    pub fn authenticate(&self, bearer: &str) -> Option<User> {
        let mut found = None;
        for (token, user) in &self.entries {
            if constant_time_eq(token.as_bytes(), bearer.as_bytes()) {
                found = Some(user);
            }
        }
        found.cloned()
    }
}

/// Compares two byte strings without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A CSV record: the line it starts on and its fields.
type CsvRecord = (usize, Vec<String>);

/// Parses CSV the way Go's `encoding/csv` does with `TrimLeadingSpace` and a variable number of
/// fields: returns `(first line, fields)` per record, or `(line, message)` on a syntax error.
fn parse_csv(text: &str) -> std::result::Result<Vec<CsvRecord>, (usize, String)> {
    let normalized = text.replace("\r\n", "\n");
    let chars: Vec<char> = normalized.chars().collect();
    let n = chars.len();
    let mut records = Vec::new();
    let mut i = 0;
    let mut line = 1;

    while i < n {
        let eol = chars[i..]
            .iter()
            .position(|&c| c == '\n')
            .map_or(n, |p| i + p);
        if chars[i..eol].iter().all(|c| c.is_whitespace()) {
            i = eol + 1;
            line += 1;
            continue;
        }
        let first_line = line;
        let mut fields = Vec::new();
        loop {
            while i < n && chars[i] != '\n' && chars[i].is_whitespace() {
                i += 1;
            }
            let mut field = String::new();
            if i < n && chars[i] == '"' {
                let quote_line = line;
                i += 1;
                loop {
                    if i >= n {
                        return Err((quote_line, "unterminated quoted field".to_string()));
                    }
                    match chars[i] {
                        '"' if i + 1 < n && chars[i + 1] == '"' => {
                            field.push('"');
                            i += 2;
                        }
                        '"' => {
                            i += 1;
                            if i < n && chars[i] != ',' && chars[i] != '\n' {
                                return Err((line, "extraneous \" in quoted field".to_string()));
                            }
                            break;
                        }
                        c => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                            i += 1;
                        }
                    }
                }
            } else {
                while i < n && chars[i] != ',' && chars[i] != '\n' {
                    if chars[i] == '"' {
                        return Err((line, "bare \" in non-quoted field".to_string()));
                    }
                    field.push(chars[i]);
                    i += 1;
                }
            }
            fields.push(field);
            if i < n && chars[i] == ',' {
                i += 1;
                continue;
            }
            if i < n {
                // The newline ending the record.
                i += 1;
                line += 1;
            }
            break;
        }
        records.push((first_line, fields));
    }
    Ok(records)
}

/// Authenticates requests from their TLS client certificate and `Authorization` header.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    tokens: Option<TokenFile>,
}

impl Authenticator {
    /// An authenticator accepting client certificates and, when given, the tokens of `tokens`.
    pub fn new(tokens: Option<TokenFile>) -> Authenticator {
        Authenticator { tokens }
    }

    /// Who is calling. `peer_cert_der` is the TLS client's end-entity certificate, already
    /// verified against the cluster CA; `authorization_header` is the raw `Authorization` value.
    ///
    /// A client certificate with a common name wins. Otherwise a `Bearer` token must belong to
    /// the token file, else [`AuthnError::InvalidToken`]. Otherwise (no header, an empty token,
    /// or another scheme) the caller is anonymous.
    pub fn authenticate(
        &self,
        peer_cert_der: Option<&[u8]>,
        authorization_header: Option<&str>,
    ) -> Result<User, AuthnError> {
        if let Some(user) = peer_cert_der.and_then(user_from_client_cert) {
            return Ok(user);
        }
        if let Some(token) = authorization_header.and_then(bearer_token) {
            return self
                .tokens
                .as_ref()
                .and_then(|tokens| tokens.authenticate(token))
                .ok_or(AuthnError::InvalidToken);
        }
        Ok(User::anonymous())
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or `None`
/// for another scheme or an empty token.
fn bearer_token(header: &str) -> Option<&str> {
    let mut parts = header.trim().splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{Pki, ServingNames};
    use std::io::Write;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        pem.contents
    }

    fn test_pki(dir: &Path) -> Pki {
        let names = ServingNames {
            dns: strings(&["localhost"]),
            ips: vec!["127.0.0.1".parse().unwrap()],
        };
        Pki::load_or_create(dir, &names).unwrap()
    }

    #[test]
    fn anonymous_user() {
        let anon = User::anonymous();
        assert!(anon.is_anonymous());
        assert_eq!(anon.name, "system:anonymous");
        assert_eq!(anon.uid, "");
        assert_eq!(anon.groups, strings(&["system:unauthenticated"]));
        assert!(!User::authenticated("admin".into(), String::new(), vec![]).is_anonymous());
    }

    #[test]
    fn authenticated_group_is_added_once() {
        let u = User::authenticated("u".into(), "1".into(), strings(&["a"]));
        assert_eq!(u.groups, strings(&["a", "system:authenticated"]));
        let u = User::authenticated("u".into(), "1".into(), strings(&["system:authenticated"]));
        assert_eq!(u.groups, strings(&["system:authenticated"]));
    }

    #[test]
    fn csv_parsing_follows_go() {
        let text = "a,b,c\r\n\n   \n  x , \"y,z\",w\n\"multi\nline\",\"q\"\"q\",3\nlast,,";
        let records = parse_csv(text).unwrap();
        assert_eq!(
            records,
            vec![
                (1, strings(&["a", "b", "c"])),
                (4, strings(&["x ", "y,z", "w"])),
                (5, strings(&["multi\nline", "q\"q", "3"])),
                (7, strings(&["last", "", ""])),
            ]
        );
    }

    #[test]
    fn csv_syntax_errors_name_the_line() {
        assert_eq!(
            parse_csv("a,b,c\nto\"ken,u,1\n").unwrap_err().0,
            2,
            "bare quote"
        );
        let (line, msg) = parse_csv("a,b,c\n\n\"tok\"en,u,1\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("extraneous"), "{msg}");
        let (line, msg) = parse_csv("a,b,c\n\"never closed,u,1\n\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("unterminated"), "{msg}");
    }

    #[test]
    fn token_file_load() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "t0k3n,alice,1001,\"dev,ops\"\n\nbobtoken, bob ,1002\n,ghost,1003\ncarol,carol,1004,solo\nbobtoken,bob2,1005\n"
        )
        .unwrap();
        let tokens = TokenFile::load(file.path()).unwrap();
        assert_eq!(tokens.len(), 3, "empty token skipped, duplicate replaced");
        assert_eq!(
            tokens.authenticate("t0k3n"),
            Some(User {
                name: "alice".into(),
                uid: "1001".into(),
                groups: strings(&["dev", "ops", "system:authenticated"]),
                extra: Default::default(),
            })
        );
        let bob = tokens.authenticate("bobtoken").unwrap();
        assert_eq!(bob.name, "bob2", "the later duplicate wins");
        assert_eq!(bob.uid, "1005");
        assert_eq!(bob.groups, strings(&["system:authenticated"]));
        assert_eq!(
            tokens.authenticate("carol").unwrap().groups,
            strings(&["solo", "system:authenticated"])
        );
        assert_eq!(tokens.authenticate(""), None);
        assert_eq!(tokens.authenticate("t0k3"), None);
        assert_eq!(tokens.authenticate("t0k3n "), None);
        assert!(
            !format!("{tokens:?}").contains("t0k3n"),
            "Debug hides tokens"
        );
    }

    #[test]
    fn token_file_errors_name_file_and_line() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "good,user,1\n\nshort,user\n").unwrap();
        let err = format!("{:#}", TokenFile::load(file.path()).unwrap_err());
        let expected = format!("{}:3:", file.path().display());
        assert!(err.contains(&expected), "{err}");
        assert!(err.contains("at least 3 columns"), "{err}");

        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "tok,\"user,1").unwrap();
        let err = format!("{:#}", TokenFile::load(file.path()).unwrap_err());
        assert!(
            err.contains(&format!("{}:1:", file.path().display())),
            "{err}"
        );

        let missing = file.path().with_extension("missing");
        let err = format!("{:#}", TokenFile::load(&missing).unwrap_err());
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("  bearer abc  "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc extra"), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Basic YWRtaW46YWRtaW4="), None);
    }

    #[test]
    fn client_cert_maps_cn_and_orgs() {
        let dir = tempfile::tempdir().unwrap();
        let pki = test_pki(dir.path());
        let (cert, _key) = pki
            .issue_client_cert("system:node:n1", &["system:nodes", "extra"], 1)
            .unwrap();
        let user = user_from_client_cert(&pem_to_der(&cert)).unwrap();
        assert_eq!(user.name, "system:node:n1");
        assert_eq!(user.uid, "");
        assert_eq!(
            user.groups,
            strings(&["system:nodes", "extra", "system:authenticated"])
        );

        let (cert, _key) = pki.issue_client_cert("lonely", &[], 1).unwrap();
        let user = user_from_client_cert(&pem_to_der(&cert)).unwrap();
        assert_eq!(user.groups, strings(&["system:authenticated"]));

        assert_eq!(user_from_client_cert(b"not a certificate"), None);
        // The CA certificate has a CN; a subject without one maps to nobody.
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "only-org");
        let key = rcgen::KeyPair::generate().unwrap();
        let no_cn = params.self_signed(&key).unwrap();
        assert_eq!(user_from_client_cert(no_cn.der()), None);
    }

    #[test]
    fn authenticator_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let pki = test_pki(dir.path());
        let admin_der = pem_to_der(&pki.admin_cert_pem);
        let tokens = TokenFile::parse("secret,tok-user,42,g1\n", "inline").unwrap();
        let authn = Authenticator::new(Some(tokens));

        // A client certificate wins, even over an invalid token.
        let user = authn
            .authenticate(Some(&admin_der), Some("Bearer wrong"))
            .unwrap();
        assert_eq!(user.name, "admin");
        assert_eq!(
            user.groups,
            strings(&["system:masters", "system:authenticated"])
        );

        let user = authn.authenticate(None, Some("Bearer secret")).unwrap();
        assert_eq!(user.name, "tok-user");
        assert_eq!(user.uid, "42");
        assert_eq!(user.groups, strings(&["g1", "system:authenticated"]));

        assert_eq!(
            authn.authenticate(None, Some("Bearer wrong")),
            Err(AuthnError::InvalidToken)
        );
        // An unparsable certificate does not authenticate; the token still decides.
        assert_eq!(
            authn.authenticate(Some(b"junk"), Some("Bearer wrong")),
            Err(AuthnError::InvalidToken)
        );
        assert_eq!(authn.authenticate(None, None), Ok(User::anonymous()));
        assert_eq!(
            authn.authenticate(None, Some("Basic dXNlcjpwYXNz")),
            Ok(User::anonymous())
        );
        assert_eq!(
            authn.authenticate(None, Some("Bearer ")),
            Ok(User::anonymous())
        );

        // Without a token file every bearer token is invalid.
        let no_tokens = Authenticator::default();
        assert_eq!(
            no_tokens.authenticate(None, Some("Bearer secret")),
            Err(AuthnError::InvalidToken)
        );
        assert_eq!(no_tokens.authenticate(None, None), Ok(User::anonymous()));
        assert_eq!(
            no_tokens.authenticate(Some(&admin_der), None).unwrap().name,
            "admin"
        );
    }
}
