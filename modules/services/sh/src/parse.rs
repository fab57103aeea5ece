//! The command-line parser: words, quotes, pipes, redirections and a trailing `&`.
//!
//! - Words are separated by blanks. `'...'` quotes everything literally; `"..."` quotes
//!   everything but `\"` and `\\`; outside quotes `\` takes the next character literally. Quoted
//!   and unquoted parts next to each other make one word (`a"b c"` is `ab c`).
//! - `|` separates the commands of a pipeline.
//! - `< file`, `> file` (create or truncate), `>> file` (append), `2> file`, `2>> file` redirect
//!   (also written without the blank: `>file`).
//! - A trailing `&` runs the pipeline in the background.
//! - An unquoted `#` at the start of a word starts a comment.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// How a redirection opens its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirKind {
    /// `< file`: read.
    In,
    /// `> file`: create or truncate, write.
    Out,
    /// `>> file`: create, append.
    Append,
}

/// One redirection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The descriptor redirected (0, 1 or 2).
    pub fd: i32,
    /// How the file is opened.
    pub kind: RedirKind,
    /// The file.
    pub path: String,
}

/// One command of a pipeline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// The program (or built-in) and its arguments.
    pub argv: Vec<String>,
    /// Redirections, in the order written (a later one for the same descriptor wins).
    pub redirects: Vec<Redirect>,
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    /// The commands, connected by pipes.
    pub commands: Vec<Command>,
    /// Run without waiting (`&`).
    pub background: bool,
}

/// Why a line could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A quote was not closed.
    UnterminatedQuote(char),
    /// A redirection has no file name.
    MissingFile(&'static str),
    /// A pipe has no command on one side.
    EmptyCommand,
    /// `&` is not at the end of the line.
    MisplacedAmpersand,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnterminatedQuote(q) => write!(f, "unterminated {q} quote"),
            ParseError::MissingFile(op) => write!(f, "missing file name after '{op}'"),
            ParseError::EmptyCommand => write!(f, "missing command before or after '|'"),
            ParseError::MisplacedAmpersand => write!(f, "'&' may only end the line"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Pipe,
    Amp,
    Redir(i32, RedirKind, &'static str),
}

fn tokenize(line: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    let mut word = String::new();
    let mut in_word = false;
    // Whether the word so far has quoted parts (then `2>` is not a redirection of fd 2).
    let mut quoted = false;
    macro_rules! end_word {
        () => {
            if in_word {
                tokens.push(Token::Word(core::mem::take(&mut word)));
                in_word = false;
                quoted = false;
            }
        };
    }
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => end_word!(),
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                quoted = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(ParseError::UnterminatedQuote('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                quoted = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                            word.push(chars.next().unwrap_or('\\'))
                        }
                        Some(c) => word.push(c),
                        None => return Err(ParseError::UnterminatedQuote('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                quoted = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            '|' => {
                end_word!();
                tokens.push(Token::Pipe);
            }
            '&' => {
                end_word!();
                tokens.push(Token::Amp);
            }
            '<' => {
                end_word!();
                tokens.push(Token::Redir(0, RedirKind::In, "<"));
            }
            '>' => {
                // `2>` when the word so far is exactly an unquoted "2".
                let fd = if in_word && !quoted && word == "2" {
                    word.clear();
                    in_word = false;
                    2
                } else {
                    end_word!();
                    1
                };
                let append = chars.peek() == Some(&'>');
                if append {
                    chars.next();
                }
                tokens.push(match (fd, append) {
                    (2, true) => Token::Redir(2, RedirKind::Append, "2>>"),
                    (2, false) => Token::Redir(2, RedirKind::Out, "2>"),
                    (_, true) => Token::Redir(1, RedirKind::Append, ">>"),
                    (_, false) => Token::Redir(1, RedirKind::Out, ">"),
                });
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

/// Parses a line; `Ok(None)` when it holds no command (blank or a comment).
pub fn parse(line: &str) -> Result<Option<Pipeline>, ParseError> {
    let tokens = tokenize(line)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut p = Pipeline::default();
    let mut cmd = Command::default();
    let mut it = tokens.into_iter().peekable();
    while let Some(t) = it.next() {
        match t {
            Token::Word(w) => cmd.argv.push(w),
            Token::Redir(fd, kind, op) => match it.next() {
                Some(Token::Word(path)) => cmd.redirects.push(Redirect { fd, kind, path }),
                _ => return Err(ParseError::MissingFile(op)),
            },
            Token::Pipe => {
                if cmd.argv.is_empty() {
                    return Err(ParseError::EmptyCommand);
                }
                p.commands.push(core::mem::take(&mut cmd));
            }
            Token::Amp => {
                if it.peek().is_some() {
                    return Err(ParseError::MisplacedAmpersand);
                }
                p.background = true;
            }
        }
    }
    if cmd.argv.is_empty() {
        if p.commands.is_empty() && cmd.redirects.is_empty() && !p.background {
            return Ok(None);
        }
        return Err(ParseError::EmptyCommand);
    }
    p.commands.push(cmd);
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn words(p: &Pipeline) -> Vec<Vec<&str>> {
        p.commands
            .iter()
            .map(|c| c.argv.iter().map(String::as_str).collect())
            .collect()
    }

    fn one(line: &str) -> Pipeline {
        parse(line).unwrap().unwrap()
    }

    #[test]
    fn words_and_blanks() {
        let p = one("  echo   hello\tworld  ");
        assert_eq!(words(&p), [vec!["echo", "hello", "world"]]);
        assert!(!p.background);
        assert_eq!(parse("   "), Ok(None));
        assert_eq!(parse("# just a comment"), Ok(None));
        assert_eq!(words(&one("echo a #b c")), [vec!["echo", "a"]]);
        assert_eq!(words(&one("echo a#b")), [vec!["echo", "a#b"]]);
    }

    #[test]
    fn quotes() {
        assert_eq!(
            words(&one("echo 'a  b' \"c | d\"")),
            [vec!["echo", "a  b", "c | d"]]
        );
        assert_eq!(words(&one("echo a'b c'd")), [vec!["echo", "ab cd"]]);
        assert_eq!(
            words(&one(r#"echo "say \"hi\" \\ \n""#)),
            [vec!["echo", r#"say "hi" \ \n"#]]
        );
        assert_eq!(words(&one(r"echo a\ b \|")), [vec!["echo", "a b", "|"]]);
        assert_eq!(words(&one("echo '' \"\"")), [vec!["echo", "", ""]]);
        assert_eq!(parse("echo 'abc"), Err(ParseError::UnterminatedQuote('\'')));
        assert_eq!(parse("echo \"abc"), Err(ParseError::UnterminatedQuote('"')));
    }

    #[test]
    fn pipes() {
        let p = one("cat f | hexdump -C|cat");
        assert_eq!(
            words(&p),
            [vec!["cat", "f"], vec!["hexdump", "-C"], vec!["cat"]]
        );
        assert_eq!(parse("| cat"), Err(ParseError::EmptyCommand));
        assert_eq!(parse("cat |"), Err(ParseError::EmptyCommand));
        assert_eq!(parse("a | | b"), Err(ParseError::EmptyCommand));
    }

    #[test]
    fn redirections() {
        let p = one("cat < in > out");
        let c = &p.commands[0];
        assert_eq!(c.argv, ["cat"]);
        assert_eq!(
            c.redirects,
            [
                Redirect {
                    fd: 0,
                    kind: RedirKind::In,
                    path: "in".into()
                },
                Redirect {
                    fd: 1,
                    kind: RedirKind::Out,
                    path: "out".into()
                },
            ]
        );
        let c = &one("echo hi>>log 2>err").commands[0];
        assert_eq!(c.argv, ["echo", "hi"]);
        assert_eq!(
            c.redirects[0],
            Redirect {
                fd: 1,
                kind: RedirKind::Append,
                path: "log".into()
            }
        );
        assert_eq!(
            c.redirects[1],
            Redirect {
                fd: 2,
                kind: RedirKind::Out,
                path: "err".into()
            }
        );
        let c = &one("echo 2 > x '2'>y").commands[0];
        assert_eq!(c.argv, ["echo", "2", "2"]);
        assert_eq!(c.redirects.len(), 2);
        assert_eq!(c.redirects[1].fd, 1, "a quoted 2 is a word");
        assert_eq!(
            one("> '/tmp/a b' echo").commands[0].redirects[0].path,
            "/tmp/a b"
        );
        assert_eq!(parse("echo >"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("echo > | cat"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("cat <"), Err(ParseError::MissingFile("<")));
        assert_eq!(parse("> f"), Err(ParseError::EmptyCommand));
    }

    #[test]
    fn background() {
        let p = one("sleeper 100 &");
        assert!(p.background);
        assert_eq!(words(&p), [vec!["sleeper", "100"]]);
        assert!(one("spin&").background);
        assert!(one("a | b > f &").background);
        assert_eq!(parse("a & b"), Err(ParseError::MisplacedAmpersand));
        assert_eq!(parse("&"), Err(ParseError::EmptyCommand));
        assert_eq!(words(&one("echo '&'")), [vec!["echo", "&"]]);
    }
}
