//! Builder options for the response cache, key files, presets and the
//! context-window check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::builder::ElelemBuilder;
use crate::cache::{Cache, DiskCache, Layers, MemoryCache};
use crate::error::ElelemError;
use crate::keys::default_key_dir;
use crate::presets::Preset;

/// What the builder collects for the client's cache, key files, presets, gate and context check (see [`super::parts`]).
#[derive(Default)]
pub(crate) struct ClientOptions {
    pub caches: Layers,
    /// A cache directory that could not be created, reported by `build()`.
    pub cache_error: Option<ElelemError>,
    pub key_dir: Option<PathBuf>,
    pub presets_files: Vec<PathBuf>,
    pub presets: BTreeMap<String, Preset>,
    pub skip_context_check: bool,
    /// Cool-down and rate limits (`gate/options.rs`).
    pub gate: super::gate::GateOptions,
    /// Virtual models' routing set from code (`routing.rs`).
    pub routings: Vec<(String, crate::routing::Routing)>,
    /// The JSON fixer model (`json_fixer.rs`).
    pub json_fixer: Option<String>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("key_dir", &self.key_dir)
            .field("presets_files", &self.presets_files)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Where key files are read from: the directory set with `key_dir`, else the
    /// default one unless ambient keys are off (`without_env_keys`).
    pub fn key_dir(&self, read_ambient: bool) -> Option<PathBuf> {
        self.key_dir
            .clone()
            .or_else(|| read_ambient.then(default_key_dir).flatten())
    }
}

impl ElelemBuilder {
    /// Turns the response cache on with your own store. Several stores (this,
    /// [`memory_cache`](Self::memory_cache), [`disk_cache`](Self::disk_cache)) are
    /// consulted in the order they were added, a hit in a later one being copied into
    /// the earlier ones; add the fastest first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use elelem_core::{cache::MemoryCache, Elelem};
    /// let elelem = Elelem::builder().cache(Arc::new(MemoryCache::new(100))).build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn cache(mut self, cache: Arc<dyn Cache>) -> Self {
        self.options.caches.push(cache);
        self
    }

    /// Turns the response cache on in memory, keeping the `capacity` most recently
    /// used answers.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().memory_cache(1_000).build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn memory_cache(self, capacity: usize) -> Self {
        self.cache(Arc::new(MemoryCache::new(capacity)))
    }

    /// Turns the response cache on in a directory of gzip JSON files (created if
    /// missing; several processes may share it). See [`DiskCache`].
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("elelem-doc-disk-cache-{}", std::process::id()));
    /// let elelem = elelem_core::Elelem::builder().memory_cache(100).disk_cache(&dir).build().unwrap();
    /// # let _ = elelem;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn disk_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        match DiskCache::new(dir) {
            Ok(cache) => self.cache(Arc::new(cache)),
            Err(error) => {
                self.options.cache_error.get_or_insert(error);
                self
            }
        }
    }

    /// Sets the directory of API key files (default `~/.config/elelem/keys`): the
    /// key of provider `groq` is the content of `{dir}/groq`. A key file is the last
    /// place looked at, after a key given in code and the environment variable.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().key_dir("/etc/my-app/keys").build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn key_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.key_dir = Some(dir.into());
        self
    }

    /// Loads named presets from a TOML file (`[presets.NAME]` tables; see
    /// [`Preset`]). Later files override earlier ones by name;
    /// [`Elelem::reload_presets`](crate::Elelem::reload_presets) reads them again.
    ///
    /// ```no_run
    /// let elelem = elelem_core::Elelem::builder().presets_file("presets.toml").build()?;
    /// let request = elelem.preset("summarizer")?.message(elelem_core::Message::user("..."));
    /// # Ok::<(), elelem_core::ElelemError>(())
    /// ```
    pub fn presets_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.presets_files.push(path.into());
        self
    }

    /// Adds a named preset in code (over any of the same name in presets files).
    ///
    /// ```
    /// use elelem_core::{Elelem, Preset};
    /// let elelem = Elelem::builder()
    ///     .models_toml("demo", "[provider]\nname = 'demo'\nbase_url = 'http://127.0.0.1:9/v1'\n[[models]]\nid = 'demo:small'")
    ///     .preset("fast", Preset::new("demo:small"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(elelem.preset("fast").unwrap().model, "demo:small");
    /// ```
    pub fn preset(mut self, name: impl Into<String>, preset: Preset) -> Self {
        self.options.presets.insert(name.into(), preset);
        self
    }

    /// Turns the pre-flight check off or on (default on): a request whose estimated
    /// prompt tokens plus `max_tokens` exceed the model's context window fails with
    /// [`ElelemError::ContextWindowExceeded`] before anything is sent.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().context_window_check(false).build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn context_window_check(mut self, on: bool) -> Self {
        self.options.skip_context_check = !on;
        self
    }
}
