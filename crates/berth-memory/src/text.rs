//! Words: splitting text into them, a light stemmer, query terms for the full-text index, and
//! the snippet a search result shows.

/// Common English words that say nothing about what a text is about.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
    "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or",
    "our", "so", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to",
    "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "you",
    "your",
];

/// Characters a snippet spans around its matches.
const SNIPPET_CHARS: usize = 200;

pub(crate) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The words of `text` with their byte ranges: runs of letters and digits.
pub(crate) fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

/// A word lowercased and stripped of common English endings, so `deploying`, `deployed` and
/// `deploys` meet at `deploy`. Deliberately simple: it only has to make variants agree.
pub(crate) fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    for suffix in [
        "ations", "ation", "ments", "ment", "ings", "ing", "ies", "ers", "ed", "er", "es", "ly",
        "s",
    ] {
        if let Some(root) = lower.strip_suffix(suffix)
            && root.chars().count() >= 3
        {
            return if suffix == "ies" {
                format!("{root}y")
            } else {
                root.to_owned()
            };
        }
    }
    lower
}

/// The words of a query to look up in the full-text index: lowercased, stop words left out
/// (unless the query has nothing else), each once.
pub fn query_terms(query: &str) -> Vec<String> {
    let all: Vec<String> = words(query).map(|(_, w)| w.to_lowercase()).collect();
    let mut kept: Vec<String> = all.iter().filter(|w| !is_stop_word(w)).cloned().collect();
    if kept.is_empty() {
        kept = all;
    }
    let mut seen = std::collections::HashSet::new();
    kept.retain(|w| seen.insert(w.clone()));
    kept
}

/// About [`SNIPPET_CHARS`] characters of `content` around the densest cluster of the query's
/// words (by stem), with `…` where it was cut and whitespace runs folded to one space; the
/// start of the content when no word matches.
pub fn snippet(content: &str, query: &str) -> String {
    let wanted: std::collections::HashSet<String> =
        query_terms(query).iter().map(|t| stem(t)).collect();
    let matches: Vec<(usize, String)> = words(content)
        .map(|(at, w)| (at, stem(w)))
        .filter(|(_, s)| wanted.contains(s))
        .collect();
    // The window starting at each match that covers the most distinct stems.
    let mut best = (0usize, 0usize);
    for (i, (start, _)) in matches.iter().enumerate() {
        let distinct: std::collections::HashSet<&str> = matches[i..]
            .iter()
            .take_while(|(at, _)| *at < start + SNIPPET_CHARS)
            .map(|(_, s)| s.as_str())
            .collect();
        if distinct.len() > best.1 {
            best = (*start, distinct.len());
        }
    }
    // Open a little before the first match so it reads in context.
    let start = floor_char_boundary(content, best.0.saturating_sub(SNIPPET_CHARS / 5));
    let start = if start == 0 {
        0
    } else {
        content
            .get(start..)
            .and_then(|rest| rest.find(char::is_whitespace))
            .map_or(start, |i| start + i)
    };
    let end = floor_char_boundary(content, start + SNIPPET_CHARS);
    let end = if end >= content.len() {
        content.len()
    } else {
        content
            .get(..end)
            .and_then(|head| head.rfind(char::is_whitespace))
            .filter(|&i| i > start)
            .unwrap_or(end)
    };
    let body = content
        .get(start..end)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&body);
    if end < content.len() {
        out.push('…');
    }
    out
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the") && !is_stop_word("deploy"));
    }

    #[test]
    fn stems_bring_variants_together() {
        for w in [
            "deploying",
            "deployed",
            "deploys",
            "Deployment",
            "deployments",
        ] {
            assert_eq!(stem(w), "deploy", "{w}");
        }
        assert_eq!(stem("libraries"), "library");
        assert_eq!(stem("is"), "is", "short words stay");
    }

    #[test]
    fn query_terms_drop_stop_words_and_repeats() {
        assert_eq!(
            query_terms("How do we deploy the API? deploy!"),
            vec!["deploy", "api"]
        );
        assert_eq!(
            query_terms("the"),
            vec!["the"],
            "nothing else to search for"
        );
        assert!(query_terms("  ?! ").is_empty());
    }

    #[test]
    fn snippets_centre_on_the_matches() {
        let filler = "lorem ipsum dolor sit amet ".repeat(40);
        let content = format!("{filler}We deploy with blue green releases.\n\n{filler}");
        let s = snippet(&content, "how are deployments released");
        assert!(s.contains("deploy with blue green releases"), "{s}");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.chars().count() <= SNIPPET_CHARS + 2);
        assert_eq!(snippet("short note", "unrelated"), "short note");
        // Cuts never split a character.
        let wide = "é".repeat(300);
        assert!(snippet(&wide, "x").ends_with('…'));
    }
}
