//! Strings and numbers of a JSON text read by hand, for the readers that take a record's text
//! straight to a row (`datadog_direct`, `guance_json_direct`). Strict JSON (RFC 8259), as
//! serde_json reads it: what these do not take gives None, and serde_json then reads the record
//! and words the problem. Values come out as serde_json has them: the rare hard parts (escapes,
//! fractions) are handed to serde_json itself.

use std::borrow::Cow;

/// A number as serde_json gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// Where the string starting at `at` (after its quote) ends, and whether it has escapes; None
/// on a control character or no end.
#[inline]
pub fn string_end(bytes: &[u8], mut at: usize) -> Option<(usize, bool)> {
    // Sixteen bytes at a time up to the first quote, backslash or control character
    // (URLs and messages are long).
    let mut found = false;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = bytes.get(at..at + 16) {
        let special = special_bytes_16(chunk);
        if special != 0 {
            at += special.trailing_zeros() as usize;
            found = true;
            break;
        }
        at += 16;
    }
    // Then eight bytes at a time while none is a quote, a backslash or a control character.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(at..at + 8).filter(|_| !found) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let special = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        if special & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    let mut escaped = false;
    loop {
        match *bytes.get(at)? {
            b'"' => return Some((at, escaped)),
            b'\\' => {
                escaped = true;
                at += 2;
            }
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

/// The string value starting at `at` (after its opening quote), borrowed unless it has
/// escapes, and where the text goes on after its closing quote.
#[inline]
pub fn string(text: &str, at: usize) -> Option<(Cow<'_, str>, usize)> {
    let (end, escaped) = string_end(text.as_bytes(), at)?;
    let value = if escaped {
        Cow::Owned(serde_json::from_str::<String>(text.get(at.checked_sub(1)?..=end)?).ok()?)
    } else {
        Cow::Borrowed(text.get(at..end)?)
    };
    Some((value, end + 1))
}

/// The number starting at `at`, as serde_json gives it (an integer when it has neither
/// fraction nor exponent and fits, else a float), and where the text goes on after it.
#[inline]
pub fn number(text: &str, start: usize) -> Option<(Number, usize)> {
    let bytes = text.as_bytes();
    let mut at = start;
    let negative = bytes.get(at) == Some(&b'-');
    if negative {
        at += 1;
    }
    let digits_start = at;
    match bytes.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at = digits_end(bytes, at),
        _ => return None,
    }
    let integer_end = at;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let end = digits_end(bytes, at);
        if end == at {
            return None;
        }
        at = end;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let end = digits_end(bytes, at);
        if end == at {
            return None;
        }
        at = end;
    }
    if at == integer_end {
        // As serde_json: a u64 (an i64 when it fits), a negative i64, and `-0` or a
        // negative past i64 as a float. Past u64 the general path decides.
        let magnitude = decimal_u64(bytes.get(digits_start..integer_end)?)?;
        let number = if !negative {
            i64::try_from(magnitude).map_or(Number::Float(magnitude as f64), Number::Int)
        } else {
            let negated = (magnitude as i64).wrapping_neg();
            if negated >= 0 {
                Number::Float(-(magnitude as f64))
            } else {
                Number::Int(negated)
            }
        };
        return Some((number, at));
    }
    // Fractions and exponents with serde_json's own rounding.
    Some((Number::Float(serde_json::from_str::<f64>(text.get(start..at)?).ok()?), at))
}

/// A bit per byte of `chunk` (its first 16) that is a quote, a backslash or a control character.
#[cfg(target_arch = "x86_64")]
fn special_bytes_16(chunk: &[u8]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, __m128i,
    };
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of x86_64; the load reads 16 bytes, which `chunk` has (checked
    // above), and needs no alignment.
    unsafe {
        let bytes = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quotes = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'"' as i8));
        let backslashes = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `byte <= 0x1f`: the larger of the two is 0x1f only then.
        let controls = _mm_cmpeq_epi8(_mm_max_epu8(bytes, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quotes, backslashes), controls)) as u32
    }
}

/// The value of a run of ASCII digits; None past u64. By hand: `str::parse` checked each
/// digit and the overflow per step (320 instructions for a 13-digit date, callgrind).
fn decimal_u64(digits: &[u8]) -> Option<u64> {
    // Nineteen digits cannot overflow a u64; longer runs (rare) are checked per step.
    if digits.len() <= 19 {
        return Some(digits.iter().fold(0u64, |value, digit| value * 10 + u64::from(digit - b'0')));
    }
    digits.iter().try_fold(0u64, |value, digit| value.checked_mul(10)?.checked_add(u64::from(digit - b'0')))
}

/// Where the run of digits starting at `at` ends.
fn digits_end(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of a number's text, as a [`Number`].
    fn serde_number(text: &str) -> Option<Number> {
        let number: serde_json::Number = serde_json::from_str(text).ok()?;
        Some(number.as_i64().map_or_else(|| Number::Float(number.as_f64().unwrap_or(f64::NAN)), Number::Int))
    }

    /// Digits summed by hand give what `str::parse` gives, up to u64's end and past it.
    #[test]
    fn digits_read_as_str_parse_reads_them() {
        let runs = [
            "0", "7", "000123", "1700000000001", "9999999999999999999", "10000000000000000000", "18446744073709551615",
            "18446744073709551616", "99999999999999999999", "123456789012345678901234",
        ];
        for digits in runs {
            assert_eq!(decimal_u64(digits.as_bytes()), digits.parse::<u64>().ok(), "{digits}");
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        let texts = [
            "0", "-0", "7", "-7", "1.5", "-1.5e3", "1E+2", "2e-2", "9223372036854775807", "9223372036854775808",
            "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "0.1", "123456789.123456789",
        ];
        for text in texts {
            let (number, end) = number(text, 0).unwrap_or_else(|| panic!("not read: {text}"));
            assert_eq!(end, text.len(), "{text}");
            let expected = serde_number(text).unwrap_or_else(|| panic!("serde_json refuses {text}"));
            match (number, expected) {
                (Number::Float(a), Number::Float(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{text}"),
                (a, b) => assert_eq!(a, b, "{text}"),
            }
        }
        for bad in ["-", "01x", ".5", "1.", "1e", "1e+", "+1", "x"] {
            let read = number(bad, 0).filter(|(_, end)| *end == bad.len());
            assert!(read.is_none() || serde_number(bad).is_some(), "{bad} read as {read:?}");
        }
    }

    #[test]
    fn strings_end_at_their_quote_past_escapes_and_refuse_control_characters() {
        // At every offset, so the 16- and 8-byte scans meet the quote and the escape anywhere.
        for offset in 0..40 {
            let body = format!("{}\\\"x{}", "a".repeat(offset), "b".repeat(offset));
            let text = format!("\"{body}\" rest");
            let (value, next) = string(&text, 1).unwrap_or_else(|| panic!("not read at {offset}"));
            assert_eq!(value, serde_json::from_str::<String>(&format!("\"{body}\"")).expect("valid"));
            assert_eq!(&text[next..], " rest");
            let plain = format!("\"{}\"", "c".repeat(offset));
            let (value, _) = string(&plain, 1).expect("plain");
            assert!(matches!(value, Cow::Borrowed(_)), "borrowed without escapes");
            let control = format!("\"{}\u{1}\"", "c".repeat(offset));
            assert!(string(&control, 1).is_none(), "a control character at {offset}");
        }
        assert!(string("\"no end", 1).is_none());
    }
}
