//! The guard between model-written SQL and the database (the NL→SQL pipeline).
//!
//! A statement passes only if it parses (sqlparser, in the store's dialect) as exactly one
//! `SELECT` that reads allow-listed tables and columns, calls allow-listed functions, does
//! not write (no DML anywhere, not even inside a CTE), does not lock rows and does not
//! select into a table. The guard then bounds it with a `LIMIT`. It is one layer: the
//! store also runs the statement in a read-only transaction with a statement timeout.
//! Which tables exist and which of them (or of their columns) are private is the
//! caller's to say ([`SqlGuard::new`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, LimitClause, ObjectName, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, Value, Visit, Visitor, visit_relations,
};
use sqlparser::dialect::{Dialect, GenericDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use super::table::TableDef;

/// The most rows a guarded statement returns.
pub const MAX_ROWS: u64 = 200;

/// The guard over one schema: the tables and columns generated SQL may read.
pub struct SqlGuard {
    allowed: Vec<(&'static str, Vec<&'static str>)>,
    /// Every column of every table, private ones included.
    columns: BTreeSet<&'static str>,
}

impl SqlGuard {
    /// Generated SQL may read `tables`, except the `private_tables` and the
    /// `private_columns` (table, column) of the others.
    pub fn new(
        tables: &[&TableDef],
        private_tables: &[&str],
        private_columns: &[(&str, &str)],
    ) -> SqlGuard {
        SqlGuard {
            allowed: tables
                .iter()
                .filter(|t| !private_tables.contains(&t.name))
                .map(|t| {
                    let public = t
                        .column_names()
                        .filter(|c| !private_columns.contains(&(t.name, *c)));
                    (t.name, public.collect())
                })
                .collect(),
            columns: tables.iter().flat_map(|t| t.column_names()).collect(),
        }
    }

    /// The tables (and their columns) generated SQL may read.
    pub fn allowed(&self) -> &[(&'static str, Vec<&'static str>)] {
        &self.allowed
    }

    /// A column of any table, private ones included.
    pub fn any_column(&self, name: &str) -> bool {
        self.columns.contains(name)
    }
}

/// Functions without side effects that both SQLite and PostgreSQL offer (plus each one's
/// date helpers). Anything else — `pg_sleep`, `set_config`, `lo_import`,
/// `load_extension`, `randomblob`… — is refused.
const FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "round",
    "abs",
    "coalesce",
    "nullif",
    "ifnull",
    "lower",
    "upper",
    "length",
    "trim",
    "substr",
    "substring",
    "replace",
    "group_concat",
    "string_agg",
    "date",
    "datetime",
    "julianday",
    "strftime",
    "date_trunc",
    "date_part",
    "to_char",
    "greatest",
    "least",
    "concat",
    "char_length",
    "percentile_cont",
    "row_number",
    "rank",
    "dense_rank",
    "lag",
    "lead",
];

/// Why a statement was refused, in words a model can act on in a repair turn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The store's SQL dialect, by its backend name.
fn dialect(backend: &str) -> Box<dyn Dialect> {
    match backend {
        "postgres" => Box::new(PostgreSqlDialect {}),
        "sqlite" => Box::new(SQLiteDialect {}),
        _ => Box::new(GenericDialect {}),
    }
}

impl SqlGuard {
    /// Checks `sql` and returns the statement to run: the same `SELECT`, with a `LIMIT` of at
    /// most [`MAX_ROWS`].
    pub fn guard(&self, sql: &str, backend: &str) -> Result<String, Refusal> {
        let refuse = |why: String| Err(Refusal(why));
        let mut statements = match Parser::parse_sql(dialect(backend).as_ref(), sql) {
            Ok(s) => s,
            Err(e) => return refuse(format!("the statement does not parse: {e}")),
        };
        if statements.len() != 1 {
            return refuse(format!(
                "exactly one statement is allowed; this text holds {}",
                statements.len()
            ));
        }
        let Statement::Query(query) = &mut statements[0] else {
            return refuse(format!(
                "only SELECT is allowed; this is {}",
                statement_kind(&statements[0])
            ));
        };
        let mut names = Names::default();
        let _ = query.visit(&mut names);
        if let Some(name) = names.shadowing(self) {
            return refuse(format!(
                "the alias {name} is also a column name; give the table or subquery another alias"
            ));
        }
        // Tables first: "table pg_shadow is not allowed" says more than its first column would.
        if let ControlFlow::Break(why) =
            visit_relations(&*query, |r| self.check_relation(&names, r))
        {
            return refuse(why);
        }
        let mut check = Check {
            names: &names,
            guard: self,
        };
        if let ControlFlow::Break(why) = query.visit(&mut check) {
            return refuse(why);
        }
        bound(query)?;
        Ok(statements[0].to_string())
    }
}

/// Adds `LIMIT MAX_ROWS`, or lowers a larger literal limit to it.
fn bound(query: &mut Query) -> Result<(), Refusal> {
    let max = || Expr::value(Value::Number(MAX_ROWS.to_string(), false));
    match &mut query.limit_clause {
        None => {
            query.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(max()),
                offset: None,
                limit_by: vec![],
            })
        }
        Some(LimitClause::LimitOffset { limit, .. }) => match limit {
            None => *limit = Some(max()),
            Some(Expr::Value(v)) => match &v.value {
                Value::Number(n, _) if n.parse::<u64>().is_ok_and(|n| n <= MAX_ROWS) => {}
                Value::Number(_, _) => *limit = Some(max()),
                _ => return Err(Refusal("LIMIT must be a number".into())),
            },
            Some(_) => return Err(Refusal("LIMIT must be a number".into())),
        },
        Some(LimitClause::OffsetCommaLimit { .. }) => {
            return Err(Refusal("write LIMIT n OFFSET m, not LIMIT m, n".into()));
        }
    }
    Ok(())
}

fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!("a {} statement", words.join(" "))
}

/// Names the statement itself defines: relations (CTEs, table and subquery aliases) and
/// columns (select-item aliases, column lists of aliases).
#[derive(Default)]
struct Names {
    ctes: BTreeSet<String>,
    relations: BTreeSet<String>,
    columns: BTreeSet<String>,
}

impl Visitor for Names {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(norm(&cte.alias.name));
                self.relations.insert(norm(&cte.alias.name));
                self.columns
                    .extend(cte.alias.columns.iter().map(|c| norm(&c.name)));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        for item in &s.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                self.columns.insert(norm(alias));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        let alias = match t {
            TableFactor::Table { alias, .. } | TableFactor::Derived { alias, .. } => alias,
            _ => &None,
        };
        if let Some(a) = alias {
            self.relations.insert(norm(&a.name));
            self.columns.extend(a.columns.iter().map(|c| norm(&c.name)));
        }
        ControlFlow::Continue(())
    }
}

impl Names {
    /// A relation named like a column would let a bare name mean the whole row
    /// (PostgreSQL reads `SELECT service FROM employees service` as every column of
    /// employees, e-mail included): such names are refused.
    fn shadowing(&self, guard: &SqlGuard) -> Option<&str> {
        self.relations
            .iter()
            .find(|r| self.columns.contains(*r) || guard.any_column(r))
            .map(String::as_str)
    }
}

/// The checks; breaks with the reason of the first refusal.
struct Check<'a> {
    names: &'a Names,
    guard: &'a SqlGuard,
}

impl Check<'_> {
    /// A bare name must be a column: an allow-listed one, or one the statement names.
    /// Relation names are not columns (a bare one would select the whole row).
    fn column_known(&self, name: &str) -> bool {
        self.names.columns.contains(name)
            || self
                .guard
                .allowed
                .iter()
                .any(|(_, cols)| cols.contains(&name))
    }
}

impl Visitor for Check<'_> {
    type Break = String;

    fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<String> {
        // Only reached for statements nested in the query: `WITH d AS (DELETE …)`,
        // `INSERT` as a set expression…
        ControlFlow::Break(format!(
            "only SELECT is allowed; the query contains {}",
            statement_kind(s)
        ))
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<String> {
        if !q.locks.is_empty() {
            return ControlFlow::Break("row locks (FOR UPDATE/SHARE) are not allowed".into());
        }
        if q.for_clause.is_some() || q.format_clause.is_some() || q.settings.is_some() {
            return ControlFlow::Break("FOR, FORMAT and SETTINGS clauses are not allowed".into());
        }
        if !q.pipe_operators.is_empty() {
            return ControlFlow::Break("pipe operators are not allowed".into());
        }
        match set_expr_refusal(&q.body) {
            Some(why) => ControlFlow::Break(why.into()),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<String> {
        // USING and NATURAL compare columns no expression names (NATURAL: every shared
        // column, private ones included); ON says what it compares.
        for join in s.from.iter().flat_map(|t| &t.joins) {
            if !matches!(
                join_constraint(&join.join_operator),
                None | Some(JoinConstraint::On(_)) | Some(JoinConstraint::None)
            ) {
                return ControlFlow::Break(
                    "write joins with ON a = b; USING and NATURAL are not allowed".into(),
                );
            }
        }
        if s.into.is_some() {
            return ControlFlow::Break("SELECT … INTO is not allowed".into());
        }
        for item in &s.projection {
            if matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            ) {
                return ControlFlow::Break(
                    "name the columns to select; * is not allowed (some columns are private)"
                        .into(),
                );
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<String> {
        match t {
            TableFactor::Table { args: Some(_), .. }
            | TableFactor::Function { .. }
            | TableFactor::TableFunction { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::JsonTable { .. }
            | TableFactor::OpenJsonTable { .. } => {
                ControlFlow::Break("table functions are not allowed".into())
            }
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<String> {
        match e {
            Expr::Function(f) => {
                let name = f
                    .name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(norm)
                    .unwrap_or_default();
                if f.name.0.len() == 1 && FUNCTIONS.contains(&name.as_str()) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(format!(
                        "function {} is not allowed; allowed functions: {}",
                        f.name,
                        FUNCTIONS.join(", ")
                    ))
                }
            }
            Expr::Identifier(id) => {
                let name = norm(id);
                if self.column_known(&name) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(format!("column {id} is not allowed or does not exist"))
                }
            }
            Expr::CompoundIdentifier(ids) => {
                let col = ids.last().map(norm).unwrap_or_default();
                if ids.len() <= 2 && self.column_known(&col) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(format!(
                        "column {} is not allowed or does not exist",
                        ids.iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(".")
                    ))
                }
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

fn join_constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    use JoinOperator::*;
    match op {
        Join(c) | Inner(c) | Left(c) | LeftOuter(c) | Right(c) | RightOuter(c) | FullOuter(c)
        | CrossJoin(c) | Semi(c) | LeftSemi(c) | RightSemi(c) | Anti(c) | LeftAnti(c)
        | RightAnti(c) | StraightJoin(c) => Some(c),
        AsOf { constraint, .. } => Some(constraint),
        _ => None,
    }
}

/// What a query body may not be, through set operations (`… UNION TABLE employees`):
/// a write, or `TABLE t`, which selects every column, private ones included.
fn set_expr_refusal(body: &SetExpr) -> Option<&'static str> {
    match body {
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            Some("only SELECT is allowed; the query writes")
        }
        SetExpr::Table(_) => Some("TABLE t selects every column: name the columns to select"),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_refusal(left).or_else(|| set_expr_refusal(right))
        }
        _ => None,
    }
}

impl SqlGuard {
    /// A table the statement reads: allow-listed (optionally in the default schema) or a CTE.
    fn check_relation(&self, names: &Names, r: &ObjectName) -> ControlFlow<String> {
        let parts: Vec<String> =
            r.0.iter()
                .map(|p| p.as_ident().map(norm).unwrap_or_default())
                .collect();
        let (schema, table) = match parts.as_slice() {
            [t] => (None, t.as_str()),
            [s, t] => (Some(s.as_str()), t.as_str()),
            _ => return ControlFlow::Break(format!("table {r} is not allowed")),
        };
        let cte = schema.is_none() && names.ctes.contains(table);
        let listed = self.allowed.iter().any(|(t, _)| *t == table)
            && matches!(schema, None | Some("public") | Some("main"));
        if cte || listed {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(format!(
                "table {r} is not allowed; the tables are: {}",
                self.allowed
                    .iter()
                    .map(|(t, _)| *t)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// Identifiers compare case-insensitively: a quoted `"Employees"` names no allowed table
/// in PostgreSQL anyway, and must not slip past a case-sensitive check in SQLite.
fn norm(id: &Ident) -> String {
    id.value.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::store::Ty::{Int, Text};

    /// A small schema with a private column.
    fn guard(sql: &str, backend: &str) -> Result<String, Refusal> {
        const EMPLOYEES: TableDef = TableDef {
            name: "employees",
            columns: &[
                ("id", Int),
                ("name", Text),
                ("email", Text),
                ("team_id", Int),
            ],
            sort_key: "id",
        };
        const TEAMS: TableDef = TableDef {
            name: "teams",
            columns: &[("id", Int), ("name", Text)],
            sort_key: "id",
        };
        const TICKETS: TableDef = TableDef {
            name: "tickets",
            columns: &[("assignee_id", Int), ("points", Int), ("status", Text)],
            sort_key: "assignee_id",
        };
        static GUARD: LazyLock<SqlGuard> = LazyLock::new(|| {
            SqlGuard::new(
                &[&EMPLOYEES, &TEAMS, &TICKETS],
                &[],
                &[("employees", "email")],
            )
        });
        GUARD.guard(sql, backend)
    }

    #[test]
    fn a_plain_select_passes_and_gets_a_limit() {
        let sql = guard(
            "SELECT t.name, COUNT(*) AS n FROM employees e JOIN teams t ON t.id = e.team_id GROUP BY t.name ORDER BY n DESC",
            "sqlite",
        )
        .unwrap();
        assert!(sql.ends_with("LIMIT 200"), "{sql}");
    }

    #[test]
    fn a_larger_limit_is_lowered_and_a_smaller_kept() {
        assert!(
            guard("SELECT name FROM teams LIMIT 100000", "postgres")
                .unwrap()
                .ends_with("LIMIT 200")
        );
        assert!(
            guard("SELECT name FROM teams LIMIT 5", "postgres")
                .unwrap()
                .ends_with("LIMIT 5")
        );
    }

    #[test]
    fn using_and_natural_joins_are_refused_with_their_reason() {
        for sql in [
            "SELECT a.name FROM employees a JOIN employees b USING (email)",
            "SELECT a.name FROM employees a NATURAL JOIN employees b",
        ] {
            for backend in ["postgres", "sqlite"] {
                let why = guard(sql, backend).unwrap_err().0;
                assert!(why.contains("USING and NATURAL"), "{backend}: {why}");
            }
        }
    }

    #[test]
    fn ctes_and_aliases_are_names_of_the_statement() {
        guard(
            "WITH busy AS (SELECT assignee_id, SUM(points) AS open_points FROM tickets WHERE status <> 'done' GROUP BY assignee_id) \
             SELECT e.name, b.open_points FROM busy b JOIN employees e ON e.id = b.assignee_id ORDER BY b.open_points DESC",
            "postgres",
        )
        .unwrap();
    }
}
