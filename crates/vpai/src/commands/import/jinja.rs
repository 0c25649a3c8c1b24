//! The small part of Jinja that an inventory's values use: `{{ var }}`,
//! `{{ var | default('x') }}`, `{{ a }}.{{ b }}`, attribute access, `'x' if c == 'y' else
//! 'z'`, `and`/`or`/`not`, and a few filters (`default`, `bool`, `string`, `int`,
//! `lower`, `upper`, `trim`, `mandatory`, `length`). Anything else is refused with a
//! reason, never guessed: the value is then reported as not mapped.
//!
//! A secret is opaque here: an expression that reaches one evaluates to "hidden", so a
//! secret can never end up in stack.toml by way of a template.

use super::inventory::{Hidden, Val};

/// The outcome of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Val(Val),
    /// An undefined variable (its name).
    Undefined(String),
    Hidden(Hidden),
}

/// A value with how it was obtained.
#[derive(Debug, Clone)]
pub struct Eval {
    pub out: Out,
    /// A `default(...)` branch gave (part of) the value.
    pub defaulted: bool,
    /// The variables read to get it, in order.
    pub vars: Vec<String>,
}

impl Eval {
    pub fn val(v: Val) -> Self {
        Eval {
            out: Out::Val(v),
            defaulted: false,
            vars: Vec::new(),
        }
    }
    fn with(mut self, other: &Eval) -> Self {
        self.defaulted |= other.defaulted;
        for v in &other.vars {
            if !self.vars.contains(v) {
                self.vars.push(v.clone());
            }
        }
        self
    }
}

/// Where variables come from.
pub trait Scope {
    /// The (evaluated) value of a variable; `Out::Undefined` when there is none.
    fn lookup(&mut self, name: &str) -> Result<Eval, String>;
}

/// Evaluate a string that may hold `{{ ... }}`. A string that is one expression
/// keeps that expression's type (`"{{ port }}"` is a number), as Ansible does.
pub fn template(text: &str, scope: &mut dyn Scope) -> Result<Eval, String> {
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return Ok(Eval::val(Val::Str(text.to_string())));
    }
    if text.contains("{%") {
        return Err("it uses a Jinja statement (`{% ... %}`), which vpai does not evaluate".into());
    }
    // Comments go; then literal text and expressions alternate.
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{").into_iter().chain(rest.find("{#")).min() {
        if start > 0 {
            parts.push((false, &rest[..start]));
        }
        let comment = rest[start..].starts_with("{#");
        let close = if comment { "#}" } else { "}}" };
        let Some(end) = rest[start + 2..].find(close) else {
            return Err("it has an unclosed `{{`".into());
        };
        if !comment {
            parts.push((true, &rest[start + 2..start + 2 + end]));
        }
        rest = &rest[start + 2 + end + 2..];
    }
    if !rest.is_empty() {
        parts.push((false, rest));
    }
    if let [(true, expr)] = parts.as_slice() {
        return expression(expr, scope);
    }
    let mut acc = Eval::val(Val::Str(String::new()));
    let mut text = String::new();
    for (is_expr, part) in parts {
        if !is_expr {
            text.push_str(part);
            continue;
        }
        let e = expression(part, scope)?;
        acc = acc.with(&e);
        match e.out {
            Out::Val(v) => text.push_str(&stringify(&v)?),
            other => {
                acc.out = other;
                return Ok(acc);
            }
        }
    }
    acc.out = Out::Val(Val::Str(text));
    Ok(acc)
}

/// Evaluate one expression (the inside of `{{ }}`, or a `when:` condition).
pub fn expression(text: &str, scope: &mut dyn Scope) -> Result<Eval, String> {
    let tokens = lex(text)?;
    let mut p = Parser { t: &tokens, i: 0 };
    let e = p.expr(0)?;
    if p.i != tokens.len() {
        return Err("it is a Jinja expression vpai does not evaluate".into());
    }
    eval(&e, scope, 0)
}

/// Python's truth value of a Jinja value; `None` for what vpai cannot decide.
pub fn truthy(v: &Val) -> Option<bool> {
    Some(match v {
        Val::Str(s) => !s.is_empty(),
        Val::Int(i) => *i != 0,
        Val::Float(f) => *f != 0.0,
        Val::Bool(b) => *b,
        Val::Null => false,
        Val::List(l) => !l.is_empty(),
        Val::Map(m) => !m.is_empty(),
        Val::Hidden(_) => return None,
    })
}

/// Ansible's `bool` filter.
pub fn to_bool(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        Val::Int(i) => Some(*i == 1),
        Val::Str(s) => Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        )),
        Val::Null => Some(false),
        Val::Float(f) => Some(*f == 1.0),
        _ => None,
    }
}

pub fn stringify(v: &Val) -> Result<String, String> {
    Ok(match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        Val::Float(f) => f.to_string(),
        Val::Bool(true) => "True".into(),
        Val::Bool(false) => "False".into(),
        Val::Null => String::new(),
        Val::List(_) | Val::Map(_) => {
            return Err("it puts a list or a mapping into a string".into());
        }
        Val::Hidden(_) => return Err("it reads a secret".into()),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    if chars.len() > 4096 {
        return Err("its expression is too long".into());
    }
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            if s.contains('.') {
                out.push(Tok::Float(
                    s.parse().map_err(|_| "a number vpai cannot read")?,
                ));
            } else {
                out.push(Tok::Int(
                    s.parse().map_err(|_| "a number vpai cannot read")?,
                ));
            }
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err("it has an unclosed string".into());
                };
                i += 1;
                if d == c {
                    break;
                }
                if d == '\\' {
                    let Some(&e) = chars.get(i) else {
                        return Err("it has an unclosed string".into());
                    };
                    i += 1;
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else {
                    s.push(d);
                }
            }
            out.push(Tok::Str(s));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = match two.as_str() {
                "==" => Some("=="),
                "!=" => Some("!="),
                _ => None,
            };
            if let Some(op) = op {
                out.push(Tok::Op(op));
                i += 2;
                continue;
            }
            let op = match c {
                '|' => "|",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '.' => ".",
                '[' => "[",
                ']' => "]",
                '{' => "{",
                '}' => "}",
                '~' => "~",
                '+' => "+",
                _ => return Err("it is a Jinja expression vpai does not evaluate".into()),
            };
            out.push(Tok::Op(op));
            i += 1;
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Val),
    Var(String),
    Attr(Box<Expr>, String),
    Filter(Box<Expr>, String, Vec<Expr>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Eq(Box<Expr>, Box<Expr>, bool),
    Concat(Box<Expr>, Box<Expr>, bool),
    List(Vec<Expr>),
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
}

const UNSUPPORTED: &str = "it is a Jinja expression vpai does not evaluate";

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == w)
    }
    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.is_op(op) {
            self.i += 1;
            Ok(())
        } else {
            Err(UNSUPPORTED.into())
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > 32 {
            return Err("its expression is nested too deep".into());
        }
        let value = self.or(depth + 1)?;
        if self.is_word("if") {
            self.i += 1;
            let cond = self.or(depth + 1)?;
            let other = if self.is_word("else") {
                self.i += 1;
                Some(Box::new(self.expr(depth + 1)?))
            } else {
                None
            };
            return Ok(Expr::If(Box::new(cond), Box::new(value), other));
        }
        Ok(value)
    }
    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.and(depth)?;
        while self.is_word("or") {
            self.i += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }
    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.not(depth)?;
        while self.is_word("and") {
            self.i += 1;
            left = Expr::And(Box::new(left), Box::new(self.not(depth)?));
        }
        Ok(left)
    }
    fn not(&mut self, depth: usize) -> Result<Expr, String> {
        if self.is_word("not") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        self.cmp(depth)
    }
    fn cmp(&mut self, depth: usize) -> Result<Expr, String> {
        let left = self.concat(depth)?;
        for (op, negate) in [("==", false), ("!=", true)] {
            if self.is_op(op) {
                self.i += 1;
                let right = self.concat(depth)?;
                return Ok(Expr::Eq(Box::new(left), Box::new(right), negate));
            }
        }
        Ok(left)
    }
    fn concat(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.filtered(depth)?;
        loop {
            let tilde = if self.is_op("~") {
                true
            } else if self.is_op("+") {
                false
            } else {
                break;
            };
            self.i += 1;
            left = Expr::Concat(Box::new(left), Box::new(self.filtered(depth)?), tilde);
        }
        Ok(left)
    }
    fn filtered(&mut self, depth: usize) -> Result<Expr, String> {
        let mut e = self.postfix(depth)?;
        while self.is_op("|") {
            self.i += 1;
            let Some(Tok::Ident(name)) = self.peek().cloned() else {
                return Err(UNSUPPORTED.into());
            };
            self.i += 1;
            let mut args = Vec::new();
            if self.is_op("(") {
                self.i += 1;
                while !self.is_op(")") {
                    args.push(self.expr(depth + 1)?);
                    if self.is_op(",") {
                        self.i += 1;
                    } else if !self.is_op(")") {
                        return Err(UNSUPPORTED.into());
                    }
                }
                self.i += 1;
            }
            e = Expr::Filter(Box::new(e), name, args);
        }
        Ok(e)
    }
    fn postfix(&mut self, depth: usize) -> Result<Expr, String> {
        let mut e = self.primary(depth)?;
        loop {
            if self.is_op(".") {
                self.i += 1;
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return Err(UNSUPPORTED.into());
                };
                self.i += 1;
                e = Expr::Attr(Box::new(e), name);
            } else if self.is_op("[") {
                self.i += 1;
                let Some(Tok::Str(name)) = self.peek().cloned() else {
                    return Err(UNSUPPORTED.into());
                };
                self.i += 1;
                self.expect("]")?;
                e = Expr::Attr(Box::new(e), name);
            } else {
                return Ok(e);
            }
        }
    }
    fn primary(&mut self, depth: usize) -> Result<Expr, String> {
        let Some(tok) = self.peek().cloned() else {
            return Err(UNSUPPORTED.into());
        };
        self.i += 1;
        Ok(match tok {
            Tok::Str(s) => Expr::Lit(Val::Str(s)),
            Tok::Int(i) => Expr::Lit(Val::Int(i)),
            Tok::Float(f) => Expr::Lit(Val::Float(f)),
            Tok::Ident(w) => match w.as_str() {
                "true" | "True" => Expr::Lit(Val::Bool(true)),
                "false" | "False" => Expr::Lit(Val::Bool(false)),
                "none" | "None" => Expr::Lit(Val::Null),
                "if" | "else" | "and" | "or" | "not" | "in" | "is" => {
                    return Err(UNSUPPORTED.into());
                }
                _ => Expr::Var(w),
            },
            Tok::Op("(") => {
                let e = self.expr(depth + 1)?;
                self.expect(")")?;
                e
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    items.push(self.expr(depth + 1)?);
                    if self.is_op(",") {
                        self.i += 1;
                    } else if !self.is_op("]") {
                        return Err(UNSUPPORTED.into());
                    }
                }
                self.i += 1;
                Expr::List(items)
            }
            Tok::Op("{") => {
                self.expect("}")?;
                Expr::Lit(Val::Map(Vec::new()))
            }
            _ => return Err(UNSUPPORTED.into()),
        })
    }
}

fn eval(e: &Expr, scope: &mut dyn Scope, depth: usize) -> Result<Eval, String> {
    if depth > 64 {
        return Err("its expression is nested too deep".into());
    }
    let d = depth + 1;
    Ok(match e {
        Expr::Lit(v) => Eval::val(v.clone()),
        Expr::Var(name) => scope.lookup(name)?,
        Expr::Attr(inner, key) => {
            let mut r = eval(inner, scope, d)?;
            r.out = match r.out {
                Out::Val(v @ Val::Map(_)) => match v.get(key) {
                    Some(Val::Hidden(h)) => Out::Hidden(*h),
                    Some(x) => Out::Val(x.clone()),
                    None => Out::Undefined(key.clone()),
                },
                Out::Val(_) => return Err(UNSUPPORTED.into()),
                other => other,
            };
            r
        }
        Expr::List(items) => {
            let mut acc = Eval::val(Val::Null);
            let mut out = Vec::new();
            for item in items {
                let r = eval(item, scope, d)?;
                acc = acc.with(&r);
                match r.out {
                    Out::Val(v) => out.push(v),
                    other => {
                        acc.out = other;
                        return Ok(acc);
                    }
                }
            }
            acc.out = Out::Val(Val::List(out));
            acc
        }
        Expr::Filter(inner, name, args) => filter(inner, name, args, scope, d)?,
        Expr::If(cond, then, other) => {
            let c = eval(cond, scope, d)?;
            let pick = match &c.out {
                Out::Val(v) => truthy(v).ok_or(UNSUPPORTED)?,
                Out::Undefined(_) => return Ok(c),
                Out::Hidden(_) => return Err("it decides on a secret".into()),
            };
            match (pick, other) {
                (true, _) => eval(then, scope, d)?.with(&c),
                (false, Some(o)) => eval(o, scope, d)?.with(&c),
                (false, None) => Eval::val(Val::Str(String::new())).with(&c),
            }
        }
        Expr::Or(a, b) | Expr::And(a, b) => {
            let is_or = matches!(e, Expr::Or(..));
            let l = eval(a, scope, d)?;
            let lv = match &l.out {
                Out::Val(v) => truthy(v).ok_or(UNSUPPORTED)?,
                Out::Undefined(_) => return Ok(l),
                Out::Hidden(_) => return Err("it decides on a secret".into()),
            };
            if lv == is_or {
                l
            } else {
                eval(b, scope, d)?.with(&l)
            }
        }
        Expr::Not(a) => {
            let r = eval(a, scope, d)?;
            let v = match &r.out {
                Out::Val(v) => truthy(v).ok_or(UNSUPPORTED)?,
                Out::Undefined(_) => return Ok(r),
                Out::Hidden(_) => return Err("it decides on a secret".into()),
            };
            let mut r = r;
            r.out = Out::Val(Val::Bool(!v));
            r
        }
        Expr::Eq(a, b, negate) => {
            let l = eval(a, scope, d)?;
            let r = eval(b, scope, d)?;
            let both = l.clone().with(&r);
            match (&l.out, &r.out) {
                (Out::Val(x), Out::Val(y)) => {
                    let mut out = both;
                    out.out = Out::Val(Val::Bool(loose_eq(x, y) != *negate));
                    out
                }
                (Out::Hidden(_), _) | (_, Out::Hidden(_)) => {
                    return Err("it decides on a secret".into());
                }
                (Out::Undefined(n), _) | (_, Out::Undefined(n)) => {
                    let mut out = both;
                    out.out = Out::Undefined(n.clone());
                    out
                }
            }
        }
        Expr::Concat(a, b, tilde) => {
            let l = eval(a, scope, d)?;
            let r = eval(b, scope, d)?;
            let mut both = l.clone().with(&r);
            both.out = match (l.out, r.out) {
                (Out::Val(Val::Int(x)), Out::Val(Val::Int(y))) if !tilde => {
                    Out::Val(Val::Int(x.checked_add(y).ok_or(UNSUPPORTED)?))
                }
                (Out::Val(x), Out::Val(y)) => {
                    if !tilde && (!matches!(x, Val::Str(_)) || !matches!(y, Val::Str(_))) {
                        return Err(UNSUPPORTED.into());
                    }
                    Out::Val(Val::Str(stringify(&x)? + &stringify(&y)?))
                }
                (Out::Hidden(h), _) | (_, Out::Hidden(h)) => Out::Hidden(h),
                (Out::Undefined(n), _) | (_, Out::Undefined(n)) => Out::Undefined(n),
            };
            both
        }
    })
}

fn loose_eq(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => (*x as f64) == *y,
        _ => a == b,
    }
}

fn filter(
    inner: &Expr,
    name: &str,
    args: &[Expr],
    scope: &mut dyn Scope,
    d: usize,
) -> Result<Eval, String> {
    const KNOWN: &[&str] = &[
        "default",
        "d",
        "bool",
        "string",
        "int",
        "lower",
        "upper",
        "trim",
        "mandatory",
        "length",
        "count",
    ];
    if !KNOWN.contains(&name) {
        return Err(format!(
            "it uses the filter `{}`, which vpai does not evaluate",
            super::inventory::safe_text(name, 40)
        ));
    }
    let r = eval(inner, scope, d)?;
    if matches!(name, "default" | "d") {
        let Some(fallback) = args.first() else {
            return Err(UNSUPPORTED.into());
        };
        let also_falsy = match args.get(1) {
            None => false,
            Some(a) => match eval(a, scope, d)?.out {
                Out::Val(v) => truthy(&v).ok_or(UNSUPPORTED)?,
                _ => return Err(UNSUPPORTED.into()),
            },
        };
        let replace = match &r.out {
            Out::Undefined(_) => true,
            Out::Val(v) if also_falsy => !truthy(v).ok_or(UNSUPPORTED)?,
            _ => false,
        };
        if !replace {
            return Ok(r);
        }
        let f = eval(fallback, scope, d)?;
        // A literal fallback is a placeholder; another variable's value is a value.
        let literal = f.vars.is_empty();
        let mut f = f.with(&r);
        f.defaulted |= literal;
        return Ok(f);
    }
    let v = match &r.out {
        Out::Val(v) => v.clone(),
        Out::Undefined(n) if name == "mandatory" => {
            return Err(format!(
                "`{n}` is undefined and the template makes it mandatory"
            ));
        }
        _ => return Ok(r),
    };
    let out = match name {
        "bool" => Val::Bool(to_bool(&v).ok_or(UNSUPPORTED)?),
        "string" => Val::Str(stringify(&v)?),
        "int" => Val::Int(match &v {
            Val::Int(i) => *i,
            Val::Float(f) => *f as i64,
            Val::Bool(b) => *b as i64,
            Val::Str(s) => s.trim().parse().unwrap_or(0),
            _ => return Err(UNSUPPORTED.into()),
        }),
        "lower" => Val::Str(stringify(&v)?.to_lowercase()),
        "upper" => Val::Str(stringify(&v)?.to_uppercase()),
        "trim" => Val::Str(stringify(&v)?.trim().to_string()),
        "mandatory" => v,
        "length" | "count" => Val::Int(match &v {
            Val::Str(s) => s.chars().count() as i64,
            Val::List(l) => l.len() as i64,
            Val::Map(m) => m.len() as i64,
            _ => return Err(UNSUPPORTED.into()),
        }),
        _ => {
            return Err(format!(
                "it uses the filter `{}`, which vpai does not evaluate",
                super::inventory::safe_text(name, 40)
            ));
        }
    };
    let mut r = r;
    r.out = Out::Val(out);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Vars(BTreeMap<&'static str, Val>);
    impl Scope for Vars {
        fn lookup(&mut self, name: &str) -> Result<Eval, String> {
            Ok(match self.0.get(name) {
                Some(Val::Hidden(h)) => Eval {
                    out: Out::Hidden(*h),
                    defaulted: false,
                    vars: vec![name.into()],
                },
                Some(Val::Str(s)) => {
                    let mut e = template(&s.clone(), self)?;
                    e.vars.insert(0, name.into());
                    e
                }
                Some(v) => Eval {
                    out: Out::Val(v.clone()),
                    defaulted: false,
                    vars: vec![name.into()],
                },
                None => Eval {
                    out: Out::Undefined(name.into()),
                    defaulted: false,
                    vars: Vec::new(),
                },
            })
        }
    }

    fn vars() -> Vars {
        Vars(BTreeMap::from([
            ("vault_domain_name", Val::Str("ai.example.com".into())),
            (
                "domain_name",
                Val::Str("{{ vault_domain_name | default('example.com') }}".into()),
            ),
            ("prod_ssh_port", Val::Int(804)),
            ("target_env", Val::Str("prod".into())),
            ("sub", Val::Str("hook".into())),
            ("secret", Val::Hidden(Hidden::Secret)),
            ("enabled", Val::Str("yes".into())),
            (
                "ids",
                Val::Map(vec![("general".into(), Val::Str("1".into()))]),
            ),
        ]))
    }

    fn run(text: &str) -> Result<Out, String> {
        template(text, &mut vars()).map(|e| e.out)
    }

    #[test]
    fn what_inventories_write() {
        let s = |v: &str| Ok(Out::Val(Val::Str(v.into())));
        assert_eq!(run("{{ domain_name }}"), s("ai.example.com"));
        assert_eq!(run("{{ missing | default('x') }}"), s("x"));
        assert_eq!(run("{{ sub }}.{{ domain_name }}"), s("hook.ai.example.com"));
        assert_eq!(
            run("{{ ansible_port_override | default(prod_ssh_port) }}"),
            Ok(Out::Val(Val::Int(804)))
        );
        assert_eq!(
            run("{{ '1536M' if target_env == 'prod' else '768M' }}"),
            s("1536M")
        );
        assert_eq!(run("{{ enabled | bool }}"), Ok(Out::Val(Val::Bool(true))));
        assert_eq!(run("{{ ids.general | default('') }}"), s("1"));
        assert_eq!(run("{{ ids.code | default('') }}"), s(""));
        assert_eq!(run("{{ '' | default('e', true) }}"), s("e"));
        assert_eq!(
            run("{{ 'admin@' + domain_name }}"),
            s("admin@ai.example.com")
        );
        assert_eq!(run("{{ missing }}"), Ok(Out::Undefined("missing".into())));
        assert_eq!(run("plain"), s("plain"));
    }

    #[test]
    fn secrets_stay_hidden_and_the_rest_is_refused() {
        assert_eq!(
            run("{{ secret | default('') }}"),
            Ok(Out::Hidden(Hidden::Secret))
        );
        assert_eq!(run("x{{ secret }}"), Ok(Out::Hidden(Hidden::Secret)));
        assert!(run("{{ 'a' if secret == 'b' else 'c' }}").is_err());
        assert!(run("{% if x %}a{% endif %}").is_err());
        assert!(run("{{ x | regex_replace('a', 'b') }}").is_err());
        assert!(run("{{ lookup('env', 'HOME') }}").is_err());
        assert!(run("{{ x").is_err());
    }

    #[test]
    fn defaulted_and_sources_are_tracked() {
        let e = template("{{ domain_name }}", &mut vars()).unwrap();
        assert!(!e.defaulted);
        assert_eq!(e.vars, vec!["domain_name", "vault_domain_name"]);
        let mut v = vars();
        v.0.remove("vault_domain_name");
        let e = template("{{ domain_name }}", &mut v).unwrap();
        assert!(e.defaulted);
    }
}
