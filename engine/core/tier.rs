//! Model tiers: what kind of model a node asks for. Graphs name a tier (`tier: fast`,
//! a classify rule's `tier:`); settings map each tier to a model (`FEATHERLESS_MODEL_*`).

use serde::{Deserialize, Serialize};

/// A model tier, written in graphs and events by its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Primary,
    Code,
    Fast,
    Analytics,
}

impl Tier {
    /// Every tier, in the order messages list them.
    pub const ALL: [Tier; 4] = [Tier::Primary, Tier::Code, Tier::Fast, Tier::Analytics];

    /// The name graphs, settings and events use.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Primary => "primary",
            Tier::Code => "code",
            Tier::Fast => "fast",
            Tier::Analytics => "analytics",
        }
    }

    /// The tier of this name, if there is one.
    pub fn parse(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Every tier's name, for messages and did-you-mean hints.
    pub fn names() -> [&'static str; 4] {
        Tier::ALL.map(Tier::as_str)
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(Tier::parse("analytic"), None);
    }
}
