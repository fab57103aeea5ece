//! Path normalisation: archive names are compared without their `./` or `/` prefixes.

/// `path` without leading `./` and `/` and without trailing `/`: `./bin/sh`, `/bin/sh` and
/// `bin/sh/` all become `bin/sh`; `.`, `./` and `/` become the empty string (the root).
///
/// Only the ends are touched: `a/./b` and `a//b` stay as they are.
pub fn normalize(path: &str) -> &str {
    let mut rest = path;
    loop {
        if let Some(stripped) = rest.strip_prefix("./") {
            rest = stripped;
        } else if let Some(stripped) = rest.strip_prefix('/') {
            rest = stripped;
        } else {
            break;
        }
    }
    if rest == "." {
        return "";
    }
    rest.trim_end_matches('/')
}
