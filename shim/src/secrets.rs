//! The one rule for secrets (the cookie secret, the API keys, the SMTP password): each comes
//! from a file named by a flag, or from an environment variable holding the value itself, never
//! from a flag carrying the value (argv shows in `ps`), and never from both: two sources that
//! could disagree are refused at start, naming both. An empty variable counts as unset, so
//! that an environment file can say `NAME=` for none.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use anyhow::{bail, Context as _};

/// Where one secret may come from.
pub struct SecretSource {
    /// What the secret is, in messages ("the cookie secret").
    pub what: &'static str,
    /// The environment variable holding the value itself.
    pub env: &'static str,
    /// The flag naming a file that holds the value.
    pub file_flag: &'static str,
    /// That flag's own environment variable.
    pub file_env: &'static str,
}

/// Which of the two places a secret came from: they may spell several values differently
/// (the API keys: comma-separated in the variable, one per line in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Environment,
    File,
}

/// A secret as found, not yet parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Loaded {
    pub origin: Origin,
    pub bytes: Vec<u8>,
    what: &'static str,
}

impl Loaded {
    /// The value as text; never quoted in the error.
    pub fn into_text(self) -> anyhow::Result<String> {
        match String::from_utf8(self.bytes) {
            Ok(text) => Ok(text),
            Err(_) => bail!("{} must be valid UTF-8", self.what),
        }
    }
}

impl SecretSource {
    /// The secret from this process's environment or from `file` (the flag's value), if either
    /// is set; an error if both are, or if the file cannot be read.
    pub fn load(&self, file: Option<&Path>) -> anyhow::Result<Option<Loaded>> {
        self.resolve(std::env::var_os(self.env), file)
    }

    /// For messages: "set NILE_RESET_SECRET or --secret-file".
    pub fn how_to_set(&self) -> String {
        format!("set {} or {}", self.env, self.file_flag)
    }

    /// [`SecretSource::load`] with the variable's value given (tests never read the process's
    /// environment, which may hold real values).
    pub(crate) fn resolve(
        &self,
        env_value: Option<OsString>,
        file: Option<&Path>,
    ) -> anyhow::Result<Option<Loaded>> {
        let env_value = env_value.filter(|value| !value.is_empty());
        let (origin, bytes) = match (env_value, file) {
            (Some(_), Some(_)) => bail!(
                "both {} and {} ({}) are set: {} must come from one of them",
                self.env,
                self.file_flag,
                self.file_env,
                self.what
            ),
            (Some(value), None) => (Origin::Environment, value.into_vec()),
            (None, Some(path)) => (Origin::File, self.read(path)?),
            (None, None) => return Ok(None),
        };
        Ok(Some(Loaded {
            origin,
            bytes,
            what: self.what,
        }))
    }

    fn read(&self, path: &Path) -> anyhow::Result<Vec<u8>> {
        let mut bytes = std::fs::read(path)
            .with_context(|| format!("cannot read {} from {}", self.what, path.display()))?;
        // Editors and `echo` add a final newline that is not part of the secret.
        while bytes
            .last()
            .is_some_and(|byte| matches!(byte, b'\n' | b'\r'))
        {
            bytes.pop();
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: SecretSource = SecretSource {
        what: "the test secret",
        env: "TEST_SECRET",
        file_flag: "--test-secret-file",
        file_env: "TEST_SECRET_FILE",
    };

    /// A file holding `content`, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, content: &[u8]) -> TempFile {
            let path = std::env::temp_dir()
                .join(format!("nile-reset-secrets-{name}-{}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn both_set_is_an_error_naming_both() {
        let file = TempFile::new("both", b"from-file");
        let error = SOURCE
            .resolve(Some("from-env".into()), Some(&file.0))
            .unwrap_err()
            .to_string();
        for name in [
            "the test secret",
            "TEST_SECRET ",
            "--test-secret-file",
            "TEST_SECRET_FILE",
        ] {
            assert!(error.contains(name), "{error:?} does not name {name:?}");
        }
        assert!(
            !error.contains("from-env") && !error.contains("from-file"),
            "{error}"
        );
    }

    #[test]
    fn a_file_alone_is_read_without_its_final_newline() {
        let file = TempFile::new("file", b"0123456789abcdef\r\n");
        let loaded = SOURCE.resolve(None, Some(&file.0)).unwrap().unwrap();
        assert_eq!(loaded.origin, Origin::File);
        assert_eq!(loaded.bytes, b"0123456789abcdef");
        // An empty variable is unset: the file alone counts.
        let loaded = SOURCE.resolve(Some("".into()), Some(&file.0)).unwrap();
        assert_eq!(loaded.unwrap().origin, Origin::File);
    }

    #[test]
    fn the_environment_alone_is_taken_as_is() {
        let loaded = SOURCE
            .resolve(Some("value\n".into()), None)
            .unwrap()
            .unwrap();
        assert_eq!(loaded.origin, Origin::Environment);
        assert_eq!(loaded.into_text().unwrap(), "value\n");
    }

    #[test]
    fn neither_set_is_none() {
        assert_eq!(SOURCE.resolve(None, None).unwrap(), None);
        assert_eq!(SOURCE.resolve(Some("".into()), None).unwrap(), None);
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_the_secret_and_the_file() {
        let path = std::env::temp_dir().join("nile-reset-secrets-no-such-file");
        let error = format!("{:#}", SOURCE.resolve(None, Some(&path)).unwrap_err());
        assert!(error.contains("the test secret"), "{error}");
        assert!(error.contains("nile-reset-secrets-no-such-file"), "{error}");
    }

    #[test]
    fn text_must_be_utf8_and_is_not_quoted() {
        let loaded = SOURCE
            .resolve(Some(OsString::from_vec(b"s3cret\xff".to_vec())), None)
            .unwrap()
            .unwrap();
        let error = loaded.into_text().unwrap_err().to_string();
        assert!(
            error.contains("the test secret") && !error.contains("s3cret"),
            "{error}"
        );
    }
}
