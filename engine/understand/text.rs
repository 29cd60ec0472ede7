//! Words as the understanding stage compares them: folded (lower case, accents off),
//! split into tokens that remember where they stood, and stemmed lightly so that
//! "deploys", "deployed" and "deploying" meet "deploy".

/// One word of a text, folded, with its byte span in the original.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub word: String,
    pub start: usize,
    pub end: usize,
    /// Written with a capital first letter in the original.
    pub capital: bool,
    /// Followed by a possessive `'s` (dropped from the tokens).
    pub possessive: bool,
}

/// Lower case without accents: "Zoë Müller" → "zoe muller".
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        for l in c.to_lowercase() {
            match l {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => out.push('a'),
                'ç' | 'ć' | 'č' => out.push('c'),
                'ď' | 'đ' => out.push('d'),
                'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => out.push('e'),
                'ğ' => out.push('g'),
                'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => out.push('i'),
                'ł' => out.push('l'),
                'ñ' | 'ń' | 'ň' => out.push('n'),
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => out.push('o'),
                'ř' => out.push('r'),
                'ś' | 'š' | 'ş' => out.push('s'),
                'ť' | 'ţ' => out.push('t'),
                'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => out.push('u'),
                'ý' | 'ÿ' => out.push('y'),
                'ź' | 'ż' | 'ž' => out.push('z'),
                'ß' => out.push_str("ss"),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                '’' | '‘' => out.push('\''),
                other => out.push(other),
            }
        }
    }
    out
}

/// Characters that belong to a word: letters, digits, and `+`/`#` for C++ and C#.
fn in_word(c: char) -> bool {
    c.is_alphanumeric() || c == '+' || c == '#'
}

/// The words of `s`, folded. A possessive `'s` marks the word before it; `'t`, `'re`,
/// `'ll` and the like stay with their word ("don't" → "dont").
pub fn tokens(s: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !in_word(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        let mut possessive = false;
        while let Some(&(j, d)) = chars.peek() {
            if in_word(d) {
                end = j + d.len_utf8();
                chars.next();
            } else if d == '\'' || d == '’' {
                // Look past the apostrophe: 's is a possessive (or "is"); other endings join.
                let rest = &s[j + d.len_utf8()..];
                let tail: String = rest.chars().take_while(|c| c.is_alphabetic()).collect();
                if tail.eq_ignore_ascii_case("s") {
                    possessive = true;
                    chars.next();
                    chars.next();
                    end = j;
                    break;
                } else if !tail.is_empty() && tail.len() <= 2 {
                    chars.next();
                    for _ in 0..tail.chars().count() {
                        chars.next();
                    }
                    end = j + d.len_utf8() + tail.len();
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        let raw = &s[i..end];
        let word: String = fold(raw).chars().filter(|c| *c != '\'').collect();
        out.push(Token {
            word,
            start: i,
            end,
            capital: c.is_uppercase(),
            possessive,
        });
    }
    out
}

/// A light suffix stemmer, the same for the examples and the question: plurals, then
/// -ing/-ed/-ment, then a final e ("releases", "released", "releasing" → "releas").
pub fn stem(word: &str) -> String {
    if word.len() <= 3 || !word.is_ascii() {
        return word.to_string();
    }
    let mut w = word.to_string();
    if let Some(base) = w.strip_suffix("ies") {
        w = format!("{base}y");
    } else if ["sses", "xes", "ches", "shes"]
        .iter()
        .any(|s| w.ends_with(s))
    {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !["ss", "us", "is"].iter().any(|s| w.ends_with(s)) {
        w.truncate(w.len() - 1);
    }
    if w.len() > 5 && w.ends_with("ing") {
        w.truncate(w.len() - 3);
        undouble(&mut w);
    } else if w.len() > 4 && w.ends_with("ed") && !w.ends_with("eed") {
        w.truncate(w.len() - 2);
        undouble(&mut w);
    } else if w.len() > 7 && w.ends_with("ment") {
        w.truncate(w.len() - 4);
    }
    if w.len() > 3 && w.ends_with('e') {
        w.truncate(w.len() - 1);
    }
    w
}

/// "shipp" → "ship", "plann" → "plan"; "call" and "miss" keep their double letter.
fn undouble(w: &mut String) {
    let b = w.as_bytes();
    if b.len() >= 3 && b[b.len() - 1] == b[b.len() - 2] && !matches!(b[b.len() - 1], b'l' | b's') {
        w.truncate(w.len() - 1);
    }
}

/// Words that carry no meaning for choosing a tool or linking a name; the words that
/// only say which end of a ranking ("most", "least") are shape, read apart.
pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.binary_search(&w).is_ok() || ORDER_ONLY.contains(&w)
}

/// A stopword that changes the verb before it ("work on" / "work with", "report to"):
/// kept as a bigram with that verb, never alone.
pub fn particle(w: &str) -> Option<&'static str> {
    PARTICLES.iter().find(|p| **p == w).copied()
}

const PARTICLES: &[&str] = &["on", "with", "to", "for", "about", "from", "into"];

const ORDER_ONLY: &[&str] = &[
    "most", "least", "highest", "lowest", "fewest", "top", "max", "min", "maximum", "minimum",
    "more", "less", "best", "worst", "greatest", "smallest", "largest", "biggest",
];

// Sorted for binary search (a unit test keeps it so).
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "being",
    "but",
    "by",
    "can",
    "company",
    "could",
    "currently",
    "did",
    "do",
    "does",
    "doing",
    "entire",
    "everybody",
    "everyone",
    "everything",
    "for",
    "from",
    "get",
    "give",
    "go",
    "going",
    "got",
    "had",
    "has",
    "have",
    "hey",
    "hi",
    "how",
    "i",
    "id",
    "if",
    "im",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "lately",
    "let",
    "lets",
    "like",
    "me",
    "might",
    "my",
    "need",
    "nowadays",
    "of",
    "on",
    "or",
    "org",
    "organisation",
    "organization",
    "our",
    "ours",
    "overall",
    "please",
    "quick",
    "quickly",
    "really",
    "recently",
    "right",
    "say",
    "see",
    "should",
    "show",
    "so",
    "some",
    "someone",
    "something",
    "tell",
    "than",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "us",
    "want",
    "was",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "who",
    "whole",
    "whos",
    "why",
    "will",
    "would",
    "you",
    "your",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_tokens() {
        assert_eq!(fold("Zoë Müller"), "zoe muller");
        let t = tokens("Who is Zoë Müller's manager? Don't use C++ or C#.");
        let words: Vec<&str> = t.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(
            words,
            [
                "who", "is", "zoe", "muller", "manager", "dont", "use", "c++", "or", "c#"
            ]
        );
        assert!(t[3].possessive && t[2].capital && !t[4].capital);
        assert_eq!(&"Who is Zoë Müller's"[t[3].start..t[3].end], "Müller");
        let t = tokens("what's the ledger-service's owner");
        let words: Vec<&str> = t.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(words, ["what", "the", "ledger", "service", "owner"]);
        assert!(t[0].possessive, "what's reads as a possessive of what");
    }

    #[test]
    fn stems_meet() {
        for (a, b) in [
            ("deploys", "deploy"),
            ("deployed", "deploy"),
            ("deploying", "deploy"),
            ("incidents", "incident"),
            ("shipped", "ship"),
            ("shipping", "ship"),
            ("stories", "story"),
            ("reviews", "review"),
            ("reviewing", "review"),
            ("failed", "fail"),
            ("failing", "fail"),
            ("planned", "plan"),
            ("releases", "releasing"),
            ("deployments", "deployed"),
            ("moved", "move"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} vs {b}");
        }
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("process"), "process");
    }

    #[test]
    fn stopwords_sorted() {
        let mut s = STOPWORDS.to_vec();
        s.sort_unstable();
        assert_eq!(s, STOPWORDS);
    }
}
