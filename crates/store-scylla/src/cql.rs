//! A small parser for the subset of CQL that Switchboard writes, and a checker that
//! resolves statements against a parsed schema.
//!
//! This module owns two jobs: splitting `schema/*.cql` files into statements (so the
//! migrator sends them one by one, whatever comments or string literals they hold), and
//! the schema cross-check: every statement the ScyllaDB store prepares is parsed and its
//! table and every column it names are looked up in the tables that `schema/*.cql`
//! creates, with the primary-key rules ScyllaDB enforces (full partition key in `WHERE`,
//! `ORDER BY` on clustering columns only, counters only incremented, ...). It is pure: no
//! I/O, no driver types, no panics on any input.
//!
//! Supported: `CREATE KEYSPACE | TABLE | TYPE | INDEX [IF NOT EXISTS]`, `INSERT ... [IF
//! NOT EXISTS] [USING TTL t [AND TIMESTAMP t]]`, `UPDATE ... [USING ...] SET ... WHERE ...
//! [IF EXISTS | IF cond]`, `DELETE [cols] FROM ... [USING TIMESTAMP t] WHERE ... [IF ...]`,
//! `SELECT cols | * | f(col) FROM ... [WHERE ...] [ORDER BY ...] [LIMIT n] [ALLOW
//! FILTERING]`. Anything else is a parse error, which is what a test wants.

use std::collections::BTreeMap;

/// A parse or check failure, with a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CqlError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, CqlError> {
    Err(CqlError(msg.into()))
}

// ---------------------------------------------------------------------------------------
// Tokens.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// Identifier or keyword; unquoted ones are lowercased (CQL folds them).
    Ident(String),
    /// A `"quoted"` identifier, case kept.
    Quoted(String),
    Str(String),
    Num(String),
    /// Punctuation and operators: `( ) , ; . = < > <= >= != ? * { } [ ] : + -`.
    Sym(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

const SYMS: [&str; 21] = [
    "<=", ">=", "!=", "(", ")", ",", ";", ".", "=", "<", ">", "?", "*", "{", "}", "[", "]", ":",
    "+", "-", "/",
];

fn tokenize(src: &str) -> Result<Vec<Token>, CqlError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if src[i..].starts_with("--") || src[i..].starts_with("//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if src[i..].starts_with("/*") {
            match src[i + 2..].find("*/") {
                Some(n) => i += n + 4,
                None => return err("unterminated /* comment"),
            }
        } else if c == b'\'' || c == b'"' {
            let quote = c;
            let start = i;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(rest) = src.get(i..) else {
                    return err("unterminated literal");
                };
                let Some(ch) = rest.chars().next() else {
                    return err("unterminated literal");
                };
                if ch as u32 == u32::from(quote) {
                    // A doubled quote is an escaped quote.
                    if b.get(i + 1) == Some(&quote) {
                        s.push(ch);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(ch);
                i += ch.len_utf8();
            }
            let tok = if quote == b'\'' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            };
            out.push(Token { tok, start, end: i });
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'[' && ident_bracket(src, i) {
            let start = i;
            if c == b'[' {
                // `[applied]`-style names only appear in results; accept them as idents.
                i += src[i..].find(']').map_or(1, |n| n + 1);
            } else {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
            out.push(Token {
                tok: Tok::Ident(src[start..i].to_ascii_lowercase()),
                start,
                end: i,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Num(src[start..i].to_owned()),
                start,
                end: i,
            });
        } else if let Some(sym) = SYMS.iter().find(|s| src[i..].starts_with(**s)) {
            out.push(Token {
                tok: Tok::Sym(sym),
                start: i,
                end: i + sym.len(),
            });
            i += sym.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return err(format!("unexpected character {ch:?} at byte {i}"));
        }
    }
    Ok(out)
}

fn ident_bracket(src: &str, i: usize) -> bool {
    src[i..].starts_with("[applied]")
}

/// Splits CQL text into statements (without the trailing `;`), skipping comments and
/// keeping string literals intact. Text after the last `;` must be empty or comments.
pub fn split_statements(src: &str) -> Result<Vec<String>, CqlError> {
    let toks = tokenize(src)?;
    let mut out = Vec::new();
    let mut first: Option<usize> = None;
    let mut last_end = 0;
    for t in &toks {
        if t.tok == Tok::Sym(";") {
            if let Some(start) = first.take() {
                out.push(src[start..last_end].to_owned());
            }
        } else {
            first.get_or_insert(t.start);
            last_end = t.end;
        }
    }
    if first.is_some() {
        return err("statement without a terminating ';' at the end of the file");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Syntax tree.

/// `keyspace.name` (keyspace `None` if unqualified).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QName {
    pub keyspace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.keyspace {
            Some(k) => write!(f, "{k}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as written, lowercased, without spaces, e.g. `frozen<list<text>>`.
    pub ty: String,
}

impl Column {
    pub fn is_counter(&self) -> bool {
        self.ty == "counter"
    }
    /// A non-frozen collection (may be appended to with `c = c + ?`).
    pub fn is_mutable_collection(&self) -> bool {
        ["list<", "set<", "map<"]
            .iter()
            .any(|p| self.ty.starts_with(p))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: QName,
    pub columns: Vec<Column>,
    pub partition_key: Vec<String>,
    pub clustering: Vec<(String, Order)>,
    /// `WITH` options other than `CLUSTERING ORDER BY`, as written.
    pub options: BTreeMap<String, String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn is_primary_key(&self, name: &str) -> bool {
        self.partition_key.iter().any(|c| c == name)
            || self.clustering.iter().any(|(c, _)| c == name)
    }
    pub fn is_counter_table(&self) -> bool {
        self.columns.iter().any(Column::is_counter)
    }
    /// `default_time_to_live`, seconds, if set and non-zero.
    pub fn default_ttl(&self) -> Option<i64> {
        self.options
            .get("default_time_to_live")
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0)
    }
}

/// A restriction in `WHERE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub column: String,
    /// `=`, `<`, `<=`, `>`, `>=`, `in`, `contains`.
    pub op: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    None,
    IfNotExists,
    IfExists,
    /// `IF col = ? AND ...`: the columns compared.
    Columns(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// `col = term`
    Set(String),
    /// `col = col + term` / `col = col - term`
    Add(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Star,
    Column(String),
    /// `count(*)`, `writetime(col)`, `ttl(col)`...: the column inside, if any.
    Function(String, Option<String>),
}

/// `USING TTL ... AND TIMESTAMP ...`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Using {
    pub ttl: bool,
    pub timestamp: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    CreateKeyspace {
        name: String,
        replication: BTreeMap<String, String>,
    },
    CreateTable(Table),
    CreateType {
        name: QName,
        fields: Vec<Column>,
    },
    CreateIndex {
        table: QName,
        column: String,
    },
    /// `ALTER TABLE t WITH ...`: table options.
    AlterTableOptions {
        table: QName,
        options: BTreeMap<String, String>,
    },
    /// `ALTER TABLE t ADD c type`: one new regular column (columns are never changed
    /// or dropped in place).
    AlterTableAdd {
        table: QName,
        column: Column,
    },
    Insert {
        table: QName,
        columns: Vec<String>,
        values: usize,
        condition: Condition,
        using: Using,
    },
    Update {
        table: QName,
        using: Using,
        set: Vec<Assignment>,
        r#where: Vec<Relation>,
        condition: Condition,
    },
    Delete {
        table: QName,
        columns: Vec<String>,
        using: Using,
        r#where: Vec<Relation>,
        condition: Condition,
    },
    Select {
        table: QName,
        selectors: Vec<Selector>,
        r#where: Vec<Relation>,
        order_by: Vec<(String, Order)>,
        limit: bool,
        allow_filtering: bool,
    },
}

// ---------------------------------------------------------------------------------------
// Parser.

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn next(&mut self) -> Result<Tok, CqlError> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t.ok_or_else(|| CqlError("unexpected end of statement".into()))
    }
    fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn kw(&mut self, kw: &str) -> Result<(), CqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            err(format!(
                "expected {}, found {}",
                kw.to_uppercase(),
                self.found()
            ))
        }
    }
    fn at_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(x)) if *x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.at_sym(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn sym(&mut self, s: &str) -> Result<(), CqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            err(format!("expected '{s}', found {}", self.found()))
        }
    }
    fn found(&self) -> String {
        match self.peek() {
            None => "end of statement".into(),
            Some(Tok::Ident(s) | Tok::Num(s)) => format!("'{s}'"),
            Some(Tok::Quoted(s)) => format!("\"{s}\""),
            Some(Tok::Str(s)) => format!("string '{s}'"),
            Some(Tok::Sym(s)) => format!("'{s}'"),
        }
    }
    fn ident(&mut self) -> Result<String, CqlError> {
        match self.next()? {
            Tok::Ident(s) | Tok::Quoted(s) => Ok(s),
            _ => {
                self.pos -= 1;
                err(format!("expected a name, found {}", self.found()))
            }
        }
    }
    fn qname(&mut self) -> Result<QName, CqlError> {
        let first = self.ident()?;
        if self.eat_sym(".") {
            Ok(QName {
                keyspace: Some(first),
                name: self.ident()?,
            })
        } else {
            Ok(QName {
                keyspace: None,
                name: first,
            })
        }
    }
    fn if_not_exists(&mut self) -> Result<bool, CqlError> {
        if self.eat_kw("if") {
            self.kw("not")?;
            self.kw("exists")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }
    fn end(&mut self) -> Result<(), CqlError> {
        self.eat_sym(";");
        match self.peek() {
            None => Ok(()),
            Some(_) => err(format!("unexpected {} after the statement", self.found())),
        }
    }

    /// A type: `name` or `name<type, ...>`, returned normalised.
    fn ty(&mut self) -> Result<String, CqlError> {
        let mut s = self.ident()?;
        if self.eat_sym("<") {
            s.push('<');
            loop {
                s.push_str(&self.ty()?);
                if self.eat_sym(",") {
                    s.push(',');
                } else {
                    break;
                }
            }
            self.sym(">")?;
            s.push('>');
        }
        Ok(s)
    }

    /// A literal or bind marker (skipped; only its shape is checked).
    fn term(&mut self) -> Result<(), CqlError> {
        match self.next()? {
            Tok::Sym("?") | Tok::Str(_) | Tok::Num(_) => Ok(()),
            Tok::Sym("-") => match self.next()? {
                Tok::Num(_) => Ok(()),
                _ => err("expected a number after '-'"),
            },
            Tok::Ident(s) if matches!(s.as_str(), "true" | "false" | "null") => Ok(()),
            // A function call such as `now()` or `totimestamp(now())`.
            Tok::Ident(_) if self.at_sym("(") => {
                self.sym("(")?;
                if !self.eat_sym(")") {
                    loop {
                        self.term()?;
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.sym(")")?;
                }
                Ok(())
            }
            Tok::Sym("{") => {
                // Map or set literal.
                if !self.eat_sym("}") {
                    loop {
                        self.term()?;
                        if self.eat_sym(":") {
                            self.term()?;
                        }
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.sym("}")?;
                }
                Ok(())
            }
            Tok::Sym("[") | Tok::Sym("(") => {
                let close = if self.toks[self.pos - 1].tok == Tok::Sym("[") {
                    "]"
                } else {
                    ")"
                };
                if !self.eat_sym(close) {
                    loop {
                        self.term()?;
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.sym(close)?;
                }
                Ok(())
            }
            _ => {
                self.pos -= 1;
                err(format!("expected a value, found {}", self.found()))
            }
        }
    }

    /// `key = value AND ...` of a `WITH` clause; map values are kept as written.
    fn options(&mut self) -> Result<BTreeMap<String, String>, CqlError> {
        let mut out = BTreeMap::new();
        loop {
            if self.at_kw("clustering") {
                // `... AND CLUSTERING ORDER BY (...)`: the caller parses it.
                return Ok(out);
            }
            let key = self.ident()?;
            self.sym("=")?;
            let start = self.pos;
            self.term()?;
            let value = match &self.toks[start].tok {
                Tok::Str(s) | Tok::Num(s) | Tok::Ident(s) => s.clone(),
                _ => self.toks[start..self.pos]
                    .iter()
                    .map(tok_text)
                    .collect::<Vec<_>>()
                    .join(""),
            };
            out.insert(key, value);
            if !self.eat_kw("and") {
                return Ok(out);
            }
        }
    }

    /// `col op term [AND ...]`
    fn relations(&mut self) -> Result<Vec<Relation>, CqlError> {
        let mut out = Vec::new();
        loop {
            let column = self.ident()?;
            let op = match self.next()? {
                Tok::Sym(s @ ("=" | "<" | "<=" | ">" | ">=" | "!=")) => s.to_owned(),
                Tok::Ident(s) if s == "in" || s == "contains" => {
                    self.eat_kw("key");
                    s
                }
                _ => {
                    self.pos -= 1;
                    return err(format!("expected an operator, found {}", self.found()));
                }
            };
            self.term()?;
            out.push(Relation { column, op });
            if !self.eat_kw("and") {
                return Ok(out);
            }
        }
    }

    fn using(&mut self) -> Result<Using, CqlError> {
        let mut u = Using::default();
        if self.eat_kw("using") {
            loop {
                if self.eat_kw("ttl") {
                    u.ttl = true;
                } else if self.eat_kw("timestamp") {
                    u.timestamp = true;
                } else if self.eat_kw("timeout") {
                    // ScyllaDB's USING TIMEOUT 5s
                } else {
                    return err(format!("expected TTL or TIMESTAMP, found {}", self.found()));
                }
                self.term()?;
                if !self.eat_kw("and") {
                    break;
                }
            }
        }
        Ok(u)
    }

    fn condition(&mut self) -> Result<Condition, CqlError> {
        if !self.eat_kw("if") {
            return Ok(Condition::None);
        }
        if self.eat_kw("exists") {
            return Ok(Condition::IfExists);
        }
        if self.eat_kw("not") {
            self.kw("exists")?;
            return Ok(Condition::IfNotExists);
        }
        let rel = self.relations()?;
        Ok(Condition::Columns(
            rel.into_iter().map(|r| r.column).collect(),
        ))
    }

    fn statement(&mut self) -> Result<Statement, CqlError> {
        let s = if self.eat_kw("create") {
            self.create()?
        } else if self.eat_kw("alter") {
            self.alter()?
        } else if self.eat_kw("insert") {
            self.insert()?
        } else if self.eat_kw("update") {
            self.update()?
        } else if self.eat_kw("delete") {
            self.delete()?
        } else if self.eat_kw("select") {
            self.select()?
        } else {
            return err(format!(
                "unsupported statement starting with {}",
                self.found()
            ));
        };
        self.end()?;
        Ok(s)
    }

    /// `ALTER TABLE ks.t WITH key = value [AND ...]` or `ALTER TABLE ks.t ADD c type`.
    fn alter(&mut self) -> Result<Statement, CqlError> {
        self.kw("table")?;
        let table = self.qname()?;
        if self.eat_kw("add") {
            let name = self.ident()?;
            let ty = self.ty()?;
            return Ok(Statement::AlterTableAdd {
                table,
                column: Column { name, ty },
            });
        }
        self.kw("with")?;
        let options = self.options()?;
        Ok(Statement::AlterTableOptions { table, options })
    }

    fn create(&mut self) -> Result<Statement, CqlError> {
        if self.eat_kw("keyspace") {
            self.if_not_exists()?;
            let name = self.ident()?;
            self.kw("with")?;
            let mut replication = BTreeMap::new();
            let opts_start = self.pos;
            let opts = self.options()?;
            if !opts.contains_key("replication") {
                return err(format!("keyspace {name} has no replication option"));
            }
            // Re-read the replication map entry by entry.
            let mut p = Parser {
                toks: self.toks[opts_start..self.pos].to_vec(),
                pos: 0,
            };
            while p.pos < p.toks.len() {
                if p.eat_kw("replication") {
                    p.sym("=")?;
                    p.sym("{")?;
                    loop {
                        let k = match p.next()? {
                            Tok::Str(s) => s,
                            _ => return err("replication keys must be strings"),
                        };
                        p.sym(":")?;
                        let v = match p.next()? {
                            Tok::Str(s) | Tok::Num(s) => s,
                            _ => return err("replication values must be strings or numbers"),
                        };
                        replication.insert(k, v);
                        if !p.eat_sym(",") {
                            break;
                        }
                    }
                    p.sym("}")?;
                } else {
                    p.pos += 1;
                }
            }
            return Ok(Statement::CreateKeyspace { name, replication });
        }
        if self.eat_kw("type") {
            self.if_not_exists()?;
            let name = self.qname()?;
            self.sym("(")?;
            let mut fields = Vec::new();
            loop {
                let name = self.ident()?;
                let ty = self.ty()?;
                fields.push(Column { name, ty });
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.sym(")")?;
            return Ok(Statement::CreateType { name, fields });
        }
        if self.eat_kw("index") {
            self.if_not_exists()?;
            if !self.at_kw("on") {
                self.ident()?;
            }
            self.kw("on")?;
            let table = self.qname()?;
            self.sym("(")?;
            let column = self.ident()?;
            self.sym(")")?;
            return Ok(Statement::CreateIndex { table, column });
        }
        self.kw("table")?;
        self.if_not_exists()?;
        let name = self.qname()?;
        self.sym("(")?;
        let mut columns = Vec::new();
        let mut pk: Option<(Vec<String>, Vec<String>)> = None;
        loop {
            if self.eat_kw("primary") {
                self.kw("key")?;
                self.sym("(")?;
                let partition = if self.eat_sym("(") {
                    let mut cols = vec![self.ident()?];
                    while self.eat_sym(",") {
                        cols.push(self.ident()?);
                    }
                    self.sym(")")?;
                    cols
                } else {
                    vec![self.ident()?]
                };
                let mut clustering = Vec::new();
                while self.eat_sym(",") {
                    clustering.push(self.ident()?);
                }
                self.sym(")")?;
                if pk.replace((partition, clustering)).is_some() {
                    return err(format!("table {name}: two PRIMARY KEY clauses"));
                }
            } else {
                let cname = self.ident()?;
                let ty = self.ty()?;
                if self.eat_kw("static") {
                    // static columns are ordinary columns for the checker
                }
                if self.eat_kw("primary") {
                    self.kw("key")?;
                    if pk.replace((vec![cname.clone()], vec![])).is_some() {
                        return err(format!("table {name}: two PRIMARY KEY clauses"));
                    }
                }
                if columns.iter().any(|c: &Column| c.name == cname) {
                    return err(format!("table {name}: column {cname} defined twice"));
                }
                columns.push(Column { name: cname, ty });
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.sym(")")?;
        let Some((partition_key, clustering_cols)) = pk else {
            return err(format!("table {name} has no PRIMARY KEY"));
        };
        let mut clustering: Vec<(String, Order)> = clustering_cols
            .into_iter()
            .map(|c| (c, Order::Asc))
            .collect();
        let mut options = BTreeMap::new();
        if self.eat_kw("with") {
            loop {
                if self.eat_kw("clustering") {
                    self.kw("order")?;
                    self.kw("by")?;
                    self.sym("(")?;
                    let mut i = 0;
                    loop {
                        let col = self.ident()?;
                        let order = if self.eat_kw("desc") {
                            Order::Desc
                        } else {
                            self.eat_kw("asc");
                            Order::Asc
                        };
                        match clustering.get_mut(i) {
                            Some((c, o)) if *c == col => *o = order,
                            _ => {
                                return err(format!(
                                    "table {name}: CLUSTERING ORDER BY must list the clustering \
                                     columns in key order; {col} is not clustering column {}",
                                    i + 1
                                ))
                            }
                        }
                        i += 1;
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.sym(")")?;
                    if !self.eat_kw("and") {
                        break;
                    }
                } else {
                    options.extend(self.options()?);
                    // `options` consumed a trailing AND-list; a CLUSTERING ORDER may follow.
                    if self.toks[self.pos - 1].tok == Tok::Ident("and".into()) {
                        continue;
                    }
                    break;
                }
            }
        }
        let table = Table {
            name,
            columns,
            partition_key,
            clustering,
            options,
        };
        for key in table
            .partition_key
            .iter()
            .chain(table.clustering.iter().map(|(c, _)| c))
        {
            match table.column(key) {
                None => {
                    return err(format!(
                        "table {}: key column {key} is not defined",
                        table.name
                    ))
                }
                Some(c) if c.is_counter() || c.is_mutable_collection() => {
                    return err(format!(
                        "table {}: key column {key} cannot be of type {}",
                        table.name, c.ty
                    ))
                }
                Some(_) => {}
            }
        }
        if table.is_counter_table()
            && table
                .columns
                .iter()
                .any(|c| !c.is_counter() && !table.is_primary_key(&c.name))
        {
            return err(format!(
                "table {}: a counter table may hold only counters besides its key",
                table.name
            ));
        }
        Ok(Statement::CreateTable(table))
    }

    fn insert(&mut self) -> Result<Statement, CqlError> {
        self.kw("into")?;
        let table = self.qname()?;
        self.sym("(")?;
        let mut columns = vec![self.ident()?];
        while self.eat_sym(",") {
            columns.push(self.ident()?);
        }
        self.sym(")")?;
        self.kw("values")?;
        self.sym("(")?;
        let mut values = 0;
        loop {
            self.term()?;
            values += 1;
            if !self.eat_sym(",") {
                break;
            }
        }
        self.sym(")")?;
        let condition = if self.if_not_exists()? {
            Condition::IfNotExists
        } else {
            Condition::None
        };
        let using = self.using()?;
        Ok(Statement::Insert {
            table,
            columns,
            values,
            condition,
            using,
        })
    }

    fn update(&mut self) -> Result<Statement, CqlError> {
        let table = self.qname()?;
        let using = self.using()?;
        self.kw("set")?;
        let mut set = Vec::new();
        loop {
            let col = self.ident()?;
            self.sym("=")?;
            // `col = col + term` / `col = col - term` / `col = term + col`
            let save = self.pos;
            if matches!(self.peek(), Some(Tok::Ident(s)) if *s == col) {
                self.pos += 1;
                if self.eat_sym("+") || self.eat_sym("-") {
                    self.term()?;
                    set.push(Assignment::Add(col));
                    if !self.eat_sym(",") {
                        break;
                    }
                    continue;
                }
                self.pos = save;
            }
            self.term()?;
            if self.eat_sym("+") {
                let other = self.ident()?;
                if other != col {
                    return err(format!("{col} = ... + {other}: not an append to {col}"));
                }
                set.push(Assignment::Add(col));
            } else {
                set.push(Assignment::Set(col));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.kw("where")?;
        let r#where = self.relations()?;
        let condition = self.condition()?;
        Ok(Statement::Update {
            table,
            using,
            set,
            r#where,
            condition,
        })
    }

    fn delete(&mut self) -> Result<Statement, CqlError> {
        let mut columns = Vec::new();
        if !self.at_kw("from") {
            loop {
                columns.push(self.ident()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.kw("from")?;
        let table = self.qname()?;
        let using = self.using()?;
        self.kw("where")?;
        let r#where = self.relations()?;
        let condition = self.condition()?;
        Ok(Statement::Delete {
            table,
            columns,
            using,
            r#where,
            condition,
        })
    }

    fn select(&mut self) -> Result<Statement, CqlError> {
        self.eat_kw("distinct");
        let mut selectors = Vec::new();
        loop {
            if self.eat_sym("*") {
                selectors.push(Selector::Star);
            } else {
                let name = self.ident()?;
                if self.eat_sym("(") {
                    let inner = if self.eat_sym("*") || self.at_sym(")") {
                        None
                    } else {
                        Some(self.ident()?)
                    };
                    self.sym(")")?;
                    selectors.push(Selector::Function(name, inner));
                } else {
                    selectors.push(Selector::Column(name));
                }
                if self.eat_kw("as") {
                    self.ident()?;
                }
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.kw("from")?;
        let table = self.qname()?;
        let r#where = if self.eat_kw("where") {
            self.relations()?
        } else {
            Vec::new()
        };
        let mut order_by = Vec::new();
        if self.eat_kw("order") {
            self.kw("by")?;
            loop {
                let col = self.ident()?;
                let o = if self.eat_kw("desc") {
                    Order::Desc
                } else {
                    self.eat_kw("asc");
                    Order::Asc
                };
                order_by.push((col, o));
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let mut limit = false;
        if self.eat_kw("per") {
            self.kw("partition")?;
            self.kw("limit")?;
            self.term()?;
        }
        if self.eat_kw("limit") {
            self.term()?;
            limit = true;
        }
        let mut allow_filtering = false;
        if self.eat_kw("allow") {
            self.kw("filtering")?;
            allow_filtering = true;
        }
        Ok(Statement::Select {
            table,
            selectors,
            r#where,
            order_by,
            limit,
            allow_filtering,
        })
    }
}

fn tok_text(t: &Token) -> String {
    match &t.tok {
        Tok::Ident(s) | Tok::Num(s) => s.clone(),
        Tok::Quoted(s) => format!("\"{s}\""),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Sym(s) => (*s).to_owned(),
    }
}

/// Parses one statement (a trailing `;` is allowed).
pub fn parse(src: &str) -> Result<Statement, CqlError> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return err("empty statement");
    }
    Parser { toks, pos: 0 }.statement()
}

// ---------------------------------------------------------------------------------------
// Schema and checks.

/// Keyspaces, tables and types created by a sequence of DDL statements.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub keyspaces: BTreeMap<String, BTreeMap<String, String>>,
    pub tables: BTreeMap<QName, Table>,
    pub types: BTreeMap<QName, Vec<Column>>,
}

/// What [`Schema::check`] found out about a valid DML statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub table: QName,
    /// Reads or writes one partition (the whole partition key is fixed with `=`).
    pub single_partition: bool,
    /// A lightweight transaction (`IF ...`).
    pub conditional: bool,
}

impl Schema {
    /// Applies DDL statements in order. Tables and types must be keyspace-qualified and
    /// their keyspace created first; DML statements are refused.
    pub fn apply(&mut self, stmt: Statement) -> Result<(), CqlError> {
        let need_ks = |s: &Schema, q: &QName| -> Result<(), CqlError> {
            match &q.keyspace {
                Some(k) if s.keyspaces.contains_key(k) => Ok(()),
                Some(k) => err(format!("{q}: keyspace {k} is not created before it")),
                None => err(format!("{q}: schema objects must be keyspace-qualified")),
            }
        };
        match stmt {
            Statement::CreateKeyspace { name, replication } => {
                if replication.get("class").map(String::as_str) != Some("NetworkTopologyStrategy") {
                    return err(format!(
                        "keyspace {name}: replication class must be NetworkTopologyStrategy"
                    ));
                }
                self.keyspaces.entry(name).or_insert(replication);
            }
            Statement::CreateType { name, fields } => {
                need_ks(self, &name)?;
                self.types.entry(name).or_insert(fields);
            }
            Statement::CreateTable(t) => {
                need_ks(self, &t.name)?;
                for c in &t.columns {
                    self.check_type(&t.name, &c.ty)?;
                }
                self.tables.entry(t.name.clone()).or_insert(t);
            }
            Statement::CreateIndex { table, column } => {
                let t = self.table(&table)?;
                if t.column(&column).is_none() {
                    return err(format!("index on {table}: no column {column}"));
                }
            }
            Statement::AlterTableOptions { table, options } => {
                self.table(&table)?;
                if let Some(t) = self.tables.get_mut(&table) {
                    t.options.extend(options);
                }
            }
            Statement::AlterTableAdd { table, column } => {
                self.check_type(&table, &column.ty)?;
                let t = self.table(&table)?;
                if t.column(&column.name).is_some() {
                    return err(format!("{table}: column {} exists already", column.name));
                }
                if column.is_counter() != t.is_counter_table() {
                    return err(format!("{table}: a counter table has counter columns only"));
                }
                if let Some(t) = self.tables.get_mut(&table) {
                    t.columns.push(column);
                }
            }
            _ => return err("only CREATE and ALTER TABLE belong in a schema file"),
        }
        Ok(())
    }

    /// Every user-defined type a column type names exists in the table's keyspace.
    fn check_type(&self, table: &QName, ty: &str) -> Result<(), CqlError> {
        const NATIVE: [&str; 26] = [
            "ascii",
            "bigint",
            "blob",
            "boolean",
            "counter",
            "date",
            "decimal",
            "double",
            "duration",
            "float",
            "inet",
            "int",
            "smallint",
            "text",
            "time",
            "timestamp",
            "timeuuid",
            "tinyint",
            "uuid",
            "varchar",
            "varint",
            "frozen",
            "list",
            "set",
            "map",
            "tuple",
        ];
        for name in ty.split(['<', '>', ',']).filter(|s| !s.is_empty()) {
            if NATIVE.contains(&name) {
                continue;
            }
            let q = QName {
                keyspace: table.keyspace.clone(),
                name: name.to_owned(),
            };
            if !self.types.contains_key(&q) {
                return err(format!("table {table}: unknown type {name}"));
            }
        }
        Ok(())
    }

    fn table(&self, q: &QName) -> Result<&Table, CqlError> {
        if q.keyspace.is_none() {
            return err(format!("{q}: statements must name the keyspace"));
        }
        self.tables
            .get(q)
            .ok_or_else(|| CqlError(format!("no table {q} in the schema")))
    }

    /// Checks a DML statement against the schema: the table exists; every column named
    /// exists; keys are restricted as ScyllaDB requires; counters, TTLs and conditions are
    /// used where they are allowed.
    pub fn check(&self, stmt: &Statement) -> Result<Checked, CqlError> {
        match stmt {
            Statement::Insert {
                table,
                columns,
                values,
                condition,
                using,
            } => {
                let t = self.table(table)?;
                if columns.len() != *values {
                    return err(format!(
                        "INSERT INTO {table}: {} columns but {values} values",
                        columns.len()
                    ));
                }
                for c in columns {
                    column(t, c)?;
                    if columns.iter().filter(|x| *x == c).count() > 1 {
                        return err(format!("INSERT INTO {table}: column {c} twice"));
                    }
                }
                if t.is_counter_table() {
                    return err(format!("INSERT INTO counter table {table}: use UPDATE"));
                }
                for k in t
                    .partition_key
                    .iter()
                    .chain(t.clustering.iter().map(|(c, _)| c))
                {
                    if !columns.contains(k) {
                        return err(format!("INSERT INTO {table}: key column {k} missing"));
                    }
                }
                let _ = using;
                Ok(Checked {
                    table: table.clone(),
                    single_partition: true,
                    conditional: *condition != Condition::None,
                })
            }
            Statement::Update {
                table,
                using,
                set,
                r#where,
                condition,
            } => {
                let t = self.table(table)?;
                for a in set {
                    let (Assignment::Set(c) | Assignment::Add(c)) = a;
                    let col = column(t, c)?;
                    if t.is_primary_key(c) {
                        return err(format!("UPDATE {table}: cannot SET key column {c}"));
                    }
                    match a {
                        Assignment::Set(_) if col.is_counter() => {
                            return err(format!(
                                "UPDATE {table}: counter {c} can only be incremented"
                            ))
                        }
                        Assignment::Add(_) if !col.is_counter() && !col.is_mutable_collection() => {
                            return err(format!(
                                "UPDATE {table}: {c} = {c} + ... needs a counter or collection"
                            ))
                        }
                        _ => {}
                    }
                }
                if t.is_counter_table() && (using.ttl || *condition != Condition::None) {
                    return err(format!(
                        "UPDATE {table}: counters take neither TTL nor conditions"
                    ));
                }
                self.check_conditions(t, condition)?;
                check_full_key(t, r#where, "UPDATE")?;
                Ok(Checked {
                    table: table.clone(),
                    single_partition: true,
                    conditional: *condition != Condition::None,
                })
            }
            Statement::Delete {
                table,
                columns,
                using,
                r#where,
                condition,
            } => {
                let t = self.table(table)?;
                for c in columns {
                    column(t, c)?;
                    if t.is_primary_key(c) {
                        return err(format!("DELETE {c} FROM {table}: {c} is a key column"));
                    }
                }
                if using.ttl {
                    return err(format!("DELETE FROM {table}: USING TTL is meaningless"));
                }
                self.check_conditions(t, condition)?;
                check_where(t, r#where, false, "DELETE")?;
                check_partition_fixed(t, r#where, "DELETE")?;
                Ok(Checked {
                    table: table.clone(),
                    single_partition: true,
                    conditional: *condition != Condition::None,
                })
            }
            Statement::Select {
                table,
                selectors,
                r#where,
                order_by,
                allow_filtering,
                ..
            } => {
                let t = self.table(table)?;
                for s in selectors {
                    match s {
                        Selector::Star | Selector::Function(_, None) => {}
                        Selector::Column(c) | Selector::Function(_, Some(c)) => {
                            column(t, c)?;
                        }
                    }
                }
                check_where(t, r#where, *allow_filtering, "SELECT")?;
                let single_partition = check_partition_fixed(t, r#where, "SELECT").is_ok();
                if !single_partition && !r#where.is_empty() && !allow_filtering {
                    // A partial partition key (or clustering columns without one) can
                    // only be served by a filtering scan.
                    check_partition_fixed(t, r#where, "SELECT")?;
                }
                for (c, _) in order_by {
                    if !t.clustering.iter().any(|(k, _)| k == c) {
                        return err(format!(
                            "SELECT FROM {table}: ORDER BY {c}: not a clustering column"
                        ));
                    }
                    if !single_partition {
                        return err(format!(
                            "SELECT FROM {table}: ORDER BY needs the partition key fixed"
                        ));
                    }
                }
                Ok(Checked {
                    table: table.clone(),
                    single_partition,
                    conditional: false,
                })
            }
            _ => err("only INSERT, UPDATE, DELETE and SELECT can be checked"),
        }
    }

    fn check_conditions(&self, t: &Table, c: &Condition) -> Result<(), CqlError> {
        if let Condition::Columns(cols) = c {
            for col in cols {
                column(t, col)?;
                if t.is_primary_key(col) {
                    return err(format!("{}: IF on key column {col}", t.name));
                }
            }
        }
        if *c == Condition::IfNotExists {
            return err(format!("{}: IF NOT EXISTS is for INSERT only", t.name));
        }
        Ok(())
    }
}

fn column<'t>(t: &'t Table, c: &str) -> Result<&'t Column, CqlError> {
    t.column(c)
        .ok_or_else(|| CqlError(format!("table {} has no column {c}", t.name)))
}

/// Every relation names an existing column; non-key columns need ALLOW FILTERING.
fn check_where(
    t: &Table,
    rels: &[Relation],
    allow_filtering: bool,
    verb: &str,
) -> Result<(), CqlError> {
    for r in rels {
        column(t, &r.column)?;
        if !t.is_primary_key(&r.column) && !allow_filtering {
            return err(format!(
                "{verb} {}: WHERE on non-key column {} needs an index or ALLOW FILTERING",
                t.name, r.column
            ));
        }
        if t.partition_key.contains(&r.column) && !matches!(r.op.as_str(), "=" | "in") {
            return err(format!(
                "{verb} {}: partition key column {} only takes = or IN",
                t.name, r.column
            ));
        }
    }
    Ok(())
}

/// The whole partition key is restricted with `=` or `IN`.
fn check_partition_fixed(t: &Table, rels: &[Relation], verb: &str) -> Result<(), CqlError> {
    for k in &t.partition_key {
        if !rels
            .iter()
            .any(|r| &r.column == k && matches!(r.op.as_str(), "=" | "in"))
        {
            return err(format!(
                "{verb} {}: partition key column {k} is not restricted",
                t.name
            ));
        }
    }
    Ok(())
}

/// UPDATE needs the full primary key with `=`/`IN`.
fn check_full_key(t: &Table, rels: &[Relation], verb: &str) -> Result<(), CqlError> {
    check_where(t, rels, false, verb)?;
    for k in t
        .partition_key
        .iter()
        .chain(t.clustering.iter().map(|(c, _)| c))
    {
        if !rels
            .iter()
            .any(|r| &r.column == k && matches!(r.op.as_str(), "=" | "in"))
        {
            return err(format!(
                "{verb} {}: key column {k} must be fixed with = or IN",
                t.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(ddl: &str) -> Schema {
        let mut s = Schema::default();
        for stmt in split_statements(ddl).expect("split") {
            s.apply(parse(&stmt).expect("parse")).expect("apply");
        }
        s
    }

    const DDL: &str = "
        CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3};
        -- a comment; with a semicolon
        CREATE TYPE ks.pair (a text, b int);
        CREATE TABLE ks.t (p uuid, b int, c blob, v text, l list<text>, f frozen<list<frozen<pair>>>,
            PRIMARY KEY ((p, b), c)) WITH CLUSTERING ORDER BY (c DESC) AND comment = 'x; y';
        CREATE TABLE ks.n (k text, day date, n counter, PRIMARY KEY ((k, day)));
    ";

    #[test]
    fn splits_around_comments_and_literals() {
        let parts = split_statements(DDL).expect("split");
        assert_eq!(parts.len(), 4);
        assert!(parts[2].ends_with("comment = 'x; y'"));
        assert!(split_statements("SELECT a FROM b").is_err());
        assert_eq!(
            split_statements("/* only */ -- comments\n").expect("split"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn tables_keys_and_order() {
        let s = schema(DDL);
        let t = &s.tables[&QName {
            keyspace: Some("ks".into()),
            name: "t".into(),
        }];
        assert_eq!(t.partition_key, vec!["p", "b"]);
        assert_eq!(t.clustering, vec![("c".to_owned(), Order::Desc)]);
        assert_eq!(
            t.column("f").map(|c| c.ty.as_str()),
            Some("frozen<list<frozen<pair>>>")
        );
        assert_eq!(t.options.get("comment").map(String::as_str), Some("x; y"));
    }

    #[test]
    fn alter_table_adds_one_column() {
        let mut s = schema(DDL);
        assert!(s
            .check(&parse("SELECT added FROM ks.t WHERE p = ? AND b = ?").unwrap())
            .is_err());
        s.apply(parse("ALTER TABLE ks.t ADD added bigint").unwrap())
            .unwrap();
        assert_eq!(
            s.table(&QName {
                keyspace: Some("ks".into()),
                name: "t".into(),
            })
            .unwrap()
            .column("added")
            .map(|c| c.ty.as_str()),
            Some("bigint")
        );
        s.check(&parse("SELECT added FROM ks.t WHERE p = ? AND b = ?").unwrap())
            .unwrap();
        let again = s.apply(parse("ALTER TABLE ks.t ADD added bigint").unwrap());
        assert!(again.is_err(), "a column added twice: {again:?}");
        let bad = s.apply(parse("ALTER TABLE ks.t ADD other nosuchtype").unwrap());
        assert!(bad.is_err(), "an unknown type: {bad:?}");
        let missing = s.apply(parse("ALTER TABLE ks.nope ADD c int").unwrap());
        assert!(missing.is_err(), "a table the schema lacks: {missing:?}");
    }

    #[test]
    fn alter_table_sets_options() {
        match parse("ALTER TABLE ks.t WITH speculative_retry = '50ms' AND comment = 'c'").unwrap() {
            Statement::AlterTableOptions { table, options } => {
                assert_eq!(table.to_string(), "ks.t");
                assert_eq!(
                    options.get("speculative_retry").map(String::as_str),
                    Some("50ms")
                );
                assert_eq!(options.get("comment").map(String::as_str), Some("c"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse("ALTER TABLE ks.t DROP c").is_err());
        assert!(parse("ALTER TABLE ks.t ADD c").is_err());
        let mut schema = Schema::default();
        assert!(
            schema
                .apply(parse("ALTER TABLE ks.t WITH comment = 'c'").unwrap())
                .is_err(),
            "altering a table the schema lacks"
        );
    }

    #[test]
    fn good_statements_pass() {
        let s = schema(DDL);
        for q in [
            "INSERT INTO ks.t (p, b, c, v) VALUES (?, ?, ?, ?) USING TTL ?",
            "INSERT INTO ks.t (p, b, c) VALUES (?, 3, 0x00) IF NOT EXISTS",
            "UPDATE ks.t SET v = ?, l = l + ? WHERE p = ? AND b = ? AND c = ? IF EXISTS",
            "UPDATE ks.t SET v = ? WHERE p = ? AND b = ? AND c = ? IF v = ?",
            "UPDATE ks.n SET n = n + 1 WHERE k = ? AND day = ?",
            "DELETE FROM ks.t WHERE p = ? AND b = ?",
            "DELETE v FROM ks.t WHERE p = ? AND b = ? AND c = ?",
            "SELECT v, writetime(v) FROM ks.t WHERE p = ? AND b = ? AND c < ? ORDER BY c DESC LIMIT ?",
            "SELECT * FROM ks.t WHERE p = ? AND b IN (1, 2)",
        ] {
            let st = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            s.check(&st).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn bad_statements_fail() {
        let s = schema(DDL);
        for q in [
            "INSERT INTO ks.t (p, b, c, nope) VALUES (?, ?, ?, ?)",
            "INSERT INTO ks.t (p, c) VALUES (?, ?)",
            "INSERT INTO ks.t (p, b, c) VALUES (?, ?)",
            "INSERT INTO ks.missing (p) VALUES (?)",
            "INSERT INTO t (p, b, c) VALUES (?, ?, ?)",
            "INSERT INTO ks.n (k, day, n) VALUES (?, ?, ?)",
            "UPDATE ks.t SET v = ? WHERE p = ? AND b = ?",
            "UPDATE ks.t SET p = ? WHERE p = ? AND b = ? AND c = ?",
            "UPDATE ks.n SET n = 5 WHERE k = ? AND day = ?",
            "UPDATE ks.t SET v = v + ? WHERE p = ? AND b = ? AND c = ?",
            "UPDATE ks.t SET v = ? WHERE p = ? AND b = ? AND c = ? IF NOT EXISTS",
            "DELETE FROM ks.t WHERE p = ?",
            "SELECT v FROM ks.t WHERE v = ?",
            "SELECT nope FROM ks.t WHERE p = ? AND b = ?",
            "SELECT v FROM ks.t WHERE p > ? AND b = ?",
            "SELECT v FROM ks.t WHERE p = ? AND b = ? ORDER BY v",
            "SELECT v FROM ks.t ORDER BY c",
        ] {
            let res = parse(q).and_then(|st| s.check(&st));
            assert!(res.is_err(), "accepted: {q}");
        }
        for q in [
            "DROP TABLE ks.t",
            "SELECT FROM ks.t",
            "INSERT ks.t (a) VALUES (?)",
            "",
        ] {
            assert!(parse(q).is_err(), "parsed: {q}");
        }
    }

    #[test]
    fn bad_schemas_fail() {
        for ddl in [
            "CREATE TABLE ks.t (a int PRIMARY KEY);",
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};",
            "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc': 1};
             CREATE TABLE ks.t (a int, b int, PRIMARY KEY (a, c));",
            "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc': 1};
             CREATE TABLE ks.t (a int, b int, PRIMARY KEY (a, b)) WITH CLUSTERING ORDER BY (a DESC);",
            "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc': 1};
             CREATE TABLE ks.t (a int PRIMARY KEY, b frozen<nope>);",
            "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc': 1};
             CREATE TABLE ks.t (a int PRIMARY KEY, n counter, v text);",
        ] {
            let res = split_statements(ddl).and_then(|stmts| {
                let mut s = Schema::default();
                for st in stmts {
                    s.apply(parse(&st)?)?;
                }
                Ok(())
            });
            assert!(res.is_err(), "accepted: {ddl}");
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        for q in [
            "'",
            "\"",
            "/*",
            "SELECT (",
            "INSERT INTO a.b (",
            "UPDATE a SET",
            "é",
            "[",
            "{{x}}",
        ] {
            let _ = parse(q);
            let _ = split_statements(q);
        }
    }
}
