//! Matching model ids the way users type them: aliases of a model resolve to it,
//! and an id that differs from a known one only in case or punctuation gets a
//! "did you mean" suggestion.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::entry::ModelEntry;
use crate::error::ElelemError;

/// The alias entries of `models`: for each alias, a copy of its model's entry
/// under the alias id, sending the alias upstream (the provider accepts both).
/// A real entry with the same id wins over an alias; two models claiming the
/// same alias are an error.
pub(crate) fn alias_entries(
    models: &BTreeMap<String, Arc<ModelEntry>>,
) -> Result<BTreeMap<String, Arc<ModelEntry>>, ElelemError> {
    let mut aliases: BTreeMap<String, Arc<ModelEntry>> = BTreeMap::new();
    for model in models.values() {
        for alias in &model.aliases {
            let id = format!("{}:{alias}", model.provider);
            if models.contains_key(&id) {
                continue;
            }
            if let Some(other) = aliases.get(&id) {
                return Err(ElelemError::Catalogue {
                    source_name: model.id.clone(),
                    reason: format!(
                        "alias {id:?} is claimed by both {} and {}",
                        other.id, model.id
                    ),
                });
            }
            let mut entry = ModelEntry::clone(model);
            entry.id.clone_from(&id);
            entry.upstream.clone_from(alias);
            aliases.insert(id, Arc::new(entry));
        }
    }
    Ok(aliases)
}

/// Lower-case letters and digits only: `Claude-3.5-Sonnet` and `claude-3-5-sonnet`
/// normalize alike.
fn normalized(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The known id `wanted` was probably meant to be: one equal ignoring case, else
/// one equal ignoring case and punctuation.
///
/// ```
/// use elelem_core::catalogue::did_you_mean;
/// let known = ["openai:gpt-4o", "openai:gpt-4o-mini"];
/// assert_eq!(did_you_mean("openai:GPT-4o", known), Some("openai:gpt-4o"));
/// assert_eq!(did_you_mean("openai:gpt4o-mini", known), Some("openai:gpt-4o-mini"));
/// assert_eq!(did_you_mean("openai:gpt-9", known), None);
/// ```
pub fn did_you_mean<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_normal = normalized(wanted);
    let mut loose = None;
    for id in known {
        if id.eq_ignore_ascii_case(wanted) {
            return Some(id);
        }
        if loose.is_none() && !wanted_normal.is_empty() && normalized(id) == wanted_normal {
            loose = Some(id);
        }
    }
    loose
}

/// The `; did you mean "..."?` part of an unknown-model message, from the
/// comma-separated `known` ids (empty when nothing is close).
pub(crate) fn did_you_mean_hint(wanted: &str, known: &str) -> String {
    did_you_mean(wanted, known.split(", "))
        .map(|id| format!("; did you mean {id:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_close_id_or_nothing() {
        let known = "anthropic:claude-3-5-sonnet-latest, anthropic:claude-sonnet-4-20250514";
        assert_eq!(
            did_you_mean_hint("anthropic:Claude-Sonnet-4-20250514", known),
            "; did you mean \"anthropic:claude-sonnet-4-20250514\"?"
        );
        assert_eq!(
            did_you_mean_hint("anthropic:claude-3.5-sonnet-latest", known),
            "; did you mean \"anthropic:claude-3-5-sonnet-latest\"?"
        );
        assert_eq!(did_you_mean_hint("anthropic:opus", known), "");
        assert_eq!(did_you_mean_hint("", "none"), "");
    }
}
