//! Reading catalogue TOML and merging files into one raw catalogue.

use std::collections::BTreeMap;

use toml::{Table, Value};

use crate::error::ElelemError;

/// Catalogue tables before they are resolved into entries: providers and models by
/// name, currencies by code. Later files merge into earlier ones field by field.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawCatalogue {
    pub providers: BTreeMap<String, Table>,
    pub models: BTreeMap<String, Table>,
    /// US dollars per unit of each currency, as decimal strings.
    pub currencies: BTreeMap<String, String>,
    /// Which source each model came from, for error messages.
    pub model_sources: BTreeMap<String, String>,
    /// `[[virtual_models]]` tables by id.
    pub virtual_models: BTreeMap<String, Table>,
}

fn catalogue_error(source_name: &str, reason: impl Into<String>) -> ElelemError {
    ElelemError::Catalogue {
        source_name: source_name.to_owned(),
        reason: reason.into(),
    }
}

/// Recursively merges `overlay` into `base`: tables merge, everything else replaces.
fn merge_tables(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => {
                merge_tables(existing, incoming)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn take_string(table: &Table, key: &str, source_name: &str) -> Result<String, ElelemError> {
    match table.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(_) => Err(catalogue_error(
            source_name,
            format!("`{key}` must be a non-empty string"),
        )),
        None => Err(catalogue_error(source_name, format!("`{key}` is missing"))),
    }
}

/// Parses one catalogue document (a TOML table), naming `source_name` in errors.
pub(crate) fn parse_document(source_name: &str, text: &str) -> Result<Table, ElelemError> {
    text.parse()
        .map_err(|e: toml::de::Error| catalogue_error(source_name, e.to_string()))
}

/// The providers a catalogue document adds to or changes: the names of its
/// provider tables and the provider part of its model ids. (Entries whose name or
/// id is malformed are left out: merging the document reports them.)
pub(crate) fn touched_providers(document: &Table) -> Vec<String> {
    let tables = |key: &str| -> Vec<&Table> {
        match document.get(key) {
            Some(Value::Table(table)) => vec![table],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_table).collect(),
            _ => Vec::new(),
        }
    };
    let mut names: Vec<String> = tables("provider")
        .into_iter()
        .chain(tables("providers"))
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    names.extend(
        tables("models")
            .into_iter()
            .filter_map(|t| t.get("id").and_then(Value::as_str))
            .filter_map(|id| id.split_once(':'))
            .map(|(provider, _)| provider.to_owned()),
    );
    names
}

impl RawCatalogue {
    /// Whether anything merged so far names `provider`: its table or one of its models.
    pub fn mentions(&self, provider: &str) -> bool {
        self.providers.contains_key(provider)
            || self
                .models
                .keys()
                .any(|id| id.split_once(':').is_some_and(|(p, _)| p == provider))
    }

    /// Merges one TOML document into the catalogue.
    pub fn merge_text(&mut self, source_name: &str, text: &str) -> Result<(), ElelemError> {
        self.merge_document(source_name, parse_document(source_name, text)?)
    }

    /// Merges one parsed TOML document into the catalogue.
    pub fn merge_document(
        &mut self,
        source_name: &str,
        document: Table,
    ) -> Result<(), ElelemError> {
        for (key, value) in document {
            match (key.as_str(), value) {
                ("provider", Value::Table(table)) => self.merge_provider(source_name, table)?,
                ("providers", Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::Table(table) => self.merge_provider(source_name, table)?,
                            _ => return Err(catalogue_error(source_name, "`providers` must be an array of tables")),
                        }
                    }
                }
                ("models", Value::Array(items)) => {
                    let mut seen = std::collections::BTreeSet::new();
                    for item in items {
                        match item {
                            Value::Table(table) => {
                                let id = take_string(&table, "id", source_name)?;
                                if !seen.insert(id.clone()) {
                                    return Err(catalogue_error(
                                        source_name,
                                        format!("model id {id:?} is listed twice"),
                                    ));
                                }
                                self.merge_model(source_name, table)?
                            }
                            _ => return Err(catalogue_error(source_name, "`models` must be an array of tables")),
                        }
                    }
                }
                ("virtual_models", Value::Array(items)) => {
                    for item in items {
                        let Value::Table(table) = item else {
                            return Err(catalogue_error(source_name, "`virtual_models` must be an array of tables"));
                        };
                        let id = take_string(&table, "id", source_name)?;
                        match self.virtual_models.get_mut(&id) {
                            Some(existing) => merge_tables(existing, table),
                            None => {
                                self.virtual_models.insert(id, table);
                            }
                        }
                    }
                }
                ("currencies", Value::Table(table)) => {
                    for (code, rate) in table {
                        let rate = match rate {
                            Value::String(text) => text,
                            Value::Float(f) => f.to_string(),
                            Value::Integer(i) => i.to_string(),
                            _ => {
                                return Err(catalogue_error(
                                    source_name,
                                    format!("currency rate of {code} must be a decimal string"),
                                ))
                            }
                        };
                        self.currencies.insert(code, rate);
                    }
                }
                (other, _) => {
                    return Err(catalogue_error(
                        source_name,
                        format!("unexpected top-level key `{other}`; expected provider, providers, models, virtual_models or currencies"),
                    ))
                }
            }
        }
        Ok(())
    }

    fn merge_provider(&mut self, source_name: &str, table: Table) -> Result<(), ElelemError> {
        let name = take_string(&table, "name", source_name)?;
        match self.providers.get_mut(&name) {
            Some(existing) => merge_tables(existing, table),
            None => {
                self.providers.insert(name, table);
            }
        }
        Ok(())
    }

    fn merge_model(&mut self, source_name: &str, table: Table) -> Result<(), ElelemError> {
        let id = take_string(&table, "id", source_name)?;
        self.model_sources
            .entry(id.clone())
            .or_insert_with(|| source_name.to_owned());
        match self.models.get_mut(&id) {
            Some(existing) => merge_tables(existing, table),
            None => {
                self.models.insert(id, table);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_merge_field_by_field() {
        let mut raw = RawCatalogue::default();
        raw.merge_text(
            "base",
            r#"
            [provider]
            name = "p"
            base_url = "http://a"
            [[models]]
            id = "p:m"
            upstream = "m"
            price = { input = "1", output = "2" }
            "#,
        )
        .unwrap();
        raw.merge_text(
            "user",
            r#"
            [[providers]]
            name = "p"
            base_url = "http://b"
            [[models]]
            id = "p:m"
            price = { output = "3" }
            "#,
        )
        .unwrap();
        assert_eq!(raw.providers["p"]["base_url"].as_str(), Some("http://b"));
        let price = raw.models["p:m"]["price"].as_table().unwrap();
        assert_eq!(price["input"].as_str(), Some("1"));
        assert_eq!(price["output"].as_str(), Some("3"));
        assert_eq!(raw.models["p:m"]["upstream"].as_str(), Some("m"));
    }

    #[test]
    fn bad_documents_are_clear_errors() {
        let mut raw = RawCatalogue::default();
        let e = raw
            .merge_text("f.toml", "[[models]]\nupstream = 'x'")
            .unwrap_err();
        assert!(e.to_string().contains("`id` is missing"), "{e}");
        let e = raw.merge_text("f.toml", "nonsense = 1").unwrap_err();
        assert!(e.to_string().contains("unexpected top-level key"), "{e}");
        let e = raw.merge_text("f.toml", "[provider\n").unwrap_err();
        assert!(e.to_string().contains("f.toml"), "{e}");
        let twice = "[[models]]\nid = 'p:a'\n[[models]]\nid = 'p:a'\n";
        let e = raw.merge_text("f.toml", twice).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        assert!(e.to_string().contains("f.toml"), "{e}");
    }
}
