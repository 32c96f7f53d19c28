//! The pages' texts, per language, and the choice of language from `Accept-Language`.
//!
//! English (`templates/en.toml`) and German (`templates/de.toml`) are built in. An operator's
//! `--pages-dir` may hold `<language>.toml` files of the same keys: one for a built-in language
//! replaces the texts it names, one for another language adds that language. A language falls
//! back to English, as the operator has it, for every text it lacks. Unknown keys are refused at
//! start, so a misspelt key is not silently ignored.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use serde::Deserialize;

/// The language every other one falls back to, and the one chosen when the request names none
/// of ours.
pub const FALLBACK_LANGUAGE: &str = "en";

/// The built-in catalogues, by language tag.
const BUILT_IN: [(&str, &str); 2] = [
    ("en", include_str!("../../../templates/en.toml")),
    ("de", include_str!("../../../templates/de.toml")),
];

/// Declares every text once: [`Messages`] holds them all, `MessageFile` any subset (a
/// catalogue file), and `Messages::overridden_by` lays the one on the other.
macro_rules! messages {
    ($($name:ident,)*) => {
        /// Every text of the pages in one language; the keys of the catalogue files.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Messages {
            $(pub $name: String,)*
        }

        /// One catalogue file: the texts it gives.
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct MessageFile {
            $($name: Option<String>,)*
        }

        impl Messages {
            /// `self` with every text `file` gives replaced by it.
            fn overridden_by(mut self, file: MessageFile) -> Messages {
                $(if let Some(text) = file.$name {
                    self.$name = text;
                })*
                self
            }

            /// The keys `file` gives no text for.
            fn missing_from(file: &MessageFile) -> Vec<&'static str> {
                let mut missing = Vec::new();
                $(if file.$name.is_none() {
                    missing.push(stringify!($name));
                })*
                missing
            }
        }
    };
}

messages! {
    site_name,
    forgot_title,
    forgot_intro,
    email_label,
    forgot_submit,
    email_required,
    email_invalid,
    sent_title,
    sent_body,
    sent_hint,
    sent_retry_link,
    reset_title,
    password_label,
    password_requirements,
    password_requirements_unknown,
    reset_submit,
    password_too_short,
    password_too_long,
    password_control_characters,
    invalid_title,
    invalid_body,
    invalid_forgot_link,
    done_title,
    done_body,
    done_continue,
    refused_title,
    refused_body,
    refused_link,
    callback_refused_title,
    callback_refused_body,
    too_many_title,
    too_many_body,
    bad_request_title,
    bad_request_body,
    failed_title,
    failed_body,
    not_found_title,
    not_found_body,
}

/// `template` with every `{name}` replaced by `value`. The result is plain text, escaped when
/// a template renders it.
pub fn fill(template: &str, name: &str, value: &str) -> String {
    template.replace(&format!("{{{name}}}"), value)
}

/// The texts of one language, under the tag that goes into `<html lang>`.
#[derive(Debug)]
pub struct Language {
    pub tag: String,
    pub messages: Messages,
}

/// Every language the pages speak; the first is the fallback.
#[derive(Debug)]
pub struct Catalogue {
    languages: Vec<Arc<Language>>,
}

impl Catalogue {
    /// The built-in languages.
    pub fn built_in() -> anyhow::Result<Catalogue> {
        Catalogue::with_overrides(&[])
    }

    /// The texts of `--pages-dir`: every `<language>.toml` in `dir` (other files are left for
    /// others to read, e.g. `style.css`).
    pub fn load(dir: &Path) -> anyhow::Result<Catalogue> {
        let mut files = Vec::new();
        let entries =
            fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(tag) = path.file_stem().and_then(|stem| stem.to_str()) else {
                bail!("{}: the file name must be a language tag", path.display());
            };
            let text = fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.push((tag.to_owned(), text));
        }
        // The order of read_dir is the file system's: sort so that languages list the same on
        // every machine.
        files.sort();
        Catalogue::with_overrides(&files)
            .with_context(|| format!("the page texts in {}", dir.display()))
    }

    /// The built-in languages with `overrides`, `(language tag, TOML text)` pairs, laid on top.
    fn with_overrides(overrides: &[(String, String)]) -> anyhow::Result<Catalogue> {
        for (index, (tag, _)) in overrides.iter().enumerate() {
            if !is_language_tag(tag) {
                bail!("{tag:?} is not a language tag such as de or pt-BR");
            }
            if overrides[..index]
                .iter()
                .any(|(other, _)| other.eq_ignore_ascii_case(tag))
            {
                bail!("language {tag:?} has two files");
            }
        }
        let override_of = |tag: &str| -> anyhow::Result<Option<MessageFile>> {
            overrides
                .iter()
                .find(|(other, _)| other.eq_ignore_ascii_case(tag))
                .map(|(other, text)| parse(text).with_context(|| format!("{other}.toml")))
                .transpose()
        };

        let (_, english_text) = BUILT_IN[0];
        let english_file = parse(english_text).context("the built-in en.toml")?;
        let missing = Messages::missing_from(&english_file);
        if !missing.is_empty() {
            bail!("the built-in en.toml lacks {}", missing.join(", "));
        }
        let mut english = Messages::default().overridden_by(english_file);
        if let Some(file) = override_of(FALLBACK_LANGUAGE)? {
            english = english.overridden_by(file);
        }

        let mut languages = vec![Arc::new(Language {
            tag: FALLBACK_LANGUAGE.to_owned(),
            messages: english.clone(),
        })];
        for (tag, text) in &BUILT_IN[1..] {
            let mut messages = english
                .clone()
                .overridden_by(parse(text).with_context(|| format!("the built-in {tag}.toml"))?);
            if let Some(file) = override_of(tag)? {
                messages = messages.overridden_by(file);
            }
            languages.push(Arc::new(Language {
                tag: (*tag).to_owned(),
                messages,
            }));
        }
        for (tag, text) in overrides {
            let built_in = BUILT_IN
                .iter()
                .any(|(known, _)| known.eq_ignore_ascii_case(tag));
            if built_in {
                continue;
            }
            let file = parse(text).with_context(|| format!("{tag}.toml"))?;
            languages.push(Arc::new(Language {
                tag: tag.clone(),
                messages: english.clone().overridden_by(file),
            }));
        }
        Ok(Catalogue { languages })
    }

    /// The tags of the languages served, the fallback first.
    pub fn tags(&self) -> Vec<&str> {
        self.languages.iter().map(|l| l.tag.as_str()).collect()
    }

    /// The language to answer a request in: the most preferred of `accept_language` (the
    /// `Accept-Language` headers' values) that we speak, matched whole (`de-CH` to `de-CH`) or
    /// by its primary subtag (`de-CH` to `de`); otherwise the fallback.
    pub fn negotiate<'a>(
        &self,
        accept_language: impl IntoIterator<Item = &'a str>,
    ) -> &Arc<Language> {
        let fallback = &self.languages[0];
        for wanted in preferences(accept_language) {
            if wanted == "*" {
                return fallback;
            }
            let whole = self.find(&wanted);
            let primary = || self.find(wanted.split('-').next().unwrap_or_default());
            if let Some(language) = whole.or_else(primary) {
                return language;
            }
        }
        fallback
    }

    fn find(&self, tag: &str) -> Option<&Arc<Language>> {
        self.languages
            .iter()
            .find(|language| language.tag.eq_ignore_ascii_case(tag))
    }
}

fn parse(text: &str) -> anyhow::Result<MessageFile> {
    Ok(toml::from_str(text)?)
}

/// A BCP 47-shaped tag: subtags of 1 to 8 letters or digits joined by `-`.
fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').all(|sub| {
            (1..=8).contains(&sub.len()) && sub.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// The language ranges of `Accept-Language` values, most preferred first (equal weights keep
/// their order), without those weighted 0 or malformed.
fn preferences<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut ranges: Vec<(String, u16)> = Vec::new();
    for item in values.into_iter().flat_map(|value| value.split(',')) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or_default().trim();
        if range != "*" && !is_language_tag(range) {
            continue;
        }
        let mut weight = Some(1000);
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    weight = thousandths(value.trim());
                }
            }
        }
        if let Some(weight) = weight.filter(|&w| w > 0) {
            ranges.push((range.to_ascii_lowercase(), weight));
        }
    }
    // Stable: among equal weights, the order the client wrote.
    ranges.sort_by_key(|&(_, weight)| std::cmp::Reverse(weight));
    ranges.into_iter().map(|(range, _)| range).collect()
}

/// An HTTP quality value (`0` to `1`, at most three decimals) in thousandths.
fn thousandths(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(fraction),
        "1" if fraction == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::built_in().unwrap()
    }

    fn chosen(header: &str) -> String {
        catalogue().negotiate([header]).tag.clone()
    }

    #[test]
    fn quality_values_parse_as_http_defines_them() {
        assert_eq!(thousandths("1"), Some(1000));
        assert_eq!(thousandths("1.000"), Some(1000));
        assert_eq!(thousandths("0.8"), Some(800));
        assert_eq!(thousandths("0.05"), Some(50));
        assert_eq!(thousandths("0"), Some(0));
        for bad in ["1.5", "2", "0.1234", "-0.5", "x", "0.a", ""] {
            assert_eq!(thousandths(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn accept_language_is_ordered_by_weight_then_by_position() {
        assert_eq!(
            preferences(["fr;q=0.5, de-CH, en;q=0.9, it;q=0, es;q=0.9"]),
            ["de-ch", "en", "es", "fr"]
        );
        // Several headers count as one list; malformed entries are skipped.
        assert_eq!(
            preferences(["da;q=0.2", "<script>, nl;q=1.5, sv ;q=0.3"]),
            ["sv", "da"]
        );
        assert!(preferences([""]).is_empty());
    }

    #[test]
    fn the_preferred_language_we_speak_wins() {
        assert_eq!(chosen("de"), "de");
        assert_eq!(chosen("de-AT"), "de");
        assert_eq!(chosen("fr, de;q=0.8, en;q=0.5"), "de");
        assert_eq!(chosen("en;q=0.9, de"), "de");
        assert_eq!(chosen("de;q=0.1, EN-gb;q=0.5"), "en");
        assert_eq!(chosen("fr"), "en");
        assert_eq!(chosen("*;q=0.5, de;q=0.4"), "en");
        assert_eq!(chosen("de;q=0"), "en");
        assert_eq!(catalogue().negotiate([]).tag, "en");
    }

    #[test]
    fn built_in_languages_give_every_text_with_the_same_placeholders() {
        for (tag, text) in BUILT_IN {
            let missing = Messages::missing_from(&parse(text).unwrap());
            // site_name is only English's: the others take it from there.
            let expected: &[&str] = if tag == "en" { &[] } else { &["site_name"] };
            assert_eq!(missing, expected, "{tag}.toml");
        }
        let catalogue = catalogue();
        let english = &catalogue.find("en").unwrap().messages;
        let german = &catalogue.find("de").unwrap().messages;
        assert_ne!(english.forgot_title, german.forgot_title);
        let placeholders = |text: &str| {
            ["{email}", "{min}", "{max}"]
                .into_iter()
                .filter(|p| text.contains(p))
                .collect::<Vec<_>>()
        };
        for (en, de) in [
            (&english.sent_body, &german.sent_body),
            (
                &english.password_requirements,
                &german.password_requirements,
            ),
            (&english.password_too_short, &german.password_too_short),
            (&english.password_too_long, &german.password_too_long),
        ] {
            assert!(!placeholders(en).is_empty(), "{en}");
            assert_eq!(placeholders(en), placeholders(de), "{de}");
        }
    }

    #[test]
    fn operator_files_replace_texts_and_add_languages() {
        let overrides = [
            (
                "en".to_owned(),
                "site_name = \"Acme\"\nforgot_title = \"Lost it?\"\n".to_owned(),
            ),
            ("DE".to_owned(), "done_continue = \"Los\"\n".to_owned()),
            (
                "fr".to_owned(),
                "forgot_title = \"Mot de passe oublié ?\"\n".to_owned(),
            ),
        ];
        let catalogue = Catalogue::with_overrides(&overrides).unwrap();
        assert_eq!(catalogue.tags(), ["en", "de", "fr"]);
        let built_in = Catalogue::built_in().unwrap();
        let messages = |tag: &str| catalogue.find(tag).unwrap().messages.clone();
        let built_in_de = &built_in.find("de").unwrap().messages;

        assert_eq!(messages("en").forgot_title, "Lost it?");
        assert_eq!(messages("en").site_name, "Acme");
        // German keeps its own texts except the one replaced, and takes English's site name.
        assert_eq!(messages("de").done_continue, "Los");
        assert_eq!(messages("de").forgot_title, built_in_de.forgot_title);
        assert_eq!(messages("de").site_name, "Acme");
        // A new language: its own text, English (as overridden) for the rest.
        assert_eq!(messages("fr").forgot_title, "Mot de passe oublié ?");
        assert_eq!(messages("fr").done_title, messages("en").done_title);
        assert_eq!(catalogue.negotiate(["fr-CA, de;q=0.9"]).tag, "fr");
    }

    #[test]
    fn operator_mistakes_stop_the_start() {
        let with = |tag: &str, text: &str| {
            Catalogue::with_overrides(&[(tag.to_owned(), text.to_owned())])
                .map(|_| ())
                .map_err(|error| format!("{error:#}"))
        };
        let error = with("en", "forgot_titel = \"x\"").unwrap_err();
        assert!(error.contains("forgot_titel"), "{error}");
        assert!(with("de", "forgot_title = 3").is_err());
        assert!(with("en", "not toml").is_err());
        assert!(with("../etc", "").is_err());
        assert!(with("fr", "").is_ok());
        let twice = [
            ("fr".to_owned(), String::new()),
            ("FR".to_owned(), String::new()),
        ];
        assert!(Catalogue::with_overrides(&twice).is_err());
    }

    #[test]
    fn load_reads_the_toml_files_of_a_folder() {
        let dir = std::env::temp_dir().join(format!("nile-reset-pages-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("de.toml"), "done_continue = \"Weiter so\"\n").unwrap();
        fs::write(dir.join("style.css"), "body {}").unwrap();
        let loaded = Catalogue::load(&dir);
        fs::remove_dir_all(&dir).unwrap();
        let catalogue = loaded.unwrap();
        assert_eq!(catalogue.tags(), ["en", "de"]);
        assert_eq!(
            catalogue.find("de").unwrap().messages.done_continue,
            "Weiter so"
        );
    }

    #[test]
    fn placeholders_are_filled_as_plain_text() {
        assert_eq!(
            fill("at least {min} characters", "min", "12"),
            "at least 12 characters"
        );
        assert_eq!(fill("no placeholder", "min", "12"), "no placeholder");
    }
}
