//! Error message patterns: the parts of a message that vary from one occurrence to the next
//! (numbers, ids) replaced by `*`, so that `Request failed with status code 500` and `… 404`
//! count as one kind of error, as the "patterns" views of the web explorers group them.

use std::borrow::Cow;

/// The wildcard a varying part becomes; a filter reads it back as "anything".
pub const VARYING: char = '*';

/// `message` with its varying parts replaced by [`VARYING`]: runs of digits (with the
/// punctuation between them: `1.6.0`, `12:30:05`, `-42`), and hexadecimal ids of eight or more
/// characters that hold a digit (`a2430edc-fa31-…`, `0x7ffe3b2c`). Borrowed when nothing varies.
pub fn message_pattern(message: &str) -> Cow<'_, str> {
    if !message.bytes().any(|b| b.is_ascii_digit()) {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        if let Some(id_len) = hex_id_len(rest) {
            push_varying(&mut out);
            rest = &rest[id_len..];
        } else if c.is_ascii_digit() {
            push_varying(&mut out);
            rest = &rest[number_len(rest)..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Cow::Owned(out)
}

/// Adds a varying part, once for neighbours joined by punctuation (`*.*.*` reads as `*`).
fn push_varying(out: &mut String) {
    let joined = out.strip_suffix(['.', ':', '-', ',']).is_some_and(|before| before.ends_with(VARYING));
    if joined {
        out.pop();
    } else if !out.ends_with(VARYING) {
        out.push(VARYING);
    }
}

/// Bytes of the number at the start of `text` (digits, with `.`, `,` or `:` between digits).
fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut end = 0;
    while end < bytes.len() {
        let b = bytes[end];
        let joins_digits = matches!(b, b'.' | b',' | b':') && end > 0 && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() || joins_digits {
            end += 1;
        } else {
            break;
        }
    }
    end.max(1)
}

/// Bytes of a hexadecimal id at the start of `text`: a word of hex digits and dashes (or
/// `0x` and hex digits) with eight hex digits or more and at least one decimal digit, not
/// followed by more of a word. None otherwise; a word like `deadline` or `facade` stays.
fn hex_id_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let start = if bytes.starts_with(b"0x") || bytes.starts_with(b"0X") { 2 } else { 0 };
    let mut end = start;
    let (mut hex_digits, mut decimal) = (0, false);
    while let Some(&b) = bytes.get(end) {
        if b.is_ascii_hexdigit() {
            hex_digits += 1;
            decimal |= b.is_ascii_digit();
        } else if b != b'-' {
            break;
        }
        end += 1;
    }
    // A dash that ends the word belongs to the text after it.
    while end > start && bytes[end - 1] == b'-' {
        end -= 1;
    }
    let word_goes_on = bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    (hex_digits >= 8 && decimal && !word_goes_on).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::message_pattern as pattern;

    #[test]
    fn numbers_and_ids_vary_and_words_stay() {
        assert_eq!(pattern("Request failed with status code 500"), "Request failed with status code *");
        assert_eq!(pattern("Request failed with status code 404"), pattern("Request failed with status code 503"));
        assert_eq!(pattern("Cannot read properties of undefined (reading 'price')"), "Cannot read properties of undefined (reading 'price')");
        assert_eq!(pattern("Product 7389 not found in /products/7389"), "Product * not found in /products/*");
        assert_eq!(pattern("session a2430edc-fa31-4c2f-9390-bada1a25abdd expired"), "session * expired");
        assert_eq!(pattern("bad pointer 0x7ffe3b2c"), "bad pointer *");
        assert_eq!(pattern("app v1.6.0 at 12:30:05"), "app v* at *");
        assert_eq!(pattern("timeout after 1,500 ms"), "timeout after * ms");
        // Hex-looking words without a digit are words.
        assert_eq!(pattern("deadline exceeded in facade"), "deadline exceeded in facade");
        // A short hex word with a digit is a number in a word, not an id.
        assert_eq!(pattern("h1 missing"), "h* missing");
    }

    #[test]
    fn a_message_without_digits_is_borrowed_as_it_is() {
        assert!(matches!(pattern("checkoutState is not defined"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(pattern(""), "");
        assert_eq!(pattern("über 5 €"), "über * €");
    }
}
