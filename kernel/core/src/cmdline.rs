//! Parsing of the kernel command line (`/chosen/bootargs` in the device tree).
//!
//! The line is a sequence of whitespace-separated words, each either `key=value` or a bare
//! `flag`. A value may be double-quoted to contain spaces (`init="/bin/sh -l"`), and, as in
//! Linux, a whole word may be quoted (`"init=/bin/sh -l"`); the quotes are not part of the
//! returned key or value. An unterminated quote runs to the end of the line.

/// A borrowed kernel command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmdline<'a>(&'a str);

impl<'a> Cmdline<'a> {
    /// Wraps a command line string.
    pub const fn new(line: &'a str) -> Self {
        Self(line)
    }

    /// Returns the whole command line as given.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }

    /// Returns the words in order as `(key, value)`; bare flags have no value, `key=` has an
    /// empty one.
    pub fn iter(&self) -> Iter<'a> {
        Iter { rest: self.0 }
    }

    /// Returns the value of the last `key=value` word for `key`, or `None` if there is none.
    ///
    /// A later bare `key` does not hide an earlier value.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter()
            .filter(|&(k, _)| k == key)
            .filter_map(|(_, v)| v)
            .last()
    }

    /// Returns whether `flag` appears, either bare or as the key of a `key=value` word.
    pub fn has(&self, flag: &str) -> bool {
        self.iter().any(|(k, _)| k == flag)
    }
}

impl<'a> IntoIterator for Cmdline<'a> {
    type Item = (&'a str, Option<&'a str>);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the words of a [`Cmdline`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    /// The part of the line not yet consumed.
    rest: &'a str,
}

/// Removes one pair of surrounding double quotes, or a lone opening quote.
fn unquote(s: &str) -> &str {
    match s.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
        None => s,
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let line = self
            .rest
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        if line.is_empty() {
            self.rest = line;
            return None;
        }
        let mut quoted = false;
        let mut end = line.len();
        for (i, b) in line.bytes().enumerate() {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted && b.is_ascii_whitespace() {
                end = i;
                break;
            }
        }
        let (word, rest) = line.split_at(end);
        self.rest = rest;
        let word = if word.starts_with('"') {
            unquote(word)
        } else {
            word
        };
        Some(match word.split_once('=') {
            Some((key, value)) => (key, Some(unquote(value))),
            None => (word, None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_values() {
        let cmd = Cmdline::new("console=ttyAMA0,115200 quiet loglevel=7 root=");
        let words: Vec<_> = cmd.iter().collect();
        assert_eq!(
            words,
            [
                ("console", Some("ttyAMA0,115200")),
                ("quiet", None),
                ("loglevel", Some("7")),
                ("root", Some("")),
            ]
        );
        assert_eq!(cmd.get("console"), Some("ttyAMA0,115200"));
        assert_eq!(cmd.get("root"), Some(""));
        assert_eq!(cmd.get("quiet"), None);
        assert_eq!(cmd.get("missing"), None);
        assert!(cmd.has("quiet"));
        assert!(cmd.has("loglevel"));
        assert!(!cmd.has("loud"));
        assert!(!cmd.has("ttyAMA0,115200"));
        assert_eq!(
            cmd.as_str(),
            "console=ttyAMA0,115200 quiet loglevel=7 root="
        );
    }

    #[test]
    fn last_occurrence_wins() {
        let cmd = Cmdline::new("loglevel=3 loglevel=7 loglevel");
        assert_eq!(cmd.get("loglevel"), Some("7"));
        assert_eq!(cmd.iter().count(), 3);
    }

    #[test]
    fn empty_and_blank_lines() {
        assert_eq!(Cmdline::new("").iter().next(), None);
        assert_eq!(Cmdline::new(" \t\n ").iter().next(), None);
        assert!(!Cmdline::new("").has(""));
    }

    #[test]
    fn mixed_whitespace() {
        let cmd = Cmdline::new("\ta=1\n\n b=2  \r\nc ");
        let words: Vec<_> = cmd.into_iter().collect();
        assert_eq!(words, [("a", Some("1")), ("b", Some("2")), ("c", None)]);
    }

    #[test]
    fn quoted_values() {
        let cmd = Cmdline::new(r#"init="/bin/sh -l" quiet msg="a  b" empty="""#);
        assert_eq!(cmd.get("init"), Some("/bin/sh -l"));
        assert_eq!(cmd.get("msg"), Some("a  b"));
        assert_eq!(cmd.get("empty"), Some(""));
        assert!(cmd.has("quiet"));
        assert_eq!(cmd.iter().count(), 4);
    }

    #[test]
    fn quoted_whole_words() {
        let cmd = Cmdline::new(r#""init=/bin/sh -l" "bare flag" x"#);
        let words: Vec<_> = cmd.iter().collect();
        assert_eq!(
            words,
            [
                ("init", Some("/bin/sh -l")),
                ("bare flag", None),
                ("x", None)
            ]
        );
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        let cmd = Cmdline::new(r#"a=1 b="x y z"#);
        assert_eq!(cmd.get("b"), Some("x y z"));
        assert_eq!(cmd.iter().count(), 2);
    }

    #[test]
    fn values_may_contain_equals_signs() {
        let cmd = Cmdline::new("opt=a=b =v");
        let words: Vec<_> = cmd.iter().collect();
        assert_eq!(words, [("opt", Some("a=b")), ("", Some("v"))]);
    }

    #[test]
    fn non_ascii_text_is_kept_intact() {
        let cmd = Cmdline::new("hostname=kéel ünï=✓");
        assert_eq!(cmd.get("hostname"), Some("kéel"));
        assert_eq!(cmd.get("ünï"), Some("✓"));
    }
}
