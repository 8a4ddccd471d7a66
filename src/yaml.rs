//! The one YAML loader: Ansible's YAML 1.1 meaning, with a file:line:col on every node.
//!
//! Built on `saphyr-parser` (a maintained YAML parser that reports a span for every event), not on
//! the archived `serde_yaml`, which reads `yes` as a string and `0644` as 644 and so breaks Ansible
//! playbooks. Scalars are resolved the way PyYAML (which Ansible uses) resolves them: `yes/no/on/off`
//! are booleans, `0644` is octal, `1_000` is an int, `~` is null. Duplicate keys are an error,
//! anchors, aliases and `<<` merge keys work, and the tags `!vault` and `!unsafe` are kept.
//!
//! Aliases are expanded into copies, so a document could ask for exponentially many nodes (the
//! "billion laughs" attack: nine levels of nine aliases each are 387 million strings). The loader
//! keeps a budget like PyYAML's and serde-saphyr's: all the aliases of one document may produce at
//! most [`MAX_ALIAS_NODES`] nodes and [`MAX_ALIAS_BYTES`] bytes of scalar text in total, far above
//! any real playbook; the alias that goes over is an error with its file:line:col.

use crate::error::{Error, ErrorKind, Location, Result};
use crate::value::{Value, VaultText};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a mapping with the same key twice does (Ansible's `DUPLICATE_YAML_DICT_KEY`):
/// prov's default is an error; `warn` and `ignore` keep the last value, as Python's dict does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// The load fails (prov's default).
    Error,
    /// A warning on stderr; the last value wins.
    Warn,
    /// The last value wins, silently.
    Ignore,
}

static DUPLICATE_KEYS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Sets what duplicate mapping keys do, for every load in this process (the CLI sets it from
/// `[defaults] duplicate_dict_key` / `ANSIBLE_DUPLICATE_YAML_DICT_KEY`).
pub fn set_duplicate_keys(mode: DuplicateKeys) {
    DUPLICATE_KEYS.store(mode as u8, std::sync::atomic::Ordering::Relaxed);
}

fn duplicate_keys() -> DuplicateKeys {
    match DUPLICATE_KEYS.load(std::sync::atomic::Ordering::Relaxed) {
        1 => DuplicateKeys::Warn,
        2 => DuplicateKeys::Ignore,
        _ => DuplicateKeys::Error,
    }
}

/// A YAML node with the place it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's value.
    pub value: NodeValue,
    /// Where the node starts.
    pub loc: Location,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// A YAML 1.1 boolean.
    Bool(bool),
    /// An integer (decimal, `0x`, `0b`, leading-zero octal).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A string tagged `!unsafe`: never templated.
    Unsafe(String),
    /// A string tagged `!vault`: ansible-vault ciphertext, decrypted only when used.
    Vault(String),
    /// Bytes (`!!binary`: base64 text), as PyYAML loads them.
    Binary(Vec<u8>),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The string if this is a (possibly unsafe) string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) | NodeValue::Unsafe(s) => Some(s),
            _ => None,
        }
    }
    /// The entries if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }
    /// The items if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }
    /// True for a null node.
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }
    /// Looks up a string key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
    /// A mapping key as Python's `repr` shows it (`'foo'`, `1`), for messages.
    fn key_repr(&self) -> String {
        match &self.value {
            NodeValue::Str(s) | NodeValue::Unsafe(s) | NodeValue::Vault(s) => {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
            NodeValue::Null => "None".into(),
            _ => self.scalar_text().unwrap_or_else(|| "(complex key)".into()),
        }
    }
    /// A short name of the node's type for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a float",
            NodeValue::Str(_) | NodeValue::Unsafe(_) | NodeValue::Vault(_) => "a string",
            NodeValue::Binary(_) => "bytes",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
    /// Renders a scalar as text (keys, free-form args); `None` for collections.
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.value {
            NodeValue::Null => String::new(),
            NodeValue::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            NodeValue::Int(i) => i.to_string(),
            NodeValue::Float(f) => f.to_string(),
            NodeValue::Str(s) | NodeValue::Unsafe(s) | NodeValue::Vault(s) => s.clone(),
            _ => return None,
        })
    }
    /// Marks every string inside this node (keys too) `!unsafe`, as a `!unsafe` tag on a list
    /// or mapping does in Ansible; other scalars keep their types.
    fn make_unsafe(&mut self) {
        match &mut self.value {
            NodeValue::Str(s) => self.value = NodeValue::Unsafe(std::mem::take(s)),
            NodeValue::Seq(items) => items.iter_mut().for_each(Node::make_unsafe),
            NodeValue::Map(entries) => {
                for (k, v) in entries {
                    k.make_unsafe();
                    v.make_unsafe();
                }
            }
            _ => {}
        }
    }
    /// Converts to a template [`Value`]. `!unsafe` strings become "safe" strings, which prov's
    /// templating treats as "never template"; `!vault` becomes a lazily decrypted [`VaultText`].
    pub fn to_value(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::from(()),
            NodeValue::Bool(b) => Value::from(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => Value::from(*f),
            NodeValue::Str(s) => Value::from(s.as_str()),
            NodeValue::Unsafe(s) => Value::from_safe_string(s.clone()),
            NodeValue::Vault(s) => Value::from_object(VaultText::new(s.clone())),
            NodeValue::Binary(b) => Value::from_bytes(b.clone()),
            NodeValue::Seq(items) => items.iter().map(Node::to_value).collect(),
            NodeValue::Map(entries) => {
                Value::from_iter(entries.iter().map(|(k, v)| (key_value(k), v.to_value())))
            }
        }
    }
    /// An error of kind Parse located at this node.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::parse(msg).at(&self.loc)
    }
}

fn key_value(k: &Node) -> Value {
    match &k.value {
        NodeValue::Str(s) | NodeValue::Unsafe(s) => Value::from(s.as_str()),
        _ => k.to_value(),
    }
}

/// The most nodes (scalars, lists, mappings) that the aliases of one document may produce in
/// total, counting every node of every copy.
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// The most bytes of scalar text that the aliases of one document may produce in total.
pub const MAX_ALIAS_BYTES: usize = 64 * 1024 * 1024;

/// How much a node (with everything inside it) weighs: its nodes and its scalar bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn add(&mut self, o: Size) {
        self.nodes = self.nodes.saturating_add(o.nodes);
        self.bytes = self.bytes.saturating_add(o.bytes);
    }
    fn since(self, before: Size) -> Size {
        Size {
            nodes: self.nodes - before.nodes,
            bytes: self.bytes - before.bytes,
        }
    }
}

/// Reads and parses a YAML file (one document; an empty file is null).
pub fn load_file(path: &Path) -> Result<Node> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    load_str(&text, path)
}

/// Parses YAML text that came from `path` (used in locations only).
///
/// One leniency of PyYAML, which Ansible uses, is kept: the lines of a flow collection may sit
/// left of the block it belongs to (`key: {` ... `}` in column 0), which strict YAML rejects.
/// Such a line is moved right until the text parses (each retry moves one line by one column;
/// inside a flow collection indentation means nothing); if that does not help, the first
/// error is reported as it was.
pub fn load_str(text: &str, path: &Path) -> Result<Node> {
    let first = match parse_str(text, path) {
        Ok(n) => return Ok(n),
        Err(e) => e,
    };
    let mut fixed = text.to_string();
    let mut err = first.clone();
    for _ in 0..256 {
        let Some(next) = shift_flow_closer(&fixed, &err) else {
            break;
        };
        fixed = next;
        match parse_str(&fixed, path) {
            Ok(n) => return Ok(n),
            Err(e) => err = e,
        }
    }
    Err(first)
}

/// When `err` is strict YAML's "invalid indentation" at the first token of its line, and that
/// token is a flow closer or inside a flow collection (where indentation means nothing), the
/// text with one more space before it.
fn shift_flow_closer(text: &str, err: &Error) -> Option<String> {
    let in_flow = err.msg.contains("invalid indentation in flow construct");
    if !in_flow && !err.msg.ends_with("invalid indentation") {
        return None;
    }
    let loc = err.loc.as_ref()?;
    let line = text.split_inclusive('\n').nth(loc.line.checked_sub(1)?)?;
    let lead = line.len() - line.trim_start_matches(' ').len();
    if loc.col != lead + 1 || !(in_flow || line[lead..].starts_with(['}', ']'])) {
        return None;
    }
    let start: usize = text
        .split_inclusive('\n')
        .take(loc.line - 1)
        .map(str::len)
        .sum();
    let mut out = String::with_capacity(text.len() + 1);
    out.push_str(&text[..start]);
    out.push(' ');
    out.push_str(&text[start..]);
    Some(out)
}

/// Parses every YAML document of `text` (`---`-separated), as PyYAML's `load_all`.
pub fn load_all_str(text: &str, path: &Path) -> Result<Vec<Node>> {
    let mut b = Builder {
        file: Arc::new(path.to_path_buf()),
        text,
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        depth: 0,
        built: Size::default(),
        aliased: Size::default(),
    };
    b.documents()
}

fn parse_str(text: &str, path: &Path) -> Result<Node> {
    let file = Arc::new(path.to_path_buf());
    let mut b = Builder {
        file: file.clone(),
        text,
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        depth: 0,
        built: Size::default(),
        aliased: Size::default(),
    };
    b.document()
}

struct Builder<'a> {
    file: Arc<PathBuf>,
    text: &'a str,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored nodes with their sizes, by anchor id.
    anchors: HashMap<usize, (Node, Size)>,
    depth: usize,
    /// Everything built so far (aliases count their whole copy); a node's size is the
    /// difference before and after it.
    built: Size,
    /// What aliases have produced so far, against [`MAX_ALIAS_NODES`] and [`MAX_ALIAS_BYTES`].
    aliased: Size,
}

impl<'a> Builder<'a> {
    fn loc(&self, span: &Span) -> Location {
        Location::new(self.file.clone(), span.start.line(), span.start.col() + 1)
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                let m = e.marker();
                Err(Error::new(ErrorKind::Yaml, format!("YAML syntax error: {}", e.info()))
                    .at(&Location::new(self.file.clone(), m.line(), m.col() + 1))
                    .hint("check indentation and quoting; a value starting with {{ must be quoted"))
            }
            None => Err(Error::new(ErrorKind::Yaml, "unexpected end of YAML")
                .at(&Location::file_only(self.file.as_ref()))),
        }
    }

    /// Every document of the stream (PyYAML's `load_all`).
    fn documents(&mut self) -> Result<Vec<Node>> {
        let mut docs = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    let (ev, span) = self.next()?;
                    docs.push(self.node(ev, span)?);
                }
                Event::StreamEnd => break,
                _ => {
                    return Err(
                        Error::new(ErrorKind::Yaml, "unexpected YAML event").at(&self.loc(&span))
                    );
                }
            }
        }
        Ok(docs)
    }

    fn document(&mut self) -> Result<Node> {
        let mut doc: Option<Node> = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    if doc.is_some() {
                        return Err(Error::new(
                            ErrorKind::Yaml,
                            "more than one YAML document in this file",
                        )
                        .at(&self.loc(&span))
                        .hint("remove the second `---` or split the file"));
                    }
                    let (ev, span) = self.next()?;
                    doc = Some(self.node(ev, span)?);
                }
                Event::StreamEnd => break,
                _ => {
                    return Err(
                        Error::new(ErrorKind::Yaml, "unexpected YAML event").at(&self.loc(&span))
                    );
                }
            }
        }
        Ok(doc.unwrap_or(Node {
            value: NodeValue::Null,
            loc: Location::new(self.file.clone(), 1, 1),
        }))
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        const MAX_DEPTH: usize = 256;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::Yaml,
                format!("YAML nests deeper than {MAX_DEPTH} levels"),
            )
            .at(&self.loc(&span)));
        }
        let r = self.node_inner(ev, span);
        self.depth -= 1;
        r
    }

    fn node_inner(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        let loc = self.loc(&span);
        let before = self.built;
        let (node, anchor) = match ev {
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(Error::new(ErrorKind::Yaml, "alias to an unknown anchor").at(&loc));
                };
                let size = *size;
                let mut aliased = self.aliased;
                aliased.add(size);
                if aliased.nodes > MAX_ALIAS_NODES || aliased.bytes > MAX_ALIAS_BYTES {
                    return Err(self.alias_budget_error(&span, &loc));
                }
                let mut n = node.clone();
                n.loc = loc;
                self.aliased = aliased;
                self.built.add(size);
                return Ok(n);
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.built.add(Size {
                    nodes: 1,
                    bytes: text.len(),
                });
                (self.scalar(&text, style, tag.as_deref(), &loc)?, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                let unsafe_tag = self.check_collection_tag(tag.as_deref(), "seq", &loc)?;
                self.built.add(Size { nodes: 1, bytes: 0 });
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                let mut node = Node {
                    value: NodeValue::Seq(items),
                    loc,
                };
                if unsafe_tag {
                    node.make_unsafe();
                }
                (node, anchor)
            }
            Event::MappingStart(anchor, tag) => {
                let unsafe_tag = self.check_collection_tag(tag.as_deref(), "map", &loc)?;
                self.built.add(Size { nodes: 1, bytes: 0 });
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let mut merged: Vec<(Node, Node)> = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge =
                        matches!(&ev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(ev, span)?;
                    let (ev, span) = self.next()?;
                    let val = self.node(ev, span)?;
                    if is_merge {
                        let sources: Vec<Node> = match val.value {
                            NodeValue::Map(_) => vec![val],
                            NodeValue::Seq(items) => items,
                            _ => {
                                return Err(Error::new(
                                    ErrorKind::Yaml,
                                    "a `<<` merge key needs a mapping or a list of mappings",
                                )
                                .at(&val.loc));
                            }
                        };
                        for s in sources {
                            match s.value {
                                NodeValue::Map(m) => {
                                    for (k, v) in m {
                                        if !merged.iter().any(|(mk, _)| mk.value == k.value) {
                                            merged.push((k, v));
                                        }
                                    }
                                }
                                _ => {
                                    return Err(Error::new(
                                        ErrorKind::Yaml,
                                        "a `<<` merge key needs mappings",
                                    )
                                    .at(&s.loc));
                                }
                            }
                        }
                        continue;
                    }
                    if let Some(at) = entries.iter().position(|(k, _)| k.value == key.value) {
                        let msg = format!("Found duplicate mapping key {}.", key.key_repr());
                        match duplicate_keys() {
                            DuplicateKeys::Error => {
                                return Err(Error::new(ErrorKind::Yaml, msg).at(&key.loc).hint(
                                    format!(
                                        "it was already set at line {}; remove one of them (or \
                                         set ANSIBLE_DUPLICATE_YAML_DICT_KEY=warn)",
                                        entries[at].0.loc.line
                                    ),
                                ));
                            }
                            DuplicateKeys::Warn => eprintln!(
                                "[WARNING]: {msg}\n  --> {}\nUsing last defined value only.",
                                key.loc
                            ),
                            DuplicateKeys::Ignore => {}
                        }
                        // as a Python dict: the first key's place, the last value
                        entries[at].1 = val;
                        continue;
                    }
                    entries.push((key, val));
                }
                for (k, v) in merged {
                    if !entries.iter().any(|(ek, _)| ek.value == k.value) {
                        entries.push((k, v));
                    }
                }
                let mut node = Node {
                    value: NodeValue::Map(entries),
                    loc,
                };
                if unsafe_tag {
                    node.make_unsafe();
                }
                (node, anchor)
            }
            _ => {
                return Err(Error::new(ErrorKind::Yaml, "unexpected YAML structure").at(&loc));
            }
        };
        if anchor > 0 {
            let size = self.built.since(before);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }

    /// The error for the alias at `span` that would take the aliases past their budget.
    fn alias_budget_error(&self, span: &Span, loc: &Location) -> Error {
        let name: String = self
            .text
            .chars()
            .skip(span.start.index())
            .take(span.end.index().saturating_sub(span.start.index()))
            .collect();
        let name = name.trim();
        let name = if name.starts_with('*') && name.len() > 1 {
            format!("alias `{name}`")
        } else {
            "an alias".to_string()
        };
        Error::new(
            ErrorKind::Yaml,
            format!(
                "{name} takes the copies made by aliases past {MAX_ALIAS_NODES} nodes or {} MiB of text (an alias bomb?)",
                MAX_ALIAS_BYTES / (1024 * 1024)
            ),
        )
        .at(loc)
        .hint("each alias is a full copy of its anchored node, so nested aliases multiply; nest fewer aliases or write the data out")
    }

    /// Checks a collection's tag; `true` for `!unsafe` (every string inside is unsafe).
    fn check_collection_tag(&self, tag: Option<&Tag>, want: &str, loc: &Location) -> Result<bool> {
        match tag {
            None => Ok(false),
            Some(t) if t.handle == "!" && t.suffix == "unsafe" => Ok(true),
            Some(t) if t.is_yaml_core_schema() && t.suffix == want => Ok(false),
            Some(t) => {
                Err(Error::new(ErrorKind::Yaml, format!("unsupported YAML tag `{t}` here")).at(loc))
            }
        }
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        loc: &Location,
    ) -> Result<Node> {
        let value = match tag {
            Some(t) if t.handle == "!" && t.suffix == "vault" => NodeValue::Vault(text.to_string()),
            Some(t) if t.handle == "!" && t.suffix == "unsafe" => {
                NodeValue::Unsafe(text.to_string())
            }
            Some(t) if t.is_yaml_core_schema() => match t.suffix.as_str() {
                "str" => NodeValue::Str(text.to_string()),
                "int" => match resolve_plain(text) {
                    NodeValue::Int(i) => NodeValue::Int(i),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Yaml,
                            format!("`{text}` is not an integer"),
                        )
                        .at(loc));
                    }
                },
                "float" => match resolve_plain(text) {
                    NodeValue::Float(f) => NodeValue::Float(f),
                    NodeValue::Int(i) => NodeValue::Float(i as f64),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Yaml,
                            format!("`{text}` is not a float"),
                        )
                        .at(loc));
                    }
                },
                "bool" => match resolve_plain(text) {
                    NodeValue::Bool(b) => NodeValue::Bool(b),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Yaml,
                            format!("`{text}` is not a boolean"),
                        )
                        .at(loc));
                    }
                },
                "null" => NodeValue::Null,
                "binary" => {
                    use base64::Engine as _;
                    let b64: String = text.split_whitespace().collect();
                    match base64::engine::general_purpose::STANDARD.decode(b64) {
                        Ok(b) => NodeValue::Binary(b),
                        Err(e) => {
                            return Err(Error::new(
                                ErrorKind::Yaml,
                                format!("`!!binary` value is not base64: {e}"),
                            )
                            .at(loc));
                        }
                    }
                }
                _ => {
                    return Err(
                        Error::new(ErrorKind::Yaml, format!("unsupported YAML tag `{t}`")).at(loc),
                    );
                }
            },
            Some(t) => {
                return Err(Error::new(ErrorKind::Yaml, format!("unsupported YAML tag `{t}`"))
                    .at(loc)
                    .hint("prov understands !vault, !unsafe and the standard !!str/!!int/!!float/!!bool/!!null/!!binary"));
            }
            None if style == ScalarStyle::Plain => resolve_plain(text),
            None => NodeValue::Str(text.to_string()),
        };
        Ok(Node {
            value,
            loc: loc.clone(),
        })
    }
}

/// Resolves an untagged plain scalar the way PyYAML's YAML 1.1 resolver does.
pub fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeValue::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeValue::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return NodeValue::Int(i);
    }
    if let Some(f) = parse_float(text) {
        return NodeValue::Float(f);
    }
    NodeValue::Str(text.to_string())
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.starts_with('_') {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let v = if let Some(h) = clean.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = clean.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = clean.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        if !clean.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
            return None;
        }
        i64::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.contains(':') {
        // sexagesimal (base 60), e.g. 1:30 == 90
        let mut acc: i64 = 0;
        for (i, part) in clean.split(':').enumerate() {
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let n: i64 = part.parse().ok()?;
            if i > 0 && n >= 60 {
                return None;
            }
            if i == 0 && part.starts_with('0') {
                return None;
            }
            acc = acc.checked_mul(60)?.checked_add(n)?;
        }
        acc
    } else {
        if !clean.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        clean.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_float(text: &str) -> Option<f64> {
    // PyYAML: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)? — a dot is required.
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !body.contains('.') || body == "." {
        return None;
    }
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mant.split_once('.')?;
    let ok_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    if !ok_digits(int) || !ok_digits(frac) || int.starts_with('_') {
        return None;
    }
    if let Some(e) = exp {
        let digits = e.strip_prefix(['-', '+'])?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    clean.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(t: &str) -> Result<Node> {
        load_str(t, Path::new("t.yml"))
    }

    #[test]
    fn flow_closers_left_of_their_block_parse_like_pyyaml() {
        // PyYAML (and so Ansible) reads these; strict YAML rejects the column-0 closers.
        let n = load("a: {\n  \"x\": [1,\n2\n]\n}\nb: 2\n").unwrap();
        let x = n.get("a").unwrap().get("x").unwrap();
        assert_eq!(x.as_seq().unwrap().len(), 2);
        assert_eq!(n.get("b").unwrap().value, NodeValue::Int(2));
        // Locations of the other nodes are unchanged.
        assert_eq!(n.get("b").unwrap().loc.line, 6);
        // A real indentation error still reports itself where it is.
        let e = load("a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(e.loc.as_ref().unwrap().line, 3, "{e}");
    }

    #[test]
    fn yaml11_scalars_like_pyyaml() {
        let n = load("a: yes\nb: no\nc: 0644\nd: '0644'\ne: 1_000\nf: 0x1F\ng: 1.5\nh: ~\ni: On\nj: 1e3\nk: 08\nl: 1:30\n").unwrap();
        let v = |k: &str| n.get(k).unwrap().value.clone();
        assert_eq!(v("a"), NodeValue::Bool(true));
        assert_eq!(v("b"), NodeValue::Bool(false));
        assert_eq!(v("c"), NodeValue::Int(420));
        assert_eq!(v("d"), NodeValue::Str("0644".into()));
        assert_eq!(v("e"), NodeValue::Int(1000));
        assert_eq!(v("f"), NodeValue::Int(31));
        assert_eq!(v("g"), NodeValue::Float(1.5));
        assert_eq!(v("h"), NodeValue::Null);
        assert_eq!(v("i"), NodeValue::Bool(true));
        assert_eq!(v("j"), NodeValue::Str("1e3".into()));
        assert_eq!(v("k"), NodeValue::Str("08".into()));
        assert_eq!(v("l"), NodeValue::Int(90));
    }

    #[test]
    fn spans_are_one_based() {
        let n = load("- hosts: all\n  tasks:\n    - debug: msg=hi\n").unwrap();
        let task = &n.as_seq().unwrap()[0]
            .get("tasks")
            .unwrap()
            .as_seq()
            .unwrap()[0];
        assert_eq!((task.loc.line, task.loc.col), (3, 7));
        let (k, _) = &task.as_map().unwrap()[0];
        assert_eq!((k.loc.line, k.loc.col), (3, 7));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_location() {
        let e = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Yaml);
        assert_eq!(e.loc.as_ref().unwrap().line, 3);
        assert!(
            e.msg.contains("Found duplicate mapping key 'a'."),
            "{}",
            e.msg
        );
    }

    #[test]
    fn syntax_errors_have_location() {
        let e = load("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Yaml);
        assert!(e.loc.is_some());
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n").unwrap();
        let o = n.get("other").unwrap();
        assert_eq!(o.get("x").unwrap().value, NodeValue::Int(1));
        assert_eq!(o.get("y").unwrap().value, NodeValue::Int(3));
        assert_eq!(n.get("list").unwrap().as_seq().unwrap().len(), 1);
    }

    #[test]
    fn vault_and_unsafe_tags() {
        let n = load("p: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nu: !unsafe '{{ x }}'\n")
            .unwrap();
        assert!(matches!(n.get("p").unwrap().value, NodeValue::Vault(_)));
        assert_eq!(
            n.get("u").unwrap().value,
            NodeValue::Unsafe("{{ x }}".into())
        );
        assert!(n.get("u").unwrap().to_value().is_safe());
        let e = load("x: !custom 1\n").unwrap_err();
        assert!(e.msg.contains("unsupported YAML tag"));
        // `!!binary`: base64 text (lines joined) loads as bytes, as PyYAML loads it.
        let n = load("b: !!binary |\n  aGVs\n  bG8=\n").unwrap();
        assert_eq!(
            n.get("b").unwrap().value,
            NodeValue::Binary(b"hello".to_vec())
        );
        assert_eq!(
            n.get("b").unwrap().to_value().as_bytes(),
            Some(&b"hello"[..])
        );
        assert!(load("b: !!binary '%%'\n").is_err());
    }

    #[test]
    fn unsafe_tag_on_a_list_or_mapping_marks_every_string_inside() {
        let n =
            load("l: !unsafe ['{{ a }}', [b], 3]\nm: !unsafe\n  k: '{{ b }}'\n  n: 1\n").unwrap();
        let l = n.get("l").unwrap().as_seq().unwrap();
        assert_eq!(l[0].value, NodeValue::Unsafe("{{ a }}".into()));
        assert_eq!(
            l[1].as_seq().unwrap()[0].value,
            NodeValue::Unsafe("b".into())
        );
        assert_eq!(l[2].value, NodeValue::Int(3));
        let m = n.get("m").unwrap();
        assert_eq!(
            m.get("k").unwrap().value,
            NodeValue::Unsafe("{{ b }}".into())
        );
        assert_eq!(m.get("n").unwrap().value, NodeValue::Int(1));
        assert!(m.to_value().get_attr("k").unwrap().is_safe());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for n in [300, 5000] {
            let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
            let e = load(&deep).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Yaml, "{}", e.msg);
            assert!(e.loc.is_some());
        }
    }

    /// A "billion laughs" document: `levels` anchors, each a list of nine aliases of the last.
    fn alias_bomb(levels: usize) -> String {
        let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..=levels {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        s
    }

    #[test]
    fn alias_bomb_is_an_error_at_the_alias_not_an_allocation() {
        let started = std::time::Instant::now();
        let e = load(&alias_bomb(9)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Yaml);
        assert!(e.msg.contains("alias bomb"), "{}", e.msg);
        assert!(e.msg.contains("`*a"), "{}", e.msg);
        assert!(e.hint.is_some());
        // a1..a5 copy ~672k nodes; the first `*a5` of a6 (line 7) would add ~598k more.
        let loc = e.loc.as_ref().unwrap();
        assert_eq!(loc.line, 7, "{}", e.render());
        assert!(loc.col > 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        // A big scalar copied many times runs out of the text budget instead.
        let big = "x".repeat(1 << 20);
        let doc = format!("a: &a {big}\nl: [{}]\n", vec!["*a"; 100].join(", "));
        let e = load(&doc).unwrap_err();
        assert!(e.msg.contains("MiB of text"), "{}", e.msg);
    }

    #[test]
    fn aliases_within_the_budget_load() {
        let n = load(&alias_bomb(4)).unwrap();
        let a4 = n.get("a4").unwrap();
        let mut count = 0;
        fn leaves(n: &Node, c: &mut usize) {
            match &n.value {
                NodeValue::Seq(s) => s.iter().for_each(|x| leaves(x, c)),
                _ => *c += 1,
            }
        }
        leaves(a4, &mut count);
        assert_eq!(count, 9usize.pow(5));
        // Each copy is located at its alias.
        let first = &n.get("a1").unwrap().as_seq().unwrap()[0];
        assert_eq!((first.loc.line, first.loc.col), (2, 10));
    }

    #[test]
    fn empty_file_is_null() {
        assert!(load("").unwrap().is_null());
        assert!(load("# only a comment\n").unwrap().is_null());
    }
}
