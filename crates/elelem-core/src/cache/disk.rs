//! A store of gzip JSON files under a directory, shared safely between processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{Cache, CacheKey, CachedResponse};
use crate::error::ElelemError;

/// The largest entry read back (decompressed), against a corrupt or hostile file.
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// The first line of every entry, before its key: `elelem-cache-key {key}\n`, then
/// the entry's JSON.
const KEY_LINE: &[u8] = b"elelem-cache-key ";

/// Distinguishes the temporary files of one process's concurrent writes.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// A store of one gzip JSON file per entry: `{dir}/{key[0..2]}/{key}.json.gz`.
///
/// Each file holds its key (a first line `elelem-cache-key {key}`, then the JSON),
/// checked on every read: a file copied or renamed under another key's name is a
/// miss, never another request's answer.
///
/// - Writes are atomic: an entry is written to a unique temporary file in the same
///   directory, flushed to disk, then renamed over the final name, so a crash never
///   leaves a partial entry and readers see either the old entry or the new one.
/// - Several processes (and tasks) can share a directory: they never write the same
///   temporary file, and concurrent writes of one key leave one complete entry.
/// - A file that cannot be read, decompressed or parsed, or that holds another key's
///   entry, is a miss (and is replaced by the next store of that key).
/// - On Unix, files are created readable by their owner only: they hold answers.
///
/// Entries are never expired; delete the directory (or old files) to clear it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use elelem_core::cache::{Cache, CacheKey, CachedResponse, DiskCache};
/// let dir = std::env::temp_dir().join(format!("elelem-doc-{}", std::process::id()));
/// let cache = DiskCache::new(&dir).unwrap();
/// let completion: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
/// let key = CacheKey::from_content(&serde_json::json!({"q": 1}));
/// cache.put(&key, &CachedResponse::new(completion, "p:m", elelem_core::Usd::ZERO)).await;
/// assert!(cache.get(&key).await.is_some());
/// assert!(cache.path_of(&key).exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// A store under `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, ElelemError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| ElelemError::Config {
            reason: format!(
                "cannot create the cache directory {}: {e}; choose a writable directory for .disk_cache(...)",
                dir.display()
            ),
        })?;
        Ok(DiskCache { dir })
    }

    /// The directory entries are stored under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file an entry is stored in.
    pub fn path_of(&self, key: &CacheKey) -> PathBuf {
        let name = key.as_str();
        self.dir
            .join(name.get(..2).unwrap_or("00"))
            .join(format!("{name}.json.gz"))
    }

    /// Reads an entry now (blocking): `None` when missing or unusable.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("elelem-doc-read-{}", std::process::id()));
    /// let cache = elelem_core::cache::DiskCache::new(&dir).unwrap();
    /// let key = elelem_core::cache::CacheKey::from_content(&serde_json::json!("absent"));
    /// assert!(cache.read(&key).is_none());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn read(&self, key: &CacheKey) -> Option<CachedResponse> {
        let path = self.path_of(key);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot open a cache entry; treated as a miss");
                return None;
            }
        };
        let mut json = Vec::new();
        let read = GzDecoder::new(file)
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut json);
        let json = match read.ok().and_then(|_| entry_json(&json, key)) {
            Some(Ok(json)) => json,
            Some(Err(found)) => {
                tracing::warn!(path = %path.display(), expected = key.as_str(), found, "a cache file holds another key's entry; treated as a miss");
                return None;
            }
            None => &[],
        };
        let entry = CachedResponse::from_json_bytes(json);
        if entry.is_none() {
            tracing::warn!(path = %path.display(), "corrupt or unreadable cache entry ignored (treated as a miss)");
        }
        entry
    }

    /// Writes an entry now (blocking), atomically.
    ///
    /// ```
    /// use elelem_core::cache::{CacheKey, CachedResponse, DiskCache};
    /// let dir = std::env::temp_dir().join(format!("elelem-doc-write-{}", std::process::id()));
    /// let cache = DiskCache::new(&dir).unwrap();
    /// let completion: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
    /// let key = CacheKey::from_content(&serde_json::json!("w"));
    /// cache.write(&key, &CachedResponse::new(completion, "p:m", elelem_core::Usd::ZERO)).unwrap();
    /// assert!(cache.read(&key).is_some());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn write(&self, key: &CacheKey, response: &CachedResponse) -> io::Result<()> {
        let path = self.path_of(key);
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent)?;
        let mut json = KEY_LINE.to_vec();
        json.extend_from_slice(key.as_str().as_bytes());
        json.push(b'\n');
        let entry = response
            .to_json_bytes()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        json.extend_from_slice(&entry);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let temp = parent.join(format!(
            ".{}.{}.{}.{nanos}.tmp",
            key.as_str(),
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_gzip(&temp, &json).and_then(|()| fs::rename(&temp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }
}

/// The JSON of an entry stored for `key`; `Err(found key)` when the file names
/// another key, `None` when it holds no key line.
fn entry_json<'a>(bytes: &'a [u8], key: &CacheKey) -> Option<Result<&'a [u8], String>> {
    let rest = bytes.strip_prefix(KEY_LINE)?;
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let (found, json) = (rest.get(..newline)?, rest.get(newline + 1..)?);
    if found == key.as_str().as_bytes() {
        Some(Ok(json))
    } else {
        Some(Err(String::from_utf8_lossy(found)
            .chars()
            .take(80)
            .collect()))
    }
}

/// Writes `json` gzipped to a new file and flushes it to disk.
fn write_gzip(path: &Path, json: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    let mut gzip = GzEncoder::new(BufWriter::new(file), Compression::default());
    gzip.write_all(json)?;
    let file = gzip.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Runs blocking file work off the async runtime's worker threads when there is a
/// runtime, inline otherwise.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(work).await.ok(),
        Err(_) => Some(work()),
    }
}

#[async_trait]
impl Cache for DiskCache {
    async fn get(&self, key: &CacheKey) -> Option<CachedResponse> {
        let (cache, key) = (self.clone(), key.clone());
        blocking(move || cache.read(&key)).await.flatten()
    }

    async fn put(&self, key: &CacheKey, response: &CachedResponse) {
        let (cache, key, response) = (self.clone(), key.clone(), response.clone());
        let result = blocking(move || {
            let written = cache.write(&key, &response);
            (written, cache.path_of(&key))
        })
        .await;
        if let Some((Err(e), path)) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot store a cache entry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatCompletion;

    fn entry(text: &str) -> CachedResponse {
        let completion: ChatCompletion = serde_json::from_value(
            serde_json::json!({"choices": [{"message": {"content": text}}]}),
        )
        .unwrap();
        CachedResponse::new(completion, "p:m", crate::Usd::from_nanos(5))
    }

    #[test]
    fn entries_are_gzip_files_and_corrupt_ones_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path().join("nested")).unwrap();
        let key = CacheKey::from_content(&serde_json::json!("a"));
        cache.write(&key, &entry("hello")).unwrap();
        let path = cache.path_of(&key);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(cache.read(&key).unwrap().cost, crate::Usd::from_nanos(5));

        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(cache.read(&key).is_none(), "truncated");
        fs::write(&path, b"not gzip at all").unwrap();
        assert!(cache.read(&key).is_none(), "garbage");
        cache.write(&key, &entry("again")).unwrap();
        assert_eq!(
            cache.read(&key).unwrap().completion.content(),
            Some("again")
        );
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_file_holding_another_keys_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path()).unwrap();
        let (a, b) = (
            CacheKey::from_content(&serde_json::json!("a")),
            CacheKey::from_content(&serde_json::json!("b")),
        );
        cache.write(&a, &entry("answer to a")).unwrap();
        let b_path = cache.path_of(&b);
        fs::create_dir_all(b_path.parent().unwrap()).unwrap();
        fs::copy(cache.path_of(&a), &b_path).unwrap();
        assert!(cache.read(&b).is_none(), "a's answer served for b");
        assert_eq!(
            cache.read(&a).unwrap().completion.content(),
            Some("answer to a")
        );
        // An entry without its key (an older format) is a miss too.
        let bare = entry("no key").to_json_bytes().unwrap();
        write_gzip(&dir.path().join("bare.gz"), &bare).unwrap();
        fs::rename(dir.path().join("bare.gz"), cache.path_of(&a)).unwrap();
        assert!(cache.read(&a).is_none());
    }

    #[test]
    fn concurrent_writers_and_readers_never_see_a_partial_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path()).unwrap();
        let key = CacheKey::from_content(&serde_json::json!("shared"));
        let big = "x".repeat(200_000);
        std::thread::scope(|s| {
            for w in 0..4 {
                let (cache, key, big) = (&cache, &key, &big);
                s.spawn(move || {
                    for i in 0..20 {
                        cache.write(key, &entry(&format!("{w}-{i}-{big}"))).unwrap();
                    }
                });
            }
            for _ in 0..2 {
                let (cache, key) = (&cache, &key);
                s.spawn(move || {
                    for _ in 0..200 {
                        if cache.path_of(key).exists() {
                            let found = cache.read(key).expect("a complete entry");
                            assert!(found.completion.content().unwrap().len() > 200_000);
                        }
                    }
                });
            }
        });
        assert!(cache.read(&key).is_some());
    }
}
