//! Tables: documents as Python's `xmlrpc.client` writes them (what supervisorctl sends), every
//! value type, round trips, and hostile or broken documents with the error each one gets.

use super::*;

fn call(text: &str) -> Result<Call, ParseError> {
    parse_call(text.as_bytes())
}

fn one_value(value_xml: &str) -> Result<Value, ParseError> {
    let document = format!(
        "<?xml version='1.0'?><methodCall><methodName>m</methodName><params><param>{value_xml}</param></params></methodCall>"
    );
    call(&document).map(|mut call| call.params.remove(0))
}

#[test]
fn calls_as_python_writes_them() {
    let table: [(&str, Call); 3] = [
        (
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.readProcessStdoutLog</methodName>\n<params>\n<param>\n<value><string>web</string></value>\n</param>\n<param>\n<value><int>-1600</int></value>\n</param>\n<param>\n<value><int>0</int></value>\n</param>\n</params>\n</methodCall>\n",
            Call {
                method: "supervisor.readProcessStdoutLog".into(),
                params: vec![Value::from("web"), Value::Int(-1600), Value::Int(0)],
            },
        ),
        (
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getVersion</methodName>\n<params>\n</params>\n</methodCall>\n",
            Call {
                method: "supervisor.getVersion".into(),
                params: vec![],
            },
        ),
        (
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.multicall</methodName>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>methodName</name>\n<value><string>supervisor.getState</string></value>\n</member>\n<member>\n<name>params</name>\n<value><array><data>\n</data></array></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodCall>\n",
            Call {
                method: "system.multicall".into(),
                params: vec![Value::Array(vec![Value::structure([
                    ("methodName", Value::from("supervisor.getState")),
                    ("params", Value::Array(vec![])),
                ])])],
            },
        ),
    ];
    for (document, expected) in table {
        assert_eq!(call(document).as_ref(), Ok(&expected), "{document}");
    }
}

#[test]
fn calls_in_other_shapes_clients_send() {
    let table: [(&str, &str, usize); 6] = [
        // No <params> at all, and an empty-element <params/>.
        (
            "<methodCall><methodName>a.b</methodName></methodCall>",
            "a.b",
            0,
        ),
        (
            "<methodCall><methodName>a.b</methodName><params/></methodCall>",
            "a.b",
            0,
        ),
        // A byte-order mark, a declaration with an encoding, comments anywhere.
        (
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?><!-- hi --><methodCall><!-- x --><methodName>a</methodName></methodCall><!-- bye -->",
            "a",
            0,
        ),
        // Whitespace and a method name padded with it.
        (
            "<methodCall>\r\n  <methodName> system.listMethods </methodName>\r\n  <params>\r\n  </params>\r\n</methodCall>",
            "system.listMethods",
            0,
        ),
        // An attribute (a namespace) is read and ignored.
        (
            "<methodCall xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"><methodName>a</methodName><params><param><value><i4>1</i4></value></param></params></methodCall>",
            "a",
            1,
        ),
        (
            "<methodCall><methodName>a</methodName><params><param><value>x</value></param><param><value/></param></params></methodCall>",
            "a",
            2,
        ),
    ];
    for (document, method, params) in table {
        let parsed = call(document).unwrap_or_else(|error| panic!("{document}: {error}"));
        assert_eq!(parsed.method, method, "{document}");
        assert_eq!(parsed.params.len(), params, "{document}");
    }
}

#[test]
fn every_value_type() {
    let table: Vec<(&str, Value)> = vec![
        ("<value><int>42</int></value>", Value::Int(42)),
        ("<value><i4>-7</i4></value>", Value::Int(-7)),
        ("<value><int> +3 </int></value>", Value::Int(3)),
        (
            "<value><i8>9007199254740993</i8></value>",
            Value::Int(9_007_199_254_740_993),
        ),
        (
            "<value><int>2147483647</int></value>",
            Value::Int(2_147_483_647),
        ),
        (
            "<value><int>-2147483648</int></value>",
            Value::Int(-2_147_483_648),
        ),
        ("<value><boolean>1</boolean></value>", Value::Bool(true)),
        ("<value><boolean>0</boolean></value>", Value::Bool(false)),
        (
            "<value><string>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;</string></value>",
            Value::from("a <b> & \"c\" 'd'"),
        ),
        (
            "<value><string>&#65;&#x42;&#x1F600;</string></value>",
            Value::from("AB\u{1F600}"),
        ),
        (
            "<value><string><![CDATA[<raw> & ]]>tail</string></value>",
            Value::from("<raw> & tail"),
        ),
        (
            "<value><string>a<!-- c -->b</string></value>",
            Value::from("ab"),
        ),
        (
            "<value><string>line\r\nnext\rlast&#13;</string></value>",
            Value::from("line\nnext\nlast\r"),
        ),
        ("<value><string/></value>", Value::from("")),
        ("<value><string></string></value>", Value::from("")),
        ("<value>bare text</value>", Value::from("bare text")),
        ("<value>  </value>", Value::from("  ")),
        ("<value></value>", Value::from("")),
        ("<value>été ✓</value>", Value::from("été ✓")),
        ("<value><double>2.5</double></value>", Value::Double(2.5)),
        (
            "<value><double>-1e3</double></value>",
            Value::Double(-1000.0),
        ),
        (
            "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>",
            Value::DateTime("20240102T03:04:05".into()),
        ),
        (
            "<value><base64>aGVsbG8=</base64></value>",
            Value::Base64(b"hello".to_vec()),
        ),
        (
            "<value><base64>aGVs\n bG8=</base64></value>",
            Value::Base64(b"hello".to_vec()),
        ),
        ("<value><nil/></value>", Value::Nil),
        (
            "<value><array><data/></array></value>",
            Value::Array(vec![]),
        ),
        (
            "<value><array><data>\n<value><int>1</int></value>\n<value>two</value>\n</data></array></value>",
            Value::Array(vec![Value::Int(1), Value::from("two")]),
        ),
        ("<value><struct/></value>", Value::Struct(vec![])),
        (
            "<value><struct><member><name>a</name><value><int>1</int></value></member><member><name></name><value/></member></struct></value>",
            Value::Struct(vec![
                ("a".into(), Value::Int(1)),
                (String::new(), Value::from("")),
            ]),
        ),
        (
            "<value>\n  <string>spaced</string>\n</value>",
            Value::from("spaced"),
        ),
    ];
    for (xml, expected) in table {
        assert_eq!(one_value(xml).as_ref(), Ok(&expected), "{xml}");
    }
}

#[test]
fn values_survive_a_round_trip() {
    let values = vec![
        Value::Int(0),
        Value::Int(i64::from(i32::MIN)),
        Value::Int(i64::MAX),
        Value::Bool(true),
        Value::from(""),
        Value::from("<&>\"' \t\n\r é ✓ \u{1F600}"),
        Value::Double(0.1),
        Value::Double(-1e300),
        Value::DateTime("20240102T03:04:05".into()),
        Value::Base64((0..=255).collect()),
        Value::Nil,
        Value::Array(vec![Value::Array(vec![Value::Struct(vec![])])]),
        Value::Struct(vec![
            ("name".into(), Value::from("web")),
            ("pid".into(), Value::Int(12)),
            (
                "list".into(),
                Value::Array(vec![Value::Bool(false), Value::Nil]),
            ),
        ]),
    ];
    for value in values {
        let call = Call {
            method: "supervisor.x".into(),
            params: vec![value.clone(), Value::from("after")],
        };
        assert_eq!(parse_call(&write_call(&call)), Ok(call.clone()));
        assert_eq!(parse_response(&write_response(&value)), Ok(Ok(value)));
    }
    let fault = Fault::new(10, "BAD_NAME: nope <&>");
    assert_eq!(parse_response(&write_fault(&fault)), Ok(Err(fault)));
}

#[test]
fn responses_as_python_writes_them() {
    let response = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n<member>\n<name>a</name>\n<value><array><data>\n<value><int>1</int></value>\n<value><boolean>1</boolean></value>\n<value><double>2.5</double></value>\n<value><string>x&lt;&amp;&gt;</string></value>\n</data></array></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodResponse>\n";
    assert_eq!(
        parse_response(response.as_bytes()),
        Ok(Ok(Value::structure([(
            "a",
            Value::Array(vec![
                Value::Int(1),
                Value::Bool(true),
                Value::Double(2.5),
                Value::from("x<&>")
            ])
        )])))
    );
    let fault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>BAD_NAME: x</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
    assert_eq!(
        parse_response(fault.as_bytes()),
        Ok(Err(Fault::new(10, "BAD_NAME: x")))
    );
}

#[test]
fn text_xml_cannot_carry_is_replaced_when_written() {
    let written =
        String::from_utf8(write_response(&Value::from("\u{1b}[31mred\u{0}\u{7}"))).expect("utf-8");
    assert!(
        written.contains("<string>\u{fffd}[31mred\u{fffd}\u{fffd}</string>"),
        "{written}"
    );
    // Still a document the reader (and so any XML parser) accepts.
    assert_eq!(
        parse_response(written.as_bytes()),
        Ok(Ok(Value::from("\u{fffd}[31mred\u{fffd}\u{fffd}")))
    );
}

#[test]
fn hostile_and_broken_documents_are_refused_with_a_reason() {
    let billion_laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n]>\n<methodCall><methodName>&lol2;</methodName></methodCall>";
    let external = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>a</methodName><params><param><value>&xxe;</value></param></params></methodCall>";
    let deep_arrays = format!(
        "<methodCall><methodName>a</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(40),
        "</data></array></value>".repeat(40)
    );
    let deep_structs = format!(
        "<methodCall><methodName>a</methodName><params><param>{}<value/>{}</param></params></methodCall>",
        "<value><struct><member><name>n</name>".repeat(40),
        "</member></struct></value>".repeat(40)
    );
    let many_elements = format!(
        "<methodCall><methodName>a</methodName><params><param><value><array><data>{}</data></array></value></param></params></methodCall>",
        "<value/>".repeat(MAX_ELEMENTS)
    );
    let long_name = format!("<{}/>", "a".repeat(100));
    let table: Vec<(String, &str)> = vec![
        (billion_laughs.into(), "DOCTYPE is refused"),
        (external.into(), "DOCTYPE is refused"),
        ("<methodCall><methodName>&lol;</methodName></methodCall>".into(), "entity &lol; is refused"),
        ("<methodCall><methodName>a&#0;</methodName></methodCall>".into(), "not a character XML allows"),
        ("<methodCall><methodName>a&#xD800;</methodName></methodCall>".into(), "not a character XML allows"),
        ("<methodCall><methodName>a & b</methodName></methodCall>".into(), "'&' that starts no reference"),
        ("<methodCall><methodName>a\u{1}</methodName></methodCall>".into(), "U+0001 is not allowed"),
        ("<?xml-stylesheet href=\"x\"?><methodCall/>".into(), "processing instructions are refused"),
        ("<methodCall><?php x ?><methodName>a</methodName></methodCall>".into(), "processing instructions are refused"),
        ("<!ELEMENT a ANY><methodCall/>".into(), "markup declaration is refused"),
        ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><methodCall/>".into(), "encoding \"ISO-8859-1\" is not supported"),
        (deep_arrays, "nested more than 32 deep"),
        (deep_structs, "nested more than 32 deep"),
        (many_elements, "more than 100000 elements"),
        (long_name, "longer than 64"),
        ("<methodCall><methodName>a</methodName><params><param><value><int>2147483648</int></value></param></params></methodCall>".into(), "not a 32-bit integer"),
        ("<methodCall><methodName>a</methodName><params><param><value><i8>99999999999999999999</i8></value></param></params></methodCall>".into(), "not a 64-bit integer"),
        (format!("<methodCall><methodName>a</methodName><params><param><value><int>{}</int></value></param></params></methodCall>", "9".repeat(100_000)), "at most 64 are accepted"),
        ("<methodCall><methodName>a</methodName><params><param><value><double>1e400</double></value></param></params></methodCall>".into(), "not a finite number"),
        ("<methodCall><methodName>a</methodName><params><param><value><double>nan</double></value></param></params></methodCall>".into(), "not a finite number"),
        ("<methodCall><methodName>a</methodName><params><param><value><boolean>true</boolean></value></param></params></methodCall>".into(), "must be 0 or 1"),
        ("<methodCall><methodName>a</methodName><params><param><value><base64>!!!!</base64></value></param></params></methodCall>".into(), "does not hold base64"),
        ("<methodCall><methodName>a</methodName><params><param><value><blob>1</blob></value></param></params></methodCall>".into(), "<blob> is not an XML-RPC type"),
        ("<methodCall><methodName>a</methodName><params><param><value>x<int>1</int></value></param></params></methodCall>".into(), "text before <int>"),
        ("<methodCall><methodName>a</methodName><params><param><value><int>1</int></param></params></methodCall>".into(), "</param> closes <value>"),
        ("<methodCall><methodName>a</methodName>".into(), "ends inside <methodCall>"),
        ("<methodCall><methodName>a</methodName></methodCall><methodCall/>".into(), "a second root element"),
        ("<methodCall><methodName>a</methodName></methodCall>trailing".into(), "text outside the root element"),
        ("".into(), "no element"),
        ("   ".into(), "no element"),
        ("<methodResponse/>".into(), "expected <methodCall>"),
        ("<methodCall><methodName></methodName></methodCall>".into(), "the method name must be"),
        ("<methodCall><methodName>a b</methodName></methodCall>".into(), "the method name must be"),
        (format!("<methodCall><methodName>{}</methodName></methodCall>", "a".repeat(200)), "the method name must be"),
        ("<methodCall><methodName>a<b/></methodName></methodCall>".into(), "expected </methodName>, found <b>"),
        ("<methodCall><methodName><b/></methodName></methodCall>".into(), "expected text or </methodName>"),
        ("<methodCall><methodName>a</methodName><params><value/></params></methodCall>".into(), "expected <param> or </params>"),
        ("<methodCall><methodName>a</methodName><params><param></param></params></methodCall>".into(), "expected <value>"),
        ("<methodCall><methodName>a</methodName><params><param><value><struct><member><value/></member></struct></value></param></params></methodCall>".into(), "expected <name>"),
        ("<methodCall><methodName>a</methodName><params><param><value><array><value/></array></value></param></params></methodCall>".into(), "expected <data>"),
        ("<methodCall a=b><methodName>a</methodName></methodCall>".into(), "is not quoted"),
        ("<methodCall a><methodName>a</methodName></methodCall>".into(), "has no value"),
        ("<methodCall a=\"<\"><methodName>a</methodName></methodCall>".into(), "'<' in an attribute"),
        ("<methodCall><![CDATA[x</methodCall>".into(), "CDATA section is not closed"),
        ("<methodCall><!-- x </methodCall>".into(), "comment is not closed"),
        ("<methodCall><methodName>a]]>b</methodName></methodCall>".into(), "\"]]>\" outside a CDATA"),
        ("< methodCall/>".into(), "a tag without a valid name"),
    ];
    for (document, reason) in table {
        match call(&document) {
            Ok(parsed) => panic!("accepted {:.120}: {parsed:?}", document),
            Err(error) => assert!(
                error.message.contains(reason),
                "{:.120}: expected an error with {reason:?}, got {error}",
                document
            ),
        }
    }
}

#[test]
fn invalid_utf8_is_refused_with_its_line() {
    let error = parse_call(b"<methodCall>\n<methodName>\xff</methodName></methodCall>")
        .expect_err("not utf-8");
    assert_eq!(error.line, 2);
    assert!(error.message.contains("not UTF-8"), "{error}");
}

#[test]
fn errors_name_the_line() {
    let error = call("<methodCall>\n<methodName>a</methodName>\n<params>\n<param><value><int>x</int></value></param>\n</params>\n</methodCall>")
        .expect_err("bad int");
    assert_eq!(error.line, 4, "{error}");
}

#[test]
fn faults_must_have_their_two_members() {
    let broken = "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault></methodResponse>";
    let error = parse_response(broken.as_bytes()).expect_err("no faultString");
    assert!(
        error.message.contains("faultCode (int) and faultString"),
        "{error}"
    );
}

#[test]
fn base64_table() {
    let table: [(&[u8], &str); 6] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"user:secret token", "dXNlcjpzZWNyZXQgdG9rZW4="),
        (&[0xff, 0xfe, 0x00], "//4A"),
    ];
    for (bytes, text) in table {
        assert_eq!(base64_encode(bytes), text);
        assert_eq!(base64_decode(text).as_deref(), Some(bytes));
    }
    for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9v!", "=Zm9"] {
        assert_eq!(base64_decode(bad), None, "{bad}");
    }
}
