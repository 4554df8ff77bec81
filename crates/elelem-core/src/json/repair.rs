//! Local repair of nearly valid JSON, tried before a parse failure costs a retry.
//!
//! One lexical pass rewrites the defects models commonly make into strict JSON:
//! trailing commas, single-quoted strings, unquoted keys, `//`, `/* */` and `#`
//! comments, Python's `True` / `False` / `None`, raw newlines inside strings, and
//! an answer cut off before its closing quotes and brackets. Anything else (prose
//! inside the value, a bare word as a value, mismatched brackets) is left alone:
//! the answer is then not repaired, and the retry ladder runs as before.
//!
//! Written here rather than taken from a crate: `json5` covers only the first
//! four defects (not truncation or Python literals), and the LLM-oriented
//! repairers guess values for anything they cannot parse, which would turn a
//! wrong answer into a "valid" one; this pass only fixes syntax it is sure of.

use serde_json::Value;

/// One open bracket: its closer, and for an object whether a key comes next.
#[derive(Debug, Clone, Copy)]
struct Frame {
    closer: char,
    expect_key: bool,
}

/// The repaired value of `text` when it holds nearly valid JSON that strict
/// parsing refused; `None` when it needs no repair or cannot be repaired.
/// The value starts at the first `{` or `[`; what follows it is ignored.
///
/// ```
/// use elelem_core::json::repair_json;
/// use serde_json::json;
/// let answer = "Here: {name: 'Ada', 'alive': False, langs: ['en',], // note\n age: 36,}";
/// assert_eq!(repair_json(answer), Some(json!({"name": "Ada", "alive": false, "langs": ["en"], "age": 36})));
/// // Cut off mid-answer: the string and brackets are closed.
/// assert_eq!(repair_json(r#"{"items": [{"id": 1}, {"id": 2, "tag": "b"#), Some(json!({"items": [{"id": 1}, {"id": 2, "tag": "b"}]})));
/// // Valid JSON needs no repair; prose cannot be repaired.
/// assert_eq!(repair_json(r#"{"ok": true}"#), None);
/// assert_eq!(repair_json("{answer: maybe}"), None);
/// ```
pub fn repair_json(text: &str) -> Option<Value> {
    let start = text.find(['{', '['])?;
    let body = text.get(start..)?;
    let (repaired, consumed) = rewrite(body)?;
    // Nothing rewritten: the text was strict JSON already (or is not repairable).
    if body.chars().take(consumed).eq(repaired.chars()) {
        return None;
    }
    serde_json::from_str(&repaired).ok()
}

/// Strict JSON text for the value at the start of `body` and how many chars of
/// `body` it covers, or `None` on a defect this pass does not fix.
fn rewrite(body: &str) -> Option<(String, usize)> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len() + 8);
    let mut stack: Vec<Frame> = Vec::new();
    // The last token written was an object key (so a value must follow).
    let mut after_key = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let key_position = stack.last().is_some_and(|f| f.expect_key);
        match c {
            c if c.is_whitespace() => {
                out.push(c);
                i += 1;
            }
            '"' | '\'' => {
                i = copy_string(&chars, i, &mut out);
                after_key = key_position;
                set_expect_key(&mut stack, false);
            }
            '/' if chars.get(i + 1) == Some(&'/') => i = skip_line(&chars, i),
            '#' => i = skip_line(&chars, i),
            '/' if chars.get(i + 1) == Some(&'*') => {
                i = find_from(&chars, i + 2, "*/").map_or(chars.len(), |end| end + 2);
            }
            '{' | '[' => {
                stack.push(Frame {
                    closer: if c == '{' { '}' } else { ']' },
                    expect_key: c == '{',
                });
                out.push(c);
                after_key = false;
                i += 1;
            }
            '}' | ']' => {
                drop_trailing_comma(&mut out);
                if stack.pop()?.closer != c {
                    return None;
                }
                out.push(c);
                after_key = false;
                i += 1;
                if stack.is_empty() {
                    return Some((out, i));
                }
            }
            ',' => {
                out.push(c);
                set_expect_key(&mut stack, true);
                after_key = false;
                i += 1;
            }
            ':' => {
                out.push(c);
                after_key = false;
                i += 1;
            }
            '-' | '+' | '.' | '0'..='9' => {
                let end = run_end(&chars, i, |ch| {
                    ch.is_ascii_digit() || matches!(ch, '.' | 'e' | 'E' | '+' | '-')
                });
                let number: String = chars.get(i..end)?.iter().collect();
                out.push_str(number.strip_prefix('+').unwrap_or(&number));
                set_expect_key(&mut stack, false);
                i = end;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let end = run_end(&chars, i, |ch| {
                    ch.is_alphanumeric() || ch == '_' || ch == '$'
                });
                let word: String = chars.get(i..end)?.iter().collect();
                if key_position {
                    out.push_str(&serde_json::to_string(&word).ok()?);
                    after_key = true;
                } else {
                    out.push_str(literal(&word)?);
                }
                set_expect_key(&mut stack, false);
                i = end;
            }
            _ => return None,
        }
    }
    // Cut off: finish the last member and close every open bracket.
    if stack.is_empty() {
        return None;
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    if out.ends_with(':') {
        out.push_str(" null");
    } else if after_key {
        out.push_str(": null");
    }
    while let Some(frame) = stack.pop() {
        drop_trailing_comma(&mut out);
        out.push(frame.closer);
    }
    Some((out, chars.len()))
}

/// JSON's spelling of a bare word in value position, if it is a literal.
fn literal(word: &str) -> Option<&'static str> {
    match word {
        "true" | "True" => Some("true"),
        "false" | "False" => Some("false"),
        "null" | "None" | "undefined" | "NaN" => Some("null"),
        _ => None,
    }
}

fn set_expect_key(stack: &mut [Frame], expect_key: bool) {
    if let Some(frame) = stack.last_mut() {
        if frame.closer == '}' {
            frame.expect_key = expect_key;
        }
    }
}

/// Removes a comma (and the whitespace after it) ending `out`.
fn drop_trailing_comma(out: &mut String) {
    let trimmed = out.trim_end();
    if trimmed.ends_with(',') {
        let keep = trimmed.len() - 1;
        out.truncate(keep);
    }
}

/// Copies the string opened by the quote at `start` as a double-quoted JSON
/// string (closing it if the text ends first); returns the index after it.
fn copy_string(chars: &[char], start: usize, out: &mut String) -> usize {
    let quote = chars[start];
    out.push('"');
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                match chars.get(i + 1) {
                    // `\'` is not a JSON escape: the quote alone.
                    Some('\'') => out.push('\''),
                    Some(&next) => {
                        out.push('\\');
                        out.push(next);
                    }
                    None => {}
                }
                i += 2;
                continue;
            }
            c if c == quote => {
                out.push('"');
                return i + 1;
            }
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
        i += 1;
    }
    out.push('"');
    i
}

/// The index of the line end after `start` (or the text's end).
fn skip_line(chars: &[char], start: usize) -> usize {
    run_end(chars, start, |c| c != '\n')
}

/// The index of the first char from `start` not matching `keep`.
fn run_end(chars: &[char], start: usize, keep: impl Fn(char) -> bool) -> usize {
    let mut end = start;
    while chars.get(end).is_some_and(|&c| keep(c)) {
        end += 1;
    }
    end
}

/// Where `needle` next occurs from `start`.
fn find_from(chars: &[char], start: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    (start..chars.len()).find(|&i| chars.get(i..i + needle.len()) == Some(needle.as_slice()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn each_defect_is_repaired() {
        let cases = [
            (r#"{"a": 1, "b": [1, 2,],}"#, json!({"a": 1, "b": [1, 2]})),
            ("{'a': 'it\\'s \"x\"'}", json!({"a": "it's \"x\""})),
            ("{a: 1, b_2: {c: 2}}", json!({"a": 1, "b_2": {"c": 2}})),
            (
                "{\"a\": 1, // one\n /* two */ \"b\": 2 # three\n}",
                json!({"a": 1, "b": 2}),
            ),
            (
                "{\"a\": True, \"b\": False, \"c\": None}",
                json!({"a": true, "b": false, "c": null}),
            ),
            (
                "{\"text\": \"line one\nline two\"}",
                json!({"text": "line one\nline two"}),
            ),
            ("[1, 2, {\"a\": [3", json!([1, 2, {"a": [3]}])),
            ("{\"a\": 1, \"b\":", json!({"a": 1, "b": null})),
            ("{\"a\": 1, \"b\"", json!({"a": 1, "b": null})),
            ("{\"a\": 1,", json!({"a": 1})),
            ("{\"a\": \"unfinished", json!({"a": "unfinished"})),
            ("```json\n{'a': 1,}\n```", json!({"a": 1})),
            ("{\"n\": +5}", json!({"n": 5})),
        ];
        for (text, expected) in cases {
            assert_eq!(repair_json(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn what_cannot_be_repaired_is_left_alone() {
        for text in [
            "no json here",
            "{\"a\": maybe}",
            "{\"a\": 1]",
            "{\"a\": `x`}",
            "{\"a\": tru",
            "[1, 2] and {\"ok\": true}",
            "{}",
            "",
        ] {
            assert_eq!(repair_json(text), None, "{text}");
        }
    }

    #[test]
    fn hostile_input_neither_panics_nor_recurses() {
        let deep = "[".repeat(100_000);
        assert_eq!(repair_json(&deep), None);
        let noise: String = (0u32..4_000).filter_map(char::from_u32).collect();
        let _ = repair_json(&noise);
        let _ = repair_json("{'\\");
        let _ = repair_json("{/*");
    }
}
