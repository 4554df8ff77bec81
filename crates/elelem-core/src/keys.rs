//! API key files: `~/.config/elelem/keys/{provider}`, the last place a key is
//! looked for (after the key given in code and the environment variable).

use std::path::{Path, PathBuf};

use crate::secret::ApiKey;

/// The default key directory: `$HOME/.config/elelem/keys` (`%USERPROFILE%` where
/// `HOME` is not set). `None` when neither is set.
///
/// ```
/// if let Some(dir) = elelem_core::default_key_dir() {
///     assert!(dir.ends_with(".config/elelem/keys"));
/// }
/// ```
pub fn default_key_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var_os("USERPROFILE").filter(|h| !h.is_empty()))?;
    Some(
        PathBuf::from(home)
            .join(".config")
            .join("elelem")
            .join("keys"),
    )
}

/// The key file of a provider under `dir`.
pub(crate) fn key_file(dir: &Path, provider: &str) -> PathBuf {
    dir.join(provider)
}

/// Reads a provider's key file: its trimmed content, `None` when the file is missing
/// or empty. The key is never logged; an unreadable file is reported by path only.
pub(crate) fn read_key_file(dir: &Path, provider: &str) -> Option<ApiKey> {
    let path = key_file(dir, provider);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read an API key file; ignored");
            return None;
        }
    };
    warn_if_shared(&path);
    let key = text.trim();
    (!key.is_empty()).then(|| ApiKey::new(key))
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "API key file is readable by other users; run chmod 600 on it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_trimmed_and_empty_ones_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("groq"), "  gsk-from-file\n").unwrap();
        std::fs::write(dir.path().join("openai"), "\n").unwrap();
        assert_eq!(
            read_key_file(dir.path(), "groq").unwrap().expose(),
            "gsk-from-file"
        );
        assert!(read_key_file(dir.path(), "openai").is_none());
        assert!(read_key_file(dir.path(), "absent").is_none());
    }
}
