//! Everything that needs `std`: the training loop ([`trainer`]) and its compile-time checks
//! ([`checks`]), data sets from CSV files ([`data`]), weight files ([`io`]) and the error type
//! ([`error`]).

pub mod checks;
pub mod data;
pub mod error;
pub mod io;
pub mod trainer;
