//! Reading apt's sources (deb822 `*.sources` and one-line `*.list`) to find the system's Debian archive.
//!
//! Keel never names a mirror itself: the archive URI and its keyring come from the entry the system
//! already uses for its own release (`Suites` contains the codename, `Components` contains `main`).

/// How an apt source authenticates its archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedBy {
    /// A keyring file (or a fingerprint), as written in the source.
    Keyring(String),
    /// An ASCII-armoured key block embedded in a deb822 source.
    Inline(String),
}

/// One apt source entry, from either format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceEntry {
    /// `deb`, `deb-src`.
    pub types: Vec<String>,
    /// Archive URIs.
    pub uris: Vec<String>,
    /// Suites, e.g. `bookworm`, `bookworm-updates`.
    pub suites: Vec<String>,
    /// Components, e.g. `main`, `non-free-firmware`.
    pub components: Vec<String>,
    /// The archive's key, if the entry names one.
    pub signed_by: Option<SignedBy>,
    /// `false` for deb822 entries with `Enabled: no`.
    pub enabled: bool,
}

/// The Debian archive of this system's release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebianArchive {
    /// The archive URI, e.g. the `URIs:` value of the system's entry.
    pub uri: String,
    /// How apt authenticates it.
    pub signed_by: Option<SignedBy>,
}

fn words(value: &str) -> Vec<String> {
    value.split_whitespace().map(String::from).collect()
}

/// Parses a deb822 `*.sources` file.
pub fn parse_deb822(text: &str) -> Vec<SourceEntry> {
    let mut entries = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut flush = |fields: &mut Vec<(String, String)>| {
        if !fields.is_empty() {
            entries.push(entry_from_fields(fields));
            fields.clear();
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut fields);
        } else if line.starts_with([' ', '\t']) {
            // A continuation line; " ." stands for an empty line inside the value.
            if let Some((_, value)) = fields.last_mut() {
                let content = line.trim();
                value.push('\n');
                if content != "." {
                    value.push_str(content);
                }
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    flush(&mut fields);
    entries
}

fn entry_from_fields(fields: &[(String, String)]) -> SourceEntry {
    let mut entry = SourceEntry {
        enabled: true,
        ..SourceEntry::default()
    };
    for (name, value) in fields {
        match name.as_str() {
            "types" => entry.types = words(value),
            "uris" => entry.uris = words(value),
            "suites" => entry.suites = words(value),
            "components" => entry.components = words(value),
            "enabled" => entry.enabled = !value.trim().eq_ignore_ascii_case("no"),
            "signed-by" => {
                let value = value.trim();
                entry.signed_by =
                    Some(if value.contains('\n') || value.starts_with("-----BEGIN") {
                        SignedBy::Inline(value.to_string())
                    } else {
                        SignedBy::Keyring(value.to_string())
                    });
            }
            _ => {}
        }
    }
    entry
}

/// Parses a one-line-style `sources.list` file: `deb [opt=value ...] URI SUITE COMPONENT...`.
pub fn parse_one_line(text: &str) -> Vec<SourceEntry> {
    text.lines().filter_map(parse_source_line).collect()
}

fn parse_source_line(line: &str) -> Option<SourceEntry> {
    let line = line.split('#').next().unwrap_or("").trim();
    let (kind, rest) = line.split_once(char::is_whitespace)?;
    let mut rest = rest.trim_start();
    let mut signed_by = None;
    if let Some(options) = rest.strip_prefix('[') {
        let (options, after) = options.split_once(']')?;
        for option in options.split_whitespace() {
            if let Some(keyring) = option.strip_prefix("signed-by=") {
                signed_by = Some(SignedBy::Keyring(keyring.to_string()));
            }
        }
        rest = after;
    }
    let mut fields = rest.split_whitespace();
    let uri = fields.next()?.to_string();
    let suite = fields.next()?.to_string();
    Some(SourceEntry {
        types: vec![kind.to_string()],
        uris: vec![uri],
        suites: vec![suite],
        components: fields.map(String::from).collect(),
        signed_by,
        enabled: true,
    })
}

/// The archive of the first enabled binary entry whose suites include `codename` and whose
/// components include `main`.
pub fn pick_archive(entries: &[SourceEntry], codename: &str) -> Option<DebianArchive> {
    entries
        .iter()
        .filter(|e| e.enabled && e.types.iter().any(|t| t == "deb"))
        .filter(|e| e.suites.iter().any(|s| s == codename))
        .filter(|e| e.components.iter().any(|c| c == "main"))
        .find_map(|e| {
            let uri = e.uris.iter().find(|u| !u.starts_with("cdrom:"))?;
            Some(DebianArchive {
                uri: uri.clone(),
                signed_by: e.signed_by.clone(),
            })
        })
}

/// The value of `field` in an `/etc/os-release` file, without its quotes.
pub fn os_release_field(text: &str, field: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == field).then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

/// A deb822 `Signed-By` field holding `signed_by`, with embedded keys folded as deb822 requires.
pub fn deb822_signed_by(signed_by: &SignedBy) -> String {
    match signed_by {
        SignedBy::Keyring(path) => format!("Signed-By: {path}"),
        SignedBy::Inline(key) => {
            let mut field = String::from("Signed-By:");
            for line in key.lines() {
                field.push_str("\n ");
                field.push_str(if line.trim().is_empty() { "." } else { line });
            }
            field
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://archive.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    #[test]
    fn deb822_entries_are_split_at_blank_lines() {
        let entries = parse_deb822(DEB822);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(entries[1].uris, ["http://archive.example/debian-security"]);
    }

    #[test]
    fn the_release_entry_is_picked_not_security_or_backports() {
        let mut entries = parse_deb822(
            "Types: deb\nURIs: http://backports.example/debian\nSuites: bookworm-backports\n\
             Components: main\n\n",
        );
        entries.extend(parse_deb822(DEB822));
        assert_eq!(
            pick_archive(&entries, "bookworm"),
            Some(DebianArchive {
                uri: "http://archive.example/debian".into(),
                signed_by: Some(SignedBy::Keyring(
                    "/usr/share/keyrings/debian-archive-keyring.gpg".into()
                )),
            })
        );
        assert_eq!(pick_archive(&entries, "trixie"), None);
    }

    #[test]
    fn disabled_and_source_only_entries_are_skipped() {
        let entries = parse_deb822(
            "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n\
             Enabled: no\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\
             Components: main\n",
        );
        assert_eq!(pick_archive(&entries, "bookworm"), None);
    }

    #[test]
    fn inline_keys_survive_a_round_trip() {
        let entries = parse_deb822(
            "Types: deb\nURIs: http://archive.example/debian\nSuites: bookworm\n\
             Components: main contrib\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n \
             mDMEZ\n -----END PGP PUBLIC KEY BLOCK-----\n",
        );
        let key =
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----";
        assert_eq!(entries[0].signed_by, Some(SignedBy::Inline(key.into())));
        let field = deb822_signed_by(&SignedBy::Inline(key.into()));
        assert_eq!(
            parse_deb822(&format!("Types: deb\n{field}\n"))[0].signed_by,
            Some(SignedBy::Inline(key.into()))
        );
    }

    #[test]
    fn one_line_sources_with_and_without_options() {
        let entries = parse_one_line(
            "# comment\n\
             deb https://vendor.example/apt cloud-sdk-bookworm main\n\
             deb-src http://archive.example/debian bookworm main\n\
             deb [ arch=amd64 signed-by=/etc/apt/keyrings/debian.gpg ] http://archive.example/debian bookworm main contrib # trailing\n",
        );
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].components, ["main", "contrib"]);
        assert_eq!(
            pick_archive(&entries, "bookworm"),
            Some(DebianArchive {
                uri: "http://archive.example/debian".into(),
                signed_by: Some(SignedBy::Keyring("/etc/apt/keyrings/debian.gpg".into())),
            })
        );
    }

    #[test]
    fn one_line_sources_without_a_keyring() {
        let entries =
            parse_one_line("deb http://archive.example/debian/ bookworm main non-free-firmware");
        let archive = pick_archive(&entries, "bookworm").unwrap();
        assert_eq!(archive.uri, "http://archive.example/debian/");
        assert_eq!(archive.signed_by, None);
    }

    #[test]
    fn os_release_values_lose_their_quotes() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(
            os_release_field(text, "VERSION_CODENAME").as_deref(),
            Some("bookworm")
        );
        assert_eq!(
            os_release_field(text, "PRETTY_NAME").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_release_field(text, "VERSION_ID"), None);
    }
}
