//! The permission query language of `keys.verifyKey` (reference §6.5): a parser and an evaluator.
//!
//! ```text
//! query       := expression EOF
//! expression  := and_expr ( OR and_expr )*
//! and_expr    := primary ( AND primary )*
//! primary     := PERMISSION | "(" expression ")"
//! ```
//!
//! The lexer and parser follow Unkey's `pkg/rbac/lexer.go` and `pkg/rbac/parser.go` step for step, because
//! clients see which error fires first and at which position: positions are 0-based byte offsets, the lexer
//! works byte by byte, and an invalid character becomes a token that only fails once the parser reaches it.
//! A `*` is a literal character, never a wildcard: a leaf is satisfied only by a permission with exactly
//! that name.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use thiserror::Error;

/// A parsed query. [`parse`] returns it normalized: `And` and `Or` have at least two children, and no
/// child has the same operator as its parent (`a AND (b AND c)` is `And([a, b, c])`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Permission(String),
    And(Vec<Query>),
    Or(Vec<Query>),
}

/// Why a query was refused; `message` is Unkey's public text, returned as the 400
/// `permissions_query_syntax_error` detail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct QuerySyntaxError {
    pub message: String,
}

impl QuerySyntaxError {
    fn new(message: String) -> Self {
        QuerySyntaxError { message }
    }
}

impl Query {
    /// Whether a key satisfies the query; `has` answers for one exact permission name.
    pub fn evaluate(&self, has: &impl Fn(&str) -> bool) -> bool {
        match self {
            Query::Permission(name) => has(name),
            Query::And(children) => children.iter().all(|c| c.evaluate(has)),
            Query::Or(children) => children.iter().any(|c| c.evaluate(has)),
        }
    }
}

/// Prints a query that parses back to the same (normalized) tree. A compound child is parenthesized
/// unless it is an `And` under an `Or`, where precedence already groups it. An empty `And`/`Or`, which
/// [`parse`] never produces, has no spelling in the language and prints as nothing.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (children, operator) = match self {
            Query::Permission(name) => return f.write_str(name),
            Query::And(children) => (children, " AND "),
            Query::Or(children) => (children, " OR "),
        };
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(operator)?;
            }
            let grouped_by_precedence = matches!((self, child), (Query::Or(_), Query::And(_)));
            if matches!(child, Query::Permission(_)) || grouped_by_precedence {
                write!(f, "{child}")?;
            } else {
                write!(f, "({child})")?;
            }
        }
        Ok(())
    }
}

/// Parses a query. The caller enforces the 1000-character limit (the HTTP schema does), which also bounds
/// the recursion depth of nested parentheses.
pub fn parse(query: &str) -> Result<Query, QuerySyntaxError> {
    // Unkey's lexer reads a NUL byte as its end-of-input marker, so anything after one is ignored there.
    let input = &query[..query.find('\0').unwrap_or(query.len())];
    let mut parser = Parser { input, tokens: lex(input.as_bytes()), next: 0 };
    if parser.current().kind == Kind::Eof {
        return Err(QuerySyntaxError::new("Unexpected end of input. Please provide a valid permission query.".into()));
    }
    let query = parser.expression()?;
    let token = parser.current();
    match token.kind {
        Kind::Eof => Ok(query),
        // Unkey would print its internal lexer message as the token here; the invalid-character message
        // is what that text means to a client, so it is reported as such.
        Kind::Invalid => Err(invalid_character(input, token)),
        _ => Err(QuerySyntaxError::new(format!(
            "Unexpected token '{}' at position {}. The query appears to have extra content after a valid expression.",
            text(input, &token.span),
            token.span.start
        ))),
    }
}

/// A token's text. A permission run can end inside a multi-byte character (`ü` is C3 BC and only C3
/// is a letter byte); Unkey prints those raw bytes and its JSON encoder turns them into U+FFFD, which
/// is what the lossy conversion produces too. Such a run is always followed by an invalid byte, so it
/// never survives into a successful parse.
fn text<'a>(input: &'a str, span: &Range<usize>) -> Cow<'a, str> {
    String::from_utf8_lossy(&input.as_bytes()[span.clone()])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Permission,
    And,
    Or,
    LParen,
    RParen,
    /// One byte that may not appear in a query.
    Invalid,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Byte range in the input; its start is the position reported in errors.
    span: Range<usize>,
}

/// Unkey tests characters one byte at a time with Go's `unicode.IsLetter(rune(b))`, i.e. it reads each
/// byte as a Latin-1 character. Multi-byte UTF-8 therefore passes only when every byte is a Latin-1
/// letter (`ê` = C3 AA does, `é` = C3 A9 does not), and this has to agree byte for byte.
fn is_permission_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'.' | b'_' | b'-' | b'*' | b':' | b'/')
        || matches!(b, 0xAA | 0xB5 | 0xBA | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0xFF)
}

/// Splits the whole input into tokens up front. Invalid bytes become tokens rather than errors, so the
/// parser reports whatever Unkey's lazy lexer-and-parser pair would have reported first.
fn lex(bytes: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Kind::LParen,
            b')' => Kind::RParen,
            b if is_permission_byte(b) => {
                while i < bytes.len() && is_permission_byte(bytes[i]) {
                    i += 1;
                }
                // A maximal run of permission bytes is a whole word, so a keyword is exactly the run.
                let word = &bytes[start..i];
                let kind = if word.eq_ignore_ascii_case(b"and") {
                    Kind::And
                } else if word.eq_ignore_ascii_case(b"or") {
                    Kind::Or
                } else {
                    Kind::Permission
                };
                tokens.push(Token { kind, span: start..i });
                continue;
            }
            _ => Kind::Invalid,
        };
        i += 1;
        tokens.push(Token { kind, span: start..i });
    }
    tokens.push(Token { kind: Kind::Eof, span: bytes.len()..bytes.len() });
    tokens
}

fn invalid_character(input: &str, token: &Token) -> QuerySyntaxError {
    // Go's `%c` of the offending byte prints it as the Latin-1 character with that code.
    let byte = char::from(input.as_bytes()[token.span.start]);
    QuerySyntaxError::new(format!(
        "Invalid character '{byte}' found in query at position {}. Only letters, numbers, dots, underscores, \
         hyphens, slashes, colons, asterisks, and parentheses are allowed.",
        token.span.start
    ))
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    next: usize,
}

impl Parser<'_> {
    fn current(&self) -> &Token {
        // The last token is always Eof and is never consumed, so the index stays in bounds.
        &self.tokens[self.next]
    }

    fn advance(&mut self) {
        self.next += 1;
    }

    fn expression(&mut self) -> Result<Query, QuerySyntaxError> {
        let mut children = vec![self.and_expression()?];
        while self.current().kind == Kind::Or {
            self.advance();
            children.push(self.and_expression()?);
        }
        Ok(combine(Operator::Or, children))
    }

    fn and_expression(&mut self) -> Result<Query, QuerySyntaxError> {
        let mut children = vec![self.primary()?];
        while self.current().kind == Kind::And {
            self.advance();
            children.push(self.primary()?);
        }
        Ok(combine(Operator::And, children))
    }

    fn primary(&mut self) -> Result<Query, QuerySyntaxError> {
        let token = self.current().clone();
        match token.kind {
            Kind::Permission => {
                self.advance();
                Ok(Query::Permission(text(self.input, &token.span).into_owned()))
            }
            Kind::LParen => {
                self.advance();
                let inner = self.current();
                if inner.kind == Kind::RParen {
                    return Err(QuerySyntaxError::new(format!(
                        "Empty parentheses found at position {}. Parentheses must contain at least one \
                         permission or expression.",
                        inner.span.start
                    )));
                }
                let query = self.expression()?;
                let closing = self.current();
                if closing.kind != Kind::RParen {
                    return Err(QuerySyntaxError::new(format!(
                        "Missing closing parenthesis ')' at position {}. Every opening parenthesis must have a \
                         matching closing parenthesis.",
                        closing.span.start
                    )));
                }
                self.advance();
                Ok(query)
            }
            Kind::Eof => Err(QuerySyntaxError::new(
                "Unexpected end of query. Expected a permission identifier or opening parenthesis.".into(),
            )),
            Kind::Invalid => Err(invalid_character(self.input, &token)),
            Kind::And | Kind::Or | Kind::RParen => Err(QuerySyntaxError::new(format!(
                "Unexpected token '{}' at position {}. Expected a permission identifier or opening parenthesis.",
                text(self.input, &token.span),
                token.span.start
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    And,
    Or,
}

/// Builds an `And`/`Or` from operands, splicing in operands that already use the same operator so the
/// tree is flat however the query was parenthesized. A single operand stands alone.
fn combine(operator: Operator, children: Vec<Query>) -> Query {
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match (operator, child) {
            (Operator::And, Query::And(grand)) | (Operator::Or, Query::Or(grand)) => flat.extend(grand),
            (_, child) => flat.push(child),
        }
    }
    match <[Query; 1]>::try_from(flat) {
        Ok([only]) => only,
        Err(flat) if operator == Operator::And => Query::And(flat),
        Err(flat) => Query::Or(flat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn p(name: &str) -> Query {
        Query::Permission(name.into())
    }

    fn err(query: &str) -> String {
        parse(query).expect_err(query).message
    }

    const TAIL: &str =
        "Only letters, numbers, dots, underscores, hyphens, slashes, colons, asterisks, and parentheses are allowed.";

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(parse("a OR b AND c").unwrap(), Query::Or(vec![p("a"), Query::And(vec![p("b"), p("c")])]));
        assert_eq!(parse("a AND b OR c").unwrap(), Query::Or(vec![Query::And(vec![p("a"), p("b")]), p("c")]));
        assert_eq!(parse("(a OR b) AND c").unwrap(), Query::And(vec![Query::Or(vec![p("a"), p("b")]), p("c")]));
    }

    #[test]
    fn same_operator_chains_are_flattened() {
        let flat = Query::And(vec![p("a"), p("b"), p("c")]);
        assert_eq!(parse("a AND b AND c").unwrap(), flat);
        assert_eq!(parse("(a AND b) AND c").unwrap(), flat);
        assert_eq!(parse("a AND (b AND (c))").unwrap(), flat);
        assert_eq!(parse("((a))").unwrap(), p("a"));
    }

    #[test]
    fn keywords_are_case_insensitive_whole_words() {
        let expected = Query::Or(vec![p("a"), Query::And(vec![p("b"), p("c")])]);
        assert_eq!(parse("a or b and c").unwrap(), expected);
        assert_eq!(parse("a Or b aNd c").unwrap(), expected);
        assert_eq!(parse("\ta\nOR\r\nb AND c ").unwrap(), expected);
        assert_eq!(parse("ANDROID.read").unwrap(), p("ANDROID.read"));
        assert_eq!(parse("ORACLE AND and.x").unwrap(), Query::And(vec![p("ORACLE"), p("and.x")]));
        assert_eq!(parse("(a)OR(b)").unwrap(), Query::Or(vec![p("a"), p("b")]));
    }

    #[test]
    fn permission_characters() {
        let name = "unkey:v1:ws_1:keyspaces/ks_1/keys/*-x.y_z";
        assert_eq!(parse(name).unwrap(), p(name));
        // Bytes that read as Latin-1 letters pass, as in Unkey: `ê` is C3 AA.
        assert_eq!(
            parse("café.ê").unwrap_err().message,
            format!("Invalid character '©' found in query at position 4. {TAIL}")
        );
        assert_eq!(parse("crêpe").unwrap(), p("crêpe"));
    }

    #[test]
    fn star_is_a_literal_character() {
        let held: HashSet<&str> = ["documents.*", "api.read"].into();
        let has = |perm: &str| held.contains(perm);
        assert!(parse("documents.*").unwrap().evaluate(&has));
        assert!(!parse("documents.read").unwrap().evaluate(&has));
        assert!(!parse("api.*").unwrap().evaluate(&has));
        assert!(!parse("*").unwrap().evaluate(&has));
    }

    #[test]
    fn evaluation() {
        let held: HashSet<&str> = ["a", "c"].into();
        let has = |perm: &str| held.contains(perm);
        assert!(parse("a AND c").unwrap().evaluate(&has));
        assert!(!parse("a AND b").unwrap().evaluate(&has));
        assert!(parse("b OR c").unwrap().evaluate(&has));
        assert!(parse("b AND x OR a").unwrap().evaluate(&has));
        assert!(!parse("b AND (x OR a)").unwrap().evaluate(&has));
        assert!(!parse("A").unwrap().evaluate(&has), "names are case-sensitive");
    }

    #[test]
    fn empty_query() {
        let expected = "Unexpected end of input. Please provide a valid permission query.";
        assert_eq!(err(""), expected);
        assert_eq!(err(" \t\r\n"), expected);
        assert_eq!(err("\0a"), expected);
    }

    #[test]
    fn invalid_character_reports_byte_position() {
        assert_eq!(err("@"), format!("Invalid character '@' found in query at position 0. {TAIL}"));
        assert_eq!(err("perm1 AND @perm2"), format!("Invalid character '@' found in query at position 10. {TAIL}"));
        assert_eq!(err("perm1 @ perm2"), format!("Invalid character '@' found in query at position 6. {TAIL}"));
        assert_eq!(err("a AND b$"), format!("Invalid character '$' found in query at position 7. {TAIL}"));
        assert_eq!(err("a OR (b AND ,c)"), format!("Invalid character ',' found in query at position 12. {TAIL}"));
        // The position counts bytes: `ê` before the error is two of them.
        assert_eq!(err("ê OR #"), format!("Invalid character '#' found in query at position 6. {TAIL}"));
    }

    #[test]
    fn empty_parentheses() {
        let msg = |pos: usize| {
            format!(
                "Empty parentheses found at position {pos}. Parentheses must contain at least one permission or expression."
            )
        };
        assert_eq!(err("()"), msg(1));
        assert_eq!(err("a AND ( )"), msg(8));
    }

    #[test]
    fn missing_closing_parenthesis() {
        let msg = |pos: usize| {
            format!(
                "Missing closing parenthesis ')' at position {pos}. Every opening parenthesis must have a matching closing parenthesis."
            )
        };
        assert_eq!(err("(perm1 AND perm2"), msg(16));
        assert_eq!(err("(a OR (b AND c)"), msg(15));
        assert_eq!(err("(a b)"), msg(3));
        // Unkey reaches the unclosed group before the bad byte, and so does this parser.
        assert_eq!(err("(a @"), msg(3));
        assert_eq!(err("a OR (b,c)"), msg(7));
    }

    #[test]
    fn unexpected_end_of_query() {
        let expected = "Unexpected end of query. Expected a permission identifier or opening parenthesis.";
        assert_eq!(err("perm1 AND"), expected);
        assert_eq!(err("a OR "), expected);
        assert_eq!(err("("), expected);
        assert_eq!(err("(a AND"), expected);
    }

    #[test]
    fn unexpected_token() {
        let msg = |token: &str, pos: usize| {
            format!(
                "Unexpected token '{token}' at position {pos}. Expected a permission identifier or opening parenthesis."
            )
        };
        assert_eq!(err("AND a"), msg("AND", 0));
        assert_eq!(err("a AND and b"), msg("and", 6));
        assert_eq!(err("a OR AND b"), msg("AND", 5));
        assert_eq!(err("a OR or"), msg("or", 5));
        assert_eq!(err(")"), msg(")", 0));
        assert_eq!(err("a AND )"), msg(")", 6));
    }

    #[test]
    fn extra_content_after_expression() {
        let msg = |token: &str, pos: usize| {
            format!(
                "Unexpected token '{token}' at position {pos}. The query appears to have extra content after a valid expression."
            )
        };
        assert_eq!(err("a b"), msg("b", 2));
        assert_eq!(err("a AND b)"), msg(")", 7));
        assert_eq!(err("(a) (b)"), msg("(", 4));
        // Only the first byte of `ü` (C3 BC) is a letter byte, so it forms a token of its own.
        assert_eq!(err("D ü"), msg("\u{fffd}", 2));
    }

    #[test]
    fn display_parenthesizes_only_where_needed() {
        let q = parse("a OR (b OR c) AND d OR e AND f").unwrap();
        assert_eq!(q.to_string(), "a OR (b OR c) AND d OR e AND f");
        assert_eq!(parse("(a AND b) OR c").unwrap().to_string(), "a AND b OR c");
    }

    #[test]
    fn error_displays_its_message() {
        assert_eq!(
            parse("").unwrap_err().to_string(),
            "Unexpected end of input. Please provide a valid permission query."
        );
    }

    /// Leaves from a small alphabet so random permission sets hit them often; `ANDROID.read` and `or*`
    /// keep keyword-like names in play.
    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ab*]{1,2}",
            "[A-Za-z0-9._*:/-]{1,6}"
                .prop_filter("not a keyword", |s| { !s.eq_ignore_ascii_case("and") && !s.eq_ignore_ascii_case("or") }),
            Just("ANDROID.read".to_string()),
            Just("or*".to_string()),
        ]
    }

    /// Random trees, not normalized: nested same-operator nodes and any nesting order occur.
    fn tree() -> impl Strategy<Value = Query> {
        leaf().prop_map(Query::Permission).prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..5).prop_map(Query::And),
                proptest::collection::vec(inner, 2..5).prop_map(Query::Or),
            ]
        })
    }

    /// The normal form `parse` produces: same-operator children spliced into their parent.
    fn flatten(query: Query) -> Query {
        match query {
            Query::Permission(_) => query,
            Query::And(children) => combine(Operator::And, children.into_iter().map(flatten).collect()),
            Query::Or(children) => combine(Operator::Or, children.into_iter().map(flatten).collect()),
        }
    }

    /// Evaluates the generated tree directly, without parsing, flattening or short-circuiting.
    fn naive(query: &Query, held: &HashSet<String>) -> bool {
        match query {
            Query::Permission(name) => held.contains(name),
            Query::And(children) => children.iter().filter(|c| naive(c, held)).count() == children.len(),
            Query::Or(children) => children.iter().filter(|c| naive(c, held)).count() > 0,
        }
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_tree(query in tree()) {
            let normal = flatten(query.clone());
            prop_assert_eq!(parse(&query.to_string()), Ok(normal.clone()));
            prop_assert_eq!(parse(&normal.to_string()), Ok(normal));
        }

        #[test]
        fn evaluation_agrees_with_a_naive_evaluator(
            query in tree(),
            held in proptest::collection::hash_set("[ab*]{1,2}|ANDROID\\.read|or\\*", 0..8),
        ) {
            let parsed = parse(&query.to_string()).unwrap();
            prop_assert_eq!(parsed.evaluate(&|perm: &str| held.contains(perm)), naive(&query, &held));
        }

        #[test]
        fn arbitrary_input_never_panics(input in "[a-cAO()ND @ê\u{e9}\u{fc}\\x00\t]{0,30}") {
            if let Ok(query) = parse(&input) {
                prop_assert_eq!(parse(&query.to_string()), Ok(query));
            }
        }
    }
}
