//! [`Crm`]: the engine's CRM handle. It decides whether an activation needs a lookup
//! (nothing cached, stale, last failure older than `retry_ms`), spawns it under the
//! concurrency limit (never awaited by the caller), keeps results in a bounded dashmap
//! keyed by customer id, and answers readers with the data and its status. Freshness
//! is judged on the engine clock, so tests move it with a `ManualClock`.

use super::client::{self, CrmData, CrmError};
use super::CrmSettings;
use crate::domain::time::SharedClock;
use crate::domain::{Channel, Customer, CustomerId, Millis};
use dashmap::DashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Entries looked at when one must be evicted (the oldest of them goes).
const EVICTION_SAMPLE: usize = 16;

/// What a reader is told about the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmStatus {
    /// Fetched within the TTL.
    Ok,
    /// Older than the TTL, or the last refresh failed: shown, but may be out of date.
    Stale,
    /// Nothing to show: the lookup failed, is running, or never ran.
    Unavailable,
    /// No `[crm] url` configured.
    Disabled,
}

/// The answer of `GET /api/v1/customers/{id}/crm`.
#[derive(Debug, Clone, Serialize)]
pub struct CrmView {
    pub status: CrmStatus,
    /// When the shown data was fetched (engine clock).
    pub fetched_at: Option<Millis>,
    pub attributes: BTreeMap<String, String>,
    pub orders: Vec<super::Order>,
    /// Why the data is missing or stale.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The last good answer and when it came.
    data: Option<(CrmData, Millis)>,
    /// The last failure, when it is newer than `data`.
    error: Option<(CrmError, Millis)>,
    /// Last write, for eviction.
    touched: Millis,
}

struct Inner {
    settings: CrmSettings,
    url: String,
    http: reqwest::Client,
    clock: SharedClock,
    entries: DashMap<CustomerId, Entry>,
    /// Customers with a lookup running (one at a time per customer).
    inflight: DashMap<CustomerId, ()>,
    permits: Arc<Semaphore>,
    /// Lookups started since the engine began (observability and tests).
    started: AtomicU64,
}

/// Cheap to clone; a disabled CRM does nothing and answers `disabled`.
#[derive(Clone)]
pub struct Crm(Option<Arc<Inner>>);

impl Crm {
    pub fn new(settings: &CrmSettings, clock: SharedClock) -> Crm {
        let Some(url) = settings.url.clone() else {
            return Crm(None);
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(settings.timeout_ms.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Crm(Some(Arc::new(Inner {
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings: settings.clone(),
            url,
            http,
            clock,
            entries: DashMap::new(),
            inflight: DashMap::new(),
            started: AtomicU64::new(0),
        })))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Lookups started so far.
    pub fn lookups_started(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |i| i.started.load(Ordering::SeqCst))
    }

    /// A customer actor activated with this record: refresh its CRM data if needed,
    /// in the background. Returns at once; never fails.
    pub fn activated(&self, customer: &Customer) {
        let Some(inner) = &self.0 else { return };
        inner.refresh_if_needed(customer);
    }

    /// The data a reader sees now (a missing or stale entry is refreshed in the
    /// background when `customer` is given).
    pub fn view(&self, id: CustomerId, customer: Option<&Customer>) -> CrmView {
        let Some(inner) = &self.0 else {
            return CrmView {
                status: CrmStatus::Disabled,
                fetched_at: None,
                attributes: BTreeMap::new(),
                orders: Vec::new(),
                error: None,
            };
        };
        if let Some(c) = customer {
            inner.refresh_if_needed(c);
        }
        let now = inner.clock.now();
        let entry = inner.entries.get(&id).map(|e| e.clone());
        let running = inner.inflight.contains_key(&id);
        match entry {
            Some(Entry {
                data: Some((data, at)),
                error,
                ..
            }) => {
                let fresh = now.since(at) < inner.settings.ttl_ms && error.is_none();
                CrmView {
                    status: if fresh {
                        CrmStatus::Ok
                    } else {
                        CrmStatus::Stale
                    },
                    fetched_at: Some(at),
                    attributes: data.attributes,
                    orders: data.orders,
                    error: error.map(|(e, _)| e.to_string()),
                }
            }
            other => CrmView {
                status: CrmStatus::Unavailable,
                fetched_at: None,
                attributes: BTreeMap::new(),
                orders: Vec::new(),
                error: Some(match other.and_then(|e| e.error) {
                    Some((e, _)) if !running => e.to_string(),
                    _ if running => "lookup in progress".into(),
                    _ => "not looked up yet".into(),
                }),
            },
        }
    }

    /// The cached attributes (fresh or stale), for `{{crm.*}}` template variables.
    pub fn attributes(&self, id: CustomerId) -> BTreeMap<String, String> {
        self.0
            .as_ref()
            .and_then(|i| i.entries.get(&id).and_then(|e| e.data.clone()))
            .map(|(d, _)| d.attributes)
            .unwrap_or_default()
    }
}

impl Inner {
    fn refresh_if_needed(self: &Arc<Self>, c: &Customer) {
        let id = c.id;
        if self.inflight.contains_key(&id) {
            return;
        }
        let now = self.clock.now();
        if let Some(e) = self.entries.get(&id) {
            if let Some((_, err_at)) = &e.error {
                if now.since(*err_at) < self.settings.retry_ms {
                    return;
                }
            } else if let Some((_, at)) = &e.data {
                if now.since(*at) < self.settings.ttl_ms {
                    crate::metrics::crm_lookup("cached", None);
                    return;
                }
            }
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            crate::metrics::crm_lookup("shed", None);
            return;
        };
        if self.inflight.insert(id, ()).is_some() {
            return;
        }
        self.started.fetch_add(1, Ordering::SeqCst);
        let address = |chs: &[Channel]| {
            c.identities
                .iter()
                .find(|k| chs.contains(&k.channel))
                .map(|k| k.address.clone())
                .unwrap_or_default()
        };
        let url = client::expand(
            &self.url,
            &id.to_string(),
            &address(&[Channel::Sms, Channel::Voice]),
            &address(&[Channel::Email]),
        );
        let me = self.clone();
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            let res = client::fetch(&me.http, &me.settings, &url).await;
            let at = me.clock.now();
            match &res {
                Ok(_) => crate::metrics::crm_lookup("ok", Some(t0.elapsed())),
                Err(e) => {
                    tracing::warn!(customer = %id, error = %e, "crm lookup failed");
                    crate::metrics::crm_lookup(e.outcome(), Some(t0.elapsed()));
                }
            }
            me.store(id, res, at);
            me.inflight.remove(&id);
            drop(permit);
        });
    }

    fn store(&self, id: CustomerId, res: Result<CrmData, CrmError>, at: Millis) {
        if !self.entries.contains_key(&id) && self.entries.len() >= self.settings.max_entries {
            let oldest = self
                .entries
                .iter()
                .take(EVICTION_SAMPLE)
                .min_by_key(|e| e.touched)
                .map(|e| *e.key());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        let mut e = self.entries.entry(id).or_insert(Entry {
            data: None,
            error: None,
            touched: at,
        });
        e.touched = at;
        match res {
            Ok(d) => {
                e.data = Some((d, at));
                e.error = None;
            }
            Err(err) => e.error = Some((err, at)),
        }
    }
}

/// A customer's activation warms their CRM entry.
impl switchboard_engine::ports::Prefetch for Crm {
    fn customer_activated(&self, customer: &Customer) {
        self.activated(customer);
    }
}
