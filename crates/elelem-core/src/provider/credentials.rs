//! Plugins that find their own credentials (AWS profiles, Azure tokens, Google
//! service-account keys): what of the environment the builder lets them read,
//! and how they say they have nothing to call with.

use std::sync::Arc;

use super::{Provider, ProviderSettings};
use crate::error::ElelemError;

/// What of the process environment a plugin may read while it is built. The
/// builder passes [`EnvAccess::process`], or [`EnvAccess::without_credentials`]
/// after `ElelemBuilder::without_env_keys()`: then no credential (key, token,
/// key file, profile) comes from the environment, and only settings
/// (endpoint, region, project) do.
///
/// ```
/// use elelem_core::provider::EnvAccess;
/// let closed = EnvAccess::without_credentials();
/// assert!(!closed.reads_credentials());
/// assert_eq!(closed.credential("PATH"), None);
/// assert!(EnvAccess::process().credential("PATH").is_some());
/// assert_eq!(closed.setting("PATH"), EnvAccess::process().setting("PATH"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvAccess {
    credentials: bool,
}

impl EnvAccess {
    /// Everything: settings and credentials.
    pub const fn process() -> Self {
        EnvAccess { credentials: true }
    }

    /// Settings only: every credential lookup answers `None`.
    pub const fn without_credentials() -> Self {
        EnvAccess { credentials: false }
    }

    /// Whether credentials may come from the environment (and from the files
    /// it points to, such as `~/.aws/credentials`).
    pub const fn reads_credentials(&self) -> bool {
        self.credentials
    }

    /// A setting (endpoint, region, project, API version): the variable's value,
    /// trimmed; blank counts as unset.
    pub fn setting(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// A credential, or what leads to one (a key, a token, a key file's path,
    /// a profile name, `HOME` for the profile files): like
    /// [`EnvAccess::setting`] when credentials may be read, else `None`.
    pub fn credential(&self, name: &str) -> Option<String> {
        if self.credentials {
            self.setting(name)
        } else {
            None
        }
    }
}

/// What building a credential-finding plugin gave.
///
/// ```
/// let missing = elelem_core::provider::Configured::Missing {
///     reason: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
/// };
/// assert!(!missing.is_ready());
/// ```
#[derive(Debug, Clone)]
pub enum Configured {
    /// A provider that can send requests.
    Ready(Arc<dyn Provider>),
    /// Nothing to send with: `reason` names the variables (or builder calls)
    /// that would give it credentials. The client lists the provider as
    /// unavailable and refuses its calls without sending anything.
    Missing {
        /// What is missing and what to set.
        reason: String,
    },
}

impl Configured {
    /// Whether the provider can send requests.
    pub fn is_ready(&self) -> bool {
        matches!(self, Configured::Ready(_))
    }
}

/// The credential-aware way to build a plugin that finds credentials by
/// itself, registered with [`inventory::submit!`] next to its
/// [`ProviderPlugin`](super::ProviderPlugin) (same `name`). The builder uses
/// it instead of the plugin's `build`, passing what of the environment it may
/// read and learning whether any credentials were found.
///
/// ```
/// use elelem_core::provider::{Configured, CredentialedPlugin, EnvAccess, ProviderSettings};
///
/// fn build(_settings: ProviderSettings, env: EnvAccess) -> Result<Configured, elelem_core::ElelemError> {
///     match env.credential("ACME_TOKEN") {
///         Some(_token) => unimplemented!("build the provider with the token"),
///         None => Ok(Configured::Missing { reason: "set ACME_TOKEN".into() }),
///     }
/// }
///
/// elelem_core::inventory::submit! {
///     CredentialedPlugin { name: "acme", build }
/// }
/// ```
pub struct CredentialedPlugin {
    /// The provider plugin's name.
    pub name: &'static str,
    /// Builds the provider reading only what `EnvAccess` allows.
    pub build: fn(ProviderSettings, EnvAccess) -> Result<Configured, ElelemError>,
}

inventory::collect!(CredentialedPlugin);

impl CredentialedPlugin {
    /// The credential-aware build registered for plugin `name`, if any.
    ///
    /// ```
    /// assert!(elelem_core::provider::CredentialedPlugin::find("no-such-plugin").is_none());
    /// ```
    pub fn find(name: &str) -> Option<&'static CredentialedPlugin> {
        inventory::iter::<CredentialedPlugin>
            .into_iter()
            .find(|plugin| plugin.name == name)
    }
}

impl std::fmt::Debug for CredentialedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialedPlugin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
