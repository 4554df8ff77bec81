//! `elelem models [--provider P] [--json-schema] [--vision] [--json]`: the
//! catalogue as a table.

use std::collections::BTreeMap;

use elelem::catalogue::ModelEntry;
use elelem::Elelem;
use serde_json::{json, Value};

use super::table::Table;

/// Which models to list.
#[derive(Debug, Clone, Default)]
pub struct ModelsArgs {
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only models with native JSON schema output.
    pub json_schema: bool,
    /// Only models that take images.
    pub vision: bool,
    /// JSON instead of a table.
    pub json: bool,
}

/// The listing, as text for stdout.
///
/// ```
/// use elelem_cli::commands::models::{render, ModelsArgs};
/// let elelem = elelem::Elelem::builder().without_env_keys().build().unwrap();
/// let args = ModelsArgs { provider: Some("openai".into()), vision: true, ..Default::default() };
/// let text = render(&elelem, &args);
/// assert!(text.contains("openai:gpt-4.1-mini"));
/// assert!(!text.contains("groq:"));
/// ```
pub fn render(elelem: &Elelem, args: &ModelsArgs) -> String {
    let available: BTreeMap<String, bool> = elelem
        .list_models()
        .data
        .into_iter()
        .map(|m| (m.id, m.available))
        .collect();
    let mut query = elelem.models();
    if let Some(provider) = &args.provider {
        query = query.provider(provider.clone());
    }
    if args.json_schema {
        query = query.json_schema();
    }
    if args.vision {
        query = query.vision();
    }
    let mut models: Vec<&ModelEntry> = query.list();
    models.sort_by(|a, b| a.id.cmp(&b.id));
    let is_available = |m: &ModelEntry| available.get(&m.id).copied().unwrap_or(false);
    if args.json {
        let list: Vec<Value> = models
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "provider": m.provider,
                    "context_window": m.context_window,
                    "max_output": m.max_output,
                    "input_usd_per_million": m.prices.as_ref().map(|p| p.input.to_string()),
                    "output_usd_per_million": m.prices.as_ref().map(|p| p.output.to_string()),
                    "currency": m.currency,
                    "json_schema": m.capabilities.json_schema,
                    "vision": m.capabilities.vision,
                    "available": is_available(m),
                })
            })
            .collect();
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    }
    let mut table = Table::new([
        "MODEL",
        "CONTEXT",
        "IN/M",
        "OUT/M",
        "JSON SCHEMA",
        "VISION",
        "KEY",
    ]);
    let yes = |b: bool| if b { "yes" } else { "-" };
    for m in models {
        let price = |f: fn(&elelem::catalogue::Prices) -> String| {
            m.prices
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| format!("{} {}", f(p), m.currency))
        };
        table.row([
            m.id.clone(),
            m.context_window
                .map_or_else(|| "-".into(), |c| c.to_string()),
            price(|p| p.input.to_string()),
            price(|p| p.output.to_string()),
            yes(m.capabilities.json_schema).into(),
            yes(m.capabilities.vision).into(),
            yes(is_available(m)).into(),
        ]);
    }
    table.render()
}
