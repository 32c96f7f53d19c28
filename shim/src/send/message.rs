//! Turns an outbox row into an RFC 5322 message. Every header goes through
//! lettre's typed builder, which encodes non-ASCII text (RFC 2047) and never
//! lets a value end its header line, so no outbox value can add a header.

use std::time::UNIX_EPOCH;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::outbox::OutboxEmail;

/// Why a row cannot become a message. All of these are permanent: retrying
/// the same row cannot fix them.
#[derive(Debug, thiserror::Error)]
pub enum InvalidEmail {
    #[error("invalid recipient address")]
    Recipient,
    #[error("invalid sender address")]
    Sender,
    #[error("the outbox row has no body")]
    NoBody,
    #[error("the message cannot be built: {0}")]
    Build(#[from] lettre::error::Error),
}

pub fn build(email: &OutboxEmail) -> Result<Message, InvalidEmail> {
    let to: Mailbox = email
        .recipient
        .parse()
        .map_err(|_| InvalidEmail::Recipient)?;
    let from: Mailbox = email.sender.parse().map_err(|_| InvalidEmail::Sender)?;
    let body = email.body.clone().ok_or(InvalidEmail::NoBody)?;
    let builder = Message::builder()
        .message_id(Some(message_id(email, &from)))
        .from(from)
        .to(to)
        .subject(one_line(&email.subject));
    // The HTML was rendered (and its values escaped) by the extension; the
    // text part stays first so that clients without HTML show it.
    Ok(match &email.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(body, html.clone()))?,
        None => builder.singlepart(SinglePart::plain(body))?,
    })
}

/// Derived from the outbox row, so that the rare duplicate of an
/// at-least-once delivery carries the same Message-ID and mail clients can
/// fold it into the first copy.
fn message_id(email: &OutboxEmail, from: &Mailbox) -> String {
    let created = email
        .created
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    format!(
        "<nile-reset.{}.{created}@{}>",
        email.id,
        from.email.domain()
    )
}

/// The database already replaces control characters in subjects; doing it
/// here too keeps a row written by other means readable (lettre would encode
/// them safely, but a subject with a line break in it is still a mistake).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn email(recipient: &str, sender: &str, subject: &str) -> OutboxEmail {
        OutboxEmail {
            id: 1,
            kind: "password_reset".into(),
            recipient: recipient.into(),
            sender: sender.into(),
            subject: subject.into(),
            body: Some("Hello,\nopen https://app.example.com/reset?token=abc\n".into()),
            html_body: None,
            attempts: 0,
            created: SystemTime::now(),
        }
    }

    fn header_names(message: &Message) -> Vec<String> {
        let raw = String::from_utf8(message.formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        head.split("\r\n")
            .filter(|line| !line.starts_with([' ', '\t']))
            .map(|line| line.split(':').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn builds_a_plain_text_message() {
        let message = build(&email(
            "user@example.com",
            "Support <no-reply@example.com>",
            "Reset",
        ))
        .unwrap();
        let mut names = header_names(&message);
        names.sort();
        assert_eq!(
            names,
            [
                "Content-Transfer-Encoding",
                "Content-Type",
                "Date",
                "From",
                "MIME-Version",
                "Message-ID",
                "Subject",
                "To"
            ]
        );
    }

    #[test]
    fn the_message_id_is_the_same_for_every_copy_of_a_row() {
        let row = email(
            "user@example.com",
            "Support <no-reply@example.com>",
            "Reset",
        );
        let id = |message: Message| message.headers().get_raw("Message-ID").unwrap().to_owned();
        let first = id(build(&row).unwrap());
        assert_eq!(first, id(build(&row).unwrap()));
        assert!(
            first.starts_with("<nile-reset.1.") && first.ends_with("@example.com>"),
            "{first}"
        );
    }

    #[test]
    fn line_breaks_in_the_subject_add_no_header() {
        let message = build(&email(
            "user@example.com",
            "no-reply@example.com",
            "Reset\r\nBcc: evil@example.com",
        ))
        .unwrap();
        assert!(!header_names(&message)
            .iter()
            .any(|name| name.eq_ignore_ascii_case("bcc")));
    }

    #[test]
    fn an_html_body_makes_a_multipart_alternative() {
        let mut row = email("user@example.com", "no-reply@example.com", "Reset");
        row.html_body = Some("<p>Open <a href=\"https://app.example.com/r\">this</a></p>".into());
        let raw = String::from_utf8(build(&row).unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let plain = raw.find("text/plain").expect("a text part");
        let html = raw.find("text/html").expect("an HTML part");
        assert!(plain < html, "the text part comes first: {raw}");
    }

    #[test]
    fn unparsable_addresses_are_refused() {
        let injected = "user@example.com\r\nBcc: evil@example.com";
        assert!(matches!(
            build(&email(injected, "no-reply@example.com", "s")),
            Err(InvalidEmail::Recipient)
        ));
        assert!(matches!(
            build(&email("not an address", "no-reply@example.com", "s")),
            Err(InvalidEmail::Recipient)
        ));
        assert!(matches!(
            build(&email("user@example.com", injected, "s")),
            Err(InvalidEmail::Sender)
        ));
    }
}
