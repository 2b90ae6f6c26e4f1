//! The Japanese dictionary: IPADIC built at run time from Debian's `mecab-ipadic`
//! sources (`kb.ipadic_dir`, EUC-JP CSV and `.def` files) into `kb.dictionary_cache`,
//! then loaded once per process — on its first use ([`LazySegmenter`]): the loaded
//! dictionary is about 50 MiB, and an engine whose knowledge base never sees Japanese
//! text (no articles, no Japanese questions) never pays for it.
//!
//! lindera's embedded dictionaries download their sources at build time, which this
//! project cannot do, so the dictionary is compiled here with lindera's own builder.
//! The build goes to a temporary sibling directory that is renamed into place, so a
//! concurrent or interrupted build never leaves a half-written cache; a finished cache
//! is reused by every later start (and by every test app of a process: loaded
//! dictionaries are shared through a process-wide map keyed by the cache path).
//! Absent sources (or a failed build) yield `None`: the caller falls back to bigrams.

use lindera::dictionary::{load_fs_dictionary, DictionaryBuilder, Metadata};
use lindera::mode::Mode;
use lindera::segmenter::Segmenter;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// lindera's source metadata for IPADIC, with Debian's EUC-JP encoding.
const IPADIC_METADATA: &str = r#"{
  "name": "ipadic",
  "encoding": "EUC-JP",
  "default_word_cost": -10000,
  "default_left_context_id": 0,
  "default_right_context_id": 0,
  "default_field_value": "*",
  "flexible_csv": true,
  "skip_invalid_cost_or_id": false,
  "normalize_details": true,
  "dictionary_schema": { "fields": ["surface","left_context_id","right_context_id","cost",
    "part_of_speech","part_of_speech_subcategory_1","part_of_speech_subcategory_2",
    "part_of_speech_subcategory_3","conjugation_form","conjugation_type","base_form",
    "reading","pronunciation"] },
  "user_dictionary_schema": { "fields": ["surface","part_of_speech","reading"] }
}"#;

type Loaded = Option<Arc<LazySegmenter>>;

/// A compiled dictionary on disk, loaded into memory the first time a Japanese run of
/// text is analysed. A load that fails then (the cache removed meanwhile) is logged
/// once, and the analysis falls back to bigrams.
pub struct LazySegmenter {
    dir: PathBuf,
    loaded: OnceLock<Option<Segmenter>>,
}

impl LazySegmenter {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            loaded: OnceLock::new(),
        }
    }

    /// The segmenter, loading the dictionary now if this is its first use.
    pub fn get(&self) -> Option<&Segmenter> {
        self.loaded
            .get_or_init(|| match load(&self.dir) {
                Ok(s) => {
                    tracing::info!(dir = %self.dir.display(), "loaded the IPADIC dictionary");
                    Some(s)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Japanese dictionary failed to load: the knowledge base uses the cjk-bigram tokenizer for Japanese");
                    None
                }
            })
            .as_ref()
    }

    /// Whether the dictionary is in memory (it was used).
    pub fn is_loaded(&self) -> bool {
        self.loaded.get().is_some()
    }
}

/// Loaded dictionaries by (sources, cache).
type Map = HashMap<(PathBuf, PathBuf), Loaded>;

fn loaded() -> &'static Mutex<Map> {
    static MAP: OnceLock<Mutex<Map>> = OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// The default cache: shared by every engine of this machine (the build is the same).
pub fn default_cache() -> PathBuf {
    std::env::temp_dir().join("switchboard-ipadic")
}

/// A segmenter over IPADIC built from `sources` into `cache` (built now unless
/// cached; loaded on first use), or `None` (logged once per pair of paths) when the
/// sources are missing (and nothing is cached) or the build fails.
pub fn segmenter(sources: &Path, cache: &Path) -> Loaded {
    // Held while building: a second engine of this process waits for the first.
    let mut map = loaded().lock().unwrap_or_else(|e| e.into_inner());
    let key = (sources.to_path_buf(), cache.to_path_buf());
    if let Some(s) = map.get(&key) {
        return s.clone();
    }
    let result = match build(sources, cache) {
        Ok(dir) => Some(Arc::new(LazySegmenter::new(dir))),
        Err(e) => {
            tracing::warn!(
                sources = %sources.display(),
                error = %e,
                "Japanese dictionary unavailable: the knowledge base uses the cjk-bigram tokenizer"
            );
            None
        }
    };
    map.insert(key, result.clone());
    result
}

/// The compiled dictionary's directory in `cache`, compiled from `sources` first
/// unless it is there.
fn build(sources: &Path, cache: &Path) -> anyhow::Result<PathBuf> {
    let out = cache.join(format!("ipadic-lindera-{}", lindera_version()));
    if !out.join("metadata.json").is_file() {
        if !sources.join("matrix.def").is_file() {
            anyhow::bail!(
                "no mecab-ipadic sources (matrix.def) in {}",
                sources.display()
            );
        }
        std::fs::create_dir_all(cache)?;
        let tmp = cache.join(format!(".build-{}", uuid::Uuid::new_v4()));
        let metadata: Metadata = serde_json::from_str(IPADIC_METADATA)?;
        let built = DictionaryBuilder::new(metadata)
            .build_dictionary(sources, &tmp)
            .map_err(|e| anyhow::anyhow!("building IPADIC: {e}"));
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        // Another process may have won the race: its result is as good as ours.
        if std::fs::rename(&tmp, &out).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        tracing::info!(dir = %out.display(), "built the IPADIC dictionary");
    }
    Ok(out)
}

fn load(dir: &Path) -> anyhow::Result<Segmenter> {
    let dict = load_fs_dictionary(dir).map_err(|e| anyhow::anyhow!("loading IPADIC: {e}"))?;
    Ok(Segmenter::new(Mode::Normal, dict, None))
}

/// Part of the cache directory name, so a lindera upgrade rebuilds the dictionary.
fn lindera_version() -> &'static str {
    "6"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::tokenizer::Analyzer;

    #[test]
    fn ipadic_builds_from_debian_sources_and_analyses_japanese() {
        let sources = Path::new("/usr/share/mecab/dic/ipadic");
        if !sources.join("matrix.def").is_file() {
            eprintln!("mecab-ipadic not installed: skipped (scripts/test.sh installs it)");
            return;
        }
        let cache = std::env::temp_dir().join(format!("sb-ipadic-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&cache).unwrap();
        // The compiled dictionary of the default cache, copied: a cache of its own,
        // loaded by this test only.
        let shared = segmenter(sources, &default_cache()).expect("IPADIC builds");
        let compiled = cache.join(shared.dir.file_name().unwrap());
        std::fs::create_dir_all(&compiled).unwrap();
        for f in std::fs::read_dir(&shared.dir).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), compiled.join(f.file_name())).unwrap();
        }
        let seg = segmenter(sources, &cache).expect("IPADIC found in the cache");
        let a = Analyzer::morphological(seg.clone());
        assert_eq!(a.name(), "lindera-ipadic");
        // Loaded on first use: English text does not need it, Japanese does.
        assert_eq!(a.terms("shipping fees"), vec!["shipping", "fee"]);
        assert!(!seg.is_loaded(), "loaded before any Japanese text");
        assert_eq!(a.terms("返品したい"), vec!["返品"]);
        assert!(seg.is_loaded());
        assert_eq!(a.terms("返品方法について"), vec!["返品", "方法"]);
        // Base forms: a conjugated verb is indexed as its dictionary form.
        assert!(a.terms("荷物が届きません").contains(&"届く".to_string()));
        assert_eq!(a.terms("ＳＨＩＰＰＩＮＧ fees"), vec!["shipping", "fee"]);
        // Loaded once per cache path.
        assert!(Arc::ptr_eq(&seg, &segmenter(sources, &cache).unwrap()));
        let _ = std::fs::remove_dir_all(&cache);
    }

    #[test]
    fn missing_sources_fall_back_to_none() {
        let dir = std::env::temp_dir().join(format!("sb-no-ipadic-{}", uuid::Uuid::new_v4()));
        assert!(segmenter(&dir.join("src"), &dir.join("cache")).is_none());
    }
}
