//! How a call to the outside failed, in the one shape the executor needs: what went
//! wrong and whether another try could help. Tools, models and embedders all fail with
//! a `Failure` (`ToolError`, `ModelError` and `EmbedError` name it in their modules), so
//! a node's retry policy reads one flag whoever failed.

/// A failed call: a message for people and whether it is worth retrying.
///
/// It is a `std::error::Error` whose `Display` is the message, so it travels through `?`
/// into `anyhow` and keeps its place in a `source()` chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    /// Worth retrying: a server or store that was unreachable, overloaded or slow,
    /// rather than a request that another try would not change.
    pub retryable: bool,
}

impl Failure {
    /// A failure that another try would not change (a bad request, a refused argument).
    pub fn fatal(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure of the network or the server: worth another try.
    pub fn transient(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: true,
        }
    }
}
