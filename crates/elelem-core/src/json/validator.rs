//! JSON Schema validation of model answers, with a cache of compiled validators.
//!
//! Compiling a schema is far slower than validating against it, and the same few schemas are
//! used for every request, so [`SchemaCache`] compiles each distinct schema once. Schemas never
//! fetch anything: a remote `$ref` is an invalid schema.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;

/// How many compiled schemas a [`SchemaCache::new`] cache keeps.
const DEFAULT_CAPACITY: usize = 256;

/// The most violations listed in one [`SchemaViolations`].
const MAX_VIOLATIONS: usize = 20;

/// Past this many characters a violation message is given with the instance value masked.
const MAX_MESSAGE_CHARS: usize = 200;

/// A schema that could not be compiled: not valid JSON Schema, or with a `$ref` that cannot
/// be resolved offline.
///
/// ```
/// use elelem_core::json::SchemaCache;
/// use serde_json::json;
///
/// let err = SchemaCache::new().validator(&json!({"type": 12})).unwrap_err();
/// assert!(err.to_string().starts_with("invalid JSON schema: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// What is wrong with the schema.
    pub reason: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON schema: {}", self.reason)
    }
}

impl std::error::Error for SchemaError {}

/// Why an instance does not conform to a schema: one line per violation (at most 20), each
/// `` at `/json/pointer`: message `` or `at root: message`.
///
/// Its `Display` joins them with `"; "`, ready to be fed back to the model.
///
/// ```
/// use elelem_core::json::SchemaCache;
/// use serde_json::json;
///
/// let schema = json!({
///     "type": "object",
///     "properties": {"age": {"type": "integer"}},
///     "required": ["name"]
/// });
/// let err = SchemaCache::new()
///     .validate(&schema, &json!({"age": "ten"}))
///     .unwrap_err();
/// assert_eq!(err.errors.len(), 2);
/// assert!(err.errors.contains(&"at root: \"name\" is a required property".to_owned()));
/// assert!(err.errors.contains(&"at `/age`: \"ten\" is not of type \"integer\"".to_owned()));
/// assert!(err.to_string().contains("; "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolations {
    /// One message per violation, in the validator's order.
    pub errors: Vec<String>,
}

impl fmt::Display for SchemaViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(error)?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaViolations {}

impl SchemaViolations {
    /// Validates `instance` with an already compiled `validator` (from
    /// [`SchemaCache::validator`]), listing up to 20 violations.
    ///
    /// # Errors
    ///
    /// The violations, when there is at least one.
    ///
    /// ```
    /// use elelem_core::json::{SchemaCache, SchemaViolations};
    /// use serde_json::json;
    ///
    /// let validator = SchemaCache::new().validator(&json!({"type": "object"})).unwrap();
    /// assert!(SchemaViolations::check(&validator, &json!({})).is_ok());
    /// let err = SchemaViolations::check(&validator, &json!([])).unwrap_err();
    /// assert_eq!(err.errors, vec!["at root: [] is not of type \"object\"".to_owned()]);
    /// ```
    pub fn check(validator: &Validator, instance: &Value) -> Result<(), Self> {
        // A valid answer (the usual case) is only checked: `is_valid` stops at
        // the first violation and allocates nothing, where `iter_errors` builds
        // an error iterator (an allocation and about 500 instructions a call).
        if validator.is_valid(instance) {
            return Ok(());
        }
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .take(MAX_VIOLATIONS)
            .map(|error| describe(&error))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self { errors })
        }
    }
}

/// A thread-safe cache of compiled JSON Schema validators, keyed by schema.
///
/// Schemas that declare a draft with `$schema` use it; the others are read as draft-07.
/// Remote references are never fetched. Two schemas that are equal as JSON values (key order
/// does not matter) share one compiled validator. The cache is bounded: when full, the schema
/// compiled longest ago is dropped.
///
/// ```
/// use std::sync::Arc;
/// use elelem_core::json::SchemaCache;
/// use serde_json::json;
///
/// let cache = SchemaCache::new();
/// let schema = json!({"type": "object", "required": ["id"]});
/// let first = cache.validator(&schema).unwrap();
/// let again = cache.validator(&json!({"required": ["id"], "type": "object"})).unwrap();
/// assert!(Arc::ptr_eq(&first, &again));
/// assert!(first.is_valid(&json!({"id": 1})));
/// assert_eq!(cache.len(), 1);
/// ```
pub struct SchemaCache {
    capacity: usize,
    inner: RwLock<Entries>,
}

/// The cached validators, bucketed by structural hash, and their insertion order.
#[derive(Default)]
struct Entries {
    buckets: HashMap<u64, Vec<Entry>>,
    /// The hash of every entry, oldest first (an entry's position in its bucket follows
    /// the same order).
    order: VecDeque<u64>,
}

struct Entry {
    schema: Value,
    validator: Arc<Validator>,
}

/// Whether two values are equal with their object keys in the same order: a walk
/// in step, with no hashing (comparing maps as maps looks each key up).
pub(crate) fn same_in_order(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_in_order(va, vb))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_in_order(a, b))
        }
        _ => a == b,
    }
}

impl Entries {
    fn find(&self, key: u64, schema: &Value) -> Option<Arc<Validator>> {
        self.buckets
            .get(&key)?
            .iter()
            // The same schema usually comes with its keys in the same order.
            .find(|entry| same_in_order(&entry.schema, schema) || entry.schema == *schema)
            .map(|entry| Arc::clone(&entry.validator))
    }

    fn evict_oldest(&mut self) {
        let Some(key) = self.order.pop_front() else {
            return;
        };
        if let Some(bucket) = self.buckets.get_mut(&key) {
            if !bucket.is_empty() {
                bucket.remove(0);
            }
            if bucket.is_empty() {
                self.buckets.remove(&key);
            }
        }
    }
}

impl Default for SchemaCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl SchemaCache {
    /// An empty cache keeping up to 256 compiled schemas.
    ///
    /// ```
    /// use elelem_core::json::SchemaCache;
    ///
    /// assert!(SchemaCache::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty cache keeping up to `capacity` compiled schemas (0 caches nothing).
    ///
    /// ```
    /// use elelem_core::json::SchemaCache;
    /// use serde_json::json;
    ///
    /// let cache = SchemaCache::with_capacity(1);
    /// cache.validator(&json!({"type": "object"})).unwrap();
    /// cache.validator(&json!({"type": "array"})).unwrap();
    /// assert_eq!(cache.len(), 1);
    /// ```
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            inner: RwLock::new(Entries::default()),
        }
    }

    /// How many compiled schemas the cache holds.
    ///
    /// ```
    /// use elelem_core::json::SchemaCache;
    /// use serde_json::json;
    ///
    /// let cache = SchemaCache::new();
    /// cache.validator(&json!({"type": "string"})).unwrap();
    /// cache.validator(&json!({"type": "string"})).unwrap();
    /// assert_eq!(cache.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .order
            .len()
    }

    /// Whether the cache holds no compiled schema.
    ///
    /// ```
    /// use elelem_core::json::SchemaCache;
    ///
    /// assert!(SchemaCache::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The compiled validator of `schema`, compiled on first use and cached.
    ///
    /// The draft is the one named by the schema's `$schema`, else draft-07. Nothing is ever
    /// fetched over the network or from files.
    ///
    /// # Errors
    ///
    /// [`SchemaError`] when the schema is not valid JSON Schema or has a reference that
    /// cannot be resolved within the schema itself. Failures are not cached.
    ///
    /// ```
    /// use elelem_core::json::SchemaCache;
    /// use serde_json::json;
    ///
    /// let cache = SchemaCache::new();
    /// let validator = cache.validator(&json!({"type": "integer", "minimum": 1})).unwrap();
    /// assert!(validator.is_valid(&json!(3)));
    /// assert!(!validator.is_valid(&json!(0)));
    ///
    /// let remote = json!({"$ref": "https://example.com/schema.json"});
    /// assert!(cache.validator(&remote).is_err());
    /// ```
    pub fn validator(&self, schema: &Value) -> Result<Arc<Validator>, SchemaError> {
        let key = schema_hash(schema);
        if let Some(found) = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .find(key, schema)
        {
            return Ok(found);
        }
        // Compile without holding the lock: compiling can take a while.
        let compiled = Arc::new(compile(schema)?);
        if self.capacity == 0 {
            return Ok(compiled);
        }
        let mut entries = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = entries.find(key, schema) {
            // Another thread compiled it meanwhile: share theirs.
            return Ok(found);
        }
        while entries.order.len() >= self.capacity {
            entries.evict_oldest();
        }
        entries.order.push_back(key);
        entries.buckets.entry(key).or_default().push(Entry {
            schema: schema.clone(),
            validator: Arc::clone(&compiled),
        });
        Ok(compiled)
    }

    /// Validates `instance` against `schema` (compiled through the cache).
    ///
    /// # Errors
    ///
    /// [`SchemaViolations`] listing up to 20 violations. If the schema itself is invalid, the
    /// list holds one entry, the [`SchemaError`] message; call [`SchemaCache::validator`] first
    /// to tell the two apart.
    ///
    /// ```
    /// use elelem_core::json::SchemaCache;
    /// use serde_json::json;
    ///
    /// let cache = SchemaCache::new();
    /// let schema = json!({"type": "array", "items": {"type": "string"}});
    /// assert!(cache.validate(&schema, &json!(["a", "b"])).is_ok());
    ///
    /// let err = cache.validate(&schema, &json!(["a", 2])).unwrap_err();
    /// assert_eq!(err.to_string(), "at `/1`: 2 is not of type \"string\"");
    /// ```
    pub fn validate(&self, schema: &Value, instance: &Value) -> Result<(), SchemaViolations> {
        let validator = self.validator(schema).map_err(|error| SchemaViolations {
            errors: vec![error.to_string()],
        })?;
        SchemaViolations::check(&validator, instance)
    }
}

/// Compiles `schema` offline, as draft-07 unless it names its draft.
fn compile(schema: &Value) -> Result<Validator, SchemaError> {
    let mut options = jsonschema::options().offline();
    let names_draft = schema.get("$schema").is_some_and(Value::is_string);
    if !names_draft {
        options = options.with_draft(Draft::Draft7);
    }
    options.build(schema).map_err(|error| SchemaError {
        reason: error.to_string(),
    })
}

/// One violation as `` at `/path`: message `` (or `at root: message`), with the instance
/// value masked when the message would be long.
fn describe(error: &ValidationError<'_>) -> String {
    let mut message = error.to_string();
    if message.chars().nth(MAX_MESSAGE_CHARS).is_some() {
        message = error.masked().to_string();
    }
    let path = error.instance_path().as_str();
    if path.is_empty() {
        format!("at root: {message}")
    } else {
        format!("at `{path}`: {message}")
    }
}

/// FNV-1a: the cache key of a schema is hashed on every call, and SipHash (the
/// standard hasher) cost more than the rest of the lookup. Collisions only cost an
/// equality check: entries are compared in full.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn write_u64(&mut self, i: u64) {
        // One multiply for a whole word (lengths, numbers, entry sums).
        self.0 = (self.0 ^ i).wrapping_mul(0x0100_0000_01b3);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// A hash of `value` consistent with `Value`'s equality: object key order does not matter.
fn schema_hash(value: &Value) -> u64 {
    let mut hasher = Fnv::default();
    hash_value(value, &mut hasher);
    hasher.finish()
}

fn hash_value(value: &Value, hasher: &mut Fnv) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => {
            1u8.hash(hasher);
            b.hash(hasher);
        }
        Value::Number(n) => {
            2u8.hash(hasher);
            if let Some(u) = n.as_u64() {
                u.hash(hasher);
            } else if let Some(i) = n.as_i64() {
                i.hash(hasher);
            } else {
                n.as_f64().map(f64::to_bits).hash(hasher);
            }
        }
        Value::String(s) => {
            3u8.hash(hasher);
            s.hash(hasher);
        }
        Value::Array(items) => {
            4u8.hash(hasher);
            items.len().hash(hasher);
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            5u8.hash(hasher);
            map.len().hash(hasher);
            // Entry hashes are summed so that key order does not matter.
            let mut sum = 0u64;
            for (key, item) in map {
                let mut entry = Fnv::default();
                key.hash(&mut entry);
                hash_value(item, &mut entry);
                sum = sum.wrapping_add(entry.finish());
            }
            sum.hash(hasher);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cache_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<SchemaCache>();
        check::<SchemaError>();
        check::<SchemaViolations>();
    }

    #[test]
    fn compiles_once_per_schema() {
        let cache = SchemaCache::new();
        let a = cache.validator(&json!({"type": "object"})).unwrap();
        let b = cache.validator(&json!({"type": "object"})).unwrap();
        let c = cache.validator(&json!({"type": "array"})).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn key_order_does_not_matter_but_values_do() {
        let a = json!({"a": 1, "b": [1, 2]});
        let b = json!({"b": [1, 2], "a": 1});
        assert_eq!(schema_hash(&a), schema_hash(&b));
        assert_ne!(schema_hash(&a), schema_hash(&json!({"a": 1, "b": [2, 1]})));
        assert_ne!(schema_hash(&json!(1)), schema_hash(&json!(1.5)));
        assert_ne!(schema_hash(&json!("1")), schema_hash(&json!(1)));
    }

    #[test]
    fn colliding_keys_are_kept_apart() {
        // Force two schemas into one bucket and check they are told apart.
        let cache = SchemaCache::new();
        let s1 = json!({"type": "string"});
        let s2 = json!({"type": "integer"});
        {
            let mut entries = cache.inner.write().unwrap();
            for schema in [&s1, &s2] {
                entries.order.push_back(7);
                entries.buckets.entry(7).or_default().push(Entry {
                    schema: schema.clone(),
                    validator: Arc::new(compile(schema).unwrap()),
                });
            }
        }
        let entries = cache.inner.read().unwrap();
        assert!(entries.find(7, &s1).unwrap().is_valid(&json!("x")));
        assert!(entries.find(7, &s2).unwrap().is_valid(&json!(1)));
        assert!(entries.find(7, &json!({"type": "null"})).is_none());
    }

    #[test]
    fn bounded_with_oldest_evicted() {
        let cache = SchemaCache::with_capacity(3);
        let schemas: Vec<Value> = (0..5).map(|i| json!({"minimum": i})).collect();
        let first: Vec<_> = schemas
            .iter()
            .map(|s| cache.validator(s).unwrap())
            .collect();
        assert_eq!(cache.len(), 3);
        // The newest are still cached, the oldest were recompiled.
        assert!(Arc::ptr_eq(
            &first[4],
            &cache.validator(&schemas[4]).unwrap()
        ));
        assert!(!Arc::ptr_eq(
            &first[0],
            &cache.validator(&schemas[0]).unwrap()
        ));
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = SchemaCache::with_capacity(0);
        assert!(cache.validator(&json!({"type": "object"})).is_ok());
        assert!(cache.is_empty());
    }

    #[test]
    fn draft_07_by_default_else_declared() {
        let cache = SchemaCache::new();
        // Draft-07 `items` as an array is tuple validation.
        let tuple = json!({"items": [{"type": "integer"}, {"type": "string"}]});
        assert!(cache.validate(&tuple, &json!([1, "a"])).is_ok());
        assert!(cache.validate(&tuple, &json!(["a", 1])).is_err());
        // Draft 2020-12 declared: `prefixItems`.
        let modern = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "prefixItems": [{"type": "integer"}],
            "items": false
        });
        assert!(cache.validate(&modern, &json!([1])).is_ok());
        assert!(cache.validate(&modern, &json!([1, 2])).is_err());
    }

    #[test]
    fn invalid_schemas_are_errors_not_panics() {
        let cache = SchemaCache::new();
        for schema in [
            json!({"type": 12}),
            json!({"type": "nonsense"}),
            json!({"$ref": "https://example.com/remote.json"}),
            json!({"$ref": "file:///etc/passwd"}),
            json!({"$ref": "#/definitions/missing"}),
            json!({"$schema": "https://example.com/custom-meta"}),
            json!({"pattern": "("}),
            json!({"minimum": "one"}),
            json!(42),
            json!("string"),
            json!(null),
        ] {
            let result = cache.validator(&schema);
            assert!(result.is_err(), "{schema}");
            let err = cache.validate(&schema, &json!({})).unwrap_err();
            assert_eq!(err.errors.len(), 1);
            assert!(err.errors[0].starts_with("invalid JSON schema: "), "{err}");
        }
        assert!(cache.is_empty());
        // Boolean schemas are valid.
        assert!(cache.validate(&json!(true), &json!(1)).is_ok());
        assert!(cache.validate(&json!(false), &json!(1)).is_err());
        // A non-string `$schema` falls back to draft-07 (and must not panic).
        let _ = cache.validator(&json!({"$schema": 5}));
    }

    #[test]
    fn local_refs_work() {
        let schema = json!({
            "definitions": {"name": {"type": "string", "minLength": 1}},
            "type": "object",
            "properties": {"name": {"$ref": "#/definitions/name"}}
        });
        let cache = SchemaCache::new();
        assert!(cache.validate(&schema, &json!({"name": "x"})).is_ok());
        let err = cache.validate(&schema, &json!({"name": ""})).unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert!(err.errors[0].starts_with("at `/name`: "), "{err}");
    }

    #[test]
    fn violations_are_capped_and_joined() {
        let cache = SchemaCache::new();
        let schema = json!({"type": "array", "items": {"type": "string"}});
        let instance = Value::Array((0..50).map(Value::from).collect());
        let err = cache.validate(&schema, &instance).unwrap_err();
        assert_eq!(err.errors.len(), MAX_VIOLATIONS);
        assert_eq!(err.errors[0], "at `/0`: 0 is not of type \"string\"");
        assert_eq!(err.to_string().matches("; ").count(), MAX_VIOLATIONS - 1);
    }

    #[test]
    fn long_messages_mask_the_instance() {
        let cache = SchemaCache::new();
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        let big = json!({"text": "x".repeat(1000)});
        let err = cache.validate(&schema, &big).unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert!(err.errors[0].starts_with("at root: value "), "{err}");
        assert!(err.errors[0].len() < 300, "{err}");
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let cache = Arc::new(SchemaCache::new());
        let clone = Arc::clone(&cache);
        let _ = std::thread::spawn(move || {
            let _guard = clone.inner.write().unwrap();
            panic!("poison");
        })
        .join();
        assert!(cache.validator(&json!({"type": "object"})).is_ok());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn concurrent_use_shares_validators() {
        let cache = Arc::new(SchemaCache::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..20 {
                        let schema = json!({"maxLength": i});
                        assert!(cache.validate(&schema, &json!("")).is_ok());
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(cache.len(), 20);
    }
}
