//! Reading XML-RPC documents: a lexer for the XML subset XML-RPC uses (it checks that the
//! document is well formed and refuses what lies beyond the subset) and a recursive-descent
//! reader of calls, responses and values over its tokens.

use super::{Call, Fault, MAX_DEPTH, MAX_ELEMENTS, ParseError, Value};

/// The longest element or attribute name.
const MAX_NAME: usize = 64;
/// The most attributes an element may carry (XML-RPC uses none; namespaces may add a few).
const MAX_ATTRIBUTES: usize = 8;
/// The longest number, date or boolean text (a double's longest exact form is well below).
const MAX_SCALAR: usize = 64;
/// The longest method name.
const MAX_METHOD_NAME: usize = 128;

/// Reads a `<methodCall>`.
pub fn parse_call(bytes: &[u8]) -> Result<Call, ParseError> {
    let mut reader = Reader::new(bytes)?;
    reader.expect_start("methodCall")?;
    reader.expect_start("methodName")?;
    let method = reader.text_until_end("methodName")?;
    let method = method.trim().to_string();
    if method.is_empty()
        || method.len() > MAX_METHOD_NAME
        || !method
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_.:/".contains(&byte))
    {
        return Err(reader.error(format!(
            "the method name must be 1 to {MAX_METHOD_NAME} letters, digits, '_', '.', ':' or '/'"
        )));
    }
    let mut params = Vec::new();
    match reader.next_significant()? {
        Token::End(name) if name == "methodCall" => {}
        Token::Start(name) if name == "params" => {
            loop {
                match reader.next_significant()? {
                    Token::End(name) if name == "params" => break,
                    Token::Start(name) if name == "param" => {
                        params.push(reader.value(0)?);
                        reader.expect_end("param")?;
                    }
                    other => return Err(reader.unexpected(&other, "<param> or </params>")),
                }
            }
            reader.expect_end("methodCall")?;
        }
        other => return Err(reader.unexpected(&other, "<params> or </methodCall>")),
    }
    reader.expect_document_end()?;
    Ok(Call { method, params })
}

/// Reads a `<methodResponse>`: its value, or its fault.
pub fn parse_response(bytes: &[u8]) -> Result<Result<Value, Fault>, ParseError> {
    let mut reader = Reader::new(bytes)?;
    reader.expect_start("methodResponse")?;
    let outcome = match reader.next_significant()? {
        Token::Start(name) if name == "params" => {
            reader.expect_start("param")?;
            let value = reader.value(0)?;
            reader.expect_end("param")?;
            reader.expect_end("params")?;
            Ok(value)
        }
        Token::Start(name) if name == "fault" => {
            let value = reader.value(0)?;
            reader.expect_end("fault")?;
            let code = value.member("faultCode").and_then(Value::as_int);
            let message = value.member("faultString").and_then(Value::as_str);
            match (code.and_then(|code| i32::try_from(code).ok()), message) {
                (Some(code), Some(message)) => Err(Fault::new(code, message)),
                _ => {
                    return Err(reader.error(
                        "a fault is a struct of faultCode (int) and faultString (string)".into(),
                    ));
                }
            }
        }
        other => return Err(reader.unexpected(&other, "<params> or <fault>")),
    };
    reader.expect_end("methodResponse")?;
    reader.expect_document_end()?;
    Ok(outcome)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Start(String),
    End(String),
    Text(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Start(name) => format!("<{name}>"),
            Token::End(name) => format!("</{name}>"),
            Token::Text(text) => {
                let short: String = text.trim().chars().take(20).collect();
                format!("text {short:?}")
            }
        }
    }
}

/// Tokens with the whitespace between elements dropped, and the readers of each construct.
struct Reader<'a> {
    lexer: Lexer<'a>,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Reader<'a>, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|error| ParseError {
            line: line_of(&bytes[..error.valid_up_to()]),
            message: "the document is not UTF-8".into(),
        })?;
        // A byte-order mark may open a UTF-8 document.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Ok(Reader {
            lexer: Lexer::new(text),
        })
    }

    fn error(&self, message: String) -> ParseError {
        self.lexer.error(message)
    }

    fn unexpected(&self, found: &Token, expected: &str) -> ParseError {
        self.error(format!("expected {expected}, found {}", found.describe()))
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        match self.lexer.next()? {
            Some(token) => Ok(token),
            None => Err(self.error("the document ends too early".into())),
        }
    }

    /// The next token that is not whitespace between elements.
    fn next_significant(&mut self) -> Result<Token, ParseError> {
        loop {
            match self.next()? {
                Token::Text(text) if is_blank(&text) => continue,
                token => return Ok(token),
            }
        }
    }

    fn expect_start(&mut self, name: &str) -> Result<(), ParseError> {
        match self.next_significant()? {
            Token::Start(found) if found == name => Ok(()),
            other => Err(self.unexpected(&other, &format!("<{name}>"))),
        }
    }

    fn expect_end(&mut self, name: &str) -> Result<(), ParseError> {
        match self.next_significant()? {
            Token::End(found) if found == name => Ok(()),
            other => Err(self.unexpected(&other, &format!("</{name}>"))),
        }
    }

    fn expect_document_end(&mut self) -> Result<(), ParseError> {
        match self.lexer.next()? {
            None => Ok(()),
            Some(token) => Err(self.unexpected(&token, "the end of the document")),
        }
    }

    /// The text of an element with no elements inside, up to its end tag.
    fn text_until_end(&mut self, name: &str) -> Result<String, ParseError> {
        match self.next()? {
            Token::End(found) if found == name => Ok(String::new()),
            Token::Text(text) => {
                self.expect_end(name)?;
                Ok(text)
            }
            other => Err(self.unexpected(&other, &format!("text or </{name}>"))),
        }
    }

    /// A short scalar's text (a number, a boolean, a date), trimmed.
    fn scalar(&mut self, name: &str) -> Result<String, ParseError> {
        let text = self.text_until_end(name)?;
        let text = text.trim();
        if text.len() > MAX_SCALAR {
            return Err(self.error(format!(
                "<{name}> holds {} characters; at most {MAX_SCALAR} are accepted",
                text.len()
            )));
        }
        Ok(text.to_string())
    }

    /// `<value>…</value>`, its start tag not yet read. `depth` counts the arrays and structs
    /// around it.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect_start("value")?;
        let mut text = String::new();
        loop {
            match self.next()? {
                Token::Text(more) => text.push_str(&more),
                // A value without a type element is a string.
                Token::End(name) if name == "value" => return Ok(Value::String(text)),
                Token::Start(kind) => {
                    if !is_blank(&text) {
                        return Err(self.error(format!("text before <{kind}> in a <value>")));
                    }
                    let value = self.typed(&kind, depth)?;
                    self.expect_end("value")?;
                    return Ok(value);
                }
                other => return Err(self.unexpected(&other, "a value or </value>")),
            }
        }
    }

    /// The inside of a type element, whose start tag was just read, and its end tag.
    fn typed(&mut self, kind: &str, depth: usize) -> Result<Value, ParseError> {
        match kind {
            "int" | "i4" => {
                let text = self.scalar(kind)?;
                parse_integer(&text)
                    .and_then(|number| i32::try_from(number).ok())
                    .map(|number| Value::Int(i64::from(number)))
                    .ok_or_else(|| self.error(format!("<{kind}> {text:?} is not a 32-bit integer")))
            }
            "i8" => {
                let text = self.scalar(kind)?;
                parse_integer(&text)
                    .map(Value::Int)
                    .ok_or_else(|| self.error(format!("<i8> {text:?} is not a 64-bit integer")))
            }
            "boolean" => match self.scalar(kind)?.as_str() {
                "0" => Ok(Value::Bool(false)),
                "1" => Ok(Value::Bool(true)),
                other => Err(self.error(format!("<boolean> must be 0 or 1, found {other:?}"))),
            },
            "string" => Ok(Value::String(self.text_until_end(kind)?)),
            "double" => {
                let text = self.scalar(kind)?;
                let number = text
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || b"+-.eE".contains(&byte))
                    .then(|| text.parse::<f64>().ok())
                    .flatten()
                    .filter(|number| number.is_finite());
                number
                    .map(Value::Double)
                    .ok_or_else(|| self.error(format!("<double> {text:?} is not a finite number")))
            }
            "dateTime.iso8601" => {
                let text = self.scalar(kind)?;
                if text.is_empty()
                    || !text
                        .bytes()
                        .all(|byte| byte.is_ascii_digit() || b"T:-+Z.".contains(&byte))
                {
                    return Err(self.error(format!("<dateTime.iso8601> {text:?} is not a date")));
                }
                Ok(Value::DateTime(text))
            }
            "base64" => {
                let text = self.text_until_end(kind)?;
                super::base64::decode(&text)
                    .map(Value::Base64)
                    .ok_or_else(|| self.error("<base64> does not hold base64".into()))
            }
            "nil" => match self.next()? {
                Token::End(name) if name == "nil" => Ok(Value::Nil),
                other => Err(self.unexpected(&other, "</nil>")),
            },
            "array" => {
                let depth = self.deeper(depth)?;
                self.expect_start("data")?;
                let mut items = Vec::new();
                loop {
                    match self.next_significant()? {
                        Token::End(name) if name == "data" => break,
                        Token::Start(name) if name == "value" => {
                            // `value` reads its own start tag: hand it back.
                            self.lexer.push_back(Token::Start(name));
                            items.push(self.value(depth)?);
                        }
                        other => return Err(self.unexpected(&other, "<value> or </data>")),
                    }
                }
                self.expect_end("array")?;
                Ok(Value::Array(items))
            }
            "struct" => {
                let depth = self.deeper(depth)?;
                let mut members = Vec::new();
                loop {
                    match self.next_significant()? {
                        Token::End(name) if name == "struct" => break,
                        Token::Start(name) if name == "member" => {
                            self.expect_start("name")?;
                            let name = self.text_until_end("name")?;
                            let value = self.value(depth)?;
                            self.expect_end("member")?;
                            members.push((name, value));
                        }
                        other => return Err(self.unexpected(&other, "<member> or </struct>")),
                    }
                }
                Ok(Value::Struct(members))
            }
            other => Err(self.error(format!("<{other}> is not an XML-RPC type"))),
        }
    }

    fn deeper(&self, depth: usize) -> Result<usize, ParseError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("values are nested more than {MAX_DEPTH} deep")));
        }
        Ok(depth + 1)
    }
}

fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

/// An optionally signed run of at most 20 digits.
fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

fn line_of(bytes: &[u8]) -> usize {
    1 + bytes.iter().filter(|byte| **byte == b'\n').count()
}

/// Whether XML 1.0 allows this character in a document.
fn is_xml_char(character: char) -> bool {
    matches!(character,
        '\u{9}' | '\u{a}' | '\u{d}'
        | '\u{20}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}'
        | '\u{10000}'..='\u{10ffff}')
}

/// The tokens of a well-formed document of the subset: start and end tags (an empty element
/// gives both), text with its references resolved (CDATA included, runs merged across
/// comments). It checks what makes a document well formed — tags that match, one root, no text
/// beside it — and refuses what the subset leaves out.
struct Lexer<'a> {
    text: &'a str,
    position: usize,
    /// The open elements, innermost last.
    open: Vec<&'a str>,
    elements: usize,
    root_closed: bool,
    /// Text read but not handed out yet (it ends at the next tag).
    pending: String,
    /// Tokens to hand out before reading on: the end of an empty element, or one put back.
    queued: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            position: 0,
            open: Vec::new(),
            elements: 0,
            root_closed: false,
            pending: String::new(),
            queued: Vec::new(),
        }
    }

    fn error(&self, message: String) -> ParseError {
        ParseError {
            line: line_of(&self.text.as_bytes()[..self.position.min(self.text.len())]),
            message,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.position..]
    }

    fn push_back(&mut self, token: Token) {
        self.queued.push(token);
    }

    fn next(&mut self) -> Result<Option<Token>, ParseError> {
        if let Some(token) = self.queued.pop() {
            return Ok(Some(token));
        }
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                if let Some(open) = self.open.last() {
                    return Err(self.error(format!("the document ends inside <{open}>")));
                }
                if !self.root_closed {
                    return Err(self.error("the document has no element".into()));
                }
                return Ok(None);
            }
            if !rest.starts_with('<') {
                self.text_run()?;
                continue;
            }
            if rest.starts_with("<!--") {
                self.comment()?;
                continue;
            }
            if let Some(inside) = rest.strip_prefix("<![CDATA[") {
                let Some(end) = inside.find("]]>") else {
                    return Err(self.error("a CDATA section is not closed".into()));
                };
                if self.open.is_empty() {
                    return Err(self.error("text outside the root element".into()));
                }
                let data = &inside[..end];
                if let Some(bad) = data.chars().find(|character| !is_xml_char(*character)) {
                    return Err(self.error(format!(
                        "character U+{:04X} is not allowed in XML",
                        u32::from(bad)
                    )));
                }
                self.pending.push_str(data);
                self.position += "<![CDATA[".len() + end + "]]>".len();
                continue;
            }
            if rest.starts_with("<!") {
                let what = if rest.starts_with("<!DOCTYPE") {
                    "a DOCTYPE"
                } else {
                    "a markup declaration"
                };
                return Err(self.error(format!(
                    "{what} is refused: XML-RPC documents declare no entities or types"
                )));
            }
            if rest.starts_with("<?") {
                self.declaration()?;
                continue;
            }
            // A tag: the text before it goes out first.
            if !self.pending.is_empty() {
                return Ok(Some(Token::Text(std::mem::take(&mut self.pending))));
            }
            return self.tag().map(Some);
        }
    }

    /// Text up to the next `<`, references resolved, line ends normalized (XML §2.11).
    fn text_run(&mut self) -> Result<(), ParseError> {
        let rest = self.rest();
        let end = rest.find('<').unwrap_or(rest.len());
        let raw = &rest[..end];
        if self.open.is_empty() {
            if !is_blank(raw) {
                return Err(self.error("text outside the root element".into()));
            }
            self.position += end;
            return Ok(());
        }
        let mut characters = raw.char_indices().peekable();
        while let Some((offset, character)) = characters.next() {
            match character {
                '&' => {
                    let reference = &raw[offset..];
                    let window = &reference.as_bytes()[..reference.len().min(12)];
                    let Some(semicolon) = window.iter().position(|byte| *byte == b';') else {
                        self.position += offset;
                        return Err(self.error("a '&' that starts no reference".into()));
                    };
                    let resolved = match &reference[1..semicolon] {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        number if number.starts_with('#') => {
                            let parsed = match number.strip_prefix("#x") {
                                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                                None => number[1..].parse::<u32>().ok(),
                            };
                            match parsed.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
                                Some(character) => character,
                                None => {
                                    self.position += offset;
                                    return Err(self.error(format!(
                                        "&{number}; is not a character XML allows"
                                    )));
                                }
                            }
                        }
                        name => {
                            self.position += offset;
                            return Err(self.error(format!(
                                "the entity &{name}; is refused: only &lt; &gt; &amp; &quot; &apos; and character references are read"
                            )));
                        }
                    };
                    self.pending.push(resolved);
                    // Skip the reference's other characters.
                    while characters
                        .peek()
                        .is_some_and(|(next, _)| *next <= offset + semicolon)
                    {
                        characters.next();
                    }
                }
                '\r' => {
                    if characters.peek().is_some_and(|(_, next)| *next == '\n') {
                        characters.next();
                    }
                    self.pending.push('\n');
                }
                '>' if raw[..offset].ends_with("]]") => {
                    self.position += offset;
                    return Err(self.error("\"]]>\" outside a CDATA section".into()));
                }
                character if !is_xml_char(character) => {
                    self.position += offset;
                    return Err(self.error(format!(
                        "character U+{:04X} is not allowed in XML",
                        u32::from(character)
                    )));
                }
                character => self.pending.push(character),
            }
        }
        self.position += end;
        Ok(())
    }

    fn comment(&mut self) -> Result<(), ParseError> {
        let inside = &self.rest()["<!--".len()..];
        let Some(end) = inside.find("-->") else {
            return Err(self.error("a comment is not closed".into()));
        };
        self.position += "<!--".len() + end + "-->".len();
        Ok(())
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>` at the very start; any other processing
    /// instruction is refused.
    fn declaration(&mut self) -> Result<(), ParseError> {
        let rest = self.rest();
        let is_xml_declaration = rest.starts_with("<?xml")
            && rest[5..].starts_with([' ', '\t', '\n', '\r'])
            && self.position == 0;
        if !is_xml_declaration {
            return Err(self.error(
                "processing instructions are refused (the XML declaration may only open the document)"
                    .into(),
            ));
        }
        let Some(end) = rest.find("?>") else {
            return Err(self.error("the XML declaration is not closed".into()));
        };
        let inside = &rest[5..end];
        if let Some(at) = inside.find("encoding") {
            let value = inside[at + "encoding".len()..]
                .trim_start()
                .strip_prefix('=')
                .map(str::trim_start)
                .and_then(|value| {
                    let quote = value
                        .chars()
                        .next()
                        .filter(|quote| *quote == '"' || *quote == '\'')?;
                    value[1..].split(quote).next()
                })
                .unwrap_or("");
            if !matches!(
                value.to_ascii_lowercase().as_str(),
                "utf-8" | "utf8" | "us-ascii" | "ascii"
            ) {
                return Err(self.error(format!(
                    "the encoding {value:?} is not supported: send UTF-8"
                )));
            }
        }
        self.position += end + 2;
        Ok(())
    }

    fn name(&mut self) -> Result<&'a str, ParseError> {
        let rest = self.rest();
        let length = rest
            .bytes()
            .take_while(|byte| byte.is_ascii_alphanumeric() || b"_:.-".contains(byte))
            .count();
        let name = &rest[..length];
        let starts_well = name
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_' || byte == b':');
        if !starts_well {
            return Err(self.error("a tag without a valid name".into()));
        }
        if length > MAX_NAME {
            return Err(self.error(format!("a name longer than {MAX_NAME} characters")));
        }
        self.position += length;
        Ok(name)
    }

    fn skip_space(&mut self) -> bool {
        let rest = self.rest();
        let length = rest
            .bytes()
            .take_while(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        self.position += length;
        length > 0
    }

    fn tag(&mut self) -> Result<Token, ParseError> {
        if self.rest().starts_with("</") {
            self.position += 2;
            let name = self.name()?;
            self.skip_space();
            if !self.rest().starts_with('>') {
                return Err(self.error(format!("the end tag </{name}> is not closed by '>'")));
            }
            self.position += 1;
            match self.open.pop() {
                Some(open) if open == name => {}
                Some(open) => {
                    return Err(self.error(format!("</{name}> closes <{open}>")));
                }
                None => return Err(self.error(format!("</{name}> closes nothing"))),
            }
            if self.open.is_empty() {
                self.root_closed = true;
            }
            return Ok(Token::End(name.to_string()));
        }
        self.position += 1;
        if self.root_closed {
            return Err(self.error("a second root element".into()));
        }
        let name = self.name()?;
        let mut attributes = 0;
        loop {
            let spaced = self.skip_space();
            let rest = self.rest();
            if rest.starts_with("/>") {
                self.position += 2;
                self.opened(name)?;
                self.open.pop();
                if self.open.is_empty() {
                    self.root_closed = true;
                }
                self.queued.push(Token::End(name.to_string()));
                return Ok(Token::Start(name.to_string()));
            }
            if rest.starts_with('>') {
                self.position += 1;
                self.opened(name)?;
                return Ok(Token::Start(name.to_string()));
            }
            if !spaced {
                return Err(self.error(format!("the tag <{name}> is not well formed")));
            }
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                return Err(self.error(format!(
                    "<{name}> has more than {MAX_ATTRIBUTES} attributes"
                )));
            }
            // Attributes are read to stay in step, and ignored: XML-RPC gives them no meaning.
            self.name()?;
            self.skip_space();
            if !self.rest().starts_with('=') {
                return Err(self.error(format!("an attribute of <{name}> has no value")));
            }
            self.position += 1;
            self.skip_space();
            let rest = self.rest();
            let Some(quote) = rest
                .chars()
                .next()
                .filter(|quote| *quote == '"' || *quote == '\'')
            else {
                return Err(self.error(format!("an attribute of <{name}> is not quoted")));
            };
            let Some(length) = rest[1..].find(quote) else {
                return Err(self.error(format!("an attribute of <{name}> is not closed")));
            };
            if rest[1..1 + length].contains('<') {
                return Err(self.error(format!("'<' in an attribute of <{name}>")));
            }
            self.position += 1 + length + 1;
        }
    }

    fn opened(&mut self, name: &'a str) -> Result<(), ParseError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(self.error(format!("more than {MAX_ELEMENTS} elements")));
        }
        // Values nest three elements per level (value, array, data); the envelope adds a few.
        if self.open.len() >= 3 * MAX_DEPTH + 8 {
            return Err(self.error(format!(
                "elements are nested more than {} deep",
                3 * MAX_DEPTH + 8
            )));
        }
        self.open.push(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader refuses a wrong element before it goes deep; the lexer's own bound is what
    /// holds for any element it is handed.
    #[test]
    fn the_lexer_bounds_element_nesting_whatever_the_names() {
        let deep = format!("{}{}", "<a>".repeat(500), "</a>".repeat(500));
        let mut lexer = Lexer::new(&deep);
        let error = loop {
            match lexer.next() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("500 nested elements accepted"),
                Err(error) => break error,
            }
        };
        assert!(
            error.message.contains("nested more than 104 deep"),
            "{error}"
        );
    }
}
