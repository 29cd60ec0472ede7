//! The lowest layer: vocabulary every other module shares and that depends on no
//! other module of the crate — source positions, diagnostics, model tiers and the
//! template environment. See docs/ARCHITECTURE.md for the layer order.

mod builtin;
pub mod diagnostic;
#[cfg(test)]
mod layers;
mod tier;

pub use builtin::Builtin;
pub use diagnostic::{Diagnostic, Report, Severity, did_you_mean};
pub use tier::Tier;

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// The template environment every run renders with; filters shared by all templates.
pub fn templates_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    env.set_syntax(syntax.expect("default delimiters are valid"));
    env
}
