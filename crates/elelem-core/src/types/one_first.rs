//! `OneFirst`: a `Vec` decoded with room for one element first, for the
//! `choices` of answers and chunks.
//!
//! serde's own `Vec` decoding starts at four elements when the decoder gives no
//! length (JSON text never does). A `Choice` is about 280 bytes: four are over
//! 1 KiB, beyond glibc's per-thread cache, so every answer's `choices` took the
//! allocator's slow path (about 1.9k instructions a call in `benches/peers`),
//! when nearly every answer has a single choice. Elements and errors are
//! serde's.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The most elements reserved for on a decoder's hint, so a hint cannot reserve
/// without bound before the elements are read.
const MAX_HINTED: usize = 16;

/// A `Vec<T>` decoded as serde decodes one, its first allocation sized for one
/// element (or for those the decoder says are left, up to [`MAX_HINTED`]).
pub(crate) struct OneFirst<T>(Vec<T>);

impl<T> From<OneFirst<T>> for Vec<T> {
    fn from(elements: OneFirst<T>) -> Self {
        elements.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneFirst<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(OneFirstVisitor(PhantomData))
    }
}

struct OneFirstVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneFirstVisitor<T> {
    type Value = OneFirst<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneFirst<T>, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element::<T>()? {
            if elements.capacity() == 0 {
                // The hint (none from JSON text) counts those left.
                let more = seq.size_hint().unwrap_or(0).min(MAX_HINTED);
                elements.reserve_exact(1 + more);
            }
            elements.push(element);
        }
        Ok(OneFirst(elements))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_a_vec_with_room_for_one_first() {
        let one: OneFirst<u32> = serde_json::from_str("[7]").unwrap();
        assert_eq!(one.0.capacity(), 1);
        let many: Vec<u32> = serde_json::from_str::<OneFirst<u32>>("[1,2,3,4,5]")
            .unwrap()
            .into();
        assert_eq!(many, [1, 2, 3, 4, 5]);
        let hinted: Vec<u32> =
            serde_json::from_value::<OneFirst<u32>>(serde_json::json!([1, 2, 3]))
                .unwrap()
                .into();
        assert_eq!(hinted, [1, 2, 3]);
        let empty: Vec<u32> = serde_json::from_str::<OneFirst<u32>>("[]").unwrap().into();
        assert!(empty.is_empty());
        for bad in ["{}", "\"x\"", "[1,\"a\"]", "[1,"] {
            let ours = serde_json::from_str::<OneFirst<u32>>(bad)
                .err()
                .map(|e| e.to_string());
            let plain = serde_json::from_str::<Vec<u32>>(bad)
                .err()
                .map(|e| e.to_string());
            assert_eq!(ours, plain, "{bad}");
        }
    }
}
