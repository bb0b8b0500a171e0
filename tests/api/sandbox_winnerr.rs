//! Tests of the winnerr emulator over HTTP.
