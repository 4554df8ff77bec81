//! `open_object!`: a fast `Deserialize` for the OpenAI objects that keep the fields
//! Elelem does not know in an `extra` map.
//!
//! `#[serde(flatten)] extra: Map<String, Value>` works, but the derive then collects
//! every unknown key and value as serde's internal `Content`, in a `Vec`, and builds
//! `extra` from that buffer once the object is read (through `FlatMapDeserializer`).
//! The visitor generated here
//! matches the known keys and puts every other key straight into `extra` with
//! `next_value::<Value>()`, in the order the keys came.
//!
//! It behaves as the derive with `flatten` did:
//!
//! - a missing field takes its default (`= expression`, evaluated only when the key
//!   is missing); a field written without a default is required, and its absence is
//!   serde's `missing field` error;
//! - a known key given twice is serde's `duplicate field` error; an unknown key given
//!   twice keeps its first position and its last value (`Map::insert`);
//! - a value is decoded by its field's own `Deserialize` (so `null` is `None` for an
//!   `Option`, and an error for a `String`), and errors are the same serde errors, at
//!   the same positions;
//! - only a JSON object (a map) is accepted, never an array;
//! - a field written `name: Type [via Other] = default` is decoded as `Other` and
//!   converted with `Type::from` (a lenient decoding, such as token counts);
//! - fields listed after `skip:` are not read from the JSON (a key of that name goes
//!   to `extra`) and take `Default::default()`;
//! - `Deserialize::deserialize_in_place` decodes the same way into an existing
//!   value, writing each field where it lies (decoding a response into its box
//!   moves no whole object; `ChatCompletion::from_json_boxed`).
//!
//! Serialization is untouched: the types keep `#[derive(Serialize)]` with
//! `#[serde(flatten)]` on `extra`.
//!
//! ```ignore
//! open_object! {
//!     ToolCall {
//!         id: String = String::new(),
//!         kind as "type": String = function_type(),
//!         function: FunctionCall,
//!     }
//!     extra: extra,
//!     skip: [],
//! }
//! ```

/// Implements `Deserialize` for an open object: known fields, in the form
/// `name: Type = default_expression` (or `name as "json_key": Type = ...`, or no
/// `= ...` for a required field, or `name: Type [via Other] = ...` to decode `Other`
/// and convert it), then the name of the `Map<String, Value>` field that
/// receives every other key, then the fields that are never deserialized.
macro_rules! open_object {
    (
        $name:ident {
            $( $field:ident $( as $key:literal )? : $ty:ty $( [via $via:ty] )? $( = $default:expr )? ),* $(,)?
        }
        extra: $extra:ident,
        skip: [ $( $skip:ident ),* $(,)? ] $(,)?
    ) => {
        const _: () = {
            use ::serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
            use ::std::fmt;

            /// A key of the object: one of the known fields, or any other key.
            #[allow(non_camel_case_types)]
            enum Key {
                $( $field, )*
                Other(::std::string::String),
            }

            impl Key {
                fn known(key: &str) -> ::std::option::Option<Key> {
                    match key {
                        $( $crate::types::open_object::open_object!(@key $field $( $key )?) => {
                            ::std::option::Option::Some(Key::$field)
                        } )*
                        _ => ::std::option::Option::None,
                    }
                }
            }

            struct KeyVisitor;

            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key;

                fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                    formatter.write_str("field identifier")
                }

                fn visit_str<E: Error>(self, value: &str) -> ::std::result::Result<Key, E> {
                    ::std::result::Result::Ok(
                        Key::known(value).unwrap_or_else(|| Key::Other(value.to_owned())),
                    )
                }

                fn visit_string<E: Error>(
                    self,
                    value: ::std::string::String,
                ) -> ::std::result::Result<Key, E> {
                    ::std::result::Result::Ok(match Key::known(&value) {
                        ::std::option::Option::Some(key) => key,
                        ::std::option::Option::None => Key::Other(value),
                    })
                }
            }

            impl<'de> Deserialize<'de> for Key {
                fn deserialize<D: Deserializer<'de>>(
                    deserializer: D,
                ) -> ::std::result::Result<Key, D::Error> {
                    deserializer.deserialize_identifier(KeyVisitor)
                }
            }

            struct ObjectVisitor;

            impl<'de> Visitor<'de> for ObjectVisitor {
                type Value = $name;

                fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                    formatter.write_str(concat!("struct ", stringify!($name)))
                }

                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> ::std::result::Result<$name, A::Error> {
                    $( let mut $field: ::std::option::Option<$ty> = ::std::option::Option::None; )*
                    let mut extra = ::serde_json::Map::new();
                    while let ::std::option::Option::Some(key) = map.next_key::<Key>()? {
                        match key {
                            $( Key::$field => {
                                if $field.is_some() {
                                    return ::std::result::Result::Err(A::Error::duplicate_field(
                                        $crate::types::open_object::open_object!(@key $field $( $key )?),
                                    ));
                                }
                                $field = ::std::option::Option::Some(
                                    $crate::types::open_object::open_object!(@read map $ty $(, $via)?),
                                );
                            } )*
                            Key::Other(name) => {
                                let value = map.next_value::<::serde_json::Value>()?;
                                extra.insert(name, value);
                            }
                        }
                    }
                    ::std::result::Result::Ok($name {
                        $( $field: match $field {
                            ::std::option::Option::Some(value) => value,
                            ::std::option::Option::None => {
                                $crate::types::open_object::open_object!(
                                    @missing $field $( $key )? ; $( $default )?
                                )
                            }
                        }, )*
                        $extra: extra,
                        $( $skip: ::std::default::Default::default(), )*
                    })
                }
            }

            /// Decodes into an existing value, field by field: nothing as large
            /// as the object is moved (serde's `deserialize_in_place`).
            struct InPlaceVisitor<'a>(&'a mut $name);

            impl<'de> Visitor<'de> for InPlaceVisitor<'_> {
                type Value = ();

                fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                    formatter.write_str(concat!("struct ", stringify!($name)))
                }

                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> ::std::result::Result<(), A::Error> {
                    let place = self.0;
                    // Whether each known field was read.
                    $( let mut $field = false; )*
                    place.$extra.clear();
                    while let ::std::option::Option::Some(key) = map.next_key::<Key>()? {
                        match key {
                            $( Key::$field => {
                                if $field {
                                    return ::std::result::Result::Err(A::Error::duplicate_field(
                                        $crate::types::open_object::open_object!(@key $field $( $key )?),
                                    ));
                                }
                                $field = true;
                                place.$field =
                                    $crate::types::open_object::open_object!(@read map $ty $(, $via)?);
                            } )*
                            Key::Other(name) => {
                                let value = map.next_value::<::serde_json::Value>()?;
                                place.$extra.insert(name, value);
                            }
                        }
                    }
                    $( if !$field {
                        $crate::types::open_object::open_object!(
                            @fill place $field $( $key )? ; $( $default )?
                        );
                    } )*
                    $( place.$skip = ::std::default::Default::default(); )*
                    ::std::result::Result::Ok(())
                }
            }

            impl<'de> Deserialize<'de> for $name {
                fn deserialize<D: Deserializer<'de>>(
                    deserializer: D,
                ) -> ::std::result::Result<Self, D::Error> {
                    deserializer.deserialize_map(ObjectVisitor)
                }

                /// The same decoding as `deserialize`, written into `place`
                /// (which it overwrites whole; on an error, `place` is left
                /// partly written).
                fn deserialize_in_place<D: Deserializer<'de>>(
                    deserializer: D,
                    place: &mut Self,
                ) -> ::std::result::Result<(), D::Error> {
                    deserializer.deserialize_map(InPlaceVisitor(place))
                }
            }
        };
    };

    // The JSON key of a field: its `as` name, or the field's own name.
    (@key $field:ident $key:literal) => { $key };
    (@key $field:ident) => { stringify!($field) };

    // A field's value: decoded by its own type, or through its `via` type (which
    // converts into the field's type).
    (@read $map:ident $ty:ty, $via:ty) => { <$ty>::from($map.next_value::<$via>()?) };
    (@read $map:ident $ty:ty) => { $map.next_value::<$ty>()? };

    // In place, a missing field: set to its default, or serde's `missing field`
    // error.
    (@fill $place:ident $field:ident $( $key:literal )? ; $default:expr) => {
        $place.$field = $default
    };
    (@fill $place:ident $field:ident $( $key:literal )? ;) => {
        $crate::types::open_object::open_object!(@missing $field $( $key )? ;)
    };

    // The value of a missing field: its default, or serde's `missing field` error.
    (@missing $field:ident $( $key:literal )? ; $default:expr) => { $default };
    (@missing $field:ident $( $key:literal )? ;) => {
        return ::std::result::Result::Err(::serde::de::Error::missing_field(
            $crate::types::open_object::open_object!(@key $field $( $key )?),
        ))
    };
}

pub(crate) use open_object;

#[cfg(test)]
mod tests;
