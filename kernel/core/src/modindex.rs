//! The text files that tell the kernel which modules to load at boot: `/etc/modules`,
//! `/lib/modules/modules.dep` and `/lib/modules/modules.alias`.
//!
//! Everything here borrows the file's text and allocates nothing; the kernel reads the files and
//! decides what to load, these functions only read them.
//!
//! | file | line format |
//! |---|---|
//! | `/etc/modules` | `NAME [PARAM=VALUE ...]`, `#` starts a comment |
//! | `modules.dep` | `NAME.ko: DEP.ko ...`: every module `NAME` needs, load from the right |
//! | `modules.alias` | `COMPATIBLE NAME` or `pci:vVVVVdDDDD NAME`; `#` comment lines |

/// The module name of a file name or path: `/lib/modules/uart-pl011.ko` -> `uart-pl011`.
pub fn module_name(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".ko").unwrap_or(base)
}

/// Whether two module names are the same, treating `-` and `_` alike (as Linux does).
pub fn same_name(a: &str, b: &str) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// The lines of a text file that carry content: trimmed, with `#` comments (whole-line or
/// trailing) removed and blank lines skipped.
fn content_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
}

/// The entries of `/etc/modules`: `(name, parameters)` per line, where `name` may be written as
/// `NAME` or `NAME.ko` and `parameters` is the rest of the line (`greeting=hi count=3`, possibly
/// empty).
pub fn etc_modules(text: &str) -> impl Iterator<Item = (&str, &str)> {
    content_lines(text).map(|line| {
        let (name, params) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        (module_name(name), params.trim())
    })
}

/// The dependencies `modules.dep` lists for module `name`, in the order they must be loaded
/// (the file lists them so that they load from the right), or `None` if the module has no line.
pub fn dependencies<'a>(dep_text: &'a str, name: &str) -> Option<impl Iterator<Item = &'a str>> {
    content_lines(dep_text).find_map(|line| {
        let (file, deps) = line.split_once(':')?;
        same_name(module_name(file.trim()), name)
            .then(|| deps.split_whitespace().rev().map(module_name))
    })
}

/// The modules `modules.alias` binds to the device-tree `compatible` string, in file order.
/// Matching is exact; a pattern ending in `*` matches every string with that prefix.
pub fn alias_matches<'a>(
    alias_text: &'a str,
    compatible: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    content_lines(alias_text).filter_map(move |line| {
        let mut words = line.split_whitespace();
        let (pattern, name) = (words.next()?, words.next()?);
        let hit = match pattern.strip_suffix('*') {
            Some(prefix) => compatible.starts_with(prefix),
            None => pattern == compatible,
        };
        (hit && !compatible.is_empty()).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "# modules.dep: NAME.ko: what it needs (load from the right)\n\
                       hello.ko:\nmathuser.ko: mathcore.ko\nsensor.ko: bus.ko core.ko\n";
    const ALIAS: &str = "# modules.alias\narm,pl061 gpio-pl061\nbrcm,bcm2711-gpio gpio-bcm2711\n\
                         pci:v1B36d0007 sdhci\nvendor,board-* boardmod\n";

    #[test]
    fn names_and_spellings() {
        assert_eq!(module_name("/lib/modules/uart-pl011.ko"), "uart-pl011");
        assert_eq!(module_name("hello"), "hello");
        assert!(same_name("uart-pl011", "uart_pl011"));
        assert!(!same_name("uart", "uart2"));
    }

    #[test]
    fn etc_modules_lines_carry_names_and_parameters() {
        let text = "# load at boot\n\nhello greeting=hi count=3\n  mathuser.ko # a comment\n";
        let all: Vec<_> = etc_modules(text).collect();
        assert_eq!(all, [("hello", "greeting=hi count=3"), ("mathuser", "")]);
        assert_eq!(etc_modules("# only comments\n\n").count(), 0);
    }

    #[test]
    fn dependencies_come_in_load_order() {
        let deps: Vec<_> = dependencies(DEP, "sensor").unwrap().collect();
        assert_eq!(deps, ["core", "bus"]);
        assert_eq!(
            dependencies(DEP, "mathuser").unwrap().collect::<Vec<_>>(),
            ["mathcore"]
        );
        assert_eq!(dependencies(DEP, "hello").unwrap().count(), 0);
        assert!(dependencies(DEP, "unknown").is_none());
    }

    #[test]
    fn aliases_match_compatible_strings() {
        assert_eq!(
            alias_matches(ALIAS, "arm,pl061").collect::<Vec<_>>(),
            ["gpio-pl061"]
        );
        assert_eq!(alias_matches(ALIAS, "arm,pl011").count(), 0);
        assert_eq!(alias_matches(ALIAS, "arm,pl06").count(), 0);
        assert_eq!(
            alias_matches(ALIAS, "vendor,board-rev2").collect::<Vec<_>>(),
            ["boardmod"]
        );
        assert_eq!(alias_matches(ALIAS, "").count(), 0);
        assert_eq!(
            alias_matches("broken-line-without-name\n", "broken-line-without-name").count(),
            0
        );
    }
}
