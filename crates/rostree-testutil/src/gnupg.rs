//! GnuPG keys for signature tests, made by the real `gpg` on a fixed clock.

use std::path::{Path, PathBuf};

use crate::cmd::Invocation;

/// A GnuPG home holding one signing key.
pub struct GpgKey {
    /// The GnuPG home (mode 0700).
    pub home: PathBuf,
    /// The key's fingerprint, uppercase hex.
    pub fingerprint: String,
    /// The public key, exported as a binary keyring file.
    pub public: PathBuf,
}

impl GpgKey {
    /// Makes `NAME <NAME@example.com>`, RSA 2048, signing only, expiring as `expire`
    /// (`never`, `1y`, ...), created on 2020-01-01 (a fixed clock, so that expiries can be
    /// set in the past); its home and public keyring go under `dir`.
    pub fn new(dir: &Path, name: &str, expire: &str) -> GpgKey {
        let home = dir.join(format!("gnupg-{name}"));
        std::fs::create_dir_all(&home).expect("mkdir gnupg home");
        Invocation::new("chmod")
            .args(["700".as_ref(), home.as_os_str()])
            .ok();
        let key = GpgKey {
            home,
            fingerprint: String::new(),
            public: dir.join(format!("{name}.gpg")),
        };
        key.gpg(&[
            "--faked-system-time",
            "20200101T000000",
            "--quick-gen-key",
            &format!("{name} <{name}@example.com>"),
            "rsa2048",
            "sign",
            expire,
        ]);
        let listing = key.gpg(&["--with-colons", "--list-keys"]);
        let fingerprint = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("a fingerprint")
            .to_owned();
        let exported = Invocation::new("gpg")
            .args(["--batch", "--homedir"])
            .arg(&key.home)
            .args(["--export", &fingerprint])
            .ok();
        std::fs::write(&key.public, exported.stdout).expect("public key");
        GpgKey { fingerprint, ..key }
    }

    /// Runs `gpg` on this home without a passphrase; returns its stdout.
    pub fn gpg(&self, args: &[&str]) -> String {
        let out = Invocation::new("gpg")
            .args(["--batch", "--homedir"])
            .arg(&self.home)
            .args(["--passphrase", "", "--pinentry-mode", "loopback"])
            .args(args)
            .ok();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `--gpg-sign=FPR --gpg-homedir=HOME`, as `commit` and `summary` take them.
    pub fn sign_args(&self) -> [String; 2] {
        [
            format!("--gpg-sign={}", self.fingerprint),
            format!("--gpg-homedir={}", self.home.display()),
        ]
    }
}
