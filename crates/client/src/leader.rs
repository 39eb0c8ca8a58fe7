//! Leader election over a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! package does it: a candidate takes the Lease when it is free or its holder has not renewed
//! it for a lease duration (measured on the candidate's own clock, since the last time the
//! record was seen to change), then renews it every retry period; a leader that cannot renew
//! within the renew deadline stops leading.
//!
//! [`decide`] is the pure rule; [`run`] drives it against the API server and runs the work
//! only while leading.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Election settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (`<host>_<uuid>` by default).
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before giving up.
    pub renew_deadline: Duration,
    /// Wait between attempts.
    pub retry_period: Duration,
}

impl Settings {
    /// Upstream's defaults (15 s, 10 s, 2 s) for a Lease in `namespace`/`name`.
    pub fn new(namespace: &str, name: &str) -> Settings {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        Settings {
            namespace: namespace.into(),
            name: name.into(),
            identity: format!("{host}_{}", uuid::Uuid::new_v4()),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What the candidate last saw of the Lease: the record and when (on its own clock) it
/// last changed.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The holder and renew time last seen.
    pub record: Option<(String, Option<MicroTime>)>,
    /// When that record was first seen.
    pub at: Option<Instant>,
}

/// What to do with the Lease.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Someone else holds it and renews it: wait.
    Wait,
    /// Write it with us as holder (`transition`: the holder changes).
    Take {
        /// Whether the holder changes (acquire time and transition count update).
        transition: bool,
    },
}

/// client-go's rule: take a Lease that is ours, has no holder, or whose record has not changed
/// for a lease duration since we first saw it.
pub fn decide(lease: &Lease, me: &str, observed: &mut Observed, now: Instant) -> Decision {
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let record = (holder.clone(), spec.renew_time.clone());
    if observed.record.as_ref() != Some(&record) {
        observed.record = Some(record);
        observed.at = Some(now);
    }
    if holder == me {
        return Decision::Take { transition: false };
    }
    if holder.is_empty() {
        return Decision::Take { transition: true };
    }
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(15).max(1) as u64);
    match observed.at {
        Some(at) if now.duration_since(at) < duration => Decision::Wait,
        _ => Decision::Take { transition: true },
    }
}

fn lease_for(settings: &Settings, base: Option<&Lease>, transition: bool) -> Lease {
    let now = MicroTime(Timestamp::now());
    let mut lease = base.cloned().unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(settings.name.clone()),
            namespace: Some(settings.namespace.clone()),
            ..Default::default()
        },
        spec: None,
    });
    let old = lease.spec.clone().unwrap_or_default();
    let transitions = old.lease_transitions.unwrap_or(0);
    lease.spec = Some(LeaseSpec {
        holder_identity: Some(settings.identity.clone()),
        lease_duration_seconds: Some(settings.lease_duration.as_secs().max(1) as i32),
        acquire_time: if transition || old.acquire_time.is_none() {
            Some(now.clone())
        } else {
            old.acquire_time
        },
        renew_time: Some(now),
        lease_transitions: Some(if transition && base.is_some() {
            transitions + 1
        } else {
            transitions
        }),
        ..old
    });
    lease
}

/// One attempt to acquire or renew; whether we hold the Lease afterwards.
pub async fn try_acquire_or_renew(
    api: &Api<Lease>,
    settings: &Settings,
    observed: &mut Observed,
) -> anyhow::Result<bool> {
    match api.get_opt(&settings.name).await? {
        None => {
            let lease = lease_for(settings, None, true);
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        Some(current) => {
            match decide(&current, &settings.identity, observed, Instant::now()) {
                Decision::Wait => Ok(false),
                Decision::Take { transition } => {
                    let lease = lease_for(settings, Some(&current), transition);
                    // The resourceVersion of `current` makes this a compare-and-swap.
                    match api
                        .replace(&settings.name, &PostParams::default(), &lease)
                        .await
                    {
                        Ok(_) => Ok(true),
                        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                        Err(e) => Err(e.into()),
                    }
                }
            }
        }
    }
}

/// Campaigns for the Lease and runs `work` while leading; when leadership is lost, `work`
/// is dropped (cancelled) and the campaign starts over. Returns only if `work` returns.
pub async fn run<F, Fut>(
    client: kube::Client,
    settings: Settings,
    mut work: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let mut observed = Observed::default();
    loop {
        // Candidate: try every retry period until we hold the Lease.
        loop {
            match try_acquire_or_renew(&api, &settings, &mut observed).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!("leader election for {}: {e:#}", settings.name),
            }
            tokio::time::sleep(settings.retry_period).await;
        }
        tracing::info!(
            "{} became leader of {}/{}",
            settings.identity,
            settings.namespace,
            settings.name
        );
        let renew = async {
            let mut last_renew = Instant::now();
            loop {
                tokio::time::sleep(settings.retry_period).await;
                match try_acquire_or_renew(&api, &settings, &mut observed).await {
                    Ok(true) => last_renew = Instant::now(),
                    Ok(false) => return,
                    Err(e) => tracing::warn!("renewing {}: {e:#}", settings.name),
                }
                if last_renew.elapsed() > settings.renew_deadline {
                    return;
                }
            }
        };
        tokio::select! {
            r = work() => return r,
            _ = renew => {
                tracing::warn!("{} lost the lease {}/{}", settings.identity, settings.namespace, settings.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renew: i64) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: (!holder.is_empty()).then(|| holder.to_owned()),
                lease_duration_seconds: Some(15),
                renew_time: Some(MicroTime(Timestamp::from_second(renew).unwrap())),
                ..Default::default()
            }),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lease_is_taken_only_after_it_stops_changing() {
        let mut seen = Observed::default();
        let t = Instant::now();
        assert_eq!(
            decide(&lease("other", 1), "me", &mut seen, t),
            Decision::Wait
        );
        // The holder renews: the clock restarts.
        let t2 = t + Duration::from_secs(10);
        assert_eq!(
            decide(&lease("other", 2), "me", &mut seen, t2),
            Decision::Wait
        );
        assert_eq!(
            decide(
                &lease("other", 2),
                "me",
                &mut seen,
                t2 + Duration::from_secs(14)
            ),
            Decision::Wait
        );
        assert_eq!(
            decide(
                &lease("other", 2),
                "me",
                &mut seen,
                t2 + Duration::from_secs(15)
            ),
            Decision::Take { transition: true }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn own_and_free_leases() {
        let mut seen = Observed::default();
        let t = Instant::now();
        assert_eq!(
            decide(&lease("me", 1), "me", &mut seen, t),
            Decision::Take { transition: false }
        );
        assert_eq!(
            decide(&lease("", 1), "me", &mut seen, t),
            Decision::Take { transition: true }
        );
    }

    #[test]
    fn transitions_count_holder_changes() {
        let s = Settings::new("kube-system", "kube-scheduler");
        let mut base = lease("other", 1);
        base.spec.as_mut().unwrap().lease_transitions = Some(3);
        let taken = lease_for(&s, Some(&base), true);
        let spec = taken.spec.unwrap();
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.holder_identity.as_deref(), Some(s.identity.as_str()));
        let renewed = lease_for(&s, Some(&lease(&s.identity, 1)), false);
        assert_eq!(renewed.spec.unwrap().lease_transitions, Some(0));
    }
}
