//! Origin files: `ostree/deploy/<stateroot>/deploy/<csum>.<serial>.origin`, a key file naming
//! what a deployment was made from and what upgrades follow.
//!
//! ```text
//! [origin]
//! refspec=remote:ref          what `admin upgrade` pulls and deploys next
//!
//! [libostree-transient]
//! pinned=true                 `admin pin`: kept whatever is deployed after it
//! ```

use rostree_core::keyfile::{KeyFile, KeyFileError};

/// The group of the deployment's source.
pub const ORIGIN_GROUP: &str = "origin";
/// The group of state that an upgrade does not carry over.
pub const TRANSIENT_GROUP: &str = "libostree-transient";

/// Parses an origin file's text.
pub fn parse_origin(text: &str) -> Result<KeyFile, KeyFileError> {
    KeyFile::parse(text)
}

/// The origin a plain `admin deploy REFSPEC` writes.
pub fn origin_for_refspec(refspec: &str) -> KeyFile {
    let mut origin = KeyFile::new();
    origin
        .set_string(ORIGIN_GROUP, "refspec", refspec)
        .expect("a refspec is a valid key file value");
    origin
}

/// The origin's `refspec`, if it has one.
pub fn refspec(origin: &KeyFile) -> Option<&str> {
    origin.get_raw(ORIGIN_GROUP, "refspec")
}

/// Whether `admin pin` marked the deployment.
pub fn is_pinned(origin: &KeyFile) -> bool {
    matches!(origin.get_bool(TRANSIENT_GROUP, "pinned"), Ok(Some(true)))
}

/// The origin with the pin set or taken away (the group stays, as upstream leaves it).
pub fn set_pinned(origin: &KeyFile, pinned: bool) -> KeyFile {
    let mut out = origin.clone();
    if pinned {
        out.set_bool(TRANSIENT_GROUP, "pinned", true)
            .expect("a fixed key is valid");
    } else {
        out.remove_key(TRANSIENT_GROUP, "pinned");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_read_and_write_as_upstream_does() {
        let origin = origin_for_refspec("testos:testos/buildmain/x86_64-runtime");
        assert_eq!(
            origin.to_data(),
            "[origin]\nrefspec=testos:testos/buildmain/x86_64-runtime\n"
        );
        let pinned = set_pinned(&origin, true);
        assert!(is_pinned(&pinned));
        assert_eq!(
            pinned.to_data(),
            "[origin]\nrefspec=testos:testos/buildmain/x86_64-runtime\n\n[libostree-transient]\npinned=true\n"
        );
        let unpinned = set_pinned(&pinned, false);
        assert!(!is_pinned(&unpinned));
        assert_eq!(
            unpinned.to_data(),
            "[origin]\nrefspec=testos:testos/buildmain/x86_64-runtime\n\n[libostree-transient]\n"
        );
        for (text, refspec_value, pinned) in [
            ("[origin]\nrefspec=a:b\n", Some("a:b"), false),
            ("[origin]\n", None, false),
            (
                "[origin]\nrefspec=x\n[libostree-transient]\npinned=true\n",
                Some("x"),
                true,
            ),
            ("[libostree-transient]\npinned=false\n", None, false),
        ] {
            let origin = parse_origin(text).expect("parses");
            assert_eq!(refspec(&origin), refspec_value, "{text}");
            assert_eq!(is_pinned(&origin), pinned, "{text}");
        }
        assert!(parse_origin("not a key file").is_err());
    }
}
