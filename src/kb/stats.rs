//! What customers did with the public articles: views and "did this answer your
//! question?" answers, per article and UTC day, counted in memory by the node that
//! served them and written to the store every `help.flush_ms`.
//!
//! Every engine process counts under its own id (a UUID made at start), so a stored row
//! — record kind [`KB_STATS`], key `{day:08}/{article}/{process}` — has exactly one
//! writer, which overwrites it with its running totals for that day: no read-modify-
//! write race between nodes, no lost update, and no counter ever counted twice. A
//! restart starts new rows; readers sum every row of the days asked for. A process
//! killed with `kill -9` loses at most what it counted since its last flush; a flush
//! that fails is retried with the next one (the totals stay in memory).
//!
//! Memory is bounded by the public articles times the days not yet flushed: only an
//! article the help center shows is counted (the caller checks), and a flushed day
//! older than today is forgotten.

use crate::store::{Batch, RecordWrite, SharedStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Record kind of a process's totals for one article and day.
pub const KB_STATS: &str = "kb_article_stats";

const DAY_MS: i64 = 86_400_000;

/// Totals of one article.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub views: u64,
    pub helpful: u64,
    pub not_helpful: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.views += o.views;
        self.helpful += o.helpful;
        self.not_helpful += o.not_helpful;
    }
}

/// One thing a customer did with an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    View,
    Helpful,
    NotHelpful,
}

#[derive(Default)]
struct Day {
    counts: Counts,
    dirty: bool,
}

/// This process's counters.
pub struct ArticleStats {
    process: String,
    days: Mutex<BTreeMap<(i64, String), Day>>,
}

impl Default for ArticleStats {
    fn default() -> Self {
        Self::new()
    }
}

/// The UTC day (days since the Unix epoch) of `at_ms`.
pub fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

fn key(day: i64, article: &str, process: &str) -> String {
    format!("{day:08}/{article}/{process}")
}

impl ArticleStats {
    pub fn new() -> Self {
        Self {
            process: uuid::Uuid::new_v4().to_string(),
            days: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts `tally` for `article` at `at_ms`.
    pub fn count(&self, article: &str, at_ms: i64, tally: Tally) {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let d = days.entry((day_of(at_ms), article.to_owned())).or_default();
        match tally {
            Tally::View => d.counts.views += 1,
            Tally::Helpful => d.counts.helpful += 1,
            Tally::NotHelpful => d.counts.not_helpful += 1,
        }
        d.dirty = true;
    }

    /// Writes every total that changed since the last flush, in one batch; then forgets
    /// the flushed days before `now_ms`'s. On an error nothing is marked flushed.
    pub async fn flush(&self, store: &SharedStore, now_ms: i64) -> Result<usize, StoreError> {
        let writes: Vec<((i64, String), Counts)> = {
            let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
            days.iter()
                .filter(|(_, d)| d.dirty)
                .map(|(k, d)| (k.clone(), d.counts))
                .collect()
        };
        if !writes.is_empty() {
            let mut batch = Batch::default();
            for ((day, article), c) in &writes {
                let value = serde_json::to_vec(c).expect("counts serialise");
                batch.records.push(RecordWrite::put(
                    KB_STATS,
                    key(*day, article, &self.process),
                    value,
                ));
            }
            store.commit(batch).await?;
        }
        let today = day_of(now_ms);
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        for (k, written) in &writes {
            if let Some(d) = days.get_mut(k) {
                // Counted again while the batch was written: still dirty.
                d.dirty = d.counts != *written;
            }
        }
        days.retain(|(day, _), d| d.dirty || *day >= today);
        Ok(writes.len())
    }
}

/// Every process's totals per article for the UTC days `from_day..=to_day`, summed; at
/// most `max_rows` stored rows are read (`Err(None)` past that: the range is too big).
pub async fn read(
    store: &SharedStore,
    from_day: i64,
    to_day: i64,
    max_rows: usize,
) -> Result<BTreeMap<String, Counts>, Option<StoreError>> {
    let mut totals: BTreeMap<String, Counts> = BTreeMap::new();
    // Keys `{day:08}/…`: `{from:08}` sorts just before the first day's rows, and
    // `{to:08}0` just after the last day's ('0' follows '/').
    let mut after = format!("{from_day:08}");
    let until = format!("{to_day:08}0");
    let mut read = 0usize;
    loop {
        let page = store
            .records_through(KB_STATS, Some(&after), &until, 500)
            .await
            .map_err(Some)?;
        let Some((last, _)) = page.last() else {
            return Ok(totals);
        };
        after = last.clone();
        let n = page.len();
        read += n;
        if read > max_rows {
            return Err(None);
        }
        for (k, v) in page {
            let mut parts = k.splitn(3, '/');
            let (Some(_day), Some(article)) = (parts.next(), parts.next()) else {
                continue;
            };
            match serde_json::from_slice::<Counts>(&v) {
                Ok(c) => totals.entry(article.to_owned()).or_default().add(&c),
                Err(e) => tracing::warn!(key = %k, error = %e, "unreadable article stats row"),
            }
        }
        if n < 500 {
            return Ok(totals);
        }
    }
}

/// Every `every_ms` (0: never), flushes `stats` to `store`; ends when either is dropped.
pub fn flush_every(
    kb: &std::sync::Arc<super::KnowledgeBase>,
    store: &SharedStore,
    clock: crate::domain::time::SharedClock,
    every_ms: u64,
) {
    if every_ms == 0 {
        return;
    }
    let every = std::time::Duration::from_millis(every_ms);
    let (kb, store) = (
        std::sync::Arc::downgrade(kb),
        std::sync::Arc::downgrade(store),
    );
    actix::spawn(async move {
        loop {
            actix_rt::time::sleep(every).await; // the flush period, not synchronisation
            let (Some(kb), Some(store)) = (kb.upgrade(), store.upgrade()) else {
                return;
            };
            if let Err(e) = kb.stats.flush(&store, clock.now().0).await {
                tracing::warn!(error = %e, "article stats not written; retried at the next flush");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_day_and_the_range_bounds_hold() {
        let k = key(20_430, "a", "p");
        assert!(format!("{:08}", 20_430) < k);
        assert!(k < format!("{:08}0", 20_430));
        assert!(format!("{:08}0", 20_430) < key(20_431, "a", "p"));
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(DAY_MS), 1);
    }

    #[tokio::test]
    async fn totals_are_flushed_summed_across_processes_and_old_days_forgotten() {
        use crate::store::embedded::{EmbeddedOptions, EmbeddedStore};
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = std::sync::Arc::new(
            EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open"),
        );
        let (a, b) = (ArticleStats::new(), ArticleStats::new());
        let day1 = 10 * DAY_MS + 5;
        a.count("x", day1, Tally::View);
        a.count("x", day1, Tally::Helpful);
        b.count("x", day1, Tally::View);
        b.count("y", day1 + DAY_MS, Tally::NotHelpful);
        assert_eq!(a.flush(&store, day1).await.unwrap(), 1);
        assert_eq!(a.flush(&store, day1).await.unwrap(), 0, "nothing new");
        a.count("x", day1, Tally::View);
        assert_eq!(a.flush(&store, day1 + DAY_MS).await.unwrap(), 1);
        assert!(a.days.lock().unwrap().is_empty(), "yesterday is forgotten");
        b.flush(&store, day1).await.unwrap();
        let t = read(&store, 10, 10, 100).await.unwrap();
        assert_eq!(
            t["x"],
            Counts {
                views: 3,
                helpful: 1,
                not_helpful: 0
            }
        );
        assert!(!t.contains_key("y"), "another day");
        let both = read(&store, 9, 11, 100).await.unwrap();
        assert_eq!(both["y"].not_helpful, 1);
        assert!(matches!(read(&store, 9, 11, 2).await, Err(None)));
    }
}
