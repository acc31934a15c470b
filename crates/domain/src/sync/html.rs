//! Note bodies between a system that keeps HTML (GHL) and one that keeps plain
//! text (Lofty). The two conversions are each other's inverse on what they
//! produce: `text_to_html(html_to_text(h))` read back as text is
//! `html_to_text(h)`, so a note that goes round trips does not grow.
//!
//! HTML to text: block ends (`</p>`, `</div>`, `</li>`, `</h1>`..., `<br>`) end a
//! line, other tags are dropped, entities decoded, spaces inside a line collapsed,
//! blank lines dropped. Text to HTML: each line a `<p>`, escaped.

/// Plain text of an HTML fragment, one line per block.
pub fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        raw.push_str(&rest[..start]);
        // A tag starts `<a`, `</`, `<!`; any other `<` is text.
        let opens = rest[start + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        if !opens {
            raw.push('<');
            rest = &rest[start + 1..];
            continue;
        }
        let Some(len) = rest[start..].find('>') else {
            // A lone `<` is text.
            raw.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + len].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let closing = tag.starts_with('/');
        let breaks = name == "br"
            || (closing
                && matches!(
                    name.as_str(),
                    "p" | "div"
                        | "li"
                        | "tr"
                        | "blockquote"
                        | "h1"
                        | "h2"
                        | "h3"
                        | "h4"
                        | "h5"
                        | "h6"
                        | "ul"
                        | "ol"
                        | "table"
                        | "pre"
                ));
        // An inline tag adds nothing: `<b>a</b>b` is `ab`.
        if breaks {
            raw.push('\n');
        }
        rest = &rest[start + len + 1..];
    }
    raw.push_str(rest);
    let decoded = decode_entities(&raw);
    decoded
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// HTML of plain text: each non-blank line a paragraph.
pub fn text_to_html(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("<p>{}</p>", escape(l)))
        .collect()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &after[..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_lines_of_text() {
        assert_eq!(
            html_to_text("<p>Call <b>Nina</b> &amp; Sam</p><p>at 5&nbsp;pm<br>sharp</p>"),
            "Call Nina & Sam\nat 5 pm\nsharp"
        );
        assert_eq!(html_to_text("a < b, c > d"), "a < b, c > d");
        assert_eq!(
            html_to_text("<ul><li>one</li><li>two</li></ul>"),
            "one\ntwo"
        );
        assert_eq!(html_to_text("caf&#233; &#x41;"), "café A");
    }

    #[test]
    fn text_becomes_paragraphs_escaped() {
        assert_eq!(
            text_to_html("Call Nina & Sam\n\nat <5> pm"),
            "<p>Call Nina &amp; Sam</p><p>at &lt;5&gt; pm</p>"
        );
    }

    #[test]
    fn round_trips_do_not_grow() {
        let mut html =
            "<div><p>Visit <i>Tuesday</i></p><p>Bring the keys &amp; the lockbox code</p></div>"
                .to_owned();
        let mut text = html_to_text(&html);
        for _ in 0..20 {
            html = text_to_html(&text);
            let again = html_to_text(&html);
            assert_eq!(again, text);
            text = again;
        }
        assert_eq!(
            html,
            "<p>Visit Tuesday</p><p>Bring the keys &amp; the lockbox code</p>"
        );
    }
}
