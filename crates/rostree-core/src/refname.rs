//! Ref names, remote names and refspecs (`remote:ref`), with upstream's validation rules.
//!
//! A ref is one or more `/`-separated fragments; a fragment starts with a letter, digit or `_`
//! (Unicode-aware, like upstream's GRegex `\w`) and goes on with those, `-` and `.`. A remote
//! name is one fragment. No fragment can be `.` or `..`, so no ref escapes `refs/heads/`.

use crate::Checksum;

/// A name that is not a valid ref, remote or refspec.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefNameError {
    /// Not a valid ref name.
    #[error("Invalid refspec {0}")]
    Ref(String),
    /// Not a valid remote name.
    #[error("Invalid remote name {0}")]
    Remote(String),
    /// Not a valid collection ID.
    #[error("Invalid collection ID {0}")]
    CollectionId(String),
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn valid_fragment(fragment: &str) -> bool {
    let mut chars = fragment.chars();
    chars.next().is_some_and(is_word) && chars.all(|c| is_word(c) || c == '-' || c == '.')
}

/// Checks a ref name such as `exampleos/x86_64/stable`.
///
/// ```
/// use rostree_core::refname::{RefNameError, validate_ref};
///
/// assert_eq!(validate_ref("exampleos/x86_64/stable"), Ok(()));
/// assert_eq!(validate_ref("a/../b"), Err(RefNameError::Ref("a/../b".into())));
/// assert!(validate_ref("a//b").is_err());
/// ```
pub fn validate_ref(name: &str) -> Result<(), RefNameError> {
    if name.split('/').all(valid_fragment) {
        Ok(())
    } else {
        Err(RefNameError::Ref(name.to_owned()))
    }
}

/// Checks a remote name.
///
/// ```
/// use rostree_core::refname::{RefNameError, validate_remote};
///
/// assert_eq!(validate_remote("origin"), Ok(()));
/// // A remote is a single fragment: no `/`.
/// assert_eq!(validate_remote("a/b"), Err(RefNameError::Remote("a/b".into())));
/// ```
pub fn validate_remote(name: &str) -> Result<(), RefNameError> {
    if valid_fragment(name) {
        Ok(())
    } else {
        Err(RefNameError::Remote(name.to_owned()))
    }
}

/// Checks a collection ID: reverse-DNS, at least two `.`-separated elements of ASCII letters,
/// digits, `_` and `-`, none starting with a digit, at most 255 bytes.
///
/// ```
/// use rostree_core::refname::{RefNameError, validate_collection_id};
///
/// assert_eq!(validate_collection_id("org.example.Os"), Ok(()));
/// // One element is not enough, and no element may start with a digit.
/// assert!(validate_collection_id("main").is_err());
/// assert_eq!(
///     validate_collection_id("org.9x"),
///     Err(RefNameError::CollectionId("org.9x".into()))
/// );
/// ```
pub fn validate_collection_id(id: &str) -> Result<(), RefNameError> {
    let element_ok = |e: &str| {
        e.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
            && e.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let elements: Vec<&str> = id.split('.').collect();
    if id.len() <= 255 && elements.len() >= 2 && elements.iter().all(|e| element_ok(e)) {
        Ok(())
    } else {
        Err(RefNameError::CollectionId(id.to_owned()))
    }
}

/// A parsed refspec: an optional remote and a ref (or a commit checksum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSpec {
    /// The remote before the `:`, if any.
    pub remote: Option<String>,
    /// The ref after it.
    pub name: String,
}

/// Parses `remote:ref` or `ref`; a 64-digit checksum is accepted as the ref part.
///
/// ```
/// use rostree_core::refname::{RefSpec, parse_refspec};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let spec = parse_refspec("origin:main")?;
/// assert_eq!(
///     spec,
///     RefSpec { remote: Some("origin".into()), name: "main".into() }
/// );
/// assert_eq!(parse_refspec("exampleos/stable")?.remote, None);
///
/// // A checksum stands in for the ref.
/// let rev = "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b";
/// assert_eq!(parse_refspec(rev)?.name, rev);
///
/// // An empty ref, or a remote name with a space, is refused.
/// assert!(parse_refspec("origin:").is_err());
/// assert!(parse_refspec("bad remote:main").is_err());
/// # Ok(())
/// # }
/// ```
pub fn parse_refspec(spec: &str) -> Result<RefSpec, RefNameError> {
    let (remote, name) = match spec.split_once(':') {
        Some((remote, name)) => {
            validate_remote(remote)?;
            (Some(remote.to_owned()), name)
        }
        None => (None, spec),
    };
    if Checksum::from_hex(name).is_err() {
        validate_ref(name)?;
    }
    Ok(RefSpec {
        remote,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names() {
        for good in [
            "main",
            "a/b/c",
            "exampleos/x86_64/stable",
            "v1.0",
            "_x",
            "a_b",
            "a..b",
            "x..",
            "é",
            "日本",
            "0",
        ] {
            assert!(validate_ref(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/x", "x/", "a//b", "..", "a/../b", "a b", "a:b", "-x", ".a", "a/.b", "a~b",
            "a\nb", ".",
        ] {
            assert!(validate_ref(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn collection_ids() {
        for good in ["org.example.Os", "com.a_b.c-d", "a.b"] {
            assert!(validate_collection_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "main",
            "org.",
            ".org",
            "org..x",
            "org.9x",
            "org.ex ample",
            &"a.".repeat(200),
        ] {
            assert!(validate_collection_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refspecs() {
        assert_eq!(
            parse_refspec("origin:a/b"),
            Ok(RefSpec {
                remote: Some("origin".into()),
                name: "a/b".into()
            })
        );
        assert_eq!(parse_refspec("main").map(|r| r.remote), Ok(None));
        assert!(parse_refspec("bad remote:x").is_err());
        assert!(parse_refspec("o:").is_err());
    }
}
