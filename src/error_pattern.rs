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

/// `url` (without its query) with its varying parts replaced by [`VARYING`], for grouping
/// requests: the scheme, host and port stay (another port is another server); in the path,
/// a file name that is a build's hash (`L0xdDF4xlVMF-BfR8bXMI….woff`, twenty characters or
/// more of letters, digits, `-` and `_`, with both letters and digits) is one varying part
/// before its extension, and the rest varies as in [`message_pattern`]
/// (`/api/v1/items/7389` is `/api/v*/items/*`).
pub fn url_pattern(url: &str) -> Cow<'_, str> {
    let path_start = match url.find("://") {
        Some(scheme_end) => url[scheme_end + 3..].find('/').map_or(url.len(), |i| scheme_end + 3 + i),
        None => 0,
    };
    let (origin, path) = url.split_at(path_start);
    if !path.bytes().any(|b| b.is_ascii_digit()) {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(origin);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let (stem, extension) = match segment.rsplit_once('.') {
            Some((stem, extension))
                if !stem.is_empty()
                    && extension.len() <= 6
                    && extension.bytes().all(|b| b.is_ascii_alphanumeric())
                    && extension.bytes().any(|b| b.is_ascii_alphabetic()) =>
            {
                (stem, Some(extension))
            }
            _ => (segment, None),
        };
        let hashed = stem.len() >= 20
            && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && stem.bytes().any(|b| b.is_ascii_digit())
            && stem.bytes().any(|b| b.is_ascii_alphabetic());
        if hashed {
            out.push(VARYING);
        } else {
            out.push_str(&message_pattern(stem));
        }
        // The extension stays as it is: `.woff2` is not `.woff*`.
        if let Some(extension) = extension {
            out.push('.');
            out.push_str(extension);
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
    fn a_url_keeps_its_origin_and_its_hashed_file_names_vary_whole() {
        use super::url_pattern;
        // Real URLs of the Guance fixtures: a font named by its hash, a chunk by a short one.
        let font = "https://static.guance.com/Noto_Sans_SC_Roboto_Mono/fonts/L0xdDF4xlVMF-BfR8bXMIjhOsXG-q2oeuFoqFrlnAIe2Imhk1T8rbociImtEm-Ulco2VkA.woff";
        assert_eq!(url_pattern(font), "https://static.guance.com/Noto_Sans_SC_Roboto_Mono/fonts/*.woff");
        assert_eq!(url_pattern("https://console.guance.com/js/view-Query.12d92c5b.js"), "https://console.guance.com/js/view-Query.*.js");
        assert_eq!(url_pattern("https://console.guance.com/css/page-component9.css"), "https://console.guance.com/css/page-component*.css");
        // The port and host stay; numbers and ids in the path vary.
        assert_eq!(url_pattern("http://localhost:5500/dist/bundle.js"), "http://localhost:5500/dist/bundle.js");
        assert_eq!(url_pattern("http://10.0.0.7:8080/api/v1/items/7389"), "http://10.0.0.7:8080/api/v*/items/*");
        assert_eq!(url_pattern("https://x.example/users/a2430edc-fa31-4c2f-9390-bada1a25abdd/cart"), "https://x.example/users/*/cart");
        // Long words without digits, and digits alone in a long name, are not hashes.
        assert_eq!(url_pattern("https://x.example/static/a_very_long_file_name_for_fonts.woff2"), "https://x.example/static/a_very_long_file_name_for_fonts.woff2");
        assert_eq!(url_pattern("https://x.example/a/12345678901234567890123"), "https://x.example/a/*");
        assert_eq!(url_pattern("https://x.example/app/v1.6.0/main.js"), "https://x.example/app/v*/main.js");
        // Relative URLs and nothing varying.
        assert_eq!(url_pattern("/api/v2/orders/17"), "/api/v*/orders/*");
        assert!(matches!(url_pattern("https://x.example/api/cart"), std::borrow::Cow::Borrowed(_)));
    }

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
