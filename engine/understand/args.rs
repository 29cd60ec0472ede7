//! Arguments a model wrote, read like names in a question: "payments" where a service is
//! wanted becomes payments-api, "sofia" Sofia Rossi, "k8s" Kubernetes — each change noted
//! for the answer. A name the organisation has is left alone, and so is one nothing links.

use serde_json::Value;

use super::lexicon::{Lexicon, Slot};
use super::text;
use super::vocab::{Kind, Vocabulary};

/// Rewrites `args` of `tool` in place to the stored names; says what was read as what.
pub fn normalise(args: &mut Value, tool: &str, lex: &Lexicon, vocab: &Vocabulary) -> Vec<String> {
    let (Some(profile), Some(obj)) = (lex.profile(tool), args.as_object_mut()) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for slot in profile.slots.iter() {
        let kinds = match slot.slot {
            Slot::Entity(k) => vec![k],
            Slot::Topic => vec![Kind::Skill, Kind::Service],
            _ => continue,
        };
        let Some(Value::String(said)) = obj.get(&slot.arg) else {
            continue;
        };
        if kinds.iter().any(|k| {
            vocab
                .lookup(said)
                .is_some_and(|(kind, n)| kind == *k && n == said)
        }) {
            continue;
        }
        if let Some(name) = link(said, &kinds, lex, vocab) {
            notes.push(format!("Read \"{said}\" as {name}."));
            obj.insert(slot.arg.clone(), Value::String(name));
        }
    }
    notes
}

/// The stored name of one of `kinds` that `said` means: in any case, as the question
/// linker reads it, or with the kind's word after it ("payments" → "payments service" →
/// payments-api).
fn link(said: &str, kinds: &[Kind], lex: &Lexicon, vocab: &Vocabulary) -> Option<String> {
    // The name in another case or without its accents ("go" → Go).
    if let Some((kind, name)) = vocab.lookup(said)
        && kinds.contains(&kind)
    {
        return Some(name.to_string());
    }
    kinds.iter().find_map(|k| {
        [said.to_string(), format!("{said} {}", k.as_str())]
            .iter()
            .find_map(|text| {
                vocab
                    .link(&text::tokens(text), &lex.synonyms, &lex.known)
                    .into_iter()
                    .find(|m| m.kind == Some(*k))
                    .map(|m| m.name)
            })
    })
}
