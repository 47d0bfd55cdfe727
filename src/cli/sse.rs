//! Server-sent events as the CLI reads them (`logs -f`, `events`): a stream opened with
//! `Accept: text/event-stream`, its lines made into events (`id:`, `event:`, `data:` lines up to
//! a blank one) and comments (`: …`), each handed to the caller until the daemon closes it.
//! The parsing is [`Parser`], pure; [`follow`] is the one loop over a response's lines.

use std::io::BufRead;

use super::session::{CliError, Session};

/// What the stream carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// A complete event: the last `id:` seen (it carries over to later events, as in a
    /// browser), its `event:` name, and its `data:` lines joined by newlines.
    Event {
        id: String,
        event: String,
        data: String,
    },
    /// A comment line, without its `:`.
    Comment(String),
}

/// The event being read.
#[derive(Debug, Default)]
pub struct Parser {
    id: String,
    event: String,
    data: Vec<String>,
}

impl Parser {
    /// Takes one line (without its line ending); gives an item when the line completes one.
    pub fn line(&mut self, line: &str) -> Option<Item> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            if self.data.is_empty() {
                return None;
            }
            let data = self.data.join("\n");
            self.data.clear();
            return Some(Item::Event {
                id: self.id.clone(),
                event,
                data,
            });
        }
        if let Some(comment) = line.strip_prefix(':') {
            return Some(Item::Comment(comment.to_string()));
        }
        if let Some(value) = line.strip_prefix("event:") {
            self.event = value.trim_start().to_string();
        } else if let Some(value) = line.strip_prefix("id:") {
            self.id = value.trim_start().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            self.data
                .push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
        None
    }
}

/// `GET path` as an event stream (`headers` besides `Accept`), each event and comment handed
/// to `on`, until the daemon closes the stream (`Ok`: what was followed has ended). An answer
/// other than 200 is the command's error, as for any other request.
pub fn follow(
    session: &Session,
    path: &str,
    headers: &[(&str, &str)],
    mut on: impl FnMut(Item) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut all = vec![("Accept", "text/event-stream")];
    all.extend_from_slice(headers);
    let mut response = session
        .client
        .request_stream("GET", path, &all)
        .map_err(|error| session.transport_error(&error))?;
    if response.status != 200 {
        let whole = response
            .into_response()
            .map_err(|error| session.transport_error(&error))?;
        return session.answer(whole).map(|_| ());
    }
    let mut parser = Parser::default();
    let mut line = String::new();
    loop {
        line.clear();
        let read = response
            .body
            .read_line(&mut line)
            .map_err(|error| session.transport_error(&error))?;
        if read == 0 {
            return Ok(());
        }
        if let Some(item) = parser.line(line.trim_end_matches(['\r', '\n'])) {
            on(item)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_make_events_and_comments() {
        let mut parser = Parser::default();
        let lines = [
            "id: 7",
            "event: state",
            "data: {\"a\":1}",
            "",
            ": keep-alive",
            "",
            "data: one",
            "data:two",
            "",
            "event: stderr",
            "",
        ];
        let items: Vec<Item> = lines.iter().filter_map(|line| parser.line(line)).collect();
        assert_eq!(
            items,
            [
                Item::Event {
                    id: "7".into(),
                    event: "state".into(),
                    data: "{\"a\":1}".into()
                },
                Item::Comment(" keep-alive".into()),
                // The id carries over; the name does not.
                Item::Event {
                    id: "7".into(),
                    event: String::new(),
                    data: "one\ntwo".into()
                },
            ]
        );
    }
}
