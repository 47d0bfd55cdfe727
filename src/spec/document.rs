//! The two file formats, TOML and YAML, read into one shape (a JSON object of top-level fields
//! with the line and column of each) and written back: new files in a canonical order, and
//! edits of TOML files that keep their comments and key order. Pure text in, text out.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{FIELDS, Format, Problem};

/// The largest program file the daemon reads.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// A parsed program file: its top-level fields and where each one starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub fields: Map<String, Value>,
    /// 1-based (line, column) of each top-level key, where it could be found.
    pub positions: BTreeMap<String, (usize, usize)>,
}

impl Document {
    pub fn position(&self, field: &str) -> Option<(usize, usize)> {
        self.positions.get(field).copied()
    }
}

/// Reads a program file's text in either format.
pub fn parse(format: Format, text: &str) -> Result<Document, Problem> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Problem::file(format!(
            "the file is {} bytes; program files are limited to {MAX_FILE_BYTES} bytes",
            text.len()
        )));
    }
    if let Some(offset) = text.find('\0') {
        let (line, column) = line_column(text, offset);
        return Err(
            Problem::file("the file contains a NUL byte; is it a binary file?").at(line, column),
        );
    }
    match format {
        Format::Toml => parse_toml(text),
        Format::Yaml => parse_yaml(text),
    }
}

/// Turns raw bytes into text, or says where the first invalid UTF-8 byte is.
pub fn decode(bytes: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        let valid = String::from_utf8_lossy(&bytes[..offset]);
        let (line, column) = line_column(&valid, valid.len());
        Problem::file(format!(
            "the file is not valid UTF-8 (byte {offset}); is it a binary file?"
        ))
        .at(line, column)
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn parse_toml(text: &str) -> Result<Document, Problem> {
    let parsed = toml_edit::Document::parse(text).map_err(|error| {
        let mut problem = Problem::file(format!("invalid TOML: {}", first_line(error.message())));
        if let Some(span) = error.span() {
            let (line, column) = line_column(text, span.start);
            problem = problem.at(line, column);
        }
        problem
    })?;
    let mut document = Document::default();
    for (key, item) in parsed.iter() {
        let full_key = parsed.get_key_value(key).map(|(key, _)| key);
        if let Some(span) = full_key.and_then(|key| key.span()) {
            document
                .positions
                .insert(key.to_string(), line_column(text, span.start));
        }
        let value = toml_item_to_json(item).map_err(|reason| {
            let problem = Problem::field(key, reason);
            match document.positions.get(key) {
                Some(&(line, column)) => problem.at(line, column),
                None => problem,
            }
        })?;
        document.fields.insert(key.to_string(), value);
    }
    Ok(document)
}

fn toml_item_to_json(item: &toml_edit::Item) -> Result<Value, String> {
    match item {
        toml_edit::Item::None => Ok(Value::Null),
        toml_edit::Item::Value(value) => toml_value_to_json(value),
        toml_edit::Item::Table(table) => {
            let mut map = Map::new();
            for (key, item) in table.iter() {
                map.insert(key.to_string(), toml_item_to_json(item)?);
            }
            Ok(Value::Object(map))
        }
        toml_edit::Item::ArrayOfTables(tables) => {
            let mut array = Vec::new();
            for table in tables.iter() {
                let mut map = Map::new();
                for (key, item) in table.iter() {
                    map.insert(key.to_string(), toml_item_to_json(item)?);
                }
                array.push(Value::Object(map));
            }
            Ok(Value::Array(array))
        }
    }
}

fn toml_value_to_json(value: &toml_edit::Value) -> Result<Value, String> {
    Ok(match value {
        toml_edit::Value::String(text) => Value::String(text.value().clone()),
        toml_edit::Value::Integer(number) => Value::from(*number.value()),
        toml_edit::Value::Float(number) => serde_json::Number::from_f64(*number.value())
            .map(Value::Number)
            .ok_or_else(|| "not a finite number".to_string())?,
        toml_edit::Value::Boolean(flag) => Value::Bool(*flag.value()),
        toml_edit::Value::Datetime(_) => {
            return Err("dates and times are not allowed here".to_string());
        }
        toml_edit::Value::Array(array) => Value::Array(
            array
                .iter()
                .map(toml_value_to_json)
                .collect::<Result<_, _>>()?,
        ),
        toml_edit::Value::InlineTable(table) => {
            let mut map = Map::new();
            for (key, value) in table.iter() {
                map.insert(key.to_string(), toml_value_to_json(value)?);
            }
            Value::Object(map)
        }
    })
}

/// How deep `[` and `{` may nest in a YAML file. libyaml's flow parser slows down badly on deep
/// nesting long before serde_yaml's own recursion limit stops it, so nesting is counted first.
/// The count ignores quoting, so brackets inside strings count too; real files are far below it.
const MAX_YAML_FLOW_DEPTH: usize = 128;

fn check_yaml_flow_depth(text: &str) -> Result<(), Problem> {
    let mut depth = 0usize;
    for (offset, byte) in text.bytes().enumerate() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_YAML_FLOW_DEPTH {
                    let (line, column) = line_column(text, offset);
                    return Err(Problem::file(format!(
                        "invalid YAML: nested more than {MAX_YAML_FLOW_DEPTH} levels deep"
                    ))
                    .at(line, column));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn parse_yaml(text: &str) -> Result<Document, Problem> {
    check_yaml_flow_depth(text)?;
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|error| {
        let mut problem = Problem::file(format!("invalid YAML: {}", strip_yaml_location(&error)));
        if let Some(location) = error.location() {
            problem = problem.at(location.line(), location.column());
        }
        problem
    })?;
    let mut document = Document::default();
    let mapping = match value {
        serde_yaml::Value::Null => return Ok(document),
        serde_yaml::Value::Mapping(mapping) => mapping,
        other => {
            return Err(Problem::file(format!(
                "the file must be a mapping of fields, not {}",
                yaml_kind(&other)
            )));
        }
    };
    for (key, value) in mapping {
        let serde_yaml::Value::String(key) = key else {
            return Err(Problem::file(format!(
                "top-level keys must be strings, found {}",
                yaml_kind(&key)
            )));
        };
        if let Some(position) = find_yaml_key(text, &key) {
            document.positions.insert(key.clone(), position);
        }
        let converted = yaml_to_json(value).map_err(|reason| {
            let problem = Problem::field(&key, reason);
            match document.positions.get(&key) {
                Some(&(line, column)) => problem.at(line, column),
                None => problem,
            }
        })?;
        document.fields.insert(key, converted);
    }
    Ok(document)
}

/// serde_yaml appends " at line L column C" to its messages; the location is reported apart.
fn strip_yaml_location(error: &serde_yaml::Error) -> String {
    let message = error.to_string();
    let message = match message.find(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message,
    };
    first_line(&message).to_string()
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("").trim()
}

/// YAML has no spans in serde_yaml's value tree; a top-level key is a line that starts with it.
fn find_yaml_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let candidates = [key.to_string(), format!("\"{key}\""), format!("'{key}'")];
    for (index, line) in text.lines().enumerate() {
        for candidate in &candidates {
            if let Some(rest) = line.strip_prefix(candidate.as_str())
                && rest.trim_start().starts_with(':')
            {
                return Some((index + 1, 1));
            }
        }
    }
    None
}

fn yaml_kind(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

fn yaml_to_json(value: serde_yaml::Value) -> Result<Value, String> {
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(flag) => Value::Bool(flag),
        serde_yaml::Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Value::from(integer)
            } else if let Some(integer) = number.as_u64() {
                Value::from(integer)
            } else {
                let float = number.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(float)
                    .map(Value::Number)
                    .ok_or_else(|| "not a finite number".to_string())?
            }
        }
        serde_yaml::Value::String(text) => Value::String(text),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    serde_yaml::Value::String(key) => key,
                    serde_yaml::Value::Number(number) => number.to_string(),
                    serde_yaml::Value::Bool(flag) => flag.to_string(),
                    other => {
                        return Err(format!("keys must be strings, found {}", yaml_kind(&other)));
                    }
                };
                map.insert(key, yaml_to_json(value)?);
            }
            Value::Object(map)
        }
        serde_yaml::Value::Tagged(tagged) => {
            return Err(format!("YAML tags ({}) are not supported", tagged.tag));
        }
    })
}

/// Writes a new program file from fields, known fields in their canonical order first.
pub fn render(format: Format, fields: &Map<String, Value>) -> String {
    let ordered = canonical_order(fields);
    match format {
        Format::Toml => render_toml(&ordered),
        Format::Yaml => render_yaml(&ordered),
    }
}

fn canonical_order(fields: &Map<String, Value>) -> Vec<(&str, &Value)> {
    let mut ordered: Vec<(&str, &Value)> = FIELDS
        .iter()
        .filter_map(|name| fields.get(*name).map(|value| (*name, value)))
        .collect();
    ordered.extend(
        fields
            .iter()
            .filter(|(key, _)| !FIELDS.contains(&key.as_str()))
            .map(|(key, value)| (key.as_str(), value)),
    );
    ordered.retain(|(_, value)| !value.is_null());
    ordered
}

fn render_toml(fields: &[(&str, &Value)]) -> String {
    let mut document = toml_edit::DocumentMut::new();
    // Scalars and lists first, then tables, so no key lands inside a table by accident.
    for (key, value) in fields.iter().filter(|(_, value)| !value.is_object()) {
        if let Some(converted) = json_to_toml(value) {
            document[*key] = toml_edit::Item::Value(converted);
        }
    }
    for (key, value) in fields.iter().filter(|(_, value)| value.is_object()) {
        document[*key] = json_to_toml_item(value);
    }
    document.to_string()
}

/// A JSON value as a TOML item: objects become `[tables]`, everything else a value.
fn json_to_toml_item(value: &Value) -> toml_edit::Item {
    match value {
        Value::Object(map) => {
            let mut table = toml_edit::Table::new();
            for (key, value) in map {
                if let Some(converted) = json_to_toml(value) {
                    table.insert(key, toml_edit::Item::Value(converted));
                }
            }
            toml_edit::Item::Table(table)
        }
        other => json_to_toml(other).map_or(toml_edit::Item::None, toml_edit::Item::Value),
    }
}

/// A JSON value as a TOML value; `null` has no TOML form and yields `None`.
pub fn json_to_toml(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(flag) => toml_edit::Value::from(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => toml_edit::Value::from(integer),
            None => toml_edit::Value::from(number.as_f64().unwrap_or(0.0)),
        },
        Value::String(text) => toml_edit::Value::from(text.as_str()),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                if let Some(converted) = json_to_toml(item) {
                    array.push(converted);
                }
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (key, value) in map {
                if let Some(converted) = json_to_toml(value) {
                    table.insert(key, converted);
                }
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

fn render_yaml(fields: &[(&str, &Value)]) -> String {
    let mut mapping = serde_yaml::Mapping::new();
    for (key, value) in fields {
        mapping.insert(
            serde_yaml::Value::String((*key).to_string()),
            json_to_yaml(value),
        );
    }
    // Serializing a tree of plain values cannot fail.
    serde_yaml::to_string(&mapping).unwrap_or_default()
}

fn json_to_yaml(value: &Value) -> serde_yaml::Value {
    match value {
        Value::Null => serde_yaml::Value::Null,
        Value::Bool(flag) => serde_yaml::Value::Bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => serde_yaml::Value::Number(integer.into()),
            None => serde_yaml::Value::Number(number.as_f64().unwrap_or(0.0).into()),
        },
        Value::String(text) => serde_yaml::Value::String(text.clone()),
        Value::Array(items) => {
            serde_yaml::Value::Sequence(items.iter().map(json_to_yaml).collect())
        }
        Value::Object(map) => {
            let mut mapping = serde_yaml::Mapping::new();
            for (key, value) in map {
                mapping.insert(serde_yaml::Value::String(key.clone()), json_to_yaml(value));
            }
            serde_yaml::Value::Mapping(mapping)
        }
    }
}

/// Applies changes to a program file's text. `Some(value)` sets a field, `None` removes it so its
/// default applies. TOML keeps its comments, layout and key order; YAML is written anew in the
/// canonical order (serde_yaml cannot keep comments), with the fields it had.
pub fn edit(format: Format, text: &str, changes: &Map<String, Value>) -> Result<String, Problem> {
    match format {
        Format::Toml => edit_toml(text, changes),
        Format::Yaml => {
            let mut document = parse_yaml(text)?;
            apply_changes(&mut document.fields, changes);
            Ok(render(Format::Yaml, &document.fields))
        }
    }
}

fn apply_changes(fields: &mut Map<String, Value>, changes: &Map<String, Value>) {
    for (key, value) in changes {
        if value.is_null() {
            fields.remove(key);
        } else {
            fields.insert(key.clone(), value.clone());
        }
    }
}

fn edit_toml(text: &str, changes: &Map<String, Value>) -> Result<String, Problem> {
    let mut document: toml_edit::DocumentMut =
        text.parse().map_err(|error: toml_edit::TomlError| {
            Problem::file(format!("invalid TOML: {}", first_line(error.message())))
        })?;
    for (key, value) in changes {
        if value.is_null() {
            document.remove(key);
            continue;
        }
        let existing_is_table = matches!(document.get(key), Some(toml_edit::Item::Table(_)));
        match value {
            Value::Object(map) if existing_is_table => {
                // Keep the table's own layout: update its keys in place, drop the missing ones.
                if let Some(table) = document.get_mut(key).and_then(|item| item.as_table_mut()) {
                    let stale: Vec<String> = table
                        .iter()
                        .map(|(name, _)| name.to_string())
                        .filter(|name| !map.contains_key(name))
                        .collect();
                    for name in stale {
                        table.remove(&name);
                    }
                    for (name, inner) in map {
                        if let Some(converted) = json_to_toml(inner) {
                            set_toml_value(table, name, converted);
                        }
                    }
                }
            }
            Value::Object(_) => {
                document.remove(key);
                document[key.as_str()] = json_to_toml_item(value);
            }
            other => {
                if let Some(converted) = json_to_toml(other) {
                    set_toml_value(document.as_table_mut(), key, converted);
                }
            }
        }
    }
    Ok(document.to_string())
}

/// Sets a key, keeping the comments around an existing value.
fn set_toml_value(table: &mut toml_edit::Table, key: &str, mut value: toml_edit::Value) {
    if let Some(toml_edit::Item::Value(existing)) = table.get(key) {
        let decor = existing.decor().clone();
        *value.decor_mut() = decor;
        table[key] = toml_edit::Item::Value(value);
    } else if table.contains_key(key) {
        table.remove(key);
        table.insert(key, toml_edit::Item::Value(value));
    } else {
        // A new top-level key must go before any [table] header to stay top-level: toml_edit
        // writes the root's own keys first, so inserting into the root table does that.
        table.insert(key, toml_edit::Item::Value(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_positions_and_values() {
        let text = "# a comment\ncommand = \"sleep 1\"\n\n[environment]\nA = \"1\"\n";
        let document = parse(Format::Toml, text).expect("parses");
        assert_eq!(document.position("command"), Some((2, 1)));
        assert_eq!(document.position("environment"), Some((4, 2)));
        assert_eq!(document.fields["environment"]["A"], Value::from("1"));
    }

    #[test]
    fn yaml_positions_and_values() {
        let text = "# a comment\ncommand: sleep 1\nenvironment:\n  PORT: 3000\n";
        let document = parse(Format::Yaml, text).expect("parses");
        assert_eq!(document.position("command"), Some((2, 1)));
        assert_eq!(document.position("environment"), Some((3, 1)));
        assert_eq!(document.fields["environment"]["PORT"], Value::from(3000));
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let problem = parse(Format::Toml, "command = \"x\"\nboot = \n").expect_err("bad");
        assert_eq!(problem.line, Some(2), "{problem}");
        let problem = parse(Format::Yaml, "command: x\n  - bad: [\n").expect_err("bad");
        assert!(problem.line.is_some(), "{problem}");
        assert!(problem.message.starts_with("invalid YAML"), "{problem}");
    }

    #[test]
    fn toml_edit_keeps_comments_and_order() {
        let text = "# web server\ncommand = \"sleep 10\" # the command\n# boot it\nboot = true\n\n[environment]\n# port\nPORT = \"80\"\n";
        let mut changes = Map::new();
        changes.insert("boot".into(), Value::Bool(false));
        changes.insert("command".into(), Value::from("sleep 20"));
        changes.insert("priority".into(), Value::from(5));
        changes.insert(
            "environment".into(),
            serde_json::json!({"PORT": "81", "B": "2"}),
        );
        let edited = edit(Format::Toml, text, &changes).expect("edits");
        assert!(edited.contains("# web server"), "{edited}");
        assert!(
            edited.contains("command = \"sleep 20\" # the command"),
            "{edited}"
        );
        assert!(edited.contains("# boot it\nboot = false"), "{edited}");
        assert!(edited.contains("# port\nPORT = \"81\""), "{edited}");
        let reparsed = parse(Format::Toml, &edited).expect("still TOML");
        assert_eq!(reparsed.fields["priority"], Value::from(5));
        assert_eq!(reparsed.fields["environment"]["B"], Value::from("2"));
        assert!(
            edited.find("command").unwrap_or(0) < edited.find("boot").unwrap_or(0),
            "order kept: {edited}"
        );
    }

    #[test]
    fn edit_with_null_removes_the_field() {
        let mut changes = Map::new();
        changes.insert("boot".into(), Value::Null);
        let edited = edit(Format::Toml, "command = \"x\"\nboot = true\n", &changes).expect("edits");
        assert_eq!(edited, "command = \"x\"\n");
        let edited = edit(Format::Yaml, "command: x\nboot: true\n", &changes).expect("edits");
        assert_eq!(edited, "command: x\n");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncdé f", 8), (2, 5));
        assert_eq!(line_column("", 0), (1, 1));
    }
}
