//! Pure analytics over rows turned into plain structs: DORA metrics as Apache DevLake
//! computes them (`dora`), anomaly detection in a metric's daily series (`anomaly`) and
//! the robust statistics it rests on (`stats`). No store here: the builtins of the
//! `toolbox` fetch the rows and call these functions.

pub mod anomaly;
pub mod dora;
pub mod stats;
